"""A finished job's result: loss curves per model, per-round stragglers, overhead and cost.

Each model says how it ended: ``done``, or ``diverged at iteration k`` / ``failed at iteration
k`` with the reason (``coordinator.control.divergence``; a stopped model's losses end there)."""

from __future__ import annotations

from typing import Any

from coordinator.control import cost
from coordinator.control.divergence import model_statuses
from coordinator.control.plan import JobPlan
from coordinator.control.runner import rounds_per_task
from coordinator.storage.state import now
from coordinator.workflow import resources


def round_rows(log: list[dict]) -> list[dict[str, Any]]:
    """One row per logged round: stragglers and why, flags, timings, decoded jobs."""
    rows = []
    for entry in log:
        collect, update = entry.get("collect", {}), entry.get("update", {})
        invoked = entry.get("invoked") or {}
        rows.append({
            "round": entry["round"],
            "dispatched_at": entry.get("dispatch", {}).get("at"),
            "workers": len(entry.get("dispatch", {}).get("workers", [])),
            "stragglers": collect.get("stragglers", []),
            "reasons": collect.get("reasons", {}),
            "flags": collect.get("flags", []),
            "wait_s": collect.get("elapsed_s"),
            "cutoff_s": collect.get("cutoff_s"),
            "dispatch_s": invoked.get("seconds"),
            "collect_busy_s": collect.get("busy_s"),
            "update_s": update.get("seconds"),
            "decoded": sorted(int(j) for j in update.get("decoded", {})),
            "skipped": sorted(int(j) for j in update.get("skipped", {})),
            "losses": {int(j): v["loss"] for j, v in update.get("decoded", {}).items()},
        })
    return rows


def summarize(record: dict, plan: JobPlan, log: list[dict]) -> dict[str, Any]:
    rows = round_rows(log)
    stopped = {m: info for entry in log
               for m, info in (entry.get("update", {}).get("stopped") or {}).items()}
    done = [r for r in rows if r["update_s"] is not None]
    of_rounds = int(record.get("rounds") or plan.rounds)  # batched: fewer than jobs + T
    status = "done" if len(done) >= of_rounds else (
        "cancelled" if record.get("status") in ("cancelling", "cancelled") else "running")
    statuses = model_statuses(plan.M, stopped, status)
    models = []
    for m, model in enumerate(plan.models):
        losses = {}
        for entry in log:
            for info in entry.get("update", {}).get("decoded", {}).values():
                if info["model"] == m:
                    losses[info["iteration"]] = info["loss"]
        models.append({"model": m, **model, "lr": plan.lrs[m],
                       "losses": [losses.get(i) for i in range(1, plan.iterations + 1)],
                       "final_params_key": plan.final_params_key(m),
                       "status": statuses[m]["status"], "reason": statuses[m]["reason"]})
    overhead = [(r["dispatch_s"] or 0) + (r["collect_busy_s"] or 0) + (r["update_s"] or 0)
                for r in done]
    worker_seconds = sum(e.get("collect", {}).get("worker_seconds", 0.0) for e in log)
    worker_seconds += sum(len(r["stragglers"]) * (r["wait_s"] or 0) for r in rows)
    step_seconds = sum((r["dispatch_s"] or 0) + (r["wait_s"] or 0) + (r["update_s"] or 0)
                       for r in rows)
    estimate = cost.estimate(
        worker_seconds, sum(r["workers"] for r in rows), resources.WORKER_MEMORY_MB,
        step_seconds, resources.STEP_MEMORY_MB, len(rows), rounds_per_task(),
        executions=int(record.get("execution", 1)))
    summary = {
        "rounds": len(done), "of_rounds": of_rounds, "models": plan.M, "jobs": plan.jobs,
        "decoded_jobs": sum(len(r["decoded"]) for r in rows),
        "skipped_jobs": sum(len(r["skipped"]) for r in rows),
        "stragglers": sum(len(r["stragglers"]) for r in rows),
        "flagged_rounds": [r["round"] for r in rows if r["flags"]],
        "wall_s": round(now() - float(record.get("started", now())), 3),
        "final_losses": [next((x for x in reversed(m["losses"]) if x is not None), None)
                         for m in models],
        "overhead_s_per_round": round(sum(overhead) / len(overhead), 4) if overhead else None,
        "cost": estimate,
    }
    return {"job": plan.run_id, "summary": summary, "models": models, "rounds": rows}
