"""GC (Tandon et al.): every round, every worker returns its coded row for that round's job."""

from __future__ import annotations

from coordinator.schemes.params import require_int
from coordinator.schemes.stragglers import PerRoundModel

from .base import Scheme
from .components import Component
from .gc_codes import make_gc_code
from .session import OneJobPerRoundSession


class GradientCodingSession(OneJobPerRoundSession):
    def __init__(self, scheme: GradientCoding, jobs: int):
        block = Component(f"GC block ({scheme.code.kind}, s={scheme.s})", 0, code=scheme.code)
        super().__init__(scheme, jobs, [block])


class GradientCoding(Scheme):
    """Tolerates any s stragglers per round; load (s + 1) / n; T = 0."""

    name = "gc"
    T = 0
    session_class = GradientCodingSession

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
