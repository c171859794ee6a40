"""The uncoded baseline: worker i computes partition i; the master waits for all (T = 0)."""

from __future__ import annotations

from ..stragglers import PerRoundModel
from .base import Scheme
from .components import Component
from .session import Session


class Uncoded(Scheme):
    name = "uncoded"
    T = 0

    @property
    def load(self) -> float:
        return 1 / self.n

    @property
    def params(self) -> dict[str, int]:
        return {}

    @property
    def model(self) -> PerRoundModel:
        return PerRoundModel(self.n, 0)

    def session(self, jobs: int) -> UncodedSession:
        return UncodedSession(self, jobs)


class UncodedSession(Session):
    def __init__(self, scheme: Uncoded, jobs: int):
        super().__init__(scheme, jobs)
        self._components = [Component(f"partition {w}", w, owner=w) for w in range(self.n)]

    @property
    def partition_sizes(self) -> list[float]:
        return [1 / self.n] * self.n

    def components(self, job: int) -> list[Component]:
        return self._components

    def _plan(self, t: int):
        if t > self.jobs:
            return [[] for _ in range(self.n)]
        return [[(t, component)] for component in self._components]
