"""Model specifications: which kinds exist, how their flat float32 parameter vector is laid out.

Every model's parameters travel as one flat float32 vector (docs/contracts.md, "Worker").
The layout is row-major blocks, in this order (the block names are ``ModelSpec.named_arrays``'):

- ``logreg``  (binary logistic regression, labels 0/1): W (d), b (1)               -> d + 1
- ``softmax`` (multinomial logistic regression):        W (d, C), b (C)            -> dC + C
- ``mlp``     (L hidden layers h1..hL, ReLU or tanh, softmax output):
  W1 (d, h1), b1 (h1), W2 (h1, h2), b2 (h2), ..., W{L+1} (hL, C), b{L+1} (C).
  ``hidden: 16`` (an int) is one layer: W1 (d, 16), b1, W2 (16, C), b2, as before.
- ``cnn``     (conv blocks on images ``input`` = [C0, H, W], then a dense ReLU head, softmax;
  coordinator/contract/conv_shapes.py): for each conv block l = 1..K with c_l channels and a
  k_l x k_l kernel, conv{l}.W (c_l, c_{l-1}, k_l, k_l) (PyTorch's order: out, in, rows, columns)
  and conv{l}.b (c_l); then the head on the last block's pooled output flattened in (C, H, W)
  order, F values: dense1.W (F, h1), dense1.b (h1), ..., dense{L}.W, dense{L}.b, then
  out.W (hL or F, C), out.b (C) (dense weights are (fan-in, width), as the mlp's).

Kernels (functions/kernels.py) and their numpy references read exactly this layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from coordinator.contract import conv_shapes
from coordinator.contract.errors import EventError, ParameterError, SchemaMismatchError

KINDS = ("logreg", "softmax", "mlp", "cnn")
ACTIVATIONS = ("relu", "tanh")
# Bounds checked before any work: a Lambda worker has at most 10 GB, so no layer of a model it
# can hold is wider than this, nor deeper (each layer costs a launch per row block).
MAX_WIDTH = 16384
MAX_DEPTH = 16
# Kernels sum rows in fixed blocks of this many (functions/kernel_blocks.py); memory estimates
# (coordinator/spec/model_budget.py) size their scratch by it.
KERNEL_BLOCK_ROWS = 1024
CNN_KEYS = ("input", "conv", "pool")


@dataclass(frozen=True)
class ModelSpec:
    """One model: kind, input width d (``n_features``), classes C; for mlp the hidden widths
    (an int is one layer; normalized to a tuple) and the activation; for cnn also the image
    ``input`` (C, H, W), the ``conv`` blocks ((channels, kernel), ...) and ``pool``, with
    ``hidden`` the dense head's widths (possibly none) and ReLU."""

    kind: str
    n_features: int
    n_classes: int
    hidden: Any = 0
    activation: str = "relu"
    input: Any = None
    conv: Any = None
    pool: Any = 2

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EventError("model.kind", f"got {self.kind!r}, allowed {list(KINDS)}")
        _positive("model.n_features", self.n_features)
        _positive("model.n_classes", self.n_classes)
        if self.kind == "logreg" and self.n_classes != 2:
            raise EventError("model.n_classes", f"logreg is binary (2), got {self.n_classes}")
        if self.n_classes < 2:
            raise EventError("model.n_classes", f"must be >= 2, got {self.n_classes}")
        if self.kind != "cnn":
            for key in CNN_KEYS:
                if getattr(self, key) != (2 if key == "pool" else None):
                    raise EventError(f"model.{key}", f"only cnn has {key}, got "
                                                     f"{getattr(self, key)!r}")
        if self.kind == "mlp":
            object.__setattr__(self, "hidden", hidden_widths(self.hidden, "model.hidden"))
            if self.activation not in ACTIVATIONS:
                raise EventError("model.activation",
                                 f"got {self.activation!r}, allowed {list(ACTIVATIONS)}")
        elif self.kind == "cnn":
            self._check_cnn()
        elif self.hidden:
            raise EventError("model.hidden", f"only mlp and cnn have hidden layers, got "
                                             f"{self.hidden}")
        elif self.activation != "relu":
            raise EventError("model.activation", f"only mlp has an activation, got "
                                                 f"{self.activation!r}")

    def _check_cnn(self) -> None:
        image = conv_shapes.parse_input(self.input, "model.input")
        object.__setattr__(self, "input", image)
        object.__setattr__(self, "conv", conv_shapes.parse_conv(self.conv, "model.conv"))
        object.__setattr__(self, "pool", conv_shapes.parse_pool(self.pool, "model.pool"))
        hidden = () if self.hidden in (0, None, [], ()) else hidden_widths(self.hidden,
                                                                           "model.hidden")
        object.__setattr__(self, "hidden", hidden)
        if self.activation != "relu":
            raise EventError("model.activation", f"a cnn uses relu, got {self.activation!r}")
        if self.n_features != image[0] * image[1] * image[2]:
            raise EventError("model.n_features", f"{self.n_features}, but input {list(image)} "
                                                 f"has {image[0] * image[1] * image[2]} values "
                                                 "per image")
        conv_shapes.geometry(image, self.conv, self.pool, "model")

    @classmethod
    def from_dict(cls, model: Any) -> ModelSpec:
        """Parse the event's ``model`` object, naming the field at fault."""
        if not isinstance(model, dict):
            raise EventError("model", f"must be an object, got {type(model).__name__}")
        allowed = {"kind", "n_features", "n_classes", "hidden", "activation", *CNN_KEYS}
        extra = sorted(set(model) - allowed, key=str)
        if extra:
            raise EventError(f"model.{extra[0]}", f"unknown key, allowed {sorted(allowed)}")
        for key in ("kind", "n_features", "n_classes"):
            if key not in model:
                raise EventError(f"model.{key}", "missing")
        if model["kind"] == "cnn":
            for key in ("input", "conv"):
                if key not in model:
                    raise EventError(f"model.{key}", "missing (a cnn needs input and conv)")
        return cls(model["kind"], model["n_features"], model["n_classes"], model.get("hidden", 0),
                   model.get("activation", "relu"), model.get("input"), model.get("conv"),
                   model.get("pool", 2))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "n_features": self.n_features,
                               "n_classes": self.n_classes}
        if self.kind == "mlp":
            out["hidden"] = self.hidden[0] if len(self.hidden) == 1 else list(self.hidden)
            out["activation"] = self.activation
        if self.kind == "cnn":
            out.update(input=list(self.input), conv=[list(layer) for layer in self.conv],
                       pool=self.pool, hidden=list(self.hidden), activation=self.activation)
        return out

    @property
    def conv_layers(self) -> tuple[conv_shapes.ConvLayer, ...]:
        """A cnn's conv blocks with their input and output shapes (empty for other kinds)."""
        if self.kind != "cnn":
            return ()
        return conv_shapes.geometry(self.input, self.conv, self.pool, "model")

    @property
    def widths(self) -> tuple[int, ...]:
        """Layer widths of the dense part, from its input to the output: (d, h1, ..., hL, C);
        (d, C) for linear models; for a cnn its head, (F, h1, ..., C), F the flattened features
        after the last conv block."""
        first = (conv_shapes.flat_features(self.conv_layers) if self.kind == "cnn"
                 else self.n_features)
        return (first, *(self.hidden or ()), self.n_classes)

    @property
    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Named blocks of the flat vector, in order."""
        d, c = self.n_features, self.n_classes
        if self.kind == "logreg":
            return [("W", (d,)), ("b", (1,))]
        if self.kind == "softmax":
            return [("W", (d, c)), ("b", (c,))]
        widths = self.widths
        out = []
        if self.kind == "cnn":
            for i, layer in enumerate(self.conv_layers, start=1):
                out += [(f"conv{i}.W", (layer.c_out, layer.c_in, layer.kernel, layer.kernel)),
                        (f"conv{i}.b", (layer.c_out,))]
        for layer in range(1, len(widths)):
            weight, bias = _dense_names(self.kind, layer, len(widths) - 1)
            out += [(weight, (widths[layer - 1], widths[layer])), (bias, (widths[layer],))]
        return out

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(shape)) for _, shape in self.shapes)

    def unpack(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Views of the flat vector as the named blocks (no copy)."""
        blocks, offset = {}, 0
        for name, shape in self.shapes:
            size = int(np.prod(shape))
            blocks[name] = params[offset:offset + size].reshape(shape)
            offset += size
        return blocks

    def named_arrays(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as named float32 arrays (copies), in layout order: ``W``, ``b``
        (logreg, softmax); ``W1``, ``b1``, ... (mlp); ``conv1.W``, ``conv1.b``, ...,
        ``dense1.W``, ``dense1.b``, ..., ``out.W``, ``out.b`` (cnn). ParameterError when
        ``flat`` is not this model's vector."""
        flat = self.check_params(flat, "parameters")
        return {name: block.copy() for name, block in self.unpack(flat).items()}

    def from_named_arrays(self, arrays: Any) -> np.ndarray:
        """The flat float32 vector from ``named_arrays``' dict (the inverse); ParameterError
        naming the array that is missing, unexpected, misshapen or not finite."""
        if not hasattr(arrays, "keys"):
            raise ParameterError("arrays", f"must map names to arrays, got "
                                           f"{type(arrays).__name__}")
        expected = dict(self.shapes)
        unexpected = sorted(set(arrays.keys()) - set(expected), key=str)
        if unexpected:
            raise ParameterError(str(unexpected[0])[:80], f"unexpected array, {self.kind} has "
                                                          f"{list(expected)}")
        parts = []
        for name, shape in expected.items():
            if name not in arrays:
                raise ParameterError(name, f"missing, {self.kind} has {list(expected)}")
            array = np.asarray(arrays[name])
            if array.shape != shape:
                raise ParameterError(name, f"shape {array.shape}, expected {shape}")
            if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype,
                                                                          np.complexfloating):
                raise ParameterError(name, f"must be real numbers, got dtype {array.dtype}")
            if not np.isfinite(array).all():
                raise ParameterError(name, "not finite")
            parts.append(array.astype(np.float32).ravel())
        return np.concatenate(parts)

    def init(self, seed: int = 0) -> np.ndarray:
        """Seeded float32 initial parameters: zeros for linear models; for mlp and cnn, weights
        with variance 2 / fan-in for ReLU (He) and 1 / fan-in for tanh (LeCun), zero biases (a
        conv weight's fan-in is c_in x k x k)."""
        if self.kind not in ("mlp", "cnn"):
            return np.zeros(self.n_params, dtype=np.float32)
        rng = np.random.default_rng(seed)
        gain = 2.0 if self.activation == "relu" else 1.0
        parts = []
        for _, shape in self.shapes:
            if len(shape) > 1:
                fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
                parts.append(rng.normal(0.0, np.sqrt(gain / fan_in), size=shape).ravel())
            else:
                parts.append(np.zeros(shape).ravel())
        return np.concatenate(parts).astype(np.float32)

    def check_params(self, params: Any, key: str) -> np.ndarray:
        """The vector as contiguous float32, or ParameterError naming ``key``."""
        if not isinstance(params, np.ndarray) or params.ndim != 1:
            shape = getattr(params, "shape", type(params).__name__)
            raise ParameterError(key, f"must be a flat vector, got shape {shape}")
        if not np.issubdtype(params.dtype, np.floating):
            raise ParameterError(key, f"must be float32, got dtype {params.dtype}")
        if params.size != self.n_params:
            raise ParameterError(key, f"length {params.size}, {self.kind} with "
                                      f"{self.to_dict()} needs {self.n_params}")
        if not np.isfinite(params).all():
            bad = int(np.flatnonzero(~np.isfinite(params))[0])
            raise ParameterError(key, f"not finite (first at index {bad}: {params[bad]})")
        return np.ascontiguousarray(params, dtype=np.float32)

    def check_labels(self, labels: np.ndarray, where: str) -> None:
        """Labels must be class indices 0..C-1; ``where`` names the partition."""
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise SchemaMismatchError(
                f"{where} column 'label'",
                f"values in [{labels.min()}, {labels.max()}], {self.kind} with "
                f"n_classes={self.n_classes} needs 0..{self.n_classes - 1}")


