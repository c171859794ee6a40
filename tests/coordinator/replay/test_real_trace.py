"""The latency model on the shared Lambda trace: exact replay at measured loads, monotonicity."""

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from coordinator.replay.traces import DEFAULT_PROFILE, LatencyModel, profile_summary

GRID = np.concatenate([np.linspace(0.001, 1.0, 41), [1 / 256, 16 / 256, 56 / 7424, 13 / 256]])


def _raw(trace_path, profile, region, load):
    table = pq.read_table(trace_path, filters=[("profile", "=", profile),
                                               ("region", "=", region),
                                               ("profile_load", "=", load)])
    return table.sort_by([("round", "ascending"), ("worker", "ascending"),
                          ("started", "ascending")])


def test_default_profile_and_listing(trace_path):
    model = LatencyModel.from_parquet(trace_path)
    assert (model.profile, model.region) == (DEFAULT_PROFILE, "Canada")
    assert model.durations.shape == (5, 30, 256)
    assert model.loads.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    names = {(i.profile, i.region) for i in model.profiles}
    assert len(names) == 7
    assert ("sam-gc-cnn_profile_est-mbp", "London") in names
    mbp = LatencyModel.from_parquet(trace_path, "sam-gc-cnn_profile_est-mbp")
    assert mbp.region == "Canada" and mbp.n_rounds == 10


def test_measured_loads_return_measured_durations(trace_path, all_models):
    """Every measured (load, round, worker) cell comes back unchanged (interp), checked against an
    independent row-by-row read; a cell recorded twice keeps its last-started row."""
    for (profile, region, method), model in all_models.items():
        if method == "shift":
            continue
        for load in model.loads:
            expected = {}
            for row in _raw(trace_path, profile, region, float(load)).to_pylist():
                expected[(row["round"], row["worker"])] = row["duration_s"]  # sorted by start
            got = model.times_at(float(load)) if load > 0 else model.durations[0]
            assert got.shape == (model.n_rounds, 256) and len(expected) == got.size
            for (r, w), seconds in expected.items():
                assert got[r, w] == seconds, (profile, region, load, r, w)


def test_cube_equals_raw_rows_on_default_profile(trace_path):
    model = LatencyModel.from_parquet(trace_path)
    raw = _raw(trace_path, DEFAULT_PROFILE, "Canada", 0.25)
    cube = raw["duration_s"].to_numpy().reshape(30, 256)
    np.testing.assert_array_equal(model.times_at(0.25), cube)


def test_duplicate_cells_keep_last_started_invocation(trace_path):
    model = LatencyModel.from_parquet(trace_path, "sam-gc-resnet18_profile_est")
    raw = _raw(trace_path, "sam-gc-resnet18_profile_est", "Canada", 0.1)
    cell = raw.filter(pc.and_(pc.equal(raw["round"], 0), pc.equal(raw["worker"], 2)))
    assert cell.num_rows == 2
    assert model.times_at(0.1)[0, 2] == cell["duration_s"].to_numpy()[1]  # started later


def test_overhead_only_loads_are_excluded(trace_path):
    desktop = LatencyModel.from_parquet(trace_path, "sam-gc-resnet18_profile_est_desktop")
    assert desktop.excluded_loads == (0.0,)
    assert desktop.loads.tolist() == [0.02, 0.25, 0.5, 0.75, 1.0]
    cnn = LatencyModel.from_parquet(trace_path)
    assert cnn.excluded_loads == ()


def test_shift_is_monotone_in_load_for_every_worker_and_round(all_models):
    for key, model in all_models.items():
        if key[2] != "shift":
            continue
        grid = np.sort(GRID)
        cube = np.stack([model.times_at(x) for x in grid])
        assert np.all(np.diff(cube, axis=0) >= 0), key


def test_interp_monotone_exactly_where_measurements_do_not_drop(all_models):
    """Documented exception: each profile_load is a separate run, so a (round, worker) cell can
    be faster at a higher load; interp is monotone in a cell iff its measured points are."""
    for key, model in all_models.items():
        if key[2] != "interp":
            continue
        grid = np.sort(np.concatenate([GRID, model.loads[model.loads > 0]]))
        cube = np.stack([model.times_at(x) for x in grid])
        monotone = np.all(np.diff(cube, axis=0) >= -1e-12, axis=0)
        measured_up = np.all(np.diff(model.durations, axis=0) >= 0, axis=0)
        if model.loads[0] == 0.0:
            np.testing.assert_array_equal(monotone, measured_up, err_msg=str(key))
        else:
            assert np.all(monotone[measured_up]), key


def test_quantile_round_order_statistics_monotone_where_measured_ones_are(all_models):
    """Same exception for quantile, on each round's order statistics (fastest, ..., slowest)."""
    for key, model in all_models.items():
        if key[2] != "quantile":
            continue
        grid = np.sort(np.concatenate([GRID, model.loads[model.loads > 0]]))
        stats = np.stack([np.sort(model.times_at(x), axis=1) for x in grid])
        monotone = np.all(np.diff(stats, axis=0) >= -1e-12, axis=0)
        nodes_up = np.all(np.diff(np.sort(model.durations, axis=2), axis=0) >= 0, axis=0)
        if model.loads[0] == 0.0:
            np.testing.assert_array_equal(monotone, nodes_up, err_msg=str(key))
        else:
            assert np.all(monotone[nodes_up]), key


def test_median_grows_with_load_on_desktop_profiles(all_models):
    for profile in ("sam-gc-cnn_profile_est_desktop", DEFAULT_PROFILE):
        for method in ("quantile", "interp"):
            model = all_models[(profile, "Canada", method)]
            medians = [np.median(model.times_at(x)) for x in np.sort(GRID)]
            assert np.all(np.diff(medians) >= 0), (profile, method)


def test_decreasing_fraction_on_default_profile(trace_path):
    model = LatencyModel.from_parquet(trace_path)
    raw = [_raw(trace_path, DEFAULT_PROFILE, "Canada", x)["duration_s"].to_numpy()
           for x in (0.0, 0.25)]
    expected = np.count_nonzero(raw[1] < raw[0]) / raw[0].size
    assert model.decreasing_fraction()[0] == expected
    assert 0.05 < expected < 0.1


@pytest.mark.parametrize("method", ["quantile", "interp", "shift"])
def test_round_times_extend_cyclically_on_real_trace(trace_path, method):
    model = LatencyModel.from_parquet(trace_path, method=method)
    out = model.round_times(16 / 256, 75)
    assert out.shape == (75, 256)
    np.testing.assert_array_equal(out[30:60], out[:30])
    np.testing.assert_array_equal(out[60:], out[:15])
    a = model.round_times(16 / 256, 75, rng=11)
    np.testing.assert_array_equal(a, model.round_times(16 / 256, 75, rng=11))
    assert sorted(map(tuple, a[:30])) == sorted(map(tuple, out[:30]))


def test_profile_summary_matches_raw_rows(trace_path):
    model = LatencyModel.from_parquet(trace_path)
    raw = _raw(trace_path, DEFAULT_PROFILE, "Canada", 0.25)["duration_s"].to_numpy()
    cube = raw.reshape(30, 256)
    summary = profile_summary(model, 0.25)
    assert summary["median_worker_s"] == float(np.median(raw))
    assert summary["median_slowest_s"] == float(np.median(cube.max(axis=1)))
    stragglers = (cube > 2.0 * cube.min(axis=1, keepdims=True)).sum(axis=1)
    assert summary["stragglers_mu1"] == float(np.median(stragglers))
