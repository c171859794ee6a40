"""Job specs: valid ones are normalized, malformed ones rejected with field-level errors."""

from __future__ import annotations

import pytest

from coordinator.jobspec import JobSpecError, load, validate

GOOD = {"models": [{"kind": "softmax", "lr": 0.5}, {"kind": "logreg"}], "dataset": "digits",
        "iterations": 4, "workers": 16, "scheme": {"name": "m-sgc", "B": 1, "W": 2, "lam": 3}}


def fields(spec: dict) -> dict[str, str]:
    with pytest.raises(JobSpecError) as caught:
        validate(spec)
    return dict(caught.value.errors)


def test_valid_spec_is_normalized():
    spec = validate(GOOD)
    assert spec.jobs == 8
    assert spec.raw["dataset"] == {"name": "digits"}
    assert spec.raw["wait"] == {"deadline_s": 5.0, "hard_limit_s": 50.0}
    assert spec.raw["models"][1] == {"kind": "logreg", "lr": 0.1, "seed": 1}
    assert spec.raw["scheme"] == {"name": "m-sgc", "B": 1, "W": 2, "lam": 3}
    assert spec.scheme().T == 1


@pytest.mark.parametrize("change, field, words", [
    ({"models": [{"kind": "svm"}, {"kind": "softmax"}]}, "models[0].kind",
     "['logreg', 'softmax', 'mlp']"),
    ({"models": []}, "models", "non-empty list"),
    ({"iterations": 0}, "iterations", "integer in [1, 100000]"),
    ({"workers": 5000}, "workers", "[1, 1000]"),
    ({"scheme": {"name": "fancy"}}, "scheme.name", "['gc', 'm-sgc', 'sr-sgc', 'uncoded']"),
    ({"scheme": {"name": "m-sgc", "B": 2, "W": 2, "lam": 3}}, "scheme", "B must be"),
    ({"scheme": {"name": "gc"}}, "scheme", "missing ['s']"),
    ({"wait": {"deadline_s": 1, "mu": 0.5}}, "wait", "exactly one of deadline_s"),
    ({"wait": {"mu": -1}}, "wait.mu", "in [0.0, 1000.0]"),
    ({"wait": {"deadline_s": 5, "hard_limit_s": 1}}, "wait.hard_limit_s", ">= wait.deadline_s"),
    ({"stragglers": {"model": "zipf"}}, "stragglers.model", "'bursty'"),
    ({"stragglers": {"model": "bursty", "B": 1}}, "stragglers.W", "required by model"),
    ({"stragglers": {"trace": "/nope.parquet"}}, "stragglers.trace", "file not found"),
    ({"faults": [{"round": 1, "worker": 99, "kind": "raise"}]}, "faults[0].worker", "[0, 15]"),
    ({"faults": [{"round": 1, "worker": 1, "kind": "melt"}]}, "faults[0].kind", "'garbage'"),
    ({"region": "mars"}, "region", "us-east-1"),
    ({"colour": "red"}, "(top level).colour", "unknown key"),
    ({"models": [{"kind": "softmax", "hidden": 3}, {"kind": "logreg"}]}, "models[0].hidden",
     "only kind mlp"),
])
def test_malformed_spec_names_the_field(change, field, words):
    errors = fields({**GOOD, **change})
    assert field in errors, errors
    assert words in errors[field]


def test_too_few_models_for_the_delay():
    errors = fields({**GOOD, "models": [{"kind": "softmax"}],
                     "scheme": {"name": "m-sgc", "B": 1, "W": 3, "lam": 2}})
    assert "T+1=3 models" in errors["models"]


def test_every_problem_is_reported_at_once():
    errors = fields({"models": "x", "iterations": -1, "scheme": {"name": "gc", "s": 1},
                     "dataset": {"name": ""}})
    assert {"models", "iterations", "dataset.name"} <= set(errors)


def test_load_yaml_and_json(tmp_path):
    (tmp_path / "job.yaml").write_text("models: [{kind: softmax}]\ndataset: digits\n"
                                       "iterations: 2\nworkers: 4\nscheme: {name: gc, s: 1}\n")
    assert load(tmp_path / "job.yaml").jobs == 2
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(JobSpecError, match="not valid JSON"):
        load(tmp_path / "bad.json")
