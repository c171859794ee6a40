"""Update: decode the jobs a round completes, check what is read, step each model.

The round loop's (``coordinator.control.runner``) Update phase, with the state it keeps between
rounds: the digests of the parameters still to be read, of the results still to be summed, and
the models that stopped.

- Every result summed is re-hashed against the digest of its worker's completion record. A
  round-t result that changed raises ``Recollect`` (round t is collected again with that worker
  as a straggler, so decoding stays exact); a changed result of an earlier, committed round
  skips its job as a late job is skipped (the model's next job starts from the same parameters).
- Parameters are written with ``integrity.write_array`` (the digest goes to the round log's
  update record, ``params_sha256``) and read with ``integrity.read_array`` against it; a changed
  parameter file stops its model as ``failed at iteration k``.
- A non-finite or exploding step stops its model as ``diverged at iteration k``
  (``coordinator.control.divergence``); its next parameters are never written.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from coordinator.contract.models import ModelSpec
from coordinator.control import divergence
from coordinator.control.decode import check_result, decode, npy_view
from coordinator.control.plan import JobPlan
from coordinator.control.update import sgd_step
from coordinator.storage import integrity
from coordinator.storage.state import missing_object

log = logging.getLogger("sgcflow.coordinator")


class ResultChanged(integrity.IntegrityError):
    """A worker's result object no longer hashes to its completion record's digest."""

    def __init__(self, key: str, expected: str | None, actual: str, result: tuple[int, int, int]):
        super().__init__(key, expected or "", actual)
        if expected is None:
            self.args = (f"{key}: no sha256 recorded for this result",)
        self.round, self.worker, self.result_job = result


class Recollect(Exception):
    """Round t's results changed after Collect accepted them: collect it again without them."""

    def __init__(self, suspects: dict[int, str]):
        super().__init__(f"results changed in the bucket: workers {sorted(suspects)}")
        self.suspects = suspects


