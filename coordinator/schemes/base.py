"""What every scheme is: n workers, a delay T, a normalized load, a straggler model, sessions."""

from __future__ import annotations

from abc import ABC, abstractmethod

from coordinator.schemes.params import check_bursty, require_int
from coordinator.schemes.stragglers import BurstyModel


class Scheme(ABC):
    """A coding scheme for n workers (docs/schemes.md, "Setting").

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
        """The straggler model (schemes.stragglers) under which decoding is guaranteed."""

    session_class: type  # the scheme's coordinator.schemes.session.Session subclass

    def session(self, jobs: int):
        """A fresh run of ``jobs`` jobs."""
        return self.session_class(self, jobs)

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({params})" if params else self.name

    def __repr__(self) -> str:
        return f"<{self.describe()} n={self.n} T={self.T} load={self.load:.6f}>"


class BurstyScheme(Scheme):
    """A scheme built for the (B, W, lam)-bursty straggler model (SR-SGC, M-SGC)."""

    def __init__(self, n: int, B: int, W: int, lam: int, replication: int = 1):
        super().__init__(n)
        self.B, self.W, self.lam = check_bursty(self.n, B, W, lam)
        self.replication = require_int("replication", replication, 1, self.n)

    @property
    def params(self) -> dict[str, int]:
        params = {"B": self.B, "W": self.W, "lam": self.lam}
        if self.replication > 1:
            params["replication"] = self.replication
        return params

    @property
    def model(self) -> BurstyModel:
        return BurstyModel(self.n, self.B, self.W, self.lam)
