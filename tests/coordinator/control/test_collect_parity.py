"""Simulate/Collect parity: on recorded arrivals, Collect (live, both clocks) and the simulator's
replay make the same decisions, with the same policy object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fake_round import FakeClock, FakeWorkers, TimedStore, make_job

from coordinator.contract import keys
from coordinator.control import rounds
from coordinator.control.runner import wait_policy
from coordinator.control.session_cache import forget
from coordinator.replay.livereplay import (
    ReplayError,
    Settings,
    check_settings,
    parse_schemes,
    policy_replay,
)
from coordinator.schemes import make_scheme

TRACE = Path(__file__).parents[3] / "data" / "lambda_delays.parquet"


def _recorded_arrivals(rounds_: int, n: int, seed: int = 5) -> np.ndarray:
    """Arrival times with stragglers now and then (a heavy tail), distinct per worker."""
    rng = np.random.default_rng(seed)
    times = 1.0 + rng.random((rounds_, n))
    slow = rng.random((rounds_, n)) < 0.15
    return np.where(slow, times + 3.0 * rng.random((rounds_, n)), times)


def _live(scheme: dict, wait: dict, times: np.ndarray, virtual: bool, iterations: int = 4,
          models: int = 2):
    clock = FakeClock()
    store = TimedStore(clock)
    forget("run-parity")
    plan = make_job(store, scheme=scheme, iterations=iterations, run_id="run-parity", models=models,
                    wait={**wait, "clock": "virtual"} if virtual else wait)
    if virtual:  # what the Plan step writes for the virtual clock; nobody waits on it
        store.put_array(keys.virtual_times_key("run-parity"), times)
        delays = np.zeros_like(times)
    else:
        delays = times
    workers = FakeWorkers(store, plan, delays)
    state = rounds.round_step(store, {"job": "run-parity", "round": 1, "steps": 0,
                                      "execution": 1, "status": "running"}, workers,
                              lambda: 900.0, clock=clock, poll_s=0.001)
    assert state["status"] == "done"
    log = store.rounds("run-parity")
    return plan, [e["collect"] for e in log]


@pytest.mark.parametrize("scheme", [{"name": "gc", "s": 2},
                                    {"name": "m-sgc", "B": 1, "W": 2, "lam": 2},
                                    {"name": "sr-sgc", "B": 1, "W": 2, "lam": 2}])
@pytest.mark.parametrize("wait", [{"policy": "paper", "mu": 0.5},
                                  {"policy": "kofn", "tolerance": 1},
                                  {"policy": "decodable"}])
def test_virtual_collect_decides_as_the_simulator(scheme, wait):
    built = make_scheme(scheme["name"], n=8, **{k: v for k, v in scheme.items() if k != "name"})
    models = built.T + 1
    jobs = 4 * models
    times = _recorded_arrivals(jobs + built.T, 8)
    plan, live = _live(scheme, wait, times, virtual=True, iterations=4, models=models)
    simulated = policy_replay(built, wait_policy(wait), times, plan.jobs)
    assert [c["stragglers"] for c in live] == simulated["stragglers"]
    assert [c["elapsed_s"] for c in live] == pytest.approx(simulated["round_times_s"], abs=1e-12)
    assert sum(bool(c["flags"]) for c in live) == simulated["fallbacks"]


def test_wall_clock_collect_agrees_with_the_virtual_one_up_to_the_poll():
    """On the wall clock (fake, 1 ms polls) the same arrivals give the same stragglers; the
    round ends at most one poll after the virtual decision."""
    scheme, wait = {"name": "m-sgc", "B": 1, "W": 2, "lam": 2}, {"policy": "paper", "mu": 0.5}
    times = _recorded_arrivals(9, 8)  # m-sgc: T = 1, 2 models x 4 iterations
    _, virtual = _live(scheme, wait, times, virtual=True)
    _, wall = _live(scheme, wait, times, virtual=False)
    assert [c["stragglers"] for c in wall] == [c["stragglers"] for c in virtual]
    for w, v in zip(wall, virtual, strict=True):
        assert v["elapsed_s"] - 1e-9 <= w["elapsed_s"] <= v["elapsed_s"] + 0.01


def test_replay_predicts_what_sgc_simulate_predicts():
    """At n = 256 the replay's simulated side is `sgc simulate` on the whole trace (the same
    clock, per-worker loads, policy and seed)."""
    from coordinator.replay.livereplay import Candidate, simulated
    from coordinator.replay.round_simulator import run_scheme
    from coordinator.replay.traces import LatencyModel

    latency = LatencyModel.from_parquet(TRACE)
    settings = Settings(str(TRACE), None, None, mu=1.0, jobs=12, workers=256, seed=3)
    wait = {"policy": "paper", "mu": 1.0, "clock": "virtual"}
    for scheme in (make_scheme("gc", n=256, s=15), make_scheme("m-sgc", n=256, B=1, W=2,
                                                                lam=27)):
        ours = simulated(Candidate(scheme.name, scheme, wait), settings, 12)
        theirs = run_scheme(scheme, latency, 12, wait_policy(wait), seed=3)
        assert ours["runtime_s"] == pytest.approx(theirs.runtime_s, rel=1e-12)
        assert ours["fallbacks"] == theirs.fallbacks


@pytest.mark.parametrize(("change", "option"), [
    ({"trace": "no-such.parquet"}, "--trace"), ({"workers": 257}, "--workers"),
    ({"workers": 0}, "--workers"), ({"profile": "nope"}, "--trace-profile"),
    ({"region": "Mars"}, "--trace-region"), ({"jobs": 0}, "--gradients"),
    ({"mu": -0.5}, "--mu")])
def test_bad_replay_settings_name_the_option(change, option):
    base = {"trace": str(TRACE), "profile": None, "region": None, "mu": 1.0, "jobs": 2,
            "workers": 16}
    with pytest.raises(ReplayError) as error:
        check_settings(Settings(**{**base, **change}))
    assert error.value.option == option


@pytest.mark.parametrize("text", ["", "gc,nope", "gc:s", "m-sgc:lam=x"])
def test_bad_scheme_lists_name_the_option(text):
    with pytest.raises(ReplayError) as error:
        parse_schemes(text)
    assert error.value.option == "--schemes"


def test_replay_cli_errors_are_clear(tmp_path):
    from click.testing import CliRunner

    from coordinator.cli import main

    result = CliRunner().invoke(main, ["replay", "--trace", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2 and "--trace" in result.output and "Traceback" not in \
        result.output
    result = CliRunner().invoke(main, ["replay", "--trace", str(TRACE), "--workers", "999"])
    assert result.exit_code == 2 and "--workers" in result.output and "256" in result.output


@pytest.mark.parametrize(("wait", "field"), [
    ({"policy": "nope"}, "wait"), ({"policy": "paper", "mu": 1, "deadline_s": 2}, "wait"),
    ({"policy": "decodable", "min_fraction": 2}, "wait"), ({"mu": 1, "clock": "sun"},
                                                           "wait.clock"),
    ({"policy": "kofn", "tolerance": -1}, "wait")])
def test_job_spec_wait_errors_name_the_field(wait, field):
    from coordinator.spec.jobspec import JobSpecError, validate

    spec = {"models": [{"kind": "softmax"}, {"kind": "softmax"}], "dataset": "digits",
            "iterations": 1, "workers": 8, "scheme": {"name": "gc", "s": 1}, "wait": wait}
    with pytest.raises(JobSpecError) as error:
        validate(spec)
    assert [f for f, _ in error.value.errors] == [field]


def test_job_spec_wait_names_a_policy_on_either_clock():
    from coordinator.spec.jobspec import validate

    base = {"models": [{"kind": "softmax"}], "dataset": "digits", "iterations": 1,
            "workers": 8, "scheme": {"name": "gc", "s": 1}}
    raw = validate({**base, "wait": {"policy": "kofn", "tolerance": 2, "clock": "virtual"}}).raw
    assert raw["wait"] == {"policy": "kofn", "tolerance": 2, "clock": "virtual"}
    assert wait_policy(raw["wait"]).describe() == "kofn(tolerance=2)"
    assert wait_policy(validate({**base, "wait": {"mu": 0.5}}).raw["wait"]).name == "paper"


class _ReadCounting(TimedStore):
    """Counts the full reads of round records (the count query is a small response)."""

    def __init__(self, clock):
        super().__init__(clock)
        self.reads = 0

    def completions(self, run: str, t: int):
        self.reads += 1
        return super().completions(run, t)

    def completion_count(self, run: str, t: int) -> int:
        return len(TimedStore.completions(self, run, t))


def test_wall_clock_collect_reads_the_records_only_when_new_ones_were_written():
    """A poll counts the round's records; they are read only when the count moved: at 256
    workers each read returned every record of the round, every 50 ms."""
    clock = FakeClock()
    store = _ReadCounting(clock)
    forget("run-reads")
    times = _recorded_arrivals(5, 8)
    plan = make_job(store, scheme={"name": "gc", "s": 2}, iterations=5, run_id="run-reads",
                    models=1, wait={"policy": "decodable"})
    workers = FakeWorkers(store, plan, times)
    state = rounds.round_step(store, {"job": "run-reads", "round": 1, "steps": 0,
                                      "execution": 1, "status": "running"}, workers,
                              lambda: 900.0, clock=clock, poll_s=0.001)
    assert state["status"] == "done"
    log = [e["collect"] for e in store.rounds("run-reads")]
    polls = sum(c["polls"] for c in log)
    assert polls > 1000  # 1 ms polls over rounds of seconds
    assert store.reads <= 5 * (8 + 1) + 20  # one read per new record at most, plus the steps'
