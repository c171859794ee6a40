"""Model specs (coordinator/contract/models.py, conv_shapes.py): the cnn kind's fields checked with
the field named, its layout and names, named arrays round-tripping for every kind, and the float64
cnn reference (coordinator/contract/gradients.py) against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.contract import gradients as reference
from coordinator.contract.errors import EventError, ParameterError
from coordinator.contract.models import ModelSpec

CNN = {"kind": "cnn", "n_features": 64, "n_classes": 10, "input": [1, 8, 8],
       "conv": [[4, 3], [6, 3]], "pool": 2, "hidden": [12], "activation": "relu"}
SPECS = [ModelSpec("logreg", 5, 2), ModelSpec("softmax", 5, 3), ModelSpec("mlp", 5, 3, 4),
         ModelSpec("mlp", 5, 3, [4, 6], "tanh"), ModelSpec.from_dict(CNN),
         ModelSpec.from_dict({**CNN, "hidden": [], "pool": 1, "conv": [[2, 1]]})]


def cnn(**changes) -> dict:
    return {**CNN, **changes}


def test_cnn_layout_names_and_count():
    spec = ModelSpec.from_dict(CNN)
    assert spec.shapes == [("conv1.W", (4, 1, 3, 3)), ("conv1.b", (4,)),
                           ("conv2.W", (6, 4, 3, 3)), ("conv2.b", (6,)),
                           ("dense1.W", (24, 12)), ("dense1.b", (12,)),
                           ("out.W", (12, 10)), ("out.b", (10,))]
    assert spec.widths == (24, 12, 10)  # 6 channels x 2 x 2 after two 2x2 poolings
    assert spec.n_params == 40 + 222 + 300 + 130
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_a_cnn_without_a_hidden_layer_has_only_the_output_layer():
    spec = ModelSpec.from_dict(cnn(hidden=[]))
    assert [name for name, _ in spec.shapes][-2:] == ["out.W", "out.b"]
    assert spec.shapes[-2][1] == (24, 10)


@pytest.mark.parametrize(("changes", "field"), [
    ({"conv": [[4, 3], [6, 4]]}, "model.conv[1][1]"),
    ({"conv": [[4, 3], [0, 3]]}, "model.conv[1][0]"),
    ({"conv": [[4, 3], [6, 9]]}, "model.conv[1][1]"),
    ({"conv": [[4, 3], 6]}, "model.conv[1]"),
    ({"conv": []}, "model.conv"),
    ({"conv": [[4, 3]] * 9}, "model.conv"),
    ({"conv": [[2, 3]] * 4}, "model.conv[3]"),  # 8 -> 4 -> 2 -> 1: no fourth 2x2 pooling
    ({"input": [1, 8]}, "model.input"),
    ({"input": [1, 8, 0]}, "model.input[2]"),
    ({"input": [1, 8, True]}, "model.input[2]"),
    ({"input": [1024, 1024, 1024], "n_features": 1024 ** 3}, "model.input"),
    ({"input": [2, 8, 8]}, "model.n_features"),
    ({"pool": 3}, "model.pool"),
    ({"hidden": [0]}, "model.hidden"),
    ({"activation": "tanh"}, "model.activation"),
    ({"conv": [[1024, 7]] * 3, "input": [64, 128, 128], "n_features": 64 * 128 * 128},
     "model.conv"),
])
def test_bad_cnn_fields_are_named(changes, field):
    with pytest.raises(EventError) as error:
        ModelSpec.from_dict(cnn(**changes))
    assert error.value.field == field, error.value


def test_cnn_fields_are_refused_on_other_kinds_and_required_on_cnn():
    with pytest.raises(EventError, match="model.conv"):
        ModelSpec.from_dict({"kind": "mlp", "n_features": 4, "n_classes": 3, "conv": [[2, 3]]})
    with pytest.raises(EventError, match="model.input"):
        ModelSpec.from_dict({k: v for k, v in CNN.items() if k != "input"})


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{len(s.shapes)}")
def test_named_arrays_round_trip_for_every_kind(spec):
    flat = np.random.default_rng(0).standard_normal(spec.n_params).astype(np.float32)
    arrays = spec.named_arrays(flat)
    assert [(name, a.shape) for name, a in arrays.items()] == spec.shapes
    assert all(a.dtype == np.float32 for a in arrays.values())
    back = spec.from_named_arrays(arrays)
    assert back.dtype == np.float32 and np.array_equal(back, flat)
    arrays[spec.shapes[0][0]][...] = 0  # copies, not views of the flat vector
    assert np.array_equal(spec.from_named_arrays(spec.named_arrays(flat)), flat)


def test_named_array_names():
    assert list(SPECS[0].named_arrays(np.zeros(6, np.float32))) == ["W", "b"]
    assert list(SPECS[3].named_arrays(np.zeros(SPECS[3].n_params, np.float32))) == [
        "W1", "b1", "W2", "b2", "W3", "b3"]


def test_from_named_arrays_names_what_is_wrong():
    spec = ModelSpec.from_dict(CNN)
    good = spec.named_arrays(spec.init())
    cases = [({k: v for k, v in good.items() if k != "conv2.b"}, "conv2.b", "missing"),
             ({**good, "conv3.W": good["conv2.W"]}, "conv3.W", "unexpected"),
             ({**good, "out.W": good["out.W"].T}, "out.W", "shape"),
             ({**good, "dense1.b": np.full(12, np.nan)}, "dense1.b", "not finite"),
             ({**good, "dense1.b": np.array(["a"] * 12)}, "dense1.b", "real numbers")]
    for arrays, field, words in cases:
        with pytest.raises(ParameterError, match=words) as error:
            spec.from_named_arrays(arrays)
        assert error.value.field == field
    with pytest.raises(ParameterError):
        spec.named_arrays(np.zeros(spec.n_params + 1, np.float32))


def test_cnn_init_is_seeded_he():
    spec = ModelSpec.from_dict(cnn(conv=[[64, 3]], hidden=[]))
    arrays = spec.named_arrays(spec.init(seed=3))
    assert np.array_equal(spec.init(seed=3), spec.init(seed=3))
    assert arrays["conv1.W"].std() == pytest.approx(np.sqrt(2 / 9), rel=0.15)
    assert not arrays["conv1.b"].any() and not arrays["out.b"].any()


@pytest.mark.parametrize(("image", "conv", "pool", "hidden"), [
    ([2, 5, 6], [[3, 3], [2, 1]], 2, [4]),   # odd sides: the last row is dropped by pooling
    ([1, 4, 4], [[2, 3]], 1, []),
    ([1, 8, 8], [[3, 5], [4, 3]], 2, [5, 3]),
])
def test_cnn_reference_matches_finite_differences(image, conv, pool, hidden):
    spec = ModelSpec("cnn", int(np.prod(image)), 3, hidden, "relu", image, conv, pool)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, spec.n_features)).astype(np.float32)
    y = rng.integers(0, 3, 4)
    params = rng.standard_normal(spec.n_params) * 0.5
    _, grad = reference.loss_grad(spec, X, y, params)
    numeric = np.empty(spec.n_params)
    for i in range(spec.n_params):
        up, down = params.copy(), params.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (reference.loss_grad(spec, X, y, up)[0]
                      - reference.loss_grad(spec, X, y, down)[0]) / 2e-6
    assert np.abs(grad - numeric).max() <= 1e-6 * max(1.0, np.abs(numeric).max())


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{len(s.shapes)}")
def test_predict_is_the_argmax_of_predict_proba(spec):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((9, spec.n_features)).astype(np.float32)
    params = rng.standard_normal(spec.n_params).astype(np.float32)
    proba = reference.predict_proba(spec, X, params)
    assert proba.shape == (9, spec.n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(reference.predict(spec, X, params), proba.argmax(axis=1))
