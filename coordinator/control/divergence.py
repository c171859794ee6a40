"""Divergence stops one model, not the job: when a step is not finite or explodes, say so.

Several models train in one job (``coordinator.control.plan``); their tasks ride in the same
worker invocations. A model whose decoded gradient is not finite, or whose next parameters are
not finite or exceed ``PARAMS_BOUND`` in magnitude, stops: its next parameters are never written,
its remaining tasks are no longer sent, and its status reads ``diverged at iteration k`` with the
reason. The other models go on; their decoding stays exact, since every job decodes from its own
results only. A model whose parameter object changed in the bucket stops the same way, as
``failed at iteration k`` (``coordinator.storage.integrity``).

The bound: parameters are float32, and a model trained by gradient descent on a finite dataset
has weights far below 1e6 unless its steps explode (at 1e6 float32 keeps only ~0.06 of absolute
precision, and the logits reach 1e6 x the feature scale). A learning rate of 1e30 crosses it on
the first step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PARAMS_BOUND = 1e6  # largest |parameter| a model may reach before it counts as diverged


def divergence(decoded: np.ndarray, stepped: np.ndarray) -> str | None:
    """Why the step from ``decoded`` ([loss_sum, *grad_sum]) to parameters ``stepped`` diverged,
    or None when both are finite and the parameters stay within ``PARAMS_BOUND``."""
    bad = int((~np.isfinite(decoded)).sum())
    if bad:
        return f"the decoded loss and gradient hold {bad} non-finite entries"
    bad = int((~np.isfinite(stepped)).sum())
    if bad:
        return f"the step gives {bad} non-finite parameters of {stepped.size}"
    largest = float(np.abs(stepped).max()) if stepped.size else 0.0
    if largest > PARAMS_BOUND:
        return (f"the step gives a parameter of magnitude {largest:.3g}, above the bound "
                f"{PARAMS_BOUND:.0e} (exploding: lower the learning rate)")
    return None


def finite_or_none(value: float) -> float | None:
    """A number for the round log and JSON output: non-finite values are recorded as null."""
    value = float(value)
    return value if np.isfinite(value) else None


def stop(kind: str, model: int, iteration: int, job: int, t: int, reason: str) -> dict[str, Any]:
    """A stopped model's record (``kind``: diverged or failed)."""
    return {"status": f"{kind} at iteration {iteration}", "reason": reason, "model": model,
            "iteration": iteration, "job": job, "round": t}


def model_statuses(models: int, stopped: dict, job_status: str | None) -> list[dict[str, Any]]:
    """Per model: ``status`` (running, done, cancelled, ``diverged at iteration k`` or
    ``failed at iteration k``) and ``reason`` (null unless stopped)."""
    default = job_status if job_status in ("done", "cancelled", "failed") else "running"
    out = []
    for m in range(models):
        info = stopped.get(str(m)) or stopped.get(m)
        out.append({"model": m, "status": info["status"] if info else default,
                    "reason": info["reason"] if info else None})
    return out