class Updater:
    """Update of one job's rounds; ``param_digests`` and ``stopped`` survive in its progress."""

    def __init__(self, store, plan: JobPlan, record: dict, progress: dict, cpu, path):
        self.store, self.plan, self.cpu, self.path = store, plan, cpu, path
        self.sizes = [ModelSpec.from_dict(m).n_params for m in plan.models]
        self.param_digests = {int(j): h for j, h in {**(record.get("params_sha256") or {}),
                              **(progress.get("params_sha256") or {})}.items()}
        self.stopped = {int(m): info for m, info in (progress.get("stopped") or {}).items()}
        # round -> worker -> {job: sha256} of the accepted results (from Collect, or read back)
        self.result_digests: dict[int, dict[int, dict[str, str]]] = {}

    def live(self, job: int) -> bool:
        """Whether job's model still trains (a stopped model's jobs are never sent)."""
        return self.plan.model_of(job)[0] not in self.stopped

    def forget_before(self, t: int) -> None:
        """Drop the result digests of rounds before t (no job left to decode reads them)."""
        for old in [r for r in self.result_digests if r < t]:
            del self.result_digests[old]

    def progress(self, t: int) -> dict[str, Any]:
        """The progress fields a resumed run needs after round t: the digests of the
        parameters still to be read (later jobs, final ones) and why models stopped."""
        plan = self.plan
        self.param_digests = {j: h for j, h in self.param_digests.items()
                              if j > t - plan.T or j > plan.jobs}
        out: dict[str, Any] = {"params_sha256": {str(j): h for j, h in
                                                 sorted(self.param_digests.items())}}
        if self.stopped:
            out["stopped"] = {str(m): info for m, info in sorted(self.stopped.items())}
        return out

    def update(self, t: int, session, skipped: set[int],
               reasons: dict[str, str] | None = None) -> dict[str, Any]:
        """Decode the jobs round t completes and step their models (skip the late ones).

        Raises Recollect when a round-t result changed since its worker wrote it."""
        started = time.perf_counter()
        plan = self.plan

        live = self.live
        decoded = session.decoded(t)
        # newly late: due by now, undecodable, not skipped before (a batch's deadline is its
        # round's, not j + T: coordinator.schemes.batching)
        late = {j: why for j, why in session.late(t).items() if j not in skipped and live(j)}
        value: dict[str, Any] = {"decoded": {}, "skipped": {}}
        applied = {j: w for j, w in sorted(decoded.items()) if j not in skipped and live(j)}
        reads = sum(len(w) for w in applied.values()) + len(applied) + len(late)
        self.path.add("s3:GetObject (results, parameters)", reads)
        self.path.add("s3:PutObject (parameters, decoded)", 2 * len(applied) + len(late))
        with ThreadPoolExecutor(max_workers=max(1, len(applied) + len(late))) as pool:
            done = {j: pool.submit(self.cpu.wrap(self._apply), j, w) for j, w in applied.items()}
            copies = {j: pool.submit(self.cpu.wrap(self._copy), j) for j in late}
            outcomes = {j: _outcome(future) for j, future in done.items()}
            copied = {j: _outcome(future) for j, future in copies.items()}
        suspects = {e.worker: f"integrity: {e}" for e in outcomes.values()
                    if isinstance(e, ResultChanged) and e.round == t}
        if suspects:
            raise Recollect(suspects)
        written: dict[int, str] = {}
        stops: dict[int, dict] = {}
        for j, outcome in outcomes.items():
            if isinstance(outcome, ResultChanged):  # an earlier round's result: skip the job
                late[j] = f"integrity: {outcome}"
                copied[j] = _outcome_of(self._copy, j)
            elif isinstance(outcome, integrity.IntegrityError):
                stops[j] = self._stop("failed", j, t, f"integrity: {outcome}")
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                info, digest = outcome
                value["decoded"][str(j)] = info
                if "diverged" in info:
                    stops[j] = self._stop("diverged", j, t, info["diverged"])
                else:
                    written[j + plan.M] = digest
        for j in self._refused(t, reasons or {}, set(outcomes) | set(copied)):
            try:
                self._params(j)
            except integrity.IntegrityError as error:
                stops[j] = self._stop("failed", j, t, f"integrity: {error}")
        for j, outcome in copied.items():
            if isinstance(outcome, integrity.IntegrityError):
                stops[j] = self._stop("failed", j, t, f"integrity: {outcome}")
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                written[j + plan.M] = outcome
        value["skipped"] = {str(j): why for j, why in sorted(late.items())}
        value["params_sha256"] = {str(j): h for j, h in sorted(written.items())}
        if stops:
            value["stopped"] = {str(info["model"]): info for info in stops.values()}
        self.param_digests.update(written)
        self.stopped.update({info["model"]: info for info in stops.values()})
        value["seconds"] = time.perf_counter() - started
        return value

    def _refused(self, t: int, reasons: dict[str, str], handled: set[int]) -> list[int]:
        """Live jobs whose parameters a round-t worker refused as changed (ChecksumError): the
        coordinator checks them at once, so a changed file stops its model before its tasks
        (redo tasks included) hold up the other models' workers another round."""
        named = {self.plan.params_key(j): j for j in range(max(1, t - self.plan.T), t + 1)
                 if j <= self.plan.jobs and j not in handled and self.live(j)}
        return sorted({j for reason in reasons.values() if "ChecksumError" in reason
                       for key, j in named.items() if key in reason})

    def _stop(self, kind: str, job: int, t: int, reason: str) -> dict:
        model, iteration = self.plan.model_of(job)
        log.warning("job=%s model %d %s at iteration %d: %s", self.plan.run_id, model, kind,
                    iteration, reason)
        return divergence.stop(kind, model, iteration, job, t, reason)

    def _params(self, job: int) -> np.ndarray:
        """Job's parameters, checked against the digest recorded when they were written."""
        return integrity.read_array(self.store, self.plan.params_key(job),
                                    self.param_digests.get(job))

    def _copy(self, job: int) -> str:
        """A job late at its deadline: its model's next job starts from the same parameters
        (the same bytes, checked once: their digest is the one recorded)."""
        body = integrity.read_bytes(self.store, self.plan.params_key(job),
                                    self.param_digests.get(job))
        self.store.put_bytes(self.plan.params_key(job + self.plan.M), body)
        return integrity.digest(body)

    def _result_digest(self, t: int, worker: int, job: int) -> str | None:
        """The sha256 worker's completion record of round t holds for its result of job."""
        if t not in self.result_digests:  # a resumed run: read the records once
            self.result_digests[t] = {w: dict(item.get("sha256") or {}) for w, item in
                                      self.store.completions(self.plan.run_id, t).items()}
        return self.result_digests[t].get(worker, {}).get(str(job))

    def _apply(self, job: int, weights: dict) -> tuple[dict[str, Any], str | None]:
        """Decode job, step its model; (what the round log says, the new parameters' digest)."""
        plan = self.plan
        model, iteration = plan.model_of(job)
        size = self.sizes[model]

        @self.cpu.wrap
        def read(key: tuple[int, int, int]) -> np.ndarray:  # (round, worker, job)
            path = plan.result_key(key[0], key[2], key[1])
            try:
                body = self.store.get_bytes(path)
            except Exception as error:
                if not missing_object(error):
                    raise
                raise ResultChanged(path, self._result_digest(*key), "(deleted)", key) from None
            expected = self._result_digest(*key)
            actual = integrity.digest(body)
            if actual != expected:
                raise ResultChanged(path, expected, actual, key)
            return check_result(npy_view(body), size, path)

        with ThreadPoolExecutor(max_workers=2) as pool:
            params = pool.submit(self._params, job)
            total = decode(weights, read, n_params=size)
            rows = plan.dataset.rows
            with np.errstate(over="ignore", invalid="ignore"):
                stepped = sgd_step(params.result(), total[1:], rows, plan.lrs[model])
            diverged = divergence.divergence(total, stepped)
            writes = [pool.submit(self.store.put_array, plan.decoded_key(job), total)]
            if not diverged:  # a diverged model's next parameters are never written
                writes.append(pool.submit(integrity.write_array, self.store,
                                          plan.params_key(job + plan.M), stepped))
            stored = [write.result() for write in writes]
            digest = None if diverged else stored[1]
        with np.errstate(over="ignore", invalid="ignore"):
            grad_norm = float(np.linalg.norm(total[1:])) / rows
        info = {"model": model, "iteration": iteration,
                "loss": divergence.finite_or_none(total[0] / rows),
                "grad_norm": divergence.finite_or_none(grad_norm), "results": len(weights)}
        if diverged:
            info["diverged"] = diverged
        return info, digest


def _outcome(future) -> Any:
    """The future's result, or the exception it raised (read after every write finished)."""
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - re-raised by the caller unless expected
        return error


def _outcome_of(function, *args) -> Any:
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - as _outcome
        return error

