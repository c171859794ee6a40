"""cnn models in a job spec (coordinator/spec/cnn_fields.py): normalized, every bad field named
under models[i] before any work, the input checked against the dataset's features and image
shape when they are known at submit, and the worker's spec built on the prepared dataset."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.spec.cnn_fields import to_model_spec
from coordinator.spec.jobspec import JobSpecError, validate

CNN = {"kind": "cnn", "input": [1, 8, 8], "conv": [[8, 3], [16, 3]], "hidden": [32], "lr": 0.1}
GOOD = {"models": [CNN], "dataset": "digits-images", "iterations": 2, "workers": 8,
        "scheme": {"name": "gc", "s": 1}}


def errors(**model) -> dict[str, str]:
    with pytest.raises(JobSpecError) as caught:
        validate({**GOOD, "models": [{**CNN, **model}]})
    return dict(caught.value.errors)


def test_a_cnn_spec_is_normalized():
    raw = validate(GOOD).raw["models"][0]
    assert raw == {"kind": "cnn", "lr": 0.1, "seed": 0, "input": [1, 8, 8],
                   "conv": [[8, 3], [16, 3]], "pool": 2, "hidden": [32], "activation": "relu"}
    no_head = validate({**GOOD, "models": [{k: v for k, v in CNN.items() if k != "hidden"}]})
    assert no_head.raw["models"][0]["hidden"] == []


@pytest.mark.parametrize("change, field, words", [
    ({"conv": [[8, 3], [16, 4]]}, "models[0].conv[1][1]",
     "kernel must be an odd integer in [1, 7]"),
    ({"conv": [[8, 3], [0, 3]]}, "models[0].conv[1][0]", "channels must be an integer"),
    ({"conv": [[8, 3]] * 4}, "models[0].conv[3]", "pooling would leave nothing"),
    ({"conv": "big"}, "models[0].conv", "[channels, kernel]"),
    ({"input": [1, 8]}, "models[0].input", "[channels, height, width]"),
    ({"input": [1, 8, -8]}, "models[0].input[2]", "width must be an integer"),
    ({"input": [1024, 1024, 1024]}, "models[0].input", "values per image"),
    ({"pool": 4}, "models[0].pool", "2 (2x2 max-pooling"),
    ({"activation": "tanh"}, "models[0].activation", "a cnn uses relu"),
    ({"hidden": [32, 0]}, "models[0].hidden[1]", "integer in [1, 16384]"),
    ({"input": [1, 16, 16]}, "models[0].input", "holds images of shape [1, 8, 8]"),
])
def test_bad_cnn_fields_are_named(change, field, words):
    found = errors(**change)
    assert field in found and words in found[field], found


def test_missing_fields_and_fields_of_other_kinds_are_named():
    with pytest.raises(JobSpecError) as caught:
        validate({**GOOD, "models": [{"kind": "cnn", "conv": [[4, 3]]},
                                     {"kind": "softmax", "conv": [[4, 3]], "input": [1, 8, 8]}]})
    found = dict(caught.value.errors)
    assert "missing" in found["models[0].input"]
    assert "only kind cnn" in found["models[1].conv"]
    assert "only kind cnn" in found["models[1].input"]


def test_the_input_must_match_a_known_datasets_features():
    spec = {**GOOD, "dataset": {"name": "synthetic", "rows": 512, "features": 48, "classes": 3}}
    with pytest.raises(JobSpecError) as caught:
        validate(spec)
    assert "has 48 features" in dict(caught.value.errors)["models[0].input"]
    flat = validate({**GOOD, "dataset": "digits"})  # tabular 64 features read as 1x8x8 images
    assert flat.raw["models"][0]["input"] == [1, 8, 8]


def test_an_npz_datasets_image_shape_is_read_at_submit(tmp_path):
    np.savez(tmp_path / "im.npz", X=np.zeros((64, 2, 6, 6), np.float32), y=np.zeros(64, int))
    spec = {**GOOD, "dataset": {"path": str(tmp_path / "im.npz"), "label_column": "y"}}
    with pytest.raises(JobSpecError) as caught:
        validate(spec)
    assert "holds images of shape [2, 6, 6]" in dict(caught.value.errors)["models[0].input"]
    ok = {**spec, "models": [{**CNN, "input": [2, 6, 6], "conv": [[4, 3]]}]}
    assert validate(ok).raw["models"][0]["input"] == [2, 6, 6]


def test_the_worker_spec_is_built_on_the_dataset():
    spec = to_model_spec(validate(GOOD).raw["models"][0], 64, 10)
    assert (spec.kind, spec.input, spec.conv, spec.hidden) == ("cnn", (1, 8, 8),
                                                               ((8, 3), (16, 3)), (32,))
    assert spec.n_params == 8 * 9 + 8 + 16 * 72 + 16 + 64 * 32 + 32 + 32 * 10 + 10


def test_a_cnn_too_large_for_the_caps_is_refused_before_any_work():
    """Every field in range, the whole too large: 64 channels kept at 1000 x 1000 (no pooling)
    make a 640M-weight output layer, refused by the worker's memory (and the parameter cap)."""
    spec = {**GOOD, "dataset": {"name": "synthetic", "rows": 64, "features": 10**6,
                                "classes": 10},
            "models": [{"kind": "cnn", "input": [1, 1000, 1000], "conv": [[64, 1]], "pool": 1}]}
    with pytest.raises(JobSpecError) as caught:
        validate(spec)
    message = " ".join(f"{field}: {text}" for field, text in caught.value.errors)
    assert "models[0].conv" in message and "MB on a worker" in message
