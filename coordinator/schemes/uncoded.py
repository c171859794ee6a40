"""The uncoded baseline: worker i computes partition i; the master waits for all (T = 0)."""

from __future__ import annotations

from coordinator.schemes.stragglers import PerRoundModel

from .base import Scheme
from .components import Component
from .session import OneJobPerRoundSession


class UncodedSession(OneJobPerRoundSession):
    def __init__(self, scheme: Uncoded, jobs: int):
        shares = [Component(f"partition {w}", w, owner=w) for w in range(scheme.n)]
        super().__init__(scheme, jobs, shares)

    def _component_of(self, worker: int) -> Component:
        return self._components[worker]


class Uncoded(Scheme):
    name = "uncoded"
    T = 0
    session_class = UncodedSession

    @property
    def load(self) -> float:
        return 1 / self.n

    @property
    def params(self) -> dict[str, int]:
        return {}

    @property
    def model(self) -> PerRoundModel:
        return PerRoundModel(self.n, 0)
