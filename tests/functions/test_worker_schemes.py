"""End to end with the scheme library: sessions assign tasks, workers compute against moto S3,
and every job the session declares decodable decodes to the exact full-batch gradient."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.contract import gradients as kernels_reference
from coordinator.contract.keys import result_key
from coordinator.contract.models import ModelSpec
from coordinator.schemes import make_scheme
from functions import worker

SPEC = ModelSpec("softmax", 12, 3)


@pytest.mark.parametrize("name, params, stragglers", [
    ("gc", {"n": 8, "s": 1}, {1: {3}, 2: {0}, 3: set()}),
    ("m-sgc", {"n": 4, "B": 1, "W": 2, "lam": 1}, {1: {1}, 2: set(), 3: {2}, 4: set()}),
])
def test_session_rounds_decode_to_full_gradient(aws, name, params, stragglers):
    scheme = make_scheme(name, **params)
    jobs = len(stragglers) - scheme.T
    session = scheme.session(jobs=jobs)
    run = f"run-{name}"
    table = aws.prepare(f"datasets/{name}", sizes=list(session.partition_sizes))
    params_keys = {job: aws.put_npy(f"runs/{run}/params/job-{job:06d}.npy",
                                    SPEC.init() + np.float32(0.05 * job))
                   for job in range(1, jobs + 1)}
    decoded = {}
    for t in range(1, jobs + scheme.T + 1):
        for w, tasks in enumerate(session.tasks(t)):
            if w in stragglers[t] or not tasks:
                continue  # a straggler's results never arrive
            event = {"run": run, "round": t, "worker": w, "bucket": aws.bucket,
                     "tasks": [{"job": job, "model": SPEC.to_dict(),
                                "params_key": params_keys[job], "dataset": f"datasets/{name}",
                                "coefficients": {str(p): c for p, c in coefficients.items()}}
                               for job, coefficients in sorted(tasks.items())]}
            assert worker.handler(event, None)["status"] == "ok"
        session.observe(t, stragglers[t])
        decoded.update(session.decoded(t))
    assert sorted(decoded) == list(range(1, jobs + 1))
    labels = table.labels.astype(np.int32)
    for job, weights in decoded.items():
        gradient = sum(weight * aws.get_npy(result_key(run, r, j, w))
                       for (r, w, j), weight in weights.items())
        loss, grad = kernels_reference.loss_grad(SPEC, table.features, labels,
                                                 aws.get_npy(params_keys[job]))
        want = np.concatenate([[loss], grad])
        assert np.abs(gradient - want).max() <= 1e-5 * np.abs(want).max()
