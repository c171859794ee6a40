"""Helpers of the coordinator tests: job specs, running a job, checking exact decoding."""

from __future__ import annotations

import socket

import numpy as np
from timeouts import scaled

from coordinator.control import reference
from coordinator.control.plan import JobPlan
from coordinator.control.run_dataset import shuffled_table
from coordinator.spec.jobspec import validate

DATASET = {"name": "synthetic", "rows": 1536, "features": 12, "classes": 3, "seed": 4}


def make_spec(**overrides) -> dict:
    """A small two-model job; one gradient per invocation (``batch: false``) so that the tests
    can name rounds by job, unless a test asks for batched rounds."""
    spec = {"batch": False, "models": [{"kind": "softmax", "lr": 0.5, "seed": 0},
                       {"kind": "mlp", "hidden": 6, "lr": 0.3, "seed": 1}],
            "dataset": DATASET, "iterations": 3, "workers": 8,
            "scheme": {"name": "m-sgc", "B": 1, "W": 2, "lam": 2},
            "wait": {"deadline_s": 4.0, "hard_limit_s": 30},
            "stragglers": {"model": "fixed", "rounds": {"2": [1], "4": [3, 5]}, "delay_s": 10.0}}
    spec.update(overrides)
    return spec


def run_job(emulator, backend, spec: dict, timeout_s: float = 240) -> str:
    """Submit and wait for the job's execution (``timeout_s`` scaled: tests/helpers/timeouts)."""
    run_id = backend.submit(validate(spec))
    described = emulator.wait(backend.store.job(run_id)["execution_arn"], scaled(timeout_s))
    assert described["status"] == "SUCCEEDED", backend.store.job(run_id).get("error")
    return run_id


def plan_of(backend, run_id: str) -> JobPlan:
    return JobPlan.from_dict(backend.store.job(run_id)["plan"])


def final_params(backend, run_id: str) -> list[np.ndarray]:
    plan = plan_of(backend, run_id)
    return [backend.store.get_array(plan.final_params_key(m)) for m in range(plan.M)]


def assert_exact_decoding(backend, run_id: str, spec: dict) -> int:
    """Every decoded job's gradient equals the full-batch numpy gradient at its parameters."""
    plan = plan_of(backend, run_id)
    X, y = shuffled_table(spec["dataset"])
    checked = 0
    for entry in backend.store.rounds(run_id):
        for j in entry["update"]["decoded"]:
            j = int(j)
            model = plan.models[plan.model_of(j)[0]]
            decoded = backend.store.get_array(plan.decoded_key(j))
            params = backend.store.get_array(plan.params_key(j))
            loss, grad = reference.full_batch(model, X, y, params)
            np.testing.assert_allclose(decoded[0], loss, rtol=2e-6)
            np.testing.assert_allclose(decoded[1:], grad, rtol=2e-5,
                                       atol=2e-6 * np.abs(grad).max())
            checked += 1
    return checked


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on now (for a local server under test)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_decoded_equals_partition_sums(backend, run_id: str, jobs=None) -> int:
    """Every decoded job's [loss, *grad] equals the sum over the dataset's partitions of the
    kernel's own [loss_p, *grad_p] (what every worker computes for partition p) to float64
    rounding: decoding is exact whatever the kernel rounds (a cnn's max-pooling near-ties make
    the kernel differ from the float64 reference, documented in functions/kernels_cnn.py).
    ``jobs``: the jobs to check (default all decoded)."""
    from coordinator.contract.models import ModelSpec
    from functions import kernels
    from functions.partitions import PartitionStore

    plan = plan_of(backend, run_id)
    store = PartitionStore(backend.store.s3, cache_dir=None)
    parts = [store.load(plan.bucket, plan.dataset.prefix, p)
             for p in range(len(plan.dataset.partition_rows))]
    checked = 0
    for entry in backend.store.rounds(run_id):
        for j in map(int, entry["update"]["decoded"]):
            if jobs is not None and j not in jobs:
                continue
            spec = ModelSpec.from_dict(plan.models[plan.model_of(j)[0]])
            params = backend.store.get_array(plan.params_key(j))
            want = sum(kernels.loss_grad(spec, part.X, part.y, params) for part in parts)
            decoded = backend.store.get_array(plan.decoded_key(j))
            assert np.abs(decoded - want).max() <= 1e-9 * np.abs(want).max(), j
            checked += 1
    return checked
