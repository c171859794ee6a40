"""The cold-start CSV loader on generated data, malformed-row accounting, Parquet round trip."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow as pa
import pytest

from coordinator.warmpool import schema, synthetic
from coordinator.warmpool.policies import keep_alive_cold
from coordinator.warmpool.workload import streams


@pytest.fixture(scope="module")
def tables(small_workload):
    return synthetic.cold_start_table(small_workload, seed=1)


def test_loader_reads_back_exactly_what_the_generator_wrote(tmp_path, tables):
    table, _ = tables
    for compress in (False, True):
        root = tmp_path / ("gz" if compress else "plain")
        written = synthetic.write_csv(table, root, compress=compress)
        assert all(p.parent.name in synthetic.REGIONS for p in written)
        loaded, report = schema.load_trace(root)
        assert report.rows_read == report.rows_kept == table.num_rows
        assert report.malformed == {}
        order = np.lexsort((loaded.column("podID").to_numpy(zero_copy_only=False),
                            loaded.column("time").to_numpy()))
        loaded = loaded.take(pa.array(order))
        assert loaded.column("podID").to_pylist() == table.column("podID").to_pylist()
        for name in (schema.TOTAL, *schema.COMPONENTS, "time"):
            np.testing.assert_allclose(schema.column(loaded, name), schema.column(table, name),
                                       atol=1e-9)


def test_csv_has_exactly_the_published_columns(tmp_path, tables):
    path = synthetic.write_csv(tables[0], tmp_path, compress=False)[0]
    with open(path, newline="") as handle:
        assert tuple(next(csv.reader(handle))) == schema.COLUMNS


def test_rows_are_the_60s_keep_alive_cold_starts(small_workload, tables):
    table, pods = tables
    expected = sum(int(keep_alive_cold(s.times, s.duration_s, 60.0).sum()) * s.weight
                   for s in streams(small_workload))
    assert table.num_rows == expected == pods.num_rows
    parts = sum(schema.column(table, name) for name in schema.COMPONENTS)
    np.testing.assert_allclose(parts, schema.column(table, schema.TOTAL), atol=5e-9)
    assert (schema.column(table, "day") == schema.column(table, "time") // 86400).all()


def test_parquet_round_trip(tmp_path, tables):
    path = schema.to_parquet(tables[0], tmp_path / "trace.parquet")
    loaded, report = schema.load_trace(path)
    assert loaded.equals(tables[0]) and report.rows_kept == tables[0].num_rows


GOOD = {"day": "0", "time": "12.5", "clusterName": "1", "funcName": "400", "userID": "418",
        "requestID": "77", "totalCost_cold_start": "2.239314", "podAllocationCost": "0.027161815",
        "deployCodeCost": "0.045", "deployDependencyCost": "0.454",
        "schedulingCost": "1.713152185", "podID": "pool24-600-512-0000577863"}


def test_malformed_rows_are_counted_by_reason_and_left_out(tmp_path):
    bad = [
        {**GOOD, "podAllocationCost": ""},                               # missing
        {**GOOD, "deployCodeCost": "-0.045", "totalCost_cold_start": "2.149314"},  # negative
        {**GOOD, "totalCost_cold_start": "3.0"},                         # not summing
        {**GOOD, "day": "1"},                                            # day != time // 86400
        {**GOOD, "podID": "pod-1"},                                      # bad pod id
        {**GOOD, "time": "soon"},                                        # unparsable
    ]
    path = tmp_path / "R9" / "day_00.csv"
    path.parent.mkdir()
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=schema.COLUMNS)
        writer.writeheader()
        writer.writerows([GOOD, *bad, GOOD])
    table, report = schema.load_trace(tmp_path)
    assert (report.rows_read, report.rows_kept, report.rows_malformed) == (8, 2, 6)
    assert dict(report.malformed) == {
        "missing:podAllocationCost": 1, "negative_cost": 1, "components_not_summing": 1,
        "day_time_mismatch": 1, "bad_podID": 1, "unparsable": 1}
    assert table.column("region").to_pylist() == ["R9", "R9"]
    assert table.column("memory_mb").to_pylist() == [512, 512]
    assert table.column("pool").to_pylist() == ["pool24-600-512"] * 2


def test_a_file_without_a_required_column_is_refused(tmp_path):
    path = tmp_path / "day_00.csv"
    path.write_text("day,time\n0,1.0\n")
    with pytest.raises(schema.SchemaError, match="totalCost_cold_start"):
        schema.load_trace(path)


def test_shipped_sample_loads_cleanly_and_is_small():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "data" / "coldstart_sample"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 2_000_000
    table, report = schema.load_trace(root)
    assert report.malformed == {} and table.num_rows == report.rows_read > 1000
    assert set(table.column("region").to_pylist()) == set(synthetic.REGIONS)
