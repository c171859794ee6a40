"""`sgc simulate`: the study's rule by hand, the strongest GC, sgcflow, the bound, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from coordinator.cli import main
from coordinator.policy import make_policy
from coordinator.replay.comparison import compare
from coordinator.replay.round_simulator import Replay, TraceClock, run_scheme
from coordinator.replay.search import best_bursty, best_gc, gc_round_times, paper_round_times
from coordinator.replay.traces import LatencyModel
from coordinator.schemes import make_scheme
from tests.conftest import TRACE

# Every task finds a warm environment: the by-hand times are exactly what each round sees.
WARM = Replay(spares=10_000)


class FixedTimes:
    """A one-profile 'trace' with given (rounds, n) times at every load."""

    def __init__(self, times):
        self.times = np.asarray(times, dtype=float)
        self.n_workers = self.times.shape[1]

    def round_order(self, rounds, rng=None):
        return np.arange(rounds) % len(self.times)

    def times_at(self, load):
        return self.times

    def round_times(self, load, rounds, rng=None):
        return self.times[self.round_order(rounds)]


def test_the_studys_rule_by_hand():
    times = [[1.0, 1.1, 5.0, 1.2],   # one straggler: round ends at 2 x fastest
             [1.0, 3.0, 5.0, 1.2],   # two: outside s = 1, wait for all
             [1.0, 1.0, 1.0, 1.5]]   # none: the last arrival
    run = run_scheme(make_scheme("gc", n=4, s=1), FixedTimes(times), 3,
                     make_policy("paper", mu=1.0), replay=WARM)
    assert run.round_times_s == [2.0, 5.0, 1.5]
    assert run.fallbacks == 1 and run.late_jobs == 0


def test_earliest_decodable_gc_ends_when_every_group_has_an_arrival():
    times = [[1.0, 1.1, 5.0, 3.0]]  # FR groups {0, 1}, {2, 3}: the second group's first is 3.0
    run = run_scheme(make_scheme("gc", n=4, s=1), FixedTimes(times), 1,
                     make_policy("decodable", model=False))
    assert run.round_times_s == [3.0]
    assert gc_round_times(np.array(times), 1, "decodable", 0.0).tolist() == [3.0]
    assert gc_round_times(np.array(times), 1, "kofn", 0.0).tolist() == [3.0]  # 3rd arrival


@pytest.mark.parametrize("s,policy", [(15, "paper"), (15, "kofn"), (15, "decodable"),
                                      (20, "kofn"), (20, "decodable"), (255, "decodable")])
def test_search_evaluators_match_the_real_session_and_policy(latency, s, policy):
    from coordinator.replay.search import gc_policy

    run = run_scheme(make_scheme("gc", s=s), latency, 30, gc_policy(policy, 1.0), replay=WARM)
    fast = gc_round_times(latency.round_times((s + 1) / 256, 30), s, policy, 1.0)
    assert run.round_times_s == pytest.approx(fast.tolist())


def test_paper_evaluator_matches_the_policy_for_bursty_schemes(latency):
    scheme = make_scheme("m-sgc", B=1, W=2, lam=27)
    run = run_scheme(scheme, latency, 20, make_policy("paper", mu=0.5),
                     replay=Replay(spares=10_000, late_results=False))
    fast = paper_round_times(scheme, latency.round_times(scheme.load, 21), 0.5)
    # The evaluator charges the nominal load every round; the replay charges what each worker
    # really does (round 1 has no job to redo, the last round no new job): the middle agrees.
    assert run.round_times_s[1:-1] == pytest.approx(fast[1:-1].tolist())


def test_best_gc_searches_every_s_and_policy():
    times = np.array([[1.0] * 3 + [9.0], [1.0, 9.0, 1.0, 1.0]])  # one slow worker per round
    choice = best_gc(FixedTimes(times), 1.0, 2)
    assert choice.scheme.s >= 1 and choice.estimate_s == pytest.approx(2.0)


def test_bursty_search_respects_the_gc_load(latency):
    choice = best_bursty("m-sgc", latency, 1.0, 10, budget=16 / 256, max_lam=8)
    assert choice.scheme.load <= 16 / 256 + 1e-12


def test_uncoded_waits_for_everyone(latency):
    runs = compare(latency, ("uncoded",), 1.0, 10)
    assert runs["uncoded"].runtime_s == pytest.approx(
        latency.round_times(1 / 256, 10).max(axis=1).sum())


def test_sgcflow_decodes_every_job_and_the_bound_is_below_everything(latency):
    runs = compare(latency, ("gc", "sgcflow"), 1.0, 40, bound=True)
    assert runs["sgcflow"].late_jobs == 0
    assert runs["bound"].runtime_s <= min(runs["gc"].runtime_s, runs["sgcflow"].runtime_s)
    assert runs["gc"].ratio_to_gc == 1.0
    # The work bound relaxes every scheme of its delay: the family's clairvoyant GC (T = 0) and
    # replicated M-SGC (T = 1) included; more delay only helps.
    any_scheme, family = runs["bound"].params["any_scheme_s"], runs["bound"].params["per_family_s"]
    assert any_scheme["T=0"] <= family["gc"] + 1e-9
    assert any_scheme["T=1"] <= min(any_scheme["T=0"], runs["bound"].runtime_s) + 1e-9


def test_cli_json_shape_is_kept():
    result = CliRunner().invoke(main, ["simulate", "--trace", str(TRACE), "--jobs", "12",
                                       "--mu", "0.5", "--bound", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"uncoded", "gc", "gc-batched", "sr-sgc", "m-sgc", "sgcflow", "bound"}
    for run in payload.values():
        assert {"runtime_s", "load", "params", "T", "fallbacks", "ratio_to_gc",
                "peak_concurrency", "billed_gb_s"} <= set(run)
    assert payload["m-sgc"]["params"] == {"B": 1, "W": 2, "lam": 27}
    assert payload["gc"]["ratio_to_gc"] == 1.0
    assert payload["gc-batched"]["runtime_s"] == payload["gc"]["runtime_s"]  # one model


def test_models_batch_every_scheme_but_gc_and_gradients_is_the_total():
    result = CliRunner().invoke(main, ["simulate", "--trace", str(TRACE), "--gradients", "24",
                                       "--models", "4", "--schemes",
                                       "gc,gc-batched,m-sgc,sr-sgc,sgcflow", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["gc"]["batch"] == 1 and payload["gc"]["rounds"] == 24
    assert payload["gc-batched"]["batch"] == 4 and payload["gc-batched"]["rounds"] == 6
    assert payload["m-sgc"]["batch"] == 2 and payload["m-sgc"]["rounds"] == 12 + 1
    assert payload["sr-sgc"]["batch"] == 1  # T = 2: three groups of one model
    assert sum(int(b) * c for b, c in payload["sgcflow"]["batch"].items()) == 24
    assert payload["sgcflow"]["late_results_used"] >= 0
    assert payload["gc-batched"]["ratio_to_gc"] < 0.6  # the invocation's overhead, shared
    for run in payload.values():
        assert run["late_jobs"] == 0 and run["peak_concurrency"] >= 256
        assert run["billed_gb_s"] > 0


def test_permuted_workers_change_later_passes_only():
    latency = LatencyModel.from_parquet(TRACE)
    plain, permuted = TraceClock(latency, 40), TraceClock(latency, 40, permute_workers=3)
    loads = np.full(256, 1 / 256)
    R = latency.n_rounds
    assert np.array_equal(plain.times(0, loads), permuted.times(0, loads))  # the first pass
    later = permuted.times(R, loads)
    assert not np.array_equal(plain.times(R, loads), later)
    assert np.array_equal(np.sort(plain.times(R, loads)), np.sort(later))  # the same round
    again = TraceClock(latency, 40, permute_workers=3)
    assert np.array_equal(again.times(R, loads), later)  # the same for every scheme
    assert np.array_equal(permuted.uniform(1 / 256, R + 1)[R], later)


def test_search_on_another_trace_fits_gc_there():
    result = CliRunner().invoke(main, [
        "simulate", "--trace", str(TRACE), "--jobs", "6", "--schemes", "gc", "--json",
        "--search-on", str(TRACE), "--search-profile", "sam-gc-cnn_profile_est-mbp",
        "--search-region", "London"])
    assert result.exit_code == 0, result.output
    london = LatencyModel.from_parquet(TRACE, profile="sam-gc-cnn_profile_est-mbp",
                                       region="London")
    fitted, ours = best_gc(london, 1.0, 6).scheme.s, best_gc(LatencyModel.from_parquet(TRACE),
                                                             1.0, 6).scheme.s
    assert fitted != ours
    assert json.loads(result.output)["gc"]["params"] == {"s": fitted}


@pytest.mark.parametrize("args,message", [
    (["--schemes", "gc,nope"], "unknown ['nope']"),
    (["--policy", "fastest"], "unknown policy 'fastest'"),
    (["--replication", "0"], "must be in [1, 256]"),
    (["--replication", "257"], "must be in [1, 256]"),
    (["--replication", "2", "--schemes", "m-sgc"], "replication > 1 needs lam = n"),
    (["--search-on", "missing.parquet"], "no such file"),
    (["--search-on", str(TRACE), "--search-profile", "nope"],
     "for --search-profile: profile='nope'"),
    (["--search-on", str(TRACE), "--search-region", "Mars"], "for --search-region: region='Mars'"),
    (["--jobs", "0"], "'--jobs'"),
    (["--m-sgc", "1,2"], "expected B,W,LAM"),
    (["--profile", "nope"], "profile='nope' is not in the trace"),
    (["--trace", "missing.parquet"], "no such file"),
    (["--mu", "-1"], "must be a number >= 0"),
])
def test_cli_errors_name_the_option(args, message):
    result = CliRunner().invoke(main, ["simulate", "--trace", str(TRACE), "--jobs", "3", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_bench_simulate_rejects_a_negative_mu():
    result = CliRunner().invoke(main, ["bench", "simulate", "--mu", "-1", "--jobs", "2"])
    assert result.exit_code != 0 and "'--mu': -1.0 is not in the range x>=0" in result.output


def test_bench_simulate_rows_are_real_replays_and_the_summary_keeps_resnet_apart():
    """A row compares sgcflow with the best one-job and batched GC on the same rounds; the
    summary reports the ResNet-18 rows apart from the CNN ones."""
    from coordinator.cli.bench_simulate import _summary, setting_row
    from coordinator.replay.round_simulator import Replay
    from coordinator.replay.traces import LatencyModel

    model = LatencyModel.from_parquet(TRACE, profile="sam-gc-resnet18_profile_est_mbp")
    row = setting_row(model, 1.0, 12, Replay(models=2, permute_workers=7))
    online = row.pop("_online")
    assert row["profile"] == "sam-gc-resnet18_profile_est_mbp" and row["permuted"]
    assert row["gc_runtime_s"] > 0 and row["gc_batched_runtime_s"] > 0
    assert row["sgcflow_to_gc_batched"] == online.runtime_s / row["gc_batched_runtime_s"]
    assert sum(int(b) * c for b, c in row["sgcflow_batches"].items()) == 12
    assert 0.5 < row["clairvoyant_to_gc_batched"] <= 1.0
    cnn = {**row, "profile": "cnn", "sgcflow_to_gc": 0.5, "sgcflow_to_gc_batched": 1.0,
           "gc_batched_to_gc": 0.5}
    summary = _summary([cnn], [row, {**row, "sgcflow_runtime_s": 2 * row["gc_runtime_s"]}])
    assert summary["J=12 M=2 permuted"]["geomean_sgcflow_to_gc"] == 0.5
    assert summary["J=12 M=2 permuted"]["resnet18_max_sgcflow_to_best_gc"] >= 2.0


def test_bench_sensitivity_moves_one_constant_at_a_time():
    """Each variant is the shipped tuning with one constant changed, replayed for real on every
    profile and round order; a bad --seed or --jobs is refused naming the option."""
    from coordinator.cli import bench_sensitivity

    payload = bench_sensitivity.run(str(TRACE), 8, ("none",))
    rows = {r["variant"]: r for r in payload["variants"]}
    assert rows["as shipped"]["tuning"]["abort"] == 0.25
    assert rows["re-choice at +10%"]["tuning"]["abort"] == 0.1
    assert rows["re-choice at +10%"]["tuning"]["window"] == 100
    assert len(rows["as shipped"]["ratios"]) == 7  # every profile of the trace, one order
    assert all(0.3 < r < 10 for r in rows["as shipped"]["ratios"].values())
    assert rows["as shipped"]["cnn_max"] >= rows["as shipped"]["cnn_geomean"]
    for args, option in ((["--seed", "x"], "--seed"), (["--jobs", "0"], "--jobs")):
        result = CliRunner().invoke(main, ["bench", "sensitivity", *args])
        assert result.exit_code != 0 and option in result.output
        assert "Traceback" not in result.output


def test_the_batched_gc_bound_is_below_every_batched_gc_and_sgcflow():
    """Batched GC with the best s for each round in hindsight and no fleet effects: below the
    best fixed s replayed through the fleet, below every fixed s on the bare rounds, below
    sgcflow; and not trivially low (each round still waits for a decodable set)."""
    from coordinator.replay.bound import batched_gc_clairvoyant

    model = LatencyModel.from_parquet(TRACE, profile="sam-gc-cnn_profile_est_desktop",
                                      region="Canada")
    replay = Replay(models=2, permute_workers=3)
    runs = compare(model, ("gc-batched", "sgcflow"), 1.0, 60, replay=replay, bound=True)
    bound = runs["bound"].params["batched_gc_s"]["runtime_s"]
    assert bound <= min(runs["gc-batched"].runtime_s, runs["sgcflow"].runtime_s)
    clock = replay.clock(model, 30)
    assert bound == batched_gc_clairvoyant(model, 60, replay)
    fixed = [gc_round_times(clock.uniform(2 * (s + 1) / 256, 30), s, "decodable", 0.0).sum()
             for s in (0, 7, 63, 127, 255)]
    assert bound <= min(fixed) + 1e-9
    assert bound >= 0.9 * runs["gc-batched"].runtime_s
    assert "batched_gc_s" not in compare(model, ("gc",), 1.0, 6, bound=True)["bound"].params
