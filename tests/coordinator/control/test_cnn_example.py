"""examples/cnn-digits.yaml, submitted to the in-process emulator as `sgc submit --local` does:
every gradient decodes exactly despite the injected stragglers (to the sum of the partitions'
kernel gradients, to float64 rounding), no job is skipped, and the trained CNN reaches the
accuracy of the same model trained full-batch in numpy (reference.train_spec).

The run does not follow the float64 reference bit for bit: on the digits a few max-pooling
windows hold two values within float32 rounding of each other (measured: a gap of 1.3e-7 at
iteration 11), where the float32 kernel may route the gradient to the other one (the documented
exception of functions/kernels_cnn.py; the float64 reference is matched within 1e-5 elsewhere).
The accuracy is compared, and each decoded gradient is held to 1e-3 of the reference's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from coordinator_e2e_helpers import (
    assert_decoded_equals_partition_sums,
    final_params,
    plan_of,
    run_job,
)

from coordinator.control import reference
from coordinator.control.run_dataset import shuffled_table
from coordinator.spec.jobspec import load

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "cnn-digits.yaml"


@pytest.mark.slow
def test_the_cnn_example_trains_exactly_and_reaches_the_numpy_accuracy(emulator, backend):
    spec = load(EXAMPLE)
    run_id = run_job(emulator, backend, spec.raw, 1800)  # scaled inside
    rounds = backend.store.rounds(run_id)
    assert sum(len(r["stragglers"]) for r in rounds) > 0  # stragglers were injected
    assert all(not r["update"]["skipped"] for r in rounds)  # ... and every job decoded
    assert assert_decoded_equals_partition_sums(backend, run_id) == spec.iterations
    plan = plan_of(backend, run_id)
    X, y = shuffled_table(spec.raw["dataset"])
    for entry in rounds[::10]:  # against the float64 reference, every tenth round's jobs
        for j in map(int, entry["update"]["decoded"]):
            decoded = backend.store.get_array(plan.decoded_key(j))
            want = np.concatenate(reference.full_batch(
                plan.models[0], X, y, backend.store.get_array(plan.params_key(j))), axis=None)
            assert np.abs(decoded - want).max() <= 1e-3 * np.abs(want).max(), j
    (expected,) = reference.train_spec(spec.raw)
    (params,) = final_params(backend, run_id)
    model = plan.models[0]
    assert model == expected["model"] and model["kind"] == "cnn"
    accuracy = reference.accuracy(model, X, y, params)
    assert expected["accuracy"] >= 0.9 and accuracy >= 0.9
    assert abs(accuracy - expected["accuracy"]) <= 0.02, (accuracy, expected["accuracy"])
