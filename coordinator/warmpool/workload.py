"""What the simulator replays: functions, their invocations, and the per-environment streams.

A function invocation at time t that needs c environments at once is c requests in parallel.
Environments are reused in a fixed order, so environment k of a function serves exactly the
invocations with concurrency >= k: the "layer" k sees a concurrency-1 stream. Layers that see
the same invocations are grouped into one ``Stream`` with a ``weight`` (a 256-worker round is
one stream of weight 256), which keeps every keep-alive policy per stream and vectorisable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the trace (per-minute table identity: funcName---userID---pool)."""

    region: str
    cluster: int
    func_name: int
    user_id: int
    pool: str  # poolNN-<cpu millicores>-<memory MB>
    runtime: str
    trigger: str  # "timer" | "http" | "sgcflow"
    duration_s: float
    planned: bool = False  # invocations known in advance (sgcflow job plans)

    @property
    def memory_mb(self) -> int:
        return int(self.pool.split("-")[2])

    @property
    def cpu_millicores(self) -> int:
        return int(self.pool.split("-")[1])

    @property
    def func_id(self) -> str:
        return f"{self.func_name}---{self.user_id}---{self.pool}"


@dataclass
class Workload:
    """Functions and their invocations, sorted by time; ``cold_cost`` is seconds per cold start."""

    functions: list[FunctionSpec]
    func: np.ndarray  # int32 index into functions
    time: np.ndarray  # float64 seconds since trace start
    concurrency: np.ndarray  # int32 >= 1
    cold_cost: np.ndarray  # float64 seconds (what one cold start at this invocation costs)
    horizon_s: float
    request_id: np.ndarray = field(default=None)  # int64 hashes

    def __post_init__(self) -> None:
        order = np.lexsort((self.func, self.time))
        for name in ("func", "time", "concurrency", "cold_cost"):
            setattr(self, name, np.asarray(getattr(self, name))[order])
        if self.request_id is None:
            self.request_id = np.arange(len(self.time), dtype=np.int64)
        else:
            self.request_id = np.asarray(self.request_id)[order]
        if len(self.time) and (self.concurrency < 1).any():
            raise ValueError("concurrency: every invocation needs >= 1 environment")

    def __len__(self) -> int:
        return len(self.time)

    def merge(self, other: Workload) -> Workload:
        """Both workloads on one timeline (function indices of ``other`` are shifted)."""
        shift = len(self.functions)
        return Workload(
            functions=self.functions + other.functions,
            func=np.concatenate([self.func, other.func + shift]),
            time=np.concatenate([self.time, other.time]),
            concurrency=np.concatenate([self.concurrency, other.concurrency]),
            cold_cost=np.concatenate([self.cold_cost, other.cold_cost]),
            horizon_s=max(self.horizon_s, other.horizon_s),
            request_id=np.concatenate([self.request_id, other.request_id + 10**12]),
        )


@dataclass(frozen=True)
class Stream:
    """``weight`` identical environments of one function, each serving ``times`` one at a time.

    ``duration_s`` is one execution time for every call or one per call (busy periods of an
    Azure app); ``calls`` counts the requests each call stands for (default one each): a busy
    period that folds several overlapping invocations is one call that can be cold at most once.
    """

    func: int
    layer: int  # first environment index (1-based) of the group
    times: np.ndarray
    costs: np.ndarray
    duration_s: float | np.ndarray
    memory_gb: float
    weight: int
    region: str
    planned: bool
    calls: np.ndarray | None = None

    @property
    def requests(self) -> np.ndarray:
        """Requests per call (ones unless busy periods were folded)."""
        return np.ones(len(self.times)) if self.calls is None else self.calls

    @property
    def ends(self) -> np.ndarray:
        """When each call's execution ends."""
        return self.times + self.duration_s


def streams(workload: Workload) -> list[Stream]:
    """Split every function's invocations into layer groups (see the module docstring)."""
    result: list[Stream] = []
    if len(workload) == 0:
        return result
    order = np.argsort(workload.func, kind="stable")  # keeps each function's times sorted
    funcs = workload.func[order]
    starts = np.flatnonzero(np.r_[True, funcs[1:] != funcs[:-1]])
    ends = np.r_[starts[1:], len(funcs)].astype(int)
    for start, end in zip(starts, ends, strict=True):
        index = order[start:end]
        spec = workload.functions[int(workload.func[index[0]])]
        times, costs = workload.time[index], workload.cold_cost[index]
        conc = workload.concurrency[index]
        previous = 0
        for level in np.unique(conc):
            keep = conc >= level
            result.append(Stream(
                func=int(workload.func[index[0]]), layer=previous + 1, times=times[keep],
                costs=costs[keep], duration_s=spec.duration_s,
                memory_gb=spec.memory_mb / 1024, weight=int(level - previous),
                region=spec.region, planned=spec.planned,
            ))
            previous = int(level)
    return result
