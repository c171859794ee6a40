"""Named parameter arrays (``ModelSpec.named_arrays``) and the forward pass that predicts."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.contract import gradients
from coordinator.contract.errors import ParameterError
from coordinator.contract.models import ModelSpec


@pytest.mark.parametrize("spec, names", [
    (ModelSpec("logreg", 3, 2), {"W": (3,), "b": (1,)}),
    (ModelSpec("softmax", 3, 4), {"W": (3, 4), "b": (4,)}),
    (ModelSpec("mlp", 3, 4, [5, 6]), {"W1": (3, 5), "b1": (5,), "W2": (5, 6), "b2": (6,),
                                      "W3": (6, 4), "b3": (4,)}),
])
def test_named_arrays_round_trip(spec, names):
    flat = np.random.default_rng(0).standard_normal(spec.n_params).astype(np.float32)
    arrays = spec.named_arrays(flat)
    assert {k: v.shape for k, v in arrays.items()} == names
    assert np.array_equal(spec.from_named_arrays(arrays), flat)


def test_from_named_arrays_names_what_is_wrong():
    spec = ModelSpec("softmax", 3, 2)
    good = spec.named_arrays(np.zeros(spec.n_params, np.float32))
    with pytest.raises(ParameterError, match="b: missing"):
        spec.from_named_arrays({"W": good["W"]})
    with pytest.raises(ParameterError, match="W: shape"):
        spec.from_named_arrays({**good, "W": np.zeros((2, 3))})
    with pytest.raises(ParameterError, match="extra: unexpected"):
        spec.from_named_arrays({**good, "extra": np.zeros(1)})
    with pytest.raises(ParameterError, match="b: not finite"):
        spec.from_named_arrays({**good, "b": np.array([np.inf, 0])})


@pytest.mark.parametrize("spec", [ModelSpec("logreg", 4, 2), ModelSpec("softmax", 4, 3),
                                  ModelSpec("mlp", 4, 3, 5, "tanh")])
def test_probabilities_sum_to_one_and_agree_with_predict(spec):
    rng = np.random.default_rng(1)
    X, params = rng.standard_normal((20, 4)), rng.standard_normal(spec.n_params)
    proba = gradients.predict_proba(spec, X, params)
    assert proba.shape == (20, spec.n_classes) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(proba.argmax(axis=1), gradients.predict(spec, X, params))
