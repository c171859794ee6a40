"""The emulation-only fields of a job spec: ``stragglers`` (a straggler model, a fixed pattern or a
measured trace) and ``faults``. Every key a model does not use is refused, every number bounded,
and errors carry the field path (``stragglers.B``, ``faults[3].worker``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coordinator.spec.limits import MAX_SEED
from coordinator.spec.speccheck import Checker, field_key, show

STRAGGLER_MODELS = ("bursty", "per-round", "iid", "gilbert-elliot", "fixed", "none")
FAULT_KINDS = ("raise", "garbage")
MAX_ROUNDS = 100_000
MAX_DELAY_S = 900.0
MAX_TIME_SCALE = 100.0
MAX_FAULTS = 10_000


STRAGGLER_KEYS = ("model", "trace", "profile", "region", "time_scale", "seed", "B", "W", "lam",
                  "s", "p", "p_good_to_bad", "p_bad_to_good", "rate", "rounds", "delay_s",
                  "permute_workers", "spares")
TRACE_KEYS = ("trace", "model", "profile", "region", "time_scale", "seed", "permute_workers",
              "spares")
MAX_SPARES = 100_000
STRAGGLER_NEEDS = {"bursty": ("B", "W", "lam"), "per-round": ("s",), "iid": ("p",),
                   "gilbert-elliot": ("p_good_to_bad", "p_bad_to_good"), "fixed": ("rounds",)}
PROBABILITIES = ("p", "p_good_to_bad", "p_bad_to_good", "rate")


def stragglers(check: Checker, spec: Any, workers: int | None) -> dict | None:
    if spec is None:
        return {"model": "none"}
    if check.mapping("stragglers", spec, STRAGGLER_KEYS) is None:
        return None
    if "trace" in spec:
        return _trace(check, spec)
    model = spec.get("model")
    if model not in STRAGGLER_MODELS:
        check.fail("stragglers.model", f"must be one of {list(STRAGGLER_MODELS)} (or give "
                                       f"stragglers.trace), got {show(model)}")
        return None
    out: dict[str, Any] = {"model": model}
    needs = STRAGGLER_NEEDS.get(model, ())
    for key in needs:
        if key not in spec:
            check.fail(f"stragglers.{key}", f"required by model {model!r} (needs {needs})")
    for key in sorted(set(spec) - {"model"}):
        where = f"stragglers.{key}"
        if key in ("profile", "region"):
            check.fail(where, "only with stragglers.trace (a measured trace's profile/region)")
        elif key not in _straggler_takes(model):
            check.fail(where, f"not used by model {model!r} (it takes "
                              f"{list(_straggler_takes(model))})")
        elif key in ("B", "W", "lam", "s"):
            out[key] = check.integer(where, spec[key], 1 if key in ("B", "W") else 0,
                                     max(1, workers or 1))
        elif key in PROBABILITIES:
            out[key] = check.number(where, spec[key], 0.0, strict=False, high=1.0)
        elif key == "seed":
            out[key] = check.integer(where, spec[key], 0, MAX_SEED)
        elif key == "delay_s":
            out[key] = check.number(where, spec[key], 0.0, strict=False, high=MAX_DELAY_S)
        elif key == "rounds":
            out[key] = _fixed_rounds(check, spec[key], workers)
    if model == "bursty" and all(isinstance(out.get(k), int) for k in ("B", "W", "lam")):
        from coordinator.schemes.stragglers import BurstyModel

        try:
            BurstyModel(workers or 1, out["B"], out["W"], out["lam"])
        except ValueError as error:
            check.fail("stragglers", str(error))
    return out


def _straggler_takes(model: str) -> tuple[str, ...]:
    return (*STRAGGLER_NEEDS.get(model, ()), *(("rate",) if model == "bursty" else ()), "seed",
            "delay_s")


def _trace(check: Checker, spec: dict) -> dict:
    out: dict[str, Any] = {"trace": spec["trace"]}
    if "model" in spec:
        check.fail("stragglers", "give either model (a straggler model) or trace (a Parquet "
                                 "file of per-round worker latencies), not both")
    trace = spec["trace"]
    if not isinstance(trace, str) or not 1 <= len(trace) <= 4096 or "\x00" in trace:
        check.fail("stragglers.trace", f"must be a file path, got {show(trace)}")
    elif not Path(trace).is_file():
        check.fail("stragglers.trace", f"file not found: {show(trace, 200)}")
    for key in ("profile", "region"):
        if key in spec:
            if isinstance(spec[key], str) and 1 <= len(spec[key]) <= 128:
                out[key] = spec[key]
            else:
                check.fail(f"stragglers.{key}", f"must be a short string, got {show(spec[key])}")
    out["time_scale"] = check.number("stragglers.time_scale", spec.get("time_scale", 0.1), 0,
                                     high=MAX_TIME_SCALE)
    if "seed" in spec:
        out["seed"] = check.integer("stragglers.seed", spec["seed"], 0, MAX_SEED)
    # the replay's fleet: workers dealt afresh each pass over the trace, warm spares
    if spec.get("permute_workers") is not None:
        out["permute_workers"] = check.integer("stragglers.permute_workers",
                                               spec["permute_workers"], 0, MAX_SEED)
    if "spares" in spec:
        out["spares"] = check.integer("stragglers.spares", spec["spares"], 0, MAX_SPARES)
    for key in sorted(set(spec) - set(TRACE_KEYS)):
        check.fail(f"stragglers.{key}", "not used with stragglers.trace")
    return out


def _ascii_digits(text: Any) -> bool:
    """A round number as text: ASCII digits only (str.isdigit accepts '٣' and '²'), short."""
    return isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 9


def _fixed_rounds(check: Checker, rounds: Any, workers: int | None) -> dict | None:
    if not isinstance(rounds, dict):
        check.fail("stragglers.rounds", "must map round -> list of workers, e.g. {2: [0, 5]}")
        return None
    out = {}
    for t, ws in rounds.items():
        where = f"stragglers.rounds.{field_key(t)}"
        if isinstance(t, bool) or not (isinstance(t, int) or _ascii_digits(t)) \
                or not 1 <= int(t) <= MAX_ROUNDS:
            check.fail(where, f"round numbers must be integers in [1, {MAX_ROUNDS}]")
            continue
        if not isinstance(ws, list) or any(
                isinstance(w, bool) or not isinstance(w, int) or not 0 <= w < (workers or 0)
                for w in ws):
            check.fail(where, f"must be a list of worker indices in [0, {(workers or 1) - 1}]")
            continue
        out[str(int(t))] = sorted(set(ws))
    return out


def faults(check: Checker, faults: Any, workers: int | None) -> list[dict]:
    if not isinstance(faults, list) or len(faults) > MAX_FAULTS:
        check.fail("faults", f"must be a list of at most {MAX_FAULTS} {{round, worker, kind}}, "
                             f"got {show(faults)}")
        return []
    out = []
    for i, fault in enumerate(faults):
        where = f"faults[{i}]"
        if check.mapping(where, fault, ("round", "worker", "kind")) is None:
            continue
        kind = fault.get("kind", "raise")
        if kind not in FAULT_KINDS:
            check.fail(f"{where}.kind", f"must be one of {list(FAULT_KINDS)}, got {show(kind)}")
        out.append({"round": check.integer(f"{where}.round", fault.get("round"), 1, MAX_ROUNDS),
                    "worker": check.integer(f"{where}.worker", fault.get("worker"), 0,
                                            (workers or 1) - 1),
                    "kind": kind})
    return out
