"""Your own data: .npz and string labels, standardization, prepared datasets read back checked,
and publishing under the manifest's content address."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordinator.contract.preprocessing import Preprocessing
from coordinator.control.memstore import MemoryStore
from coordinator.storage import dataset_prep, dataset_publish, dataset_sources
from coordinator.storage.dataset_prep import DatasetError

CSV = "a,b,kind\n1,10,cat\n2,20,dog\n3,30,cat\n4,40,bird\n5,50,dog\n6,60,cat\n"


def test_string_labels_are_encoded_in_sorted_order_and_kept(tmp_path):
    (tmp_path / "pets.csv").write_text(CSV)
    table = dataset_prep.load(str(tmp_path / "pets.csv"), label_column="kind")
    assert table.labels.tolist() == [1, 2, 1, 0, 2, 1]
    assert table.extra["labels"] == ["bird", "cat", "dog"] and table.n_classes == 3
    assert table.extra["source_label_column"] == "kind"
    mapping = Preprocessing.from_manifest(table.extra)
    assert mapping.decode(np.array([0, 2])).tolist() == ["bird", "dog"]
    assert mapping.encode(["dog", "cat"]).tolist() == [2, 1]
    with pytest.raises(ValueError, match="label 'fish' .* not in the training data"):
        mapping.encode(["fish"])


def test_a_text_feature_column_is_still_refused_with_a_hint(tmp_path):
    (tmp_path / "t.csv").write_text("colour,label\nred,0\nblue,1\n")
    with pytest.raises(DatasetError, match="non-numeric .* --label-column colour"):
        dataset_prep.load(str(tmp_path / "t.csv"))


def test_npz_with_numeric_and_with_string_labels(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.savez(tmp_path / "n.npz", X=X, y=np.array([0, 1, 0, 1, 1, 0]))
    table = dataset_prep.load(str(tmp_path / "n.npz"))
    assert table.features.shape == (6, 2) and table.labels.tolist() == [0, 1, 0, 1, 1, 0]
    np.savez(tmp_path / "s.npz", X=X, y=np.array(["no", "yes", "no", "yes", "yes", "no"]))
    table = dataset_prep.load(str(tmp_path / "s.npz"))
    assert table.extra["labels"] == ["no", "yes"] and table.labels.tolist() == [0, 1, 0, 1, 1, 0]


@pytest.mark.parametrize("arrays, field", [
    ({"X": np.zeros((3, 2))}, "^y: missing"),
    ({"X": np.zeros(3), "y": np.zeros(3)}, "^X: shape"),
    ({"X": np.zeros((3, 2)), "y": np.zeros(4)}, "^y: shape"),
    ({"X": np.zeros((2, 2)), "y": np.array([0.5, 1])}, "labels must be class indices"),
    ({"X": np.array([[np.nan, 1], [1, 1]]), "y": np.array([0, 1])}, "NaN/inf"),
])
def test_bad_npz_is_refused_naming_the_array(tmp_path, arrays, field):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=field):
        dataset_prep.load(str(tmp_path / "bad.npz"))


def test_garbage_npz_names_the_file(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(DatasetError, match="^dataset: cannot read"):
        dataset_prep.load(str(tmp_path / "g.npz"))


def test_standardized_features_and_statistics_in_the_manifest(tmp_path):
    (tmp_path / "pets.csv").write_text(CSV)
    table = dataset_prep.standardized(dataset_prep.load(str(tmp_path / "pets.csv"),
                                                        label_column="kind"))
    assert np.allclose(table.features.mean(axis=0), 0, atol=1e-6)
    assert np.allclose(table.features.std(axis=0), 1, atol=1e-5)
    scaling = Preprocessing.from_manifest(table.extra)
    assert scaling.mean == pytest.approx((3.5, 35.0))
    assert np.allclose(scaling.transform(np.array([[3.5, 35.0]])), 0)
    assert dataset_prep.standardized(table) is table  # never twice


def test_a_prepared_folder_reads_back_checked_with_its_extras(tmp_path):
    (tmp_path / "pets.csv").write_text(CSV)
    source = dataset_sources.load_source(str(tmp_path / "pets.csv"), label_column="kind",
                                         standardize=True)
    dataset_prep.prepare(source, str(tmp_path / "prepared"), k=2, seed=3)
    table, manifest, body = dataset_sources.read_prepared(str(tmp_path / "prepared"))
    assert sorted(map(tuple, table.features.round(5))) == sorted(
        map(tuple, source.features.round(5)))
    assert table.extra["labels"] == ["bird", "cat", "dog"] and "standardize" in table.extra
    assert dataset_sources.shape(manifest) == {"rows": 6, "features": 2, "classes": 3}
    assert dataset_sources.fits(manifest, [0.5, 0.5]) and not dataset_sources.fits(
        manifest, [0.25] * 4)
    with pytest.raises(DatasetError, match="manifest_sha256"):
        dataset_sources.read_prepared(str(tmp_path / "prepared"), expected_sha256="0" * 64)
    part = tmp_path / "prepared" / manifest["partitions"][0]["key"]
    part.write_bytes(part.read_bytes()[:-1] + b"\x00")
    with pytest.raises(DatasetError, match="does not match the manifest's sha256"):
        dataset_sources.read_prepared(str(tmp_path / "prepared"))


def test_a_folder_without_manifest_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="^path: .* without manifest.json"):
        dataset_sources.load_source(str(tmp_path))
    with pytest.raises(DatasetError, match="^path: no prepared dataset"):
        dataset_sources.read_manifest(str(tmp_path))


def test_publish_writes_once_under_the_manifest_digest():
    store = MemoryStore()
    table = dataset_prep.synthetic(rows=64, features=3, seed=1)
    manifest, parts = dataset_prep.build(table, k=4, stamp=False)
    again, _ = dataset_prep.build(table, k=4, stamp=False)
    assert dataset_prep.manifest_bytes(manifest) == dataset_prep.manifest_bytes(again)
    prefix, digest = dataset_publish.publish(store, manifest, parts)
    assert prefix == f"datasets/sha256-{digest}"
    assert json.loads(store.get_bytes(f"{prefix}/manifest.json"))["k"] == 4
    writes = store.calls["put_bytes"]
    assert dataset_publish.publish(store, manifest, parts) == (prefix, digest)
    assert store.calls["put_bytes"] == writes  # already there: nothing written
    store.objects[f"{prefix}/manifest.json"] = b"{}"  # overwritten: published again
    dataset_publish.publish(store, manifest, parts)
    assert store.calls["put_bytes"] == writes + 5
