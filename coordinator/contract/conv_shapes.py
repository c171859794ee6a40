"""The shape of a convolutional model (``kind: cnn``): its fields checked, its layers' geometry.

A cnn reads each row of a partition as one image of ``input`` = [C, H, W] (channels first, the
row's C*H*W float32 features in C, H, W order, as ``sgc data prepare`` writes them), then runs
conv blocks ``conv`` = [[channels, kernel], ...]: a stride-1 "same" convolution (zero padding
kernel // 2, odd kernels only, so the output keeps H x W), ReLU, and ``pool`` x ``pool`` max-pooling
(stride ``pool``; 2, or 1 for none; an odd side drops its last row or column, as PyTorch's
``MaxPool2d`` does), then a dense ReLU head ``hidden`` and a softmax output
(coordinator/contract/models.py holds the parameter layout).

Every bound is checked before any work, and every error names the field
(``model.conv[1][1]: kernel must be an odd integer in [1, 7]``): a worker refuses a model it could
not hold, and the job spec reports the same message under ``models[i]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coordinator.contract.errors import EventError

MAX_CONV_LAYERS = 8
MAX_CHANNELS = 1024
MAX_KERNEL = 7
MAX_SIDE = 1024
MAX_INPUT = 1 << 20  # C * H * W of one image (4 MiB of float32)
# One image's im2col matrices over every conv layer (kernels_cnn keeps them for the backward
# pass): at most this many floats (128 MiB), so even one image fits a worker's memory.
MAX_COLUMNS = 1 << 25
POOLS = (1, 2)


@dataclass(frozen=True)
class ConvLayer:
    """One conv block: its input (channels, height, width), output channels, kernel side, and
    the pooled output's height and width."""

    c_in: int
    height: int
    width: int
    c_out: int
    kernel: int
    pooled_height: int
    pooled_width: int

    @property
    def taps(self) -> int:
        """Weights per output channel: c_in * kernel * kernel (the im2col matrix's rows)."""
        return self.c_in * self.kernel * self.kernel

    @property
    def positions(self) -> int:
        """Output positions per image: height * width (the im2col matrix's columns per image)."""
        return self.height * self.width

    @property
    def macs(self) -> int:
        """Multiply-adds of the convolution, per image."""
        return self.c_out * self.taps * self.positions


def parse_input(value: Any, field: str) -> tuple[int, int, int]:
    """``input`` as (C, H, W)."""
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise EventError(field, f"must be [channels, height, width], got {_show(value)}")
    bounds = (("channels", MAX_CHANNELS), ("height", MAX_SIDE), ("width", MAX_SIDE))
    for i, ((name, high), item) in enumerate(zip(bounds, value, strict=True)):
        if not _integer(item) or not 1 <= item <= high:
            raise EventError(f"{field}[{i}]", f"{name} must be an integer in [1, {high}], "
                                              f"got {_show(item)}")
    channels, height, width = (int(v) for v in value)
    if channels * height * width > MAX_INPUT:
        raise EventError(field, f"{channels} x {height} x {width} = {channels * height * width} "
                                f"values per image, more than {MAX_INPUT}")
    return channels, height, width


def parse_conv(value: Any, field: str) -> tuple[tuple[int, int], ...]:
    """``conv`` as ((channels, kernel), ...)."""
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_CONV_LAYERS:
        raise EventError(field, f"must be a list of 1..{MAX_CONV_LAYERS} [channels, kernel] "
                                f"pairs, got {_show(value)}")
    layers = []
    for i, layer in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(layer, list | tuple) or len(layer) != 2:
            raise EventError(where, f"must be [channels, kernel], got {_show(layer)}")
        channels, kernel = layer
        if not _integer(channels) or not 1 <= channels <= MAX_CHANNELS:
            raise EventError(f"{where}[0]", f"channels must be an integer in [1, {MAX_CHANNELS}]"
                                            f", got {_show(channels)}")
        if not _integer(kernel) or not 1 <= kernel <= MAX_KERNEL or kernel % 2 == 0:
            raise EventError(f"{where}[1]", f"kernel must be an odd integer in [1, {MAX_KERNEL}]"
                                            f" (a 'same' convolution), got {_show(kernel)}")
        layers.append((int(channels), int(kernel)))
    return tuple(layers)


def parse_pool(value: Any, field: str) -> int:
    if not _integer(value) or value not in POOLS:
        raise EventError(field, f"must be 2 (2x2 max-pooling after each conv block) or 1 "
                                f"(none), got {_show(value)}")
    return int(value)


def geometry(image: tuple[int, int, int], conv: tuple[tuple[int, int], ...], pool: int,
             field: str) -> tuple[ConvLayer, ...]:
    """The conv blocks' shapes; an EventError naming ``field`` (the model) when pooling shrinks
    the image to nothing or one image's im2col matrices exceed ``MAX_COLUMNS``."""
    channels, height, width = image
    layers = []
    for i, (c_out, kernel) in enumerate(conv):
        if height // pool < 1 or width // pool < 1:
            raise EventError(f"{field}.conv[{i}]", f"the image is {height} x {width} here: "
                                                  f"{pool} x {pool} pooling would leave nothing "
                                                  f"(at most {i} conv blocks on a "
                                                  f"{image[1]} x {image[2]} input)")
        layers.append(ConvLayer(channels, height, width, c_out, kernel, height // pool,
                                width // pool))
        channels, height, width = c_out, height // pool, width // pool
    columns = sum(layer.taps * layer.positions for layer in layers)
    if columns > MAX_COLUMNS:
        raise EventError(f"{field}.conv", f"{columns} im2col values per image (channels x "
                                          f"kernel^2 x positions, over every layer), more than "
                                          f"{MAX_COLUMNS}: use fewer channels, smaller kernels "
                                          "or a smaller input")
    return tuple(layers)


def flat_features(layers: tuple[ConvLayer, ...]) -> int:
    """Width of the dense head's input: the last block's pooled output, flattened (C, H, W)."""
    last = layers[-1]
    return last.c_out * last.pooled_height * last.pooled_width


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return repr(value)[:80]
