"""Job specs: valid ones are normalized, malformed ones rejected with field-level errors."""

from __future__ import annotations

import pytest

from coordinator.spec.jobspec import JobSpecError, load, validate

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
     "['logreg', 'softmax', 'mlp', 'cnn']"),
    ({"models": []}, "models", "non-empty list"),
    ({"iterations": 0}, "iterations", "integer in [1, 100000]"),
    ({"workers": 5000}, "workers", "[1, 1000]"),
    ({"scheme": {"name": "fancy"}}, "scheme.name",
     "['sgcflow', 'gc', 'm-sgc', 'sr-sgc', 'uncoded']"),
    ({"scheme": {"name": "sgcflow", "s": 3}}, "scheme", "sgcflow chooses its own parameters"),
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
     "only kinds mlp and cnn"),
    ({"models": [{"kind": "mlp", "hidden": []}, {"kind": "logreg"}]}, "models[0].hidden",
     "at least one hidden layer"),
    ({"models": [{"kind": "mlp", "hidden": [64, 0]}, {"kind": "logreg"}]}, "models[0].hidden[1]",
     "integer in [1, 16384]"),
    ({"models": [{"kind": "mlp", "hidden": 0}, {"kind": "logreg"}]}, "models[0].hidden",
     "integer in [1, 16384]"),
    ({"models": [{"kind": "mlp", "activation": "gelu"}, {"kind": "logreg"}]},
     "models[0].activation", "['relu', 'tanh']"),
    ({"models": [{"kind": "softmax", "activation": "tanh"}, {"kind": "logreg"}]},
     "models[0].activation", "only kinds mlp and cnn"),
    # 3 x 8192-wide layers: ~134M parameters, far beyond a 1,769 MB worker
    ({"models": [{"kind": "mlp", "hidden": [8192] * 3}, {"kind": "logreg"}]},
     "models[0].hidden", "more than the worker's 1769 MB"),
])
def test_malformed_spec_names_the_field(change, field, words):
    errors = fields({**GOOD, **change})
    assert field in errors, errors
    assert words in errors[field]


def test_deep_mlp_spec_is_normalized_and_a_million_parameters_fit():
    spec = validate({**GOOD, "models": [{"kind": "mlp", "hidden": [1024, 1024]},
                                        {"kind": "mlp", "hidden": 16, "activation": "tanh"}]})
    assert spec.raw["models"][0] == {"kind": "mlp", "lr": 0.1, "seed": 0,
                                     "hidden": [1024, 1024], "activation": "relu"}
    assert spec.raw["models"][1]["hidden"] == 16


def test_models_that_fit_alone_but_not_together_are_refused():
    errors = fields({**GOOD, "models": [{"kind": "mlp", "hidden": [4096, 4096]}] * 3})
    assert "all models together" in errors["models[2].hidden"]


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


def test_the_resource_estimate_uses_the_caps_and_the_worker_memory(monkeypatch):
    from coordinator.spec.budget import Caps, estimate

    spec = validate(GOOD)
    found = estimate(spec.raw, load=spec.scheme().load, T=spec.scheme().T)
    assert found.rows == 1797 and found.params == 65 * 10  # digits softmax: (64 + 1) x 10
    errors = fields_with_caps({**GOOD, "iterations": 50}, Caps(max_params=100, max_rounds=20))
    assert "cap of 100 (SGC_MAX_PARAMS)" in errors["models"]
    assert "cap of 20 (SGC_MAX_ROUNDS)" in errors["iterations"]
    big = {**GOOD, "dataset": {"name": "synthetic", "rows": 20_000_000, "features": 60}}
    assert "1769 MB" in fields_with_caps(big, Caps(max_dataset_gb=100))["workers"]
    monkeypatch.setenv("SGC_MAX_PARAMS", "10")
    assert "SGC_MAX_PARAMS" in fields(GOOD)["models"]
    monkeypatch.setenv("SGC_MAX_PARAMS", "nan")
    assert "SGC_MAX_PARAMS: must be a positive int" in fields(GOOD)["(environment)"]


def fields_with_caps(spec: dict, caps) -> dict[str, str]:
    with pytest.raises(JobSpecError) as caught:
        validate(spec, caps)
    return dict(caught.value.errors)


@pytest.mark.parametrize("change, field", [
    ({"name": {"a": 1}}, "name"), ({"region": "a-b-c; rm -rf /"}, "region"),
    ({"wait": {"deadline_s": float("inf")}}, "wait.deadline_s"),
    ({"stragglers": {"model": "bursty", "B": "x", "W": 2, "lam": 2}}, "stragglers.B"),
    ({"stragglers": {"model": "iid", "p": 2}}, "stragglers.p"),
    ({"stragglers": {"model": "iid", "p": 0.5, "seed": -1}}, "stragglers.seed"),
    ({"models": [{"kind": "softmax", "lr": float("inf")}, {"kind": "logreg"}]}, "models[0].lr"),
    ({"dataset": {"name": "synthetic", "rows": 10**10}}, "dataset.rows"),
])
def test_the_issue_12_specs_are_refused_with_the_field_path(change, field):
    assert field in fields({**GOOD, **change})


