"""Arrow reads without Arrow's thread pools, for every Parquet and CSV file sgcflow reads.

With threads on (Arrow's default), a read leaves pool threads alive until the interpreter
exits, and tearing them down there can abort the process after its work is done
("terminate called without an active exception", exit 134: seen once at the end of
`sgc validate`; apache/arrow#34314 and #36980 describe the same). The files read here are
partitions of a few MB, a trace, a dataset source of at most 2 GiB read once by
`sgc data prepare`: single-threaded costs little, a crash at exit costs the exit code.
"""

from __future__ import annotations

from typing import Any


def read_parquet(source: Any, columns: list[str] | None = None):
    """``pyarrow.parquet.read_table`` on one thread, no background pre-buffering."""
    import pyarrow.parquet as pq

    return pq.read_table(source, columns=columns, use_threads=False, pre_buffer=False)


def read_csv(source: Any):
    """``pyarrow.csv.read_csv`` on one thread."""
    import pyarrow.csv as pacsv

    return pacsv.read_csv(source, read_options=pacsv.ReadOptions(use_threads=False))
