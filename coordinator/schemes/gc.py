"""GC (Tandon et al.): every round, every worker returns its coded row for that round's job."""

from __future__ import annotations

from ..params import require_int
from ..stragglers import PerRoundModel
from .base import Scheme
from .components import Component
from .gc_codes import make_gc_code
from .session import Session


class GradientCoding(Scheme):
    """Tolerates any s stragglers per round; load (s + 1) / n; T = 0."""

    name = "gc"
    T = 0

    def __init__(self, n: int, s: int):
        super().__init__(n)
        self.s = require_int("s", s, 0, self.n - 1)
        self.code = make_gc_code(self.n, self.s)

    @property
    def load(self) -> float:
        return (self.s + 1) / self.n

    @property
    def params(self) -> dict[str, int]:
        return {"s": self.s}

    @property
    def model(self) -> PerRoundModel:
        return PerRoundModel(self.n, self.s)

    def session(self, jobs: int) -> GradientCodingSession:
        return GradientCodingSession(self, jobs)


class GradientCodingSession(Session):
    def __init__(self, scheme: GradientCoding, jobs: int):
        super().__init__(scheme, jobs)
        self._components = [Component(f"GC block ({scheme.code.kind}, s={scheme.s})", 0,
                                      code=scheme.code)]

    @property
    def partition_sizes(self) -> list[float]:
        return [1 / self.n] * self.n

    def components(self, job: int) -> list[Component]:
        return self._components

    def _plan(self, t: int):
        if t > self.jobs:
            return [[] for _ in range(self.n)]
        return [[(t, self._components[0])] for _ in range(self.n)]