def test_hostile_files_give_one_line_errors(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True))
    cases = {"bomb.yaml": (bomb + "workers: *h\n").encode(), "deep.yaml": b"a: " + b"[" * 20000,
             "latin.yaml": "name: caf\xe9\n".encode("latin-1"),
             "deep.json": b"[" * 20000 + b"]" * 20000}
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
        with pytest.raises(JobSpecError) as caught:
            load(tmp_path / name)
        assert len(str(caught.value)) < 500 and caught.value.errors[0][0] == "(file)"


def test_sgcflow_is_the_default_scheme():
    spec = validate({k: v for k, v in GOOD.items() if k != "scheme"})
    assert spec.raw["scheme"] == {"name": "sgcflow"}
    assert spec.scheme().T == 1 and spec.scheme().session(4).partitions == spec.workers


def test_sgcflow_may_learn_from_an_earlier_job_and_keeps_the_id():
    scheme = {"name": "sgcflow", "learn_from": "run-20260301-093000-a1b2c3"}
    spec = validate({**GOOD, "scheme": scheme})
    assert spec.raw["scheme"] == scheme and validate(spec.raw).raw["scheme"] == scheme
    assert spec.scheme().T == 1  # the scheme itself is sgcflow's as ever
    none = validate({**GOOD, "scheme": {"name": "sgcflow", "learn_from": None}})
    assert none.raw["scheme"] == {"name": "sgcflow"}  # null: learn from nothing


@pytest.mark.parametrize("scheme, words", [
    ({"name": "sgcflow", "learn_from": 5}, "must be the id of an earlier sgcflow job"),
    ({"name": "sgcflow", "learn_from": "../other"}, "must be the id of an earlier sgcflow job"),
    ({"name": "gc", "s": 1, "learn_from": "run-1"}, "only sgcflow starts from an earlier"),
    ({"name": "sgcflow", "learn_from": "run-1", "s": 3}, "learn_from: an earlier job"),
])
def test_learn_from_is_checked_naming_the_field(scheme, words):
    with pytest.raises(JobSpecError) as caught:
        validate({**GOOD, "scheme": scheme})
    assert words in str(caught.value)


def test_sgcflow_with_one_model_chooses_gc_only():
    spec = validate({**GOOD, "models": [{"kind": "logreg"}], "scheme": {"name": "sgcflow"}})
    assert spec.scheme().T == 0


def test_sgcflow_is_budgeted_for_its_first_job_at_full_load():
    """sgcflow's job 1 runs GC(n - 1): every worker holds the whole dataset, so a dataset that
    fits a worker at load 1/16 but not whole is refused up front for sgcflow, not mid-run."""
    from coordinator.spec.budget import Caps

    data = {"name": "synthetic", "rows": 2_000_000, "features": 200}
    spec = {"models": [{"kind": "logreg"}, {"kind": "logreg"}], "dataset": data,
            "iterations": 4, "workers": 256}
    caps = Caps(step_memory_mb=100_000, max_dataset_gb=100)
    assert "1769 MB" in fields_with_caps(spec, caps)["workers"]  # default scheme: sgcflow
    validate({**spec, "scheme": {"name": "gc", "s": 15}}, caps)  # a 1/16 share fits


def test_the_rounds_cap_cannot_outgrow_the_six_digit_round_keys(monkeypatch):
    monkeypatch.setenv("SGC_MAX_ROUNDS", "999999")
    validate(GOOD)
    monkeypatch.setenv("SGC_MAX_ROUNDS", "1000000")
    assert "SGC_MAX_ROUNDS: at most 999999" in fields(GOOD)["(environment)"]


@pytest.mark.parametrize("change, field", [({"name": "job\n"}, "name"),
                                           ({"region": "us-east-1\n"}, "region")])
def test_names_are_matched_whole_a_trailing_newline_is_refused(change, field):
    assert field in fields({**GOOD, **change})


def test_every_message_is_cut_whatever_check_wrote_it():
    errors = fields({**GOOD, "wait": {"deadline_s": 1.0, "clock": "x" * 200_000},
                     "models": [{"kind": "mlp", "activation": "y" * 200_000},
                                {"kind": "logreg"}]})
    assert len(errors["wait.clock"]) <= 500 and "x" * 200 not in errors["wait.clock"]
    assert len(errors["models[0].activation"]) <= 500
