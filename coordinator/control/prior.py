"""An sgcflow job that starts from what an earlier job learned: ``scheme: {name: sgcflow,
learn_from: RUN_ID}``.

A fresh job explores first (GC at full load, then a quarter: ``adaptive.family.exploration``);
on the measured Lambda traces that is most of what it loses to the best GC chosen in hindsight
(docs/benchmarks.md, "A second job"). A job on the same workload (same dataset, workers and model
architectures, so that a load means the same work) can start from the earlier job's learned
rounds instead: its first choice is made from them and it keeps learning from its own.

The earlier job's rounds are not copied by hand: its controller is rebuilt from its round log,
exactly as its own coordinator rebuilt it (``LiveOnline.from_log``), and what that controller's
chooser would replay (``OnlineChooser.learned``) is written once by the Plan step with its
sha256 in the job record, and checked whenever a Round task reads it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from coordinator.adaptive.live import NAME as SGCFLOW
from coordinator.adaptive.live import LiveOnline
from coordinator.adaptive.online import Learned
from coordinator.contract import keys
from coordinator.spec.jobspec import JobSpecError
from coordinator.storage import integrity
from coordinator.storage.state import JobNotFound

log = logging.getLogger("sgcflow.coordinator")
FIELD = "scheme.learn_from"
NOT_WORK = ("lr", "seed")  # model fields that do not change the work of one gradient


def workload(spec: dict) -> dict[str, Any]:
    """What a load means in a job spec: its workers, dataset and model architectures, and the
    clock its rounds are timed on (an emulated job's virtual seconds are not a fleet's)."""
    models = sorted((_architecture(m) for m in spec["models"]), key=repr)
    distinct = [m for i, m in enumerate(models) if m not in models[:i]]
    return {"workers": spec["workers"], "dataset": spec["dataset"],
            "models": distinct if len(distinct) == 1 else models,
            "clock": (spec.get("wait") or {}).get("clock", "wall")}


def _architecture(model: dict) -> dict:
    return {k: v for k, v in model.items() if k not in NOT_WORK}


def check_source(store, source: str, spec: dict) -> dict:
    """The source job's record, or JobSpecError naming ``scheme.learn_from`` and why it cannot
    serve: unknown, not sgcflow, no round learned yet, or another workload."""
    try:
        record = store.job(source)
    except JobNotFound:
        raise JobSpecError([(FIELD, f"job {source!r} is not on this stack (sgc jobs lists "
                                    "them)")]) from None
    theirs = record.get("spec") or {}
    if (theirs.get("scheme") or {}).get("name") != SGCFLOW:
        raise JobSpecError([(FIELD, f"job {source!r} did not run sgcflow: it learned nothing "
                                    "to start from")])
    if "plan" not in record or int(record.get("round", 0)) < 1:
        raise JobSpecError([(FIELD, f"job {source!r} has not ended a round yet "
                                    f"(status {record.get('status')!r})")])
    mine, learned = workload(spec), workload(theirs)
    for name in ("workers", "dataset", "models", "clock"):
        if mine[name] != learned[name]:
            raise JobSpecError([(FIELD, f"job {source!r} ran {name} {learned[name]!r}, this "
                                        f"job {mine[name]!r}: a load would not mean the same "
                                        "work")])
    return record


def learned_from(store, source: str, spec: dict) -> Learned:
    """What job ``source``'s chooser had learned by its last logged round (checked first)."""
    record = check_source(store, source, spec)
    done = int(record["round"])
    entries = [e for e in store.rounds(source) if e["round"] <= done]
    complete = [e for e in entries if "dispatch" in e and "collect" in e]
    if [e["round"] for e in complete] != list(range(1, done + 1)):
        raise JobSpecError([(FIELD, f"job {source!r}: its round log lacks rounds of 1..{done}")])
    theirs = record["spec"]
    plan = record["plan"]
    online = LiveOnline.from_log(int(plan["n"]), int(plan["jobs"]), complete,
                                 models=len(plan["models"]),
                                 batch=bool(theirs.get("batch", False)),
                                 hard_limit_s=theirs["wait"].get("hard_limit_s"))
    return online.controller.chooser.learned()


def start_from(store, run_id: str, spec: dict) -> dict[str, Any]:
    """The Plan step's part: for a spec with ``learn_from``, the earlier job's learned rounds
    written for job ``run_id`` and the job record's ``prior`` field ({from, rounds, sha256});
    {} without it."""
    source = (spec.get("scheme") or {}).get("learn_from")
    if source is None:
        return {}
    learned = learned_from(store, source, spec)
    sha256 = integrity.write_array(store, keys.prior_key(run_id), learned.to_array())
    log.info("job=%s starts from %d rounds learned by %s", run_id, len(learned.horizons), source)
    return {"prior": {"from": source, "rounds": len(learned.horizons), "sha256": sha256}}


def read(store, run_id: str, n: int, field: Any) -> Learned:
    """The prior the Plan step wrote (``field``: the job record's ``prior``), its digest and
    shape checked."""
    expected = field.get("sha256") if isinstance(field, dict) else None
    if not isinstance(expected, str) or len(expected) != 64:
        raise ValueError(f"job={run_id}: the record's prior field is damaged ({field!r:.80}): "
                         "expected {from, rounds, sha256}")
    array = integrity.read_array(store, keys.prior_key(run_id), expected)
    return Learned.from_array(np.asarray(array), n)
