"""Datasets from .npz files: ``X`` and ``y`` (one label per row: class indices, or strings that
preparation encodes). ``X`` of shape (rows, features) is a table; (N, C, H, W) or (N, H, W) are
images: their rows become flat feature rows in (C, H, W) order (an (N, H, W) array is one
channel) and the image shape goes into the dataset's manifest (``image_shape``), which a cnn
model's ``input`` must match.

A .npz is a zip archive: each array's .npy header (shape, dtype) is read and bounded before any
data is decompressed, so a declared 10^12-value array is refused without reading it, and a
truncated member is reported, not half-read. Other arrays in the file are ignored. Errors name
the array (``X``, ``y``) or the file (``dataset``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from coordinator.contract.conv_shapes import MAX_CHANNELS, MAX_SIDE
from coordinator.spec.limits import MAX_CELLS, MAX_FEATURES, MAX_FILE_BYTES, MAX_ROWS

ARRAYS = ("X", "y")


class ArrayFileError(ValueError):
    """Bad .npz input; ``field`` names the array or the file."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def read_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """{"X": (shape, dtype), "y": (shape, dtype)}, checked: dtypes, sizes within bounds, one
    label per row."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ArrayFileError("dataset", f"{path} has {size} bytes; the limit is "
                                        f"{MAX_FILE_BYTES}")
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            for name in ARRAYS:
                info = members.get(f"{name}.npy")
                if info is None:
                    raise ArrayFileError(name, "missing: the .npz needs X, shape (rows, "
                                               "features), (N, C, H, W) or (N, H, W), and y, "
                                               "shape (rows,)")
                with archive.open(info) as member:
                    headers[name] = _header(member, name, info.file_size)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ArrayFileError("dataset", f"cannot read {path} as .npz: "
                                        f"{' '.join(str(error).split())[:200]}") from None
    _check_shapes(headers)
    return headers


def image_shape(x_shape: tuple[int, ...]) -> list[int] | None:
    """[C, H, W] of an image array's shape; None for a table (rows, features)."""
    if len(x_shape) == 2:
        return None
    return [1, *x_shape[1:]] if len(x_shape) == 3 else list(x_shape[1:])


def load(path: Path) -> tuple[np.ndarray, np.ndarray, list[int] | None]:
    """(features (rows x features), labels (rows), image shape or None) of a checked .npz."""
    headers = read_headers(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            X, y = arrays["X"], arrays["y"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ArrayFileError("dataset", f"cannot read {path} as .npz: "
                                        f"{' '.join(str(error).split())[:200]}") from None
    shape = headers["X"][0]
    return X.reshape(shape[0], -1), y, image_shape(shape)


def _header(member, name: str, stored: int) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(member)
        reader = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = reader(member)
    except ValueError as error:
        raise ArrayFileError(name, f"not a readable .npy array: {str(error)[:200]}") from None
    numeric = np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating) \
        or dtype == np.bool_
    text = name == "y" and dtype.kind in "US"
    if dtype.hasobject or not (numeric or text):
        allowed = "integer, float or string" if name == "y" else "integer or float"
        raise ArrayFileError(name, f"dtype {dtype}: only {allowed} arrays are allowed")
    cells = int(np.prod(shape, dtype=object))
    if stored < cells * dtype.itemsize:
        raise ArrayFileError(name, f"truncated: {stored} bytes stored for {cells} values of "
                                   f"{dtype}")
    return tuple(int(v) for v in shape), dtype


def _check_shapes(headers: dict) -> None:
    (x_shape, _), (y_shape, _) = headers["X"], headers["y"]
    if len(x_shape) not in (2, 3, 4):
        raise ArrayFileError("X", f"shape {x_shape}: expected (rows, features), or images "
                                  "(N, C, H, W) or (N, H, W)")
    rows, values = x_shape[0], int(np.prod(x_shape[1:], dtype=object))
    image = image_shape(x_shape)
    for axis, (value, high) in enumerate(zip(image or (), (MAX_CHANNELS, MAX_SIDE, MAX_SIDE),
                                             strict=False)):
        if not 1 <= value <= high:
            name = ("channels", "height", "width")[axis]
            raise ArrayFileError("X", f"shape {x_shape}: {name} {value}, allowed 1..{high}")
    if not 1 <= rows <= MAX_ROWS:
        raise ArrayFileError("X", f"{rows} rows, allowed 1..{MAX_ROWS}")
    if not 1 <= values <= MAX_FEATURES:
        raise ArrayFileError("X", f"{values} features per row, allowed 1..{MAX_FEATURES}")
    if rows * values > MAX_CELLS:
        raise ArrayFileError("X", f"{rows} x {values} = {rows * values} values, more than "
                                  f"{MAX_CELLS} (about 1 GB of float32)")
    if y_shape != (rows,):
        raise ArrayFileError("y", f"shape {y_shape}: expected ({rows},), one label per row of X")
