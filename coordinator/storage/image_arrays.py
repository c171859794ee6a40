"""Image datasets from .npz files: ``X`` of shape (N, C, H, W) or (N, H, W), ``y`` of shape (N).

Each array's .npy header (shape, dtype) is read and checked before any data is: a .npz is a zip
archive, so its declared sizes are bounded (rows, values per image, values in all) before it is
decompressed, and a truncated member is reported, not half-read. Other arrays in the file are
ignored. Rows become flat float32 feature rows in (C, H, W) order (an (N, H, W) array is one
channel), and the image shape goes into the dataset's manifest (``image_shape``), which a cnn
model's ``input`` must match. Every error is a ``DatasetError`` naming the array (``X``, ``y``)
or the file (``dataset``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from coordinator.contract.conv_shapes import MAX_CHANNELS, MAX_SIDE
from coordinator.spec.limits import MAX_CELLS, MAX_FEATURES, MAX_FILE_BYTES, MAX_ROWS

ARRAYS = ("X", "y")


class ImageArrayError(ValueError):
    """Bad image-array input; ``field`` names the array or the file."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def read_header(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """{"X": (shape, dtype), "y": (shape, dtype)} from the .npy headers, checked: shapes,
    dtypes and sizes within bounds, and the two arrays of one length."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ImageArrayError("dataset", f"{path} has {size} bytes; the limit is "
                                         f"{MAX_FILE_BYTES}")
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist()}
            for name in ARRAYS:
                info = members.get(f"{name}.npy")
                if info is None:
                    raise ImageArrayError(name, "missing: the .npz needs X, shape (N, C, H, W) "
                                                "or (N, H, W), and y, shape (N,)")
                with archive.open(info) as member:
                    headers[name] = _header(member, name, info.file_size)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ImageArrayError("dataset", f"cannot read {path} as .npz: "
                                         f"{' '.join(str(error).split())[:200]}") from None
    _check_shapes(headers)
    return headers


def load(path: Path) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features (N, C H W), labels (N), [C, H, W]) of a checked .npz file."""
    headers = read_header(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            X, y = arrays["X"], arrays["y"]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ImageArrayError("dataset", f"cannot read {path} as .npz: "
                                         f"{' '.join(str(error).split())[:200]}") from None
    shape = headers["X"][0]
    image = [1, *shape[1:]] if len(shape) == 3 else list(shape[1:])
    return X.reshape(shape[0], -1), y, [int(v) for v in image]


def _header(member, name: str, stored: int) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(member)
        reader = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if reader is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = reader(member)
    except ValueError as error:
        raise ImageArrayError(name, f"not a readable .npy array: {str(error)[:200]}") from None
    if dtype.hasobject or not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)
                               or dtype == np.bool_):
        raise ImageArrayError(name, f"dtype {dtype}: only integer or float arrays are allowed")
    cells = int(np.prod(shape, dtype=object))
    if stored < cells * dtype.itemsize:
        raise ImageArrayError(name, f"truncated: {stored} bytes stored for {cells} values of "
                                    f"{dtype}")
    return tuple(int(v) for v in shape), dtype


def _check_shapes(headers: dict) -> None:
    (x_shape, _), (y_shape, _) = headers["X"], headers["y"]
    if len(x_shape) not in (3, 4):
        raise ImageArrayError("X", f"shape {x_shape}: expected (N, C, H, W) or (N, H, W)")
    rows, image = x_shape[0], (x_shape[1:] if len(x_shape) == 4 else (1, *x_shape[1:]))
    if not 1 <= rows <= MAX_ROWS:
        raise ImageArrayError("X", f"{rows} images, allowed 1..{MAX_ROWS}")
    for axis, (value, high) in enumerate(zip(image, (MAX_CHANNELS, MAX_SIDE, MAX_SIDE),
                                             strict=True)):
        if not 1 <= value <= high:
            name = ("channels", "height", "width")[axis]
            raise ImageArrayError("X", f"shape {x_shape}: {name} {value}, allowed 1..{high}")
    values = int(np.prod(image))
    if values > MAX_FEATURES:
        raise ImageArrayError("X", f"{values} values per image, more than {MAX_FEATURES}")
    if rows * values > MAX_CELLS:
        raise ImageArrayError("X", f"{rows} x {values} = {rows * values} values, more than "
                                   f"{MAX_CELLS} (about 1 GB of float32)")
    if y_shape != (rows,):
        raise ImageArrayError("y", f"shape {y_shape}: expected ({rows},), one label per image "
                                   "of X")
