"""A finished job's result: loss curves per model, per-round stragglers, overhead and cost.

Each model says how it ended, and ``done`` only when every one of its iterations was decoded:
``diverged at iteration k`` / ``failed at iteration k`` with the reason
(``coordinator.control.divergence``; a stopped model's losses end there), ``stalled`` when some
iterations were skipped (late at their deadline), ``failed`` when none was decoded, with why
(the workers' refusals, naming the objects they refused). A job in which no model decoded
anything has trained nothing: Finalize marks it ``failed`` (``nothing_trained``)."""

from __future__ import annotations

from typing import Any

from coordinator.control import cost
from coordinator.control.divergence import model_statuses
from coordinator.control.plan import JobPlan
from coordinator.control.runner import rounds_per_task
from coordinator.storage.state import now
from coordinator.workflow import resources


def round_rows(log: list[dict]) -> list[dict[str, Any]]:
    """One row per logged round: the scheme it ran, stragglers and why, flags, timings, decoded
    jobs."""
    rows = []
    for entry in log:
        collect, update = entry.get("collect", {}), entry.get("update", {})
        invoked = entry.get("invoked") or {}
        rows.append({
            "round": entry["round"],
            "scheme": collect.get("scheme"),
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
    skipped = {int(j): why for entry in log
               for j, why in (entry.get("update", {}).get("skipped") or {}).items()}
    refusals = _refusals(rows)
    models = []
    for m, model in enumerate(plan.models):
        losses = {}
        for entry in log:
            for info in entry.get("update", {}).get("decoded", {}).values():
                if info["model"] == m:
                    losses[info["iteration"]] = info["loss"]
        state = statuses[m]
        if status == "done" and state["status"] == "done" and len(losses) < plan.iterations:
            state = _untrained(plan, m, len(losses), skipped, refusals)
        models.append({"model": m, **model, "lr": plan.lrs[m],
                       "losses": [losses.get(i) for i in range(1, plan.iterations + 1)],
                       "decoded_iterations": len(losses),
                       "final_params_key": plan.final_params_key(m),
                       "status": state["status"], "reason": state["reason"]})
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
    summary["nothing_trained"] = not any(m["decoded_iterations"] for m in models)
    return {"job": plan.run_id, "summary": summary, "models": models, "rounds": rows}


def _refusals(rows: list[dict]) -> list[str]:
    """The workers' most frequent reasons other than lateness, most frequent first: what a
    round that decoded nothing ran into (a corrupt partition, a missing parameter object)."""
    counts: dict[str, int] = {}
    for row in rows:
        for reason in row["reasons"].values():
            if not reason.startswith("no result within"):
                counts[reason] = counts.get(reason, 0) + 1
    return sorted(counts, key=lambda r: -counts[r])[:3]


def _untrained(plan: JobPlan, model: int, decoded: int, skipped: dict[int, str],
               refusals: list[str]) -> dict[str, Any]:
    """A model whose run ended with iterations never decoded: stalled, or failed if none."""
    lost = sorted(plan.model_of(j)[1] for j in skipped if plan.model_of(j)[0] == model)
    why = f"iterations {lost[:10]}{' ...' if len(lost) > 10 else ''} were late at their " \
          f"deadline" if lost else "iterations were never decoded"
    if refusals:
        why += "; the workers refused: " + " | ".join(refusals)
    if decoded == 0:
        return {"status": "failed", "reason": f"no iteration decoded: {why}"}
    return {"status": "stalled",
            "reason": f"{decoded} of {plan.iterations} iterations decoded: {why}"}
