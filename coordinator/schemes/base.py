"""What every scheme is: n workers, a delay T, a normalized load, a straggler model, sessions."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..params import require_int


class Scheme(ABC):
    """A coding scheme for n workers (sgc.md, "Setting").

    ``T``: job t must be decodable by the end of round t + T. ``load``: the fraction of one job's
    data a worker processes per round. ``model``: the straggler patterns it is built to tolerate.
    """

    name: str

    def __init__(self, n: int):
        self.n = require_int("n", n, 1)

    @property
    @abstractmethod
    def T(self) -> int: ...

    @property
    @abstractmethod
    def load(self) -> float: ...

    @property
    @abstractmethod
    def params(self) -> dict[str, int]:
        """The constructor arguments besides n, as make_scheme takes them."""

    @property
    @abstractmethod
    def model(self):
        """The straggler model (coordinator.stragglers) under which decoding is guaranteed."""

    @abstractmethod
    def session(self, jobs: int):
        """A fresh run of ``jobs`` jobs (coordinator.schemes.session.Session)."""

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({params})" if params else self.name

    def __repr__(self) -> str:
        return f"<{self.describe()} n={self.n} T={self.T} load={self.load:.6f}>"
