"""Loader for the Azure Functions 2019 public trace format (Shahrad et al., ATC 2020).

Three CSV files, joined on HashFunction:

- ``invocations.csv``: HashOwner, HashApp, HashFunction, Trigger, then one column per minute
  (any contiguous range of minute labels, e.g. 1..1440 for a day or 480..959 for a sample)
  holding that minute's invocation count;
- ``durations.csv``: HashFunction and percentile_Average_{0,1,25,50,75,99,100} (ms);
- ``memory.csv``: HashFunction and AverageAllocatedMb.

Every malformed row (non-numeric or negative count, percentiles out of order, a function with no
durations or memory row, a duplicate) is counted per reason with its file and line; a missing
column is an error naming the file and the column. The loader refuses a trace with malformed
rows unless asked to drop them, and the report always says what was dropped.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FILES = ("invocations.csv", "durations.csv", "memory.csv")
ID_COLUMNS = ("HashOwner", "HashApp", "HashFunction", "Trigger")
PERCENTILES = (0.0, 0.01, 0.25, 0.50, 0.75, 0.99, 1.0)
PERCENTILE_COLUMNS = tuple(f"percentile_Average_{p}" for p in (0, 1, 25, 50, 75, 99, 100))
MEMORY_COLUMN = "AverageAllocatedMb"
MAX_FUNCTIONS = 100_000
MAX_MINUTES = 20_160  # two weeks of minute columns


class TraceError(ValueError):
    """A trace that cannot be used as it is; the message names the file, column or rows."""


@dataclass
class AzureFunction:
    """One function: per-minute invocation counts, execution-time percentiles and memory."""

    function: str
    app: str
    owner: str
    trigger: str
    counts: np.ndarray  # int64 per minute
    duration_ms: np.ndarray  # 7 percentiles, PERCENTILES
    memory_mb: float


@dataclass
class LoadReport:
    """What the loader read and what it refused, per reason (``examples`` has file:line)."""

    rows_read: int = 0
    malformed: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def refuse(self, where: str, reason: str) -> None:
        self.malformed[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(f"{where}: {reason}")

    @property
    def rows_malformed(self) -> int:
        return sum(self.malformed.values())

    def summary(self) -> str:
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.malformed.most_common())
        return (f"{self.rows_malformed} malformed rows ({reasons}); first: "
                + "; ".join(self.examples[:5]))


@dataclass
class AzureTrace:
    minutes: np.ndarray  # minute labels, contiguous
    functions: list[AzureFunction]
    report: LoadReport

    @property
    def horizon_s(self) -> float:
        return 60.0 * len(self.minutes)

    @property
    def apps(self) -> list[str]:
        return sorted({f.app for f in self.functions})

    def invocations(self) -> int:
        return int(sum(int(f.counts.sum()) for f in self.functions))


def _read(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise TraceError(f"--trace: {path.parent} has no {path.name} (expected {', '.join(FILES)})")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise TraceError(f"{path.name}: empty file, expected a header row")
    header = [name.strip() for name in rows[0]]
    for name in required:
        if name not in header:
            raise TraceError(f"{path.name}: missing column {name!r}")
    return header, rows[1:]


def _minute_columns(header: list[str]) -> tuple[list[int], np.ndarray]:
    positions = [i for i, name in enumerate(header) if name.isdigit()]
    if not positions:
        raise TraceError("invocations.csv: no minute columns (integer headers such as 1..1440)")
    labels = np.array([int(header[i]) for i in positions])
    if len(labels) > MAX_MINUTES:
        raise TraceError(f"invocations.csv: {len(labels)} minute columns, at most {MAX_MINUTES}")
    expected = np.arange(labels[0], labels[0] + len(labels))
    if not np.array_equal(labels, expected):
        missing = int(expected[np.flatnonzero(labels != expected)[0]])
        raise TraceError(f"invocations.csv: minute columns must be contiguous; minute {missing} "
                         "is missing or out of order")
    return positions, labels


def _counts(values: list[str]) -> np.ndarray | str:
    try:
        counts = np.array([float(v) if v.strip() else np.nan for v in values])
    except ValueError:
        return "non-numeric count"
    if np.isnan(counts).any():
        return "empty count"
    if (counts < 0).any():
        return "negative count"
    if (counts != np.round(counts)).any():
        return "fractional count"
    return counts.astype(np.int64)


def _by_function(path: Path, header: list[str], rows: list[list[str]], columns: tuple[str, ...],
                 report: LoadReport, check) -> dict[str, np.ndarray]:
    """HashFunction -> the float values of ``columns``; rows failing ``check`` are refused."""
    key = header.index("HashFunction")
    positions = [header.index(c) for c in columns]
    result: dict[str, np.ndarray] = {}
    for line, row in enumerate(rows, start=2):
        where = f"{path.name}:{line}"
        if len(row) != len(header):
            report.refuse(where, f"{path.name}: wrong number of fields")
            continue
        try:
            values = np.array([float(row[i]) for i in positions])
        except ValueError:
            report.refuse(where, f"{path.name}: non-numeric value")
            continue
        problem = check(values)
        if problem:
            report.refuse(where, f"{path.name}: {problem}")
        elif row[key] in result:
            report.refuse(where, f"{path.name}: duplicate HashFunction")
        else:
            result[row[key]] = values
    return result


def _percentile_problem(values: np.ndarray) -> str | None:
    if not np.isfinite(values).all() or (values < 0).any():
        return "negative or non-finite percentile"
    if (np.diff(values) < 0).any():
        return "percentiles out of order"
    return None


def _memory_problem(values: np.ndarray) -> str | None:
    return None if np.isfinite(values[0]) and values[0] > 0 else "AverageAllocatedMb not > 0"


def load(root: Path, drop_malformed: bool = False) -> AzureTrace:
    """Read a trace folder; malformed rows raise ``TraceError`` unless ``drop_malformed``."""
    root = Path(root)
    if not root.is_dir():
        raise TraceError(f"--trace: {root} is not a directory")
    report = LoadReport()
    header, rows = _read(root / "invocations.csv", ID_COLUMNS)
    positions, labels = _minute_columns(header)
    duration_header, duration_rows = _read(root / "durations.csv",
                                           ("HashFunction", *PERCENTILE_COLUMNS))
    memory_header, memory_rows = _read(root / "memory.csv", ("HashFunction", MEMORY_COLUMN))
    if len(rows) > MAX_FUNCTIONS:
        raise TraceError(f"invocations.csv: {len(rows)} functions, at most {MAX_FUNCTIONS}")
    durations = _by_function(root / "durations.csv", duration_header, duration_rows,
                             PERCENTILE_COLUMNS, report, _percentile_problem)
    memory = _by_function(root / "memory.csv", memory_header, memory_rows, (MEMORY_COLUMN,),
                          report, _memory_problem)
    functions = _functions(header, rows, positions, durations, memory, report)
    report.rows_read = len(rows) + len(duration_rows) + len(memory_rows)
    if report.rows_malformed and not drop_malformed:
        raise TraceError(f"--trace: {root}: {report.summary()}")
    if not functions:
        raise TraceError(f"--trace: {root}: no well-formed function rows")
    return AzureTrace(labels, functions, report)


def _functions(header, rows, positions, durations, memory, report) -> list[AzureFunction]:
    index = {name: header.index(name) for name in ID_COLUMNS}
    seen: set[str] = set()
    functions = []
    for line, row in enumerate(rows, start=2):
        where = f"invocations.csv:{line}"
        if len(row) != len(header):
            report.refuse(where, "invocations.csv: wrong number of fields")
            continue
        counts = _counts([row[i] for i in positions])
        name = row[index["HashFunction"]]
        problem = counts if isinstance(counts, str) else None
        if problem is None and name in seen:
            problem = "duplicate HashFunction"
        if problem is None and name not in durations:
            problem = "function missing from durations.csv"
        if problem is None and name not in memory:
            problem = "function missing from memory.csv"
        if problem is not None:
            report.refuse(where, problem if "csv" in problem else f"invocations.csv: {problem}")
            continue
        seen.add(name)
        functions.append(AzureFunction(name, row[index["HashApp"]], row[index["HashOwner"]],
                                       row[index["Trigger"]], counts, durations[name],
                                       float(memory[name][0])))
    return functions
