"""Input errors name the field and the allowed values; the paper's wait rule on hand-made rows."""

import math

import numpy as np
import pytest

from coordinator.replay.traces import LatencyModel, paper_wait_rule, straggler_counts

CUBE = np.ones((2, 3, 4))


@pytest.fixture
def model():
    return LatencyModel([0.0, 1.0], CUBE)


def test_unknown_profile_names_allowed_values(trace_path):
    with pytest.raises(ValueError, match="profile='nope'.*allowed: sam-gc-cnn_profile_est-mbp, "):
        LatencyModel.from_parquet(trace_path, profile="nope")


def test_unknown_region_names_allowed_values(trace_path):
    with pytest.raises(ValueError, match="region='Tokyo'.*allowed: Canada, London"):
        LatencyModel.from_parquet(trace_path, "sam-gc-cnn_profile_est-mbp", "Tokyo")
    with pytest.raises(ValueError, match="region='London'.*allowed: Canada$"):
        LatencyModel.from_parquet(trace_path, region="London")


def test_unknown_method(trace_path):
    allowed = "method='linear' is not allowed; allowed: quantile, interp, shift"
    with pytest.raises(ValueError, match=allowed):
        LatencyModel.from_parquet(trace_path, method="linear")


@pytest.mark.parametrize("load", [0, 0.0, -0.1, 4.0000001, 5, math.nan, math.inf, "0.1", True,
                                  None])
def test_bad_load(model, load):
    with pytest.raises(ValueError, match="load must be"):
        model.round_times(load, 3)


def test_load_one_and_numpy_scalars_are_accepted(model):
    assert model.round_times(1, 2).shape == (2, 4)
    assert model.round_times(np.float32(0.5), 2).shape == (2, 4)


@pytest.mark.parametrize("rounds", [0, -1, 2.5, "3", True, None])
def test_bad_rounds(model, rounds):
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        model.round_times(0.5, rounds)


@pytest.mark.parametrize("loads, cube, message", [
    ([0.5, 0.25], np.ones((2, 1, 1)), "strictly increasing"),
    ([0.0, 1.5], np.ones((2, 1, 1)), r"loads must lie in \[0, 1\]"),
    ([0.0, 1.0], np.ones((3, 1, 1)), "durations must have shape"),
    ([0.0, 1.0], np.full((2, 1, 1), np.nan), "finite and >= 0"),
    ([0.0, 1.0], -np.ones((2, 1, 1)), "finite and >= 0"),
])
def test_bad_constructor_arguments(loads, cube, message):
    with pytest.raises(ValueError, match=message):
        LatencyModel(loads, cube)


def test_missing_cell_is_reported(tmp_path, write_trace):
    rows = [("p", "R", 0.0, r, w, 0.0, 1.0) for r in range(2) for w in range(2)]
    rows.pop()  # round 1, worker 1 missing
    path = write_trace(tmp_path / "t.parquet", rows)
    with pytest.raises(ValueError, match=r"profile_load=0.0, round=1, worker=1 \(1 cells"):
        LatencyModel.from_parquet(path, profile="p")


def test_synthetic_trace_duplicates_and_overhead_only_load(tmp_path, write_trace):
    rows = [("p", "R", load, 0, w, 5.0, base + w) for load, base in ((0.0, 0.1), (0.5, 10.0))
            for w in range(2)]
    rows.append(("p", "R", 0.5, 0, 1, 1.0, 99.0))  # earlier duplicate of a cell: dropped
    model = LatencyModel.from_parquet(write_trace(tmp_path / "t.parquet", rows), profile="p")
    assert model.region == "R" and model.excluded_loads == (0.0,)
    np.testing.assert_array_equal(model.times_at(0.1), [[10.0, 11.0]])


def test_wait_rule_hand_made_row():
    row = [2.0, 2.5, 4.0, 4.5, 2.25, 9.0]
    assert paper_wait_rule(row, 1.0) == {3, 5}  # 4.0 == (1 + 1) * 2.0 is not slower
    assert paper_wait_rule(row, 0.125) == {1, 2, 3, 5}  # threshold 2.25, itself not slower
    assert paper_wait_rule(row, 0.0) == {1, 2, 3, 4, 5}
    assert paper_wait_rule(row, 10.0) == set()
    assert paper_wait_rule(np.array([3.0]), 0.1) == set()


def test_wait_rule_errors():
    with pytest.raises(ValueError, match="mu must be a finite number >= 0"):
        paper_wait_rule([1.0, 2.0], -0.1)
    with pytest.raises(ValueError, match="times_row must be"):
        paper_wait_rule([], 0.1)
    with pytest.raises(ValueError, match="times_row must be"):
        paper_wait_rule([1.0, math.nan], 0.1)


def test_straggler_counts_agree_with_wait_rule(trace_path):
    times = LatencyModel.from_parquet(trace_path).round_times(16 / 256, 30)
    for mu in (0.1, 1.0):
        counts = straggler_counts(times, mu)
        assert counts.tolist() == [len(paper_wait_rule(row, mu)) for row in times]
    assert straggler_counts([[2.0, 2.5, 4.0, 4.5, 2.25, 9.0]], 1.0).tolist() == [2]


def test_a_worker_may_carry_more_than_one_job(model):
    """Beside its own task a worker may hold a replica or a second scheme's task: load above 1
    grows by the tail slope, never below the load-1 times."""
    assert (model.round_times(2.0, 3) >= model.round_times(1.0, 3)).all()
