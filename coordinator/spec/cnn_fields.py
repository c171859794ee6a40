"""A job spec's cnn model: ``{kind: cnn, input: [C, H, W], conv: [[channels, kernel], ...],
pool: 2, hidden: [h...], activation: relu}`` checked before any work, every error under the
model's field (``models[1].conv[1][1]: kernel must be an odd integer in [1, 7] ...``).

The field checks are the contract's (coordinator/contract/conv_shapes.py, the worker runs the same
ones); here they are reported under ``models[i]`` and the model is sized (its parameters, each
image's im2col matrices) before the dataset is read. When the dataset's shape is known at submit
(built-in sources, synthetic), ``input`` must match its features and, for an image source, its
image shape (``dataset_errors``).
"""

from __future__ import annotations

from typing import Any

from coordinator.contract.errors import EventError
from coordinator.contract.models import ModelSpec, hidden_widths

CNN_KEYS = ("input", "conv", "pool")
IMAGE_SHAPES = {"digits-images": [1, 8, 8]}


def cnn_fields(model: dict, where: str, fail) -> dict[str, Any]:
    """The normalized cnn fields (``hidden`` a list, default none; ``pool`` default 2;
    ``activation`` relu); problems go to ``fail(field, message)``."""
    out: dict[str, Any] = {"input": model.get("input"), "conv": model.get("conv"),
                           "pool": model.get("pool", 2), "hidden": [],
                           "activation": model.get("activation", "relu")}
    for key in ("input", "conv"):
        if key not in model:
            fail(f"{where}.{key}", "missing: a cnn needs input [C, H, W] and conv "
                                   "[[channels, kernel], ...]")
            return out
    hidden = model.get("hidden", [])
    try:
        out["hidden"] = [] if hidden == [] else list(hidden_widths(hidden, f"{where}.hidden"))
        image = model["input"]
        values = image[0] * image[1] * image[2] if _three_integers(image) else 1
        spec = ModelSpec("cnn", values, 2, out["hidden"], out["activation"], image,
                         model["conv"], out["pool"])
    except EventError as error:
        field = where + error.field[len("model"):] if error.field.startswith("model") \
            and not error.field.startswith("models") else error.field
        fail(field, str(error).split(": ", 1)[1])
        return out
    out.update(input=list(spec.input), conv=[list(layer) for layer in spec.conv])
    return out


def to_model_spec(model: dict, n_features: int, n_classes: int) -> ModelSpec:
    """The worker's ModelSpec of a validated job-spec model on a dataset's shape."""
    fields = {key: model[key] for key in ("hidden", "activation", *CNN_KEYS) if key in model}
    return ModelSpec.from_dict({"kind": model["kind"], "n_features": n_features,
                                "n_classes": n_classes, **fields})


def dataset_errors(raw: dict) -> list[tuple[str, str]]:
    """(field, message) for each cnn whose ``input`` does not fit the dataset, when its shape is
    known before it is prepared: C*H*W must be its feature count, and an image dataset's shape
    itself."""
    from coordinator.spec.budget import dataset_shape

    cnns = [(i, m) for i, m in enumerate(raw["models"]) if m["kind"] == "cnn"]
    if not cnns:
        return []
    shape, image = dataset_shape(raw["dataset"]), image_shape(raw["dataset"])
    if shape is None and image is None:
        return []
    errors = []
    for i, model in cnns:
        values = model["input"][0] * model["input"][1] * model["input"][2]
        if image is not None and model["input"] != image:
            errors.append((f"models[{i}].input", f"{model['input']}, but dataset "
                                                 f"{_label(raw['dataset'])!r} holds images of "
                                                 f"shape {image}"))
        elif image is None and shape is not None and values != shape[1]:
            errors.append((f"models[{i}].input", f"{model['input']} is {values} values per "
                                                 f"image, but dataset "
                                                 f"{_label(raw['dataset'])!r} has {shape[1]} "
                                                 "features"))
    return errors


def image_shape(dataset: dict) -> list[int] | None:
    """[C, H, W] of an image dataset known before it is prepared: a built-in image source, a
    readable local .npz (``dataset.path``, or a file given as ``name``), or a prepared local
    folder whose manifest records one; else None (an S3 dataset is checked at Plan and by the
    worker)."""
    from pathlib import Path

    name = str(dataset.get("name"))
    if name in IMAGE_SHAPES:
        return IMAGE_SHAPES[name]
    source = Path(str(dataset.get("source") or dataset.get("path") or name))
    if source.suffix == ".npz":
        from coordinator.storage.array_files import ArrayFileError, image_shape, read_headers

        try:
            return image_shape(read_headers(source)["X"][0])
        except (ArrayFileError, OSError):  # reported with the field when the data is prepared
            return None
    manifest = source / "manifest.json"
    if "://" not in str(source) and manifest.is_file():
        import json

        try:
            shape = json.loads(manifest.read_text()).get("image_shape")
        except (OSError, ValueError, AttributeError):
            return None
        return list(shape) if isinstance(shape, list) else None
    return None


def _label(dataset: dict) -> str:
    return str(dataset.get("name") or dataset.get("source") or dataset.get("path"))


def _three_integers(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 3 and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