def _dense_names(kind: str, layer: int, layers: int) -> tuple[str, str]:
    """Names of dense layer ``layer`` (from 1) of ``layers``: mlp W1, b1; cnn dense1.W, dense1.b
    and the output layer out.W, out.b."""
    if kind == "mlp":
        return f"W{layer}", f"b{layer}"
    prefix = "out" if layer == layers else f"dense{layer}"
    return f"{prefix}.W", f"{prefix}.b"


def _positive(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EventError(field, f"must be a positive integer, got {value!r}")


def hidden_widths(hidden: Any, field: str) -> tuple[int, ...]:
    """``hidden`` as a tuple of widths: an int is one layer; a list gives one width per layer."""
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        hidden = [hidden]
    if not isinstance(hidden, list | tuple):
        raise EventError(field, f"must be a positive integer or a list of them (one width per "
                                f"hidden layer), got {hidden!r}")
    if not hidden:
        raise EventError(field, "must list at least one hidden layer width, got []")
    if len(hidden) > MAX_DEPTH:
        raise EventError(field, f"at most {MAX_DEPTH} hidden layers, got {len(hidden)}")
    for i, width in enumerate(hidden):
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
            where = field if len(hidden) == 1 else f"{field}[{i}]"
            raise EventError(where, f"a layer width must be an integer in [1, {MAX_WIDTH}], "
                                    f"got {width!r}")
    return tuple(int(width) for width in hidden)
