"""The job spec's ``dataset.path`` and the "did you mean" of enum fields: every bad value is
answered naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.spec.jobspec import JobSpecError, validate

BASE = {"models": [{"kind": "logreg", "lr": 0.5}, {"kind": "softmax"}], "iterations": 2,
        "workers": 4, "scheme": {"name": "gc", "s": 1}}


def errors(**changes) -> dict[str, str]:
    with pytest.raises(JobSpecError) as caught:
        validate({**BASE, **changes})
    return dict(caught.value.errors)


def test_a_path_dataset_is_normalized(tmp_path):
    (tmp_path / "d.csv").write_text("a,label\n1,0\n2,1\n")
    spec = validate({**BASE, "dataset": {"path": str(tmp_path / "d.csv")}})
    assert spec.raw["dataset"] == {"path": str(tmp_path / "d.csv"), "label_column": "label",
                                   "standardize": False, "seed": 0}
    spec = validate({**BASE, "dataset": {"path": "s3://my-bucket/data/x", "standardize": True}})
    assert spec.raw["dataset"]["path"] == "s3://my-bucket/data/x"


@pytest.mark.parametrize("dataset, field, fragment", [
    ({"path": "/nowhere/x.csv"}, "dataset.path", "no such file or folder"),
    ({"path": ""}, "dataset.path", "must be a folder"),
    ({"path": 7}, "dataset.path", "must be a folder"),
    ({"path": "s3://"}, "dataset.path", "not an s3://bucket/prefix"),
    ({"path": "{tmp}"}, "dataset.path", "without manifest.json"),
    ({"path": "{tmp}/x.npy"}, "dataset.path", "numpy.savez"),
    ({"path": "{tmp}/x.txt"}, "dataset.path", "not a dataset file"),
    ({"path": "{tmp}/d.csv", "standardize": "yes"}, "dataset.standardize", "true"),
    ({"path": "{tmp}/d.csv", "label_column": ""}, "dataset.label_column", "column name"),
    ({"path": "{tmp}/d.csv", "seed": -1}, "dataset.seed", "integer"),
    ({"path": "{tmp}/d.csv", "manifest_sha256": "abc"}, "dataset.manifest_sha256", "64"),
    ({"path": "{tmp}/d.csv", "shape": {"rows": 0, "features": 1, "classes": 2}},
     "dataset.shape.rows", "integer"),
    ({"path": "{tmp}/d.csv", "rows": 5}, "dataset.rows", "unknown key"),
    ({"path": "{tmp}/d.csv", "name": "digits"}, "dataset", "not both"),
    ({"name": "digitz"}, "dataset.name", "did you mean 'digits'"),
    ({"name": "data/my.csv"}, "dataset.name", "dataset.path"),
])
def test_bad_dataset_values_name_the_field(tmp_path, dataset, field, fragment):
    for name in ("d.csv", "x.npy", "x.txt"):
        (tmp_path / name).write_text("a,label\n1,0\n")
    dataset = {k: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v
               for k, v in dataset.items()}
    found = errors(dataset=dataset)
    assert field in found and fragment in found[field], found


@pytest.mark.parametrize("changes, field, suggestion", [
    ({"models": [{"kind": "sofmax"}, {"kind": "logreg"}]}, "models[0].kind", "'softmax'"),
    ({"scheme": {"name": "m_sgc"}}, "scheme.name", "'m-sgc'"),
    ({"models": [{"kind": "mlp", "activation": "relu6"}, {"kind": "logreg"}]},
     "models[0].activation", "'relu'"),
    ({"wait": {"deadline_s": 1, "clock": "virtal"}}, "wait.clock", "'virtual'"),
    ({"iteration": 3}, "(top level).iteration", "'iterations'"),
])
def test_enum_fields_suggest_the_near_miss(changes, field, suggestion):
    found = errors(dataset={"name": "digits"}, **changes)
    assert f"did you mean {suggestion}" in found[field], found


def test_a_recorded_shape_drives_the_resource_check(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 2)), y=np.array([0, 1]))
    huge = {"rows": 100_000_000, "features": 1_000_000, "classes": 2}
    found = errors(dataset={"path": str(tmp_path / "d.npz"), "shape": huge})
    assert "GiB" in found["dataset"]
