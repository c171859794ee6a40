"""The paper's comparison on the real trace: wait rule, fall-backs, search, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from coordinator.cli import main
from coordinator.schemes import make_scheme
from coordinator.simulate import compare, replay_rounds, search_parameters
from coordinator.traces import LatencyModel
from tests.conftest import TRACE


@pytest.fixture(scope="module")
def latency():
    return LatencyModel.from_parquet(TRACE)


def test_wait_rule_by_hand():
    scheme = make_scheme("gc", n=4, s=1)
    times = np.array([[1.0, 1.1, 5.0, 1.2],   # one straggler: round ends at 2 x fastest
                      [1.0, 3.0, 5.0, 1.2],   # two: outside s = 1, wait for all
                      [1.0, 1.0, 1.0, 1.5]])  # none: the last arrival
    round_times, fallbacks, pattern = replay_rounds(scheme, times, mu=1.0)
    assert round_times.tolist() == [2.0, 5.0, 1.5]
    assert fallbacks == 1 and pattern == [frozenset({2}), frozenset(), frozenset()]


def test_uncoded_always_waits_for_everyone(latency):
    runs = compare(latency, [make_scheme("uncoded"), make_scheme("gc", s=15)], 1.0, 20)
    times = latency.round_times(1 / 256, 20)
    assert runs["uncoded"].runtime_s == pytest.approx(times.max(axis=1).sum())
    assert runs["uncoded"].fallbacks == 20


def test_more_load_costs_more_time(latency):
    """GC with s = 15 computes 16x the uncoded share: its workers must be slower."""
    low, high = latency.round_times(1 / 256, 30), latency.round_times(16 / 256, 30)
    assert np.median(high) > np.median(low)


def test_gain_decomposition_adds_up(latency):
    schemes = [make_scheme("gc", s=15), make_scheme("m-sgc", B=1, W=2, lam=27)]
    runs = compare(latency, schemes, 0.5, 40)
    m = runs["m-sgc"]
    gain = runs["gc"].runtime_s - m.runtime_s
    assert m.gain_from_fallbacks_s + m.gain_from_compute_s == pytest.approx(gain)
    assert m.ratio_to_gc == pytest.approx(m.runtime_s / runs["gc"].runtime_s)


def test_search_respects_gc_load(latency):
    best = search_parameters(latency, 1.0, 15, max_lam=16)
    assert best["m-sgc"].load <= best["gc"].load + 1e-12
    assert best["sr-sgc"].load <= best["gc"].load + 1e-12


def test_cli_json_shape():
    result = CliRunner().invoke(main, ["simulate", "--trace", str(TRACE), "--jobs", "12",
                                       "--mu", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"uncoded", "gc", "sr-sgc", "m-sgc"}
    for run in payload.values():
        assert {"runtime_s", "load", "params"} <= set(run)
    assert payload["m-sgc"]["params"] == {"B": 1, "W": 2, "lam": 27}
    assert payload["gc"]["load"] == 16 / 256


@pytest.mark.parametrize("args,message", [
    (["--schemes", "gc,nope"], "unknown ['nope']"),
    (["--m-sgc", "1,2"], "expected B,W,LAM"),
    (["--m-sgc", "2,2,5"], "B must be an integer in [1, 1]"),
    (["--profile", "nope"], "profile='nope' is not in the trace"),
    (["--trace", "missing.parquet"], "no such file"),
    (["--mu", "-1"], "must be >= 0"),
])
def test_cli_errors_name_the_field(args, message):
    result = CliRunner().invoke(main, ["simulate", "--trace", str(TRACE), *args])
    assert result.exit_code != 0
    assert message in result.output


def test_coordinator_rule_waits_only_for_what_the_due_job_needs():
    """Coordinator's rule: past the deadline, collect in arrival order until the job decodes."""
    scheme = make_scheme("gc", n=4, s=1)  # fractional repetition: groups {0, 1} and {2, 3}
    times = np.array([[1.0, 1.1, 5.0, 3.0],   # 2 and 3 miss the deadline: group {2,3} needs one
                      [1.0, 4.0, 1.1, 1.2]])  # 1 misses it: its group has 0, fine
    round_times, fallbacks, pattern = replay_rounds(scheme, times, mu=1.0, rule="coordinator")
    assert round_times.tolist() == [3.0, 2.0]
    assert fallbacks == 1 and pattern == [frozenset({2}), frozenset({1})]
    paper = replay_rounds(scheme, times, mu=1.0, rule="paper")
    assert paper[0].tolist() == [5.0, 2.0]  # the paper's rule waits for everyone instead


def test_coordinator_rule_never_leaves_a_due_job_late(latency):
    runs = compare(latency, [make_scheme("m-sgc", B=1, W=2, lam=27),
                             make_scheme("sr-sgc", B=2, W=3, lam=23)], 0.5, 15, rule="coordinator")
    assert all(run.rounds == 15 + run.T for run in runs.values())  # verify=True decoded them all


def test_coordinator_rule_with_most_workers_straggling():
    """mbp/Canada at mu = 0.5: ~140 of 256 workers straggle each round. Collecting only until the
    due jobs decode would lose too many D1 chunks for the next job; staying inside the model
    keeps every job in flight decodable (verify=True raises on any late job)."""
    model = LatencyModel.from_parquet(TRACE, profile="sam-gc-cnn_profile_est-mbp", region="Canada")
    runs = compare(model, [make_scheme("m-sgc", B=1, W=2, lam=27)], 0.5, 6, rule="coordinator")
    assert runs["m-sgc"].fallbacks >= 1


def test_bench_simulate_rejects_a_negative_mu():
    result = CliRunner().invoke(main, ["bench", "simulate", "--mu", "-1", "--jobs", "2"])
    assert result.exit_code != 0 and "'--mu': -1.0 is not in the range x>=0" in result.output
