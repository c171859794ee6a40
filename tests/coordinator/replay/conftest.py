"""Fixtures for the trace latency model tests: the shared Lambda trace and small synthetic ones."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coordinator.replay.traces import LatencyModel

TRACE = Path(__file__).resolve().parents[3] / "data" / "lambda_delays.parquet"


@pytest.fixture(scope="session")
def trace_path() -> Path:
    if not TRACE.exists():
        pytest.fail(f"missing trace {TRACE}")
    return TRACE


@pytest.fixture(scope="session")
def all_models(trace_path):
    """Every (profile, region) of the trace for both methods, keyed (profile, region, method)."""
    infos = LatencyModel.from_parquet(trace_path).profiles
    return {(i.profile, i.region, method): LatencyModel.from_parquet(
        trace_path, i.profile, i.region, method=method)
        for i in infos for method in ("quantile", "interp", "shift")}


@pytest.fixture
def write_trace():
    return _write_trace


def _write_trace(path, rows):
    """rows: (profile, region, load, round, worker, started, duration) tuples -> parquet file."""
    cols = list(zip(*rows, strict=True))
    table = pa.table({
        "profile": pa.array(cols[0]), "region": pa.array(cols[1]),
        "model": pa.array(["cnn"] * len(rows)), "profile_load": pa.array(cols[2], pa.float64()),
        "batch": pa.array([256] * len(rows), pa.int64()), "round": pa.array(cols[3], pa.int64()),
        "worker": pa.array(cols[4], pa.int64()), "started": pa.array(cols[5], pa.float64()),
        "finished": pa.array([s + d for s, d in zip(cols[5], cols[6], strict=True)], pa.float64()),
        "duration_s": pa.array(cols[6], pa.float64()),
    })
    pq.write_table(table, path)
    return path
