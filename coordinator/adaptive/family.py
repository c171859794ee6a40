"""The configurations sgcflow chooses between, all on one partitioning of the data.

Two kinds, both over n equal partitions (so a run can switch between them at any job boundary
without re-partitioning, see coordinator.schemes.switching):

- ``gc``: GC(s), any s in 0..n-1, ending each round at its earliest decodable set. Where extra
  load is nearly free (invocation overhead dominates), s = n - 1 (every worker computes the whole
  job; the first arrival ends the round) is hard to beat.
- ``replicated``: M-SGC with B = 1, W = 2, lam = n, replication n and D1 groups of g workers
  (docs/schemes.md, "Replicated redo"). A group computes its g/n of job t in round t and, in
  round t + 1, its members redo the chunk if no member delivered it, while every other worker
  recomputes a copy of some lost chunk. Load at most 2g/n. A round ends once the previous job
  is complete (every chunk has a copy) and at least a fraction q of the workers arrived:
  stopping earlier leaves more chunks to recover in the next round, with fewer copies each.
  Where load costs compute, this wins.

The wait policy is earliest-decodable without the bursty model: both kinds redo or replicate
every lost piece, so waiting longer in a later round can always finish a job.

With M models in flight each configuration runs batched (coordinator.schemes.batching): GC
(delay 0) carries all M models' gradients in every invocation, replicated M-SGC (delay 1)
floor(M / 2), the models taking turns; so choosing a kind also chooses how the models are
grouped over the rounds in flight.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..policy import make_policy
from ..schemes import make_scheme


@dataclass(frozen=True)
class Config:
    """One member of the family: ``Config("gc", s=...)`` or ``Config("replicated", q=...)``."""

    kind: str
    s: int = 0
    q: float = 0.0
    group: int = 1

    def __post_init__(self):
        if self.kind not in ("gc", "replicated"):
            raise ValueError(f"kind must be 'gc' or 'replicated', got {self.kind!r}")

    @property
    def T(self) -> int:
        return 0 if self.kind == "gc" else 1

    def scheme(self, n: int):
        if self.kind == "gc":
            return make_scheme("gc", n=n, s=self.s)
        return make_scheme("m-sgc", n=n, B=1, W=2, lam=n, replication=n, group=self.group)

    def policy(self, **limits):
        """Earliest-decodable without the model; ``limits``: hard_limit_s / cap (live runs)."""
        return make_policy("decodable", model=False,
                           min_fraction=self.q if self.kind == "replicated" else 0.0, **limits)

    def same_scheme(self, other: Config) -> bool:
        if self.kind != other.kind:
            return False
        return self.group == other.group if self.kind == "replicated" else self.s == other.s

    def describe(self) -> str:
        if self.kind == "gc":
            return f"gc(s={self.s})"
        return f"replicated-m-sgc(group={self.group}, q={self.q:g})"

    def to_json(self) -> dict:
        if self.kind == "gc":
            return {"kind": "gc", "s": self.s, "policy": "decodable"}
        return {"kind": "replicated", "scheme": "m-sgc", "B": 1, "W": 2, "lam": "n",
                "replication": "n", "group": self.group, "policy": "decodable",
                "min_fraction": self.q}


def exploration(n: int, batch: int = 1) -> list[Config]:
    """The configurations a run starts with, one job each, before any choice: GC at load 1
    (every worker computing one whole gradient's worth, s + 1 = n / ``batch``: with one
    gradient per invocation the first arrival ends the round: on a fleet where most workers
    are slow, a low-load start waits for many of them and one round can cost several good
    ones), then GC at a quarter of that load. Together they give the load fit two far-apart
    loads and the reach (``online.reachable``) a starting point on each side."""
    whole = _largest_divisor(n, max(1, n // batch))
    quarter = _largest_divisor(n, max(1, whole // 4))
    out = [Config("gc", s=whole - 1)]
    if quarter != whole:
        out.append(Config("gc", s=quarter - 1))
    return out


def _largest_divisor(n: int, at_most: int) -> int:
    return max(g for g in range(1, at_most + 1) if n % g == 0)


def safe_start(n: int, batch: int = 1) -> Config:
    """The configuration a run starts with (its load bounds what a worker must hold in the
    first round: the whole dataset, like every later choice of that load)."""
    return exploration(n, batch)[0]


Q_GRID = (0.004, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GROUPS = (1, 2, 4, 8, 16, 32, 64, 128)
