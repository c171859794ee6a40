"""At submit, a ``dataset.path`` is read, cut for the scheme, uploaded under its content address
and recorded; Plan checks what submit recorded and trains on exactly that."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coordinator.backends.dataset_upload import resolve
from coordinator.control import run_dataset
from coordinator.spec.jobspec import JobSpecError, validate
from coordinator.storage import dataset_prep
from coordinator.storage.state import Store

CSV = "a,b,kind\n" + "".join(f"{i},{i % 7},{'cat' if i % 3 else 'dog'}\n" for i in range(40))


def spec_for(path: str, **dataset):
    return validate({"dataset": {"path": path, **dataset},
                     "models": [{"kind": "logreg", "lr": 0.5}, {"kind": "softmax"}],
                     "iterations": 2, "workers": 4, "scheme": {"name": "gc", "s": 1}})


@pytest.fixture
def store(aws):
    return Store(bucket=aws.bucket, table=aws.table)


def test_a_csv_is_cut_for_the_scheme_uploaded_and_recorded(tmp_path, store, aws):
    (tmp_path / "pets.csv").write_text(CSV)
    spec = spec_for(str(tmp_path / "pets.csv"), label_column="kind", standardize=True)
    resolved = resolve(spec, store).raw["dataset"]
    digest = resolved["manifest_sha256"]
    assert resolved["path"] == f"s3://{aws.bucket}/datasets/sha256-{digest}"
    assert resolved["shape"] == {"rows": 40, "features": 2, "classes": 2}
    assert resolved["source"] == str(tmp_path / "pets.csv")
    keys = aws.keys(f"datasets/sha256-{digest}/")
    assert len(keys) == 5  # 4 partitions (gc on 4 workers) + manifest
    manifest = json.loads(store.get_bytes(f"datasets/sha256-{digest}/manifest.json"))
    assert manifest["labels"] == ["cat", "dog"] and "standardize" in manifest
    assert resolve(spec, store).raw["dataset"] == resolved  # the same data: the same address
    info = run_dataset.prepare(store, resolved, spec.session().partition_sizes)
    assert (info.prefix, info.manifest_sha256) == (f"datasets/sha256-{digest}", digest)
    assert info.partition_rows == (10, 10, 10, 10) and info.n_classes == 2


def test_a_prepared_folder_that_fits_is_uploaded_as_it_is(tmp_path, store):
    table = dataset_prep.synthetic(rows=80, features=3, classes=3, seed=2)
    manifest = dataset_prep.prepare(table, str(tmp_path / "ready"), k=4)
    body = (tmp_path / "ready" / "manifest.json").read_bytes()
    resolved = resolve(spec_for(str(tmp_path / "ready")), store).raw["dataset"]
    assert store.get_bytes(resolved["path"].split("/", 3)[3] + "/manifest.json") == body
    assert resolved["shape"]["classes"] == manifest["n_classes"] == 3
    other = resolve(spec_for(str(tmp_path / "ready"), standardize=True), store)
    assert other.raw["dataset"]["manifest_sha256"] != resolved["manifest_sha256"]


def test_an_s3_dataset_is_checked_and_recut_by_plan_when_it_does_not_fit(store, aws):
    table = dataset_prep.synthetic(rows=90, features=3, classes=2, seed=1)
    dataset_prep.prepare(table, f"s3://{aws.bucket}/mine/three", k=3, s3=store.s3)
    spec = spec_for(f"s3://{aws.bucket}/mine/three")
    resolved = resolve(spec, store).raw["dataset"]
    assert resolved["path"] == f"s3://{aws.bucket}/mine/three"  # not copied at submit
    info = run_dataset.prepare(store, resolved, spec.session().partition_sizes)
    assert info.prefix == f"datasets/sha256-{info.manifest_sha256}"
    assert sum(info.partition_rows) == 90 and len(info.partition_rows) == 4
    store.put_bytes("mine/three/manifest.json",
                    store.get_bytes("mine/three/manifest.json") + b" ")
    with pytest.raises(JobSpecError, match="dataset.manifest_sha256"):
        run_dataset.prepare(store, resolved, spec.session().partition_sizes)


@pytest.mark.parametrize("make, field, fragment", [
    (lambda d: f"s3://{d}/nothing/here", "dataset.path", "no prepared dataset"),
    (lambda d: "one-class", "dataset.path", "at least 2 classes"),
])
def test_what_submit_cannot_use_is_an_error_naming_the_field(tmp_path, store, aws, make,
                                                            field, fragment):
    (tmp_path / "one.csv").write_text("a,label\n1,0\n2,0\n3,0\n4,0\n")
    path = make(aws.bucket)
    path = str(tmp_path / "one.csv") if path == "one-class" else path
    with pytest.raises(JobSpecError) as caught:
        resolve(spec_for(path), store)
    errors = dict(caught.value.errors)
    assert fragment in errors[field], errors


def test_the_resource_check_runs_on_the_real_shape_before_any_upload(tmp_path, store, aws,
                                                                    monkeypatch):
    np.savez(tmp_path / "wide.npz", X=np.zeros((40, 5000), np.float32), y=np.arange(40) % 2)
    monkeypatch.setenv("SGC_MAX_PARAMS", "1000")
    with pytest.raises(JobSpecError, match="parameters"):
        resolve(spec_for(str(tmp_path / "wide.npz")), store)
    assert aws.keys("datasets/") == []


def test_a_pinned_digest_that_differs_is_refused(store, aws):
    table = dataset_prep.synthetic(rows=40, features=2, seed=1)
    dataset_prep.prepare(table, f"s3://{aws.bucket}/pinned", k=4, s3=store.s3)
    with pytest.raises(JobSpecError, match="dataset.manifest_sha256"):
        resolve(spec_for(f"s3://{aws.bucket}/pinned", manifest_sha256="0" * 64), store)
