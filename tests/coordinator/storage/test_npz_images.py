"""Image datasets (coordinator/storage/array_files.py, dataset_prep): digits as 1x8x8 images and
.npz arrays X (N, C, H, W) or (N, H, W) with y become flat float32 rows whose manifest records
the image shape; every bad input is refused naming the array or the file, before it is read."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from coordinator.cli.data import data
from coordinator.storage import dataset_prep


def test_digits_images_are_the_digits_scaled_to_one_with_their_shape(tmp_path):
    images, flat = dataset_prep.load("digits-images"), dataset_prep.load("digits")
    assert np.array_equal(images.features, flat.features / np.float32(16))
    assert images.features.max() == 1.0
    manifest = dataset_prep.prepare(images, str(tmp_path), k=4)
    assert manifest["image_shape"] == [1, 8, 8] and manifest["n_features"] == 64
    assert "image_shape" not in dataset_prep.prepare(flat, str(tmp_path / "flat"), k=4)


@pytest.mark.parametrize("shape,image", [((30, 3, 5, 4), [3, 5, 4]), ((30, 6, 7), [1, 6, 7])])
def test_npz_images_become_flat_rows_in_c_h_w_order(tmp_path, shape, image):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, shape, dtype=np.uint8)
    y = rng.integers(0, 3, shape[0])
    np.savez_compressed(tmp_path / "images.npz", X=X, y=y, extra=np.zeros(3))
    table = dataset_prep.load(str(tmp_path / "images.npz"))
    assert np.array_equal(table.features, X.reshape(shape[0], -1).astype(np.float32))
    assert np.array_equal(table.labels, y)
    manifest = dataset_prep.prepare(table, str(tmp_path / "out"), k=3, shuffle=False)
    assert manifest["image_shape"] == image
    part = pq.read_table(tmp_path / "out" / manifest["partitions"][0]["key"])
    first = np.array([part.column(c)[0].as_py() for c in manifest["feature_columns"]])
    assert np.array_equal(first.reshape(image), X[0].reshape(image))


def _npz(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def _raw_npz(path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return str(path)


def _header(shape, descr="<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_bad_npz_inputs_name_the_field(tmp_path):
    rng = np.random.default_rng(1)
    good_y = _npy(np.zeros(4, dtype=np.int64))
    cases = [
        (_npz(tmp_path / "a.npz", X=rng.random(4), y=np.zeros(4)), "X",
         "expected (rows, features), or images (N, C, H, W)"),
        (_npz(tmp_path / "b.npz", X=rng.random((4, 1, 2, 2)), y=np.zeros(3)), "y", "expected (4,)"),
        (_npz(tmp_path / "c.npz", Z=rng.random((4, 2, 2)), y=np.zeros(4)), "X", "missing"),
        (_npz(tmp_path / "d.npz", X=rng.random((4, 2, 2))), "y", "missing"),
        (_npz(tmp_path / "e.npz", X=np.full((2, 1, 2, 2), np.inf), y=[0, 1]), "X", "NaN/inf"),
        (_npz(tmp_path / "f.npz", X=rng.random((2, 1, 2, 2)), y=[0.5, 1]), "y", "class indices"),
        (_npz(tmp_path / "g.npz", X=rng.random((2, 1, 2, 2)), y=[-1, 1]), "y", "class indices"),
        (_npz(tmp_path / "h.npz", X=np.full((1, 1, 1), "a"), y=[0]), "X", "dtype"),
        (_npz(tmp_path / "i.npz", X=rng.random((2, 1, 2, 2)) + 1j, y=[0, 1]), "X", "dtype"),
        (_raw_npz(tmp_path / "j.npz", {"X.npy": _header((10**7, 3, 64, 64)), "y.npy": good_y}),
         "X", "truncated"),
        (_raw_npz(tmp_path / "k.npz", {"X.npy": _header((4, 2000, 2, 2)) + bytes(128000),
                                       "y.npy": good_y}), "X", "channels 2000"),
        (_raw_npz(tmp_path / "l.npz", {"X.npy": b"not an array", "y.npy": good_y}), "X",
         "not a readable .npy"),
    ]
    for path, field, words in cases:
        with pytest.raises(dataset_prep.DatasetError) as error:
            dataset_prep.load(path)
        assert error.value.field == field and words in str(error.value), (path, error.value)
    (tmp_path / "m.npz").write_bytes(b"garbage")
    with pytest.raises(dataset_prep.DatasetError, match="cannot read") as error:
        dataset_prep.load(str(tmp_path / "m.npz"))
    assert error.value.field == "dataset"


def test_sgc_data_prepare_reads_npz_images(tmp_path):
    rng = np.random.default_rng(2)
    np.savez(tmp_path / "images.npz", X=rng.random((40, 2, 4, 4)).astype(np.float32),
             y=rng.integers(0, 5, 40))
    done = CliRunner().invoke(data, ["prepare", str(tmp_path / "images.npz"), "--out",
                                     str(tmp_path / "out"), "-k", "4"])
    assert done.exit_code == 0, done.output
    assert "40 rows x 32 features (2x4x4 images), 5 classes -> 4 partitions" in done.output
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["image_shape"] == [2, 4, 4]
    done = CliRunner().invoke(data, ["prepare", str(tmp_path / "none.npz"), "--out",
                                     str(tmp_path / "x"), "-k", "2"])
    assert done.exit_code == 1 and "dataset: unknown" in done.output
