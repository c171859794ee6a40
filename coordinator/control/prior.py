"""An sgcflow job that starts from what an earlier job learned: ``scheme: {name: sgcflow,
learn_from: RUN_ID}``.

A fresh job explores first (GC at full load, then a quarter: ``adaptive.family.exploration``);
on the measured Lambda traces that is most of what it loses to the best GC chosen in hindsight
(docs/benchmarks.md, "A second job"). A job on the same workload (same dataset, workers, models,
batching and clock: ``workload``, so that a load means the same seconds) can start from the
earlier job's chooser instead: its first choice is made from that state (not the exploring
jobs), and it keeps learning from its own rounds.

The earlier job's chooser is not copied by hand: its controller is rebuilt from its round log
(and from its own prior, if it learned from another job), exactly as its coordinator rebuilt it
(``LiveOnline.from_log``); what the next choice depends on (``OnlineChooser.learned``) is written
once by the Plan step with its sha256 in the job record, and checked whenever a Round task reads
it. Only a job that is done or cancelled can serve (a failed one can still be resumed): its log
no longer changes, so a retried Plan step writes the same bytes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from coordinator.adaptive.live import NAME as SGCFLOW
from coordinator.adaptive.live import LiveOnline, SgcflowScheme
from coordinator.adaptive.online import Learned
from coordinator.contract import keys
from coordinator.spec.jobspec import JobSpecError, is_batched
from coordinator.storage import integrity
from coordinator.storage.state import JobNotFound

log = logging.getLogger("sgcflow.coordinator")
FIELD = "scheme.learn_from"
NOT_WORK = ("lr", "seed")  # model fields that do not change the work of one gradient
NOT_DATA = ("source",)  # where an uploaded dataset was read from: the same bytes may move
ENDED = ("done", "cancelled")  # a failed job can be resumed: its log may still grow
DAMAGE = (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError)
PARTS = ("workers", "models", "batch", "clock", "dataset")


def _refuse(why: str) -> JobSpecError:
    return JobSpecError([(FIELD, why)])


def workload(spec: dict) -> dict[str, str]:
    """What a load means in a job spec, each part as compact JSON: the workers, the models'
    architectures (their count too: a batched invocation reads its data once for all the models
    it carries, so the models in flight change what a load costs), batching, the clock its
    rounds are timed on and the dataset (not where a file was uploaded from)."""
    models = sorted(json.dumps(_architecture(m), sort_keys=True) for m in spec["models"])
    dataset = {k: v for k, v in spec["dataset"].items() if k not in NOT_DATA}
    return {"workers": json.dumps(spec["workers"]), "models": "[" + ", ".join(models) + "]",
            "batch": json.dumps(is_batched(spec)),
            "clock": (spec.get("wait") or {}).get("clock", "wall"),
            "dataset": json.dumps(dataset, sort_keys=True)}


def _architecture(model: dict) -> dict:
    return {k: v for k, v in model.items() if k not in NOT_WORK}


def _differ(name: str, theirs: str, mine: str) -> str:
    """The part of two workloads that differs, briefly (for a dataset: the keys that differ)."""
    if name != "dataset":
        return f"{name} {theirs}, this job {mine}"
    a, b = json.loads(theirs), json.loads(mine)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "dataset " + ", ".join(f"{k} {json.dumps(a.get(k))[:40]} (this job: "
                                  f"{json.dumps(b.get(k))[:40]})" for k in keys)


def check_source(store, source: str, spec: dict, parts=PARTS) -> dict:
    """The source job's record, or JobSpecError naming ``scheme.learn_from`` and why it cannot
    serve: unknown, not sgcflow, never started, not ended, or another workload (compared on
    ``parts``; ``sgc validate`` leaves out a local file's dataset, compared once uploaded)."""
    try:
        record = store.job(source)
    except JobNotFound:
        raise _refuse(f"job {source!r} is not on this stack (sgc jobs lists them)") from None
    try:
        theirs = record["spec"]
        if theirs["scheme"]["name"] != SGCFLOW:
            raise _refuse(f"job {source!r} did not run sgcflow: it learned nothing to start from")
        if "plan" not in record:
            raise _refuse(f"job {source!r} never started (status {record.get('status')})")
        if record.get("status") not in ENDED:
            raise _refuse(f"job {source!r} is {record.get('status')}: only a job that is "
                          f"{' or '.join(ENDED)} can be learned from (a failed job may still "
                          "be resumed)")
        mine, learned = workload(spec), workload(theirs)
    except JobSpecError:
        raise
    except DAMAGE as error:
        raise _refuse(f"job {source!r}: its record is damaged ({type(error).__name__})") from None
    for name in parts:
        if mine[name] != learned[name]:
            raise _refuse(f"job {source!r} ran {_differ(name, learned[name], mine[name])}: a "
                          "load would not mean the same work")
    return record


def learned_from(store, source: str, spec: dict, parts=PARTS) -> Learned:
    """What job ``source``'s chooser knew at its end, checked first (JobSpecError naming
    ``scheme.learn_from`` when it cannot serve, or learned too little to choose from)."""
    record = check_source(store, source, spec, parts)
    try:
        done = int(record.get("round", 0))
        entries = [e for e in store.rounds(source) if e["round"] <= done]
        complete = [e for e in entries if "dispatch" in e and "collect" in e]
        if [e["round"] for e in complete] != list(range(1, done + 1)):
            raise _refuse(f"job {source!r}: its round log lacks rounds of 1..{done}")
        theirs, plan = record["spec"], record["plan"]
        n = int(plan["n"])
        if n != theirs["workers"] or int(plan["jobs"]) != theirs["iterations"] * len(
                theirs["models"]) or not plan["models"]:
            raise ValueError("its plan does not match its spec")
        earlier = None if record.get("prior") is None else read(store, source, n,
                                                                record["prior"])
        online = LiveOnline.from_log(n, int(plan["jobs"]), complete,
                                     models=len(plan["models"]),
                                     batch=is_batched(theirs),
                                     hard_limit_s=theirs["wait"].get("hard_limit_s"),
                                     prior=earlier)
        learned = online.controller.chooser.learned()
    except JobSpecError:
        raise
    except (integrity.IntegrityError, integrity.MissingObject) as error:
        raise _refuse(f"job {source!r}: {error}") from None
    except DAMAGE as error:
        raise _refuse(f"job {source!r}: its record or round log is damaged "
                      f"({type(error).__name__}: {str(error)[:120]})") from None
    if len(learned.fit_loads) < 2:
        raise _refuse(f"job {source!r} learned {len(learned.fit_loads)} load(s) in "
                      f"{done} rounds: too little to choose from (it needs two)")
    return learned


def check_before_upload(store, source: str, spec: dict) -> str | None:
    """``learned_from``'s checks before a job is recorded (``sgc validate``, a job submitted
    with notice); a local file's dataset is compared only once uploaded (its stored form names
    the upload), so it is left out then, with the note saying so (else None)."""
    if "path" not in spec["dataset"]:
        learned_from(store, source, spec)
        return None
    learned_from(store, source, spec, tuple(p for p in PARTS if p != "dataset"))
    return "scheme.learn_from: the dataset is compared with the earlier job's once uploaded"


def start_from(store, run_id: str, spec: dict) -> dict[str, Any]:
    """The Plan step's part: for a spec with ``learn_from``, the earlier job's learned state
    written for job ``run_id`` and the job record's ``prior`` field: {from, rounds (the earlier
    job's), window (rounds carried over), explores (whether job 1 still explores: the state
    gave no estimate), sha256}; {} without it."""
    source = (spec.get("scheme") or {}).get("learn_from")
    if source is None:
        return {}
    learned = learned_from(store, source, spec)
    sha256 = integrity.write_array(store, keys.prior_key(run_id), learned.to_array())
    models = len(spec["models"])
    controller = SgcflowScheme(int(spec["workers"]), models, is_batched(spec)).controller(
        int(spec["iterations"]) * models, learned)
    rounds = int(store.job(source).get("round", 0))
    log.info("job=%s starts from job %s (%d rounds)", run_id, source, rounds)
    return {"prior": {"from": source, "rounds": rounds, "window": len(learned.horizons),
                      "explores": bool(controller.explore), "sha256": sha256}}


def read(store, run_id: str, n: int, field: Any) -> Learned:
    """The prior the Plan step wrote (``field``: the job record's ``prior``), its digest and
    content checked."""
    expected = field.get("sha256") if isinstance(field, dict) else None
    if not isinstance(expected, str) or len(expected) != 64:
        raise ValueError(f"job={run_id}: the record's prior field is damaged ({field!r:.80}): "
                         "expected {from, rounds, sha256}")
    array = integrity.read_array(store, keys.prior_key(run_id), expected)
    return Learned.from_array(np.asarray(array), n)
