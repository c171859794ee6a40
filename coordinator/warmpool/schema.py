"""The Huawei cold-start trace schema (EuroSys 2025) and its per-day CSV loader.

One row per cold start, one CSV per day and region; every time is in seconds. The loader turns
the CSVs into one Arrow table (and Parquet) with an added ``region`` column, and it never uses a
malformed row silently: missing or unparsable fields, negative costs, components that do not sum
to ``totalCost_cold_start``, a ``day`` that disagrees with ``time`` or a bad ``podID`` are
counted per reason and left out.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from coordinator.contract.arrow_io import read_parquet

COMPONENTS = ("podAllocationCost", "deployCodeCost", "deployDependencyCost", "schedulingCost")
TOTAL = "totalCost_cold_start"
COLUMNS = (
    "day", "time", "clusterName", "funcName", "userID", "requestID", TOTAL, *COMPONENTS, "podID",
)
INT_COLUMNS = ("day", "clusterName", "funcName", "userID", "requestID")
FLOAT_COLUMNS = ("time", TOTAL, *COMPONENTS)
POD_ID = re.compile(r"^pool(\d+)-(\d+)-(\d+)-(\d+)$")
SIDE_TABLES = ("pods", "requests_per_minute")  # not cold-start rows
SUM_TOLERANCE = 1e-6  # seconds; the published rows carry 9 decimals

ARROW_SCHEMA = pa.schema(
    [("region", pa.string())]
    + [(name, pa.int64()) for name in ("day",)]
    + [("time", pa.float64()), ("clusterName", pa.int64()), ("funcName", pa.int64()),
       ("userID", pa.int64()), ("requestID", pa.int64())]
    + [(name, pa.float64()) for name in (TOTAL, *COMPONENTS)]
    + [("podID", pa.string()), ("pool", pa.string()), ("cpu_millicores", pa.int64()),
       ("memory_mb", pa.int64())]
)


class SchemaError(ValueError):
    """A file that is not a cold-start table at all (e.g. a required column is missing)."""


@dataclass
class LoadReport:
    """What a load kept and what it refused, by reason (``missing:<col>``, ``negative_cost`` …)."""

    rows_read: int = 0
    rows_kept: int = 0
    malformed: Counter = field(default_factory=Counter)
    files: int = 0

    @property
    def rows_malformed(self) -> int:
        return self.rows_read - self.rows_kept


def region_of(path: Path) -> str:
    """Region name from the file layout ``…/<region>/day_NN.csv`` (the released zips per region)."""
    return path.parent.name


def _parse_row(row: dict[str, str]) -> tuple[dict, str | None]:
    """Parse one CSV row; return (values, reason) where reason is None for a good row."""
    values: dict = {}
    for name in COLUMNS:
        raw = (row.get(name) or "").strip()
        if raw == "":
            return values, f"missing:{name}"
        values[name] = raw
    try:
        for name in INT_COLUMNS:
            values[name] = int(float(values[name]))
        for name in FLOAT_COLUMNS:
            values[name] = float(values[name])
    except ValueError:
        return values, "unparsable"
    if not all(math.isfinite(values[name]) for name in FLOAT_COLUMNS):
        return values, "unparsable"
    if any(values[name] < 0 for name in (TOTAL, *COMPONENTS)) or values["time"] < 0:
        return values, "negative_cost"
    parts = sum(values[name] for name in COMPONENTS)
    if abs(parts - values[TOTAL]) > SUM_TOLERANCE * max(1.0, values[TOTAL]):
        return values, "components_not_summing"
    if values["day"] != int(values["time"] // 86400):
        return values, "day_time_mismatch"
    match = POD_ID.match(values["podID"])
    if match is None:
        return values, "bad_podID"
    values["pool"] = f"pool{match.group(1)}-{match.group(2)}-{match.group(3)}"
    values["cpu_millicores"] = int(match.group(2))
    values["memory_mb"] = int(match.group(3))
    return values, None


def read_day_csv(path: Path, region: str | None = None, report: LoadReport | None = None
                 ) -> pa.Table:
    """Read one per-day CSV (plain or .gz) into an Arrow table of its well-formed rows."""
    report = report if report is not None else LoadReport()
    region = region or region_of(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        reader = csv.DictReader(io.StringIO(handle.read()))
        header = set(reader.fieldnames or ())
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise SchemaError(f"{path}: missing column(s) {missing}; required: {list(COLUMNS)}")
        columns: dict[str, list] = {name: [] for name in ARROW_SCHEMA.names}
        for row in reader:
            report.rows_read += 1
            values, reason = _parse_row(row)
            if reason is not None:
                report.malformed[reason] += 1
                continue
            report.rows_kept += 1
            values["region"] = region
            for name in ARROW_SCHEMA.names:
                columns[name].append(values[name])
    report.files += 1
    return pa.table(columns, schema=ARROW_SCHEMA)


def day_files(root: Path) -> list[Path]:
    """Every per-day CSV under ``root`` (a file, a region folder or a folder of regions)."""
    root = Path(root)
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.name.endswith((".csv", ".csv.gz"))
                   and not p.name.startswith(SIDE_TABLES))
    if not files:
        raise FileNotFoundError(f"{root}: no cold-start CSV files (*.csv, *.csv.gz) found")
    return files


def load_trace(root: Path) -> tuple[pa.Table, LoadReport]:
    """Load every per-day CSV under ``root`` (or one Parquet file written by ``to_parquet``)."""
    root = Path(root)
    report = LoadReport()
    if root.suffix == ".parquet":
        table = read_parquet(root)
        report.rows_read = report.rows_kept = table.num_rows
        report.files = 1
        return table, report
    tables = [read_day_csv(path, report=report) for path in day_files(root)]
    return pa.concat_tables(tables), report


def to_parquet(table: pa.Table, path: Path) -> Path:
    """Write a loaded trace as one zstd Parquet file (the ``data/`` format)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")
    return path


def column(table: pa.Table, name: str) -> np.ndarray:
    """A column as a numpy array (no pandas in the runtime)."""
    return table.column(name).to_numpy()
