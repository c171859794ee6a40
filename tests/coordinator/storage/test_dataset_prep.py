"""`coordinator.storage.dataset_prep`: partitions, manifest, checksums, errors naming the field."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from coordinator.contract import gradients as reference
from coordinator.contract.models import ModelSpec
from coordinator.storage import dataset_prep


def test_equal_partitions_written_locally_with_manifest(tmp_path):
    table = dataset_prep.load("digits")
    assert table.features.shape == (1797, 64) and table.n_classes == 10
    manifest = dataset_prep.prepare(table, str(tmp_path / "digits"), k=256)
    assert manifest["k"] == 256 and manifest["n_rows"] == 1797
    assert sorted({p["rows"] for p in manifest["partitions"]}) == [7, 8]
    assert sum(p["rows"] for p in manifest["partitions"]) == 1797
    on_disk = json.loads((tmp_path / "digits" / "manifest.json").read_text())
    assert on_disk["partitions"] == manifest["partitions"]
    first = manifest["partitions"][0]
    blob = (tmp_path / "digits" / first["key"]).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == first["sha256"]
    part = pq.read_table(tmp_path / "digits" / first["key"])
    assert part.column_names == manifest["feature_columns"] + ["label"]
    assert {str(t) for t in part.schema.types} == {"float"}
    assert not list((tmp_path / "digits").glob("*.tmp"))


def test_shuffled_rows_are_a_permutation(tmp_path):
    table = dataset_prep.load("digits-parity")
    dataset_prep.prepare(table, str(tmp_path), k=3, seed=1)
    parts = [
        np.column_stack([c.to_numpy() for c in pq.read_table(tmp_path / f"part-0000{i}.parquet")
                         .columns]) for i in range(3)]
    rows = np.vstack(parts)
    original = np.column_stack([table.features, table.labels.astype(np.float32)])
    assert set(np.unique(table.labels)) == {0, 1}
    assert not np.array_equal(rows, original)  # shuffled ...

    def in_order(a):
        return a[np.lexsort(a.T[::-1])]

    assert np.array_equal(in_order(rows), in_order(original))  # ... but the same rows


def test_fractional_sizes():
    assert dataset_prep.partition_rows(10, sizes=[0.5, 0.25, 0.25]) == [5, 3, 2]  # ties: first wins
    counts = dataset_prep.partition_rows(1000, sizes=[1 / 7] * 7)
    assert sum(counts) == 1000 and max(counts) - min(counts) <= 1
    assert dataset_prep.partition_rows(7424, sizes=[28 / 7424] * 256 + [256 / 7424] * 1) == \
        [28] * 256 + [256]
    # M-SGC n=256 on digits: tiny D2 fractions round to empty partitions, rows still all placed
    sizes = [28 / 7424] * 256 + [1 / 7424] * 256
    counts = dataset_prep.partition_rows(1797, sizes=sizes)
    assert counts[:256] == [7] * 256 and counts[256:261] == [1] * 5 and counts.count(0) == 251


@pytest.mark.parametrize("kwargs, field", [
    ({"k": 11}, "k"), ({"k": 0}, "k"), ({"sizes": [0.5, 0.6]}, "sizes"),
    ({"sizes": [1.0, -0.0]}, "sizes"),
    ({"k": 2, "sizes": [1.0]}, "k/sizes"), ({}, "k/sizes")])
def test_partition_errors_name_the_field(kwargs, field):
    with pytest.raises(dataset_prep.DatasetError) as info:
        dataset_prep.partition_rows(10, **kwargs)
    assert info.value.field == field and str(info.value).startswith(field)


def test_unknown_dataset():
    with pytest.raises(dataset_prep.DatasetError, match="dataset: unknown 'mnist'.*digits"):
        dataset_prep.load("mnist")


def test_k_larger_than_rows_writes_nothing(tmp_path):
    table = dataset_prep.synthetic(rows=5, features=2, seed=0)
    with pytest.raises(dataset_prep.DatasetError, match="^k: 6 partitions but only 5 rows"):
        dataset_prep.prepare(table, str(tmp_path / "out"), k=6)
    assert not (tmp_path / "out").exists()


def test_csv_non_numeric_and_nan_columns(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n1,2.5,0\n3,4,1\n")
    table = dataset_prep.load(str(good))
    assert table.feature_columns == ["a", "b"] and table.labels.tolist() == [0, 1]
    text = tmp_path / "text.csv"
    text.write_text("a,colour,label\n1,red,0\n3,blue,1\n")
    with pytest.raises(dataset_prep.DatasetError, match="^column 'colour': non-numeric"):
        dataset_prep.load(str(text))
    nan = tmp_path / "nan.csv"
    nan.write_text("a,b,label\n1,nan,0\n3,4,1\n")
    with pytest.raises(dataset_prep.DatasetError, match="^column 'b': NaN/inf at row 0"):
        dataset_prep.load(str(nan))
    inf = tmp_path / "inf.csv"
    inf.write_text("a,b,label\n1,2,0\ninf,4,1\n")
    with pytest.raises(dataset_prep.DatasetError, match="^column 'a': NaN/inf at row 1"):
        dataset_prep.load(str(inf))
    with pytest.raises(dataset_prep.DatasetError, match="^label_column: 'y' not among"):
        dataset_prep.load(str(good), label_column="y")


def test_synthetic_is_seeded_and_its_optimum_has_zero_gradient():
    a = dataset_prep.synthetic(rows=2000, features=8, seed=3)
    b = dataset_prep.synthetic(rows=2000, features=8, seed=3)
    assert np.array_equal(a.features, b.features) and np.array_equal(a.labels, b.labels)
    optimum = a.extra["optimum"]
    spec = ModelSpec.from_dict(optimum["model"])
    theta = np.array(optimum["params"])
    loss, grad = reference.loss_grad(spec, a.features, a.labels.astype(np.int32), theta)
    assert loss == pytest.approx(optimum["loss_sum"], rel=1e-12)
    assert np.linalg.norm(grad) < 1e-6 * len(a.labels)
    # and it is a minimum: any step away raises the loss
    step = np.random.default_rng(0).standard_normal(theta.size) * 1e-2
    assert reference.loss_grad(spec, a.features, a.labels.astype(np.int32), theta + step)[0] > loss


def test_s3_prepare_replaces_manifest_last(aws):
    table = dataset_prep.synthetic(rows=100, features=3, classes=2, seed=1)
    dataset_prep.prepare(table, f"s3://{aws.bucket}/datasets/syn", k=4, s3=aws.s3)
    keys = aws.keys()
    assert keys == ["datasets/syn/manifest.json"] + [f"datasets/syn/part-0000{i}.parquet"
                                                     for i in range(4)]
    body = aws.s3.get_object(Bucket=aws.bucket, Key="datasets/syn/manifest.json")["Body"]
    manifest = json.loads(body.read())
    assert [p["rows"] for p in manifest["partitions"]] == [25, 25, 25, 25]
    assert manifest["optimum"]["model"]["kind"] == "logreg"
