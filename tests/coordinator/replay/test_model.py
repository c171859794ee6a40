"""LatencyModel on small hand-made cubes: interpolation, extrapolation, round extension."""

import numpy as np
import pytest

from coordinator.replay.traces import LatencyModel

LOADS = [0.0, 0.25, 0.5]
# durations[k, r, w]: 3 loads, 2 rounds, 3 workers
D = np.array([
    [[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]],
    [[2.0, 2.0, 3.0], [1.5, 1.0, 9.0]],
    [[3.0, 2.5, 3.0], [2.0, 1.5, 9.0]],
])


def test_interp_exact_at_measured_loads_and_linear_between():
    model = LatencyModel(LOADS, D, method="interp")
    for k, load in enumerate(LOADS[1:], start=1):
        np.testing.assert_array_equal(model.times_at(load), D[k])
    np.testing.assert_array_equal(model.times_at(0.125), 0.5 * D[0] + 0.5 * D[1])
    np.testing.assert_allclose(model.times_at(0.3125), 0.75 * D[1] + 0.25 * D[2])


@pytest.mark.parametrize("method", ["quantile", "interp"])
def test_holds_below_lowest_measured_load(method):
    model = LatencyModel([0.25, 0.5], D[1:], method=method)
    np.testing.assert_array_equal(model.times_at(0.01), D[1])
    np.testing.assert_array_equal(model.times_at(0.25), D[1])


@pytest.mark.parametrize("method", ["quantile", "interp"])
def test_extrapolation_uses_median_slope_of_last_segment(method):
    model = LatencyModel(LOADS, D, method=method)
    # medians: load 0.25 -> 2.0, load 0.5 -> 2.75; slope 3.0 s per unit load
    np.testing.assert_allclose(model.times_at(1.0), D[2] + 0.5 * 3.0)


@pytest.mark.parametrize("method", ["quantile", "interp"])
def test_extrapolation_never_below_measured_when_median_drops(method):
    falling = D[::-1].copy()  # medians decrease with load: slope clamped to 0
    model = LatencyModel(LOADS, falling, method=method)
    np.testing.assert_array_equal(model.times_at(0.9), falling[2])


def test_shift_is_base_plus_median_curve():
    model = LatencyModel(LOADS, D, method="shift")
    np.testing.assert_allclose(model.times_at(0.25), D[0] + (2.0 - 1.0))
    # medians 1.0, 2.0, 2.75 at loads 0, 0.25, 0.5
    np.testing.assert_allclose(model.times_at(0.01), D[0] + (1.04 - 1.0))
    np.testing.assert_allclose(model.times_at(0.375), D[0] + (2.375 - 1.0))
    np.testing.assert_allclose(model.times_at(1.0), D[0] + (2.75 + 0.5 * 3.0 - 1.0))


def test_shift_median_curve_is_made_non_decreasing():
    cube = np.stack([D[0] + 1.0, D[0], D[0] + 2.0])  # medians 2, 1, 3 -> curve 2, 2, 3
    model = LatencyModel(LOADS, cube, method="shift")
    np.testing.assert_allclose(model.times_at(0.25), cube[0])
    np.testing.assert_allclose(model.times_at(0.5), cube[0] + 1.0)


def test_quantile_exact_at_measured_loads():
    model = LatencyModel(LOADS, D)
    assert model.method == "quantile"
    for k, load in enumerate(LOADS[1:], start=1):
        np.testing.assert_array_equal(model.times_at(load), D[k])


def test_quantile_blends_sorted_rounds_and_keeps_nearer_run_ranks():
    model = LatencyModel(LOADS, D)
    # a = 1/4 between loads 0 and 0.25 -> ranks of load 0's run
    # round 0: sorted load0 [1, 2, 4], sorted load0.25 [2, 2, 3] -> [1.25, 2, 3.75]
    # round 1: sorted [1, 1, 1] and [1, 1.5, 9] -> [1, 1.125, 3]; load 0 ties keep worker order
    np.testing.assert_array_equal(model.times_at(0.0625), [[1.25, 2.0, 3.75], [1.0, 1.125, 3.0]])
    # a = 3/4 -> ranks of load 0.25's run: round 0 workers 0, 1 tie at 2.0 (stable), worker 2 top
    # round 0 blend [1.75, 2, 3.25]; round 1 blend [1, 1.375, 7] with ranks w1 < w0 < w2
    np.testing.assert_array_equal(model.times_at(0.1875), [[1.75, 2.0, 3.25], [1.375, 1.0, 7.0]])


def test_quantile_round_statistics_move_linearly():
    model = LatencyModel(LOADS, D)
    for a in (0.1, 0.4, 0.6, 0.9):
        got = np.sort(model.times_at(0.25 + 0.25 * a), axis=1)
        np.testing.assert_allclose(got, (1 - a) * np.sort(D[1], axis=1) + a * np.sort(D[2], axis=1))


def test_round_order_cycles_measured_rounds():
    model = LatencyModel([0.0, 1.0], np.zeros((2, 4, 3)))
    assert model.round_order(10).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert model.round_order(3).tolist() == [0, 1, 2]


def test_round_order_with_rng_is_seeded_permutation_per_pass():
    model = LatencyModel([0.0, 1.0], np.zeros((2, 5, 3)))
    a = model.round_order(12, rng=7)
    assert a.tolist() == model.round_order(12, rng=np.random.default_rng(7)).tolist()
    assert sorted(a[:5]) == [0, 1, 2, 3, 4] and sorted(a[5:10]) == [0, 1, 2, 3, 4]
    expect = np.random.default_rng(7)
    first, second, third = (expect.permutation(5) for _ in range(3))
    assert a.tolist() == [*first, *second, *third[:2]]
    assert model.round_order(12, rng=8).tolist() != a.tolist()


def test_round_times_rows_follow_round_order():
    model = LatencyModel(LOADS, D, method="interp")
    out = model.round_times(0.25, 5)
    assert out.shape == (5, 3)
    np.testing.assert_array_equal(out, D[1][[0, 1, 0, 1, 0]])
    seeded = model.round_times(0.25, 5, rng=3)
    np.testing.assert_array_equal(seeded, model.round_times(0.25, 5, rng=3))
    np.testing.assert_array_equal(seeded, D[1][model.round_order(5, rng=3)])


def test_decreasing_fraction_counts_cells_that_drop():
    model = LatencyModel(LOADS, D)
    # 0 -> 0.25: worker 2 round 0 drops (4 -> 3); 0.25 -> 0.5: worker 2 round 0 stays 3 (no drop)
    np.testing.assert_array_equal(model.decreasing_fraction(), [1 / 6, 0.0])


@pytest.mark.parametrize("method", ["quantile", "interp", "shift"])
def test_single_measured_load_is_constant(method):
    model = LatencyModel([0.25], D[:1], method=method)
    np.testing.assert_array_equal(model.times_at(0.9), D[0])
