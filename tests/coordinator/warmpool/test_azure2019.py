"""The Azure Functions 2019 loader on the real sample and on malformed copies of it."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from coordinator.warmpool import azure2019, azure_streams

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "azure2019_sample100"


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "trace"
    shutil.copytree(SAMPLE, target)
    return target


def _edit(path: Path, change) -> None:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    change(rows)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_the_real_sample_loads_whole():
    trace = azure2019.load(SAMPLE)
    assert len(trace.functions) == 100 and len(trace.apps) == 100
    assert (trace.minutes[0], trace.minutes[-1], trace.horizon_s) == (480, 959, 480 * 60.0)
    assert trace.invocations() == 339_657
    assert trace.report.rows_malformed == 0
    first = trace.functions[0]
    assert first.trigger == "timer" and first.counts[:2].tolist() == [0, 1]
    assert (np.diff(first.duration_ms) >= 0).all() and first.memory_mb > 0


def test_every_invocation_is_replayed_once_inside_its_minute():
    trace = azure2019.load(SAMPLE)
    for placement in azure_streams.PLACEMENTS:
        streams = azure_streams.app_streams(trace, seed=0, placement=placement)
        assert streams.requests.sum() == trace.invocations()
        # busy periods of one app never overlap: each starts after the previous one ended
        inside = np.ones(streams.calls, dtype=bool)
        inside[streams.offsets[:-1]] = False
        assert (streams.times[1:] > streams.ends[:-1])[inside[1:]].all()
        per_app = {f.app: 0 for f in trace.functions}
        for f in trace.functions:
            per_app[f.app] += int(f.counts.sum())
        sizes = [per_app[app] for app in trace.apps if per_app[app]]
        assert np.add.reduceat(streams.requests, streams.offsets[:-1]).tolist() == sizes
    counts = np.array([0, 3, 0, 1])
    even = azure_streams.arrival_times(counts, np.random.default_rng(0), "even")
    assert even.tolist() == [70.0, 90.0, 110.0, 210.0]
    poisson = azure_streams.arrival_times(counts, np.random.default_rng(0), "poisson")
    assert np.array_equal(np.floor(poisson / 60), [1, 1, 1, 3])
    assert np.array_equal(poisson, azure_streams.arrival_times(counts, np.random.default_rng(0),
                                                        "poisson"))


def test_execution_times_follow_the_percentile_curve():
    function = azure2019.load(SAMPLE).functions[1]  # percentiles 62..3311 ms, median 218
    draws = azure_streams.execution_times(function, 20_000, np.random.default_rng(1)) * 1000
    assert draws.min() >= function.duration_ms[0] and draws.max() <= function.duration_ms[-1]
    assert np.median(draws) == pytest.approx(function.duration_ms[3], rel=0.05)


def test_overlapping_invocations_fold_into_one_busy_period_cut_at_the_warm_up():
    starts, lengths, calls = azure_streams.busy_periods(np.array([0.0, 1.0, 5.0, 20.0]),
                                                 np.array([2.0, 2.0, 1.0, 1.0]))
    assert starts.tolist() == [0.0, 5.0, 20.0] and calls.tolist() == [2, 1, 1]
    assert lengths.tolist() == [3.0, 1.0, 1.0]
    starts, _, calls = azure_streams.busy_periods(np.array([0.0, 1.0, 2.0]), np.full(3, 5.0),
                                                  (1.5,))
    assert starts.tolist() == [0.0, 2.0] and calls.tolist() == [2, 1]


def test_a_missing_column_is_named(copy):
    _edit(copy / "durations.csv", lambda rows: [row.pop(9) for row in rows])  # percentile 25
    with pytest.raises(azure2019.TraceError, match="durations.csv: missing column "
                                                   "'percentile_Average_25'"):
        azure2019.load(copy)


@pytest.mark.parametrize("value, reason", [("abc", "non-numeric count"),
                                           ("-3", "negative count")])
def test_bad_counts_are_counted_and_refused(copy, value, reason):
    def change(rows):
        rows[5][10] = value
        rows[7][20] = value
    _edit(copy / "invocations.csv", change)
    with pytest.raises(azure2019.TraceError, match=f"2 malformed rows \\(2 invocations.csv: "
                                                   f"{reason}\\)"):
        azure2019.load(copy)
    trace = azure2019.load(copy, drop_malformed=True)
    assert len(trace.functions) == 98
    assert trace.report.malformed == {f"invocations.csv: {reason}": 2}
    assert "invocations.csv:6" in trace.report.examples[0]


def test_percentiles_out_of_order_are_refused(copy):
    header = next(csv.reader(open(copy / "durations.csv")))
    p50, p75 = header.index("percentile_Average_50"), header.index("percentile_Average_75")

    def change(rows):
        rows[3][p50], rows[3][p75] = "900", "100"
    _edit(copy / "durations.csv", change)
    trace = azure2019.load(copy, drop_malformed=True)
    # the durations row is refused, so its function is then missing from durations.csv
    assert trace.report.malformed == {"durations.csv: percentiles out of order": 1,
                                      "function missing from durations.csv": 1}
    assert len(trace.functions) == 99


@pytest.mark.parametrize("name", ["durations.csv", "memory.csv"])
def test_functions_missing_from_durations_or_memory(copy, name):
    _edit(copy / name, lambda rows: rows.pop(4))
    with pytest.raises(azure2019.TraceError, match=f"function missing from {name}"):
        azure2019.load(copy)
    assert len(azure2019.load(copy, drop_malformed=True).functions) == 99


def test_a_subset_of_minute_columns_loads_and_gaps_are_refused(copy):
    header = next(csv.reader(open(copy / "invocations.csv")))
    first = header.index("600")
    _edit(copy / "invocations.csv", lambda rows: [row.__delitem__(slice(first, None))
                                                  for row in rows])
    trace = azure2019.load(copy)
    assert (trace.minutes[0], trace.minutes[-1]) == (480, 599)
    _edit(copy / "invocations.csv", lambda rows: [row.pop(10) for row in rows])
    with pytest.raises(azure2019.TraceError, match="minute 486 is missing"):
        azure2019.load(copy)


def test_a_folder_without_the_files_is_named(tmp_path):
    with pytest.raises(azure2019.TraceError, match="--trace: .* has no invocations.csv"):
        azure2019.load(tmp_path)
    with pytest.raises(azure2019.TraceError, match="is not a directory"):
        azure2019.load(tmp_path / "nope")


def test_resampling_keeps_percentiles_and_rotates_counts():
    trace = azure2019.load(SAMPLE)
    bigger = azure_streams.resample(trace, 500, seed=2)
    assert len(bigger.functions) == 500 and len(bigger.apps) == 500
    rotated = 0
    for copy_ in bigger.functions[:20]:
        original = next(f for f in trace.functions
                        if f.function == copy_.function.rsplit("-", 1)[0])
        assert copy_.counts.sum() == original.counts.sum()
        assert np.array_equal(copy_.duration_ms, original.duration_ms)
        rotated += not np.array_equal(copy_.counts, original.counts)
    assert rotated > 10
