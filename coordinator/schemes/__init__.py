"""The scheme library: uncoded, GC, SR-SGC and M-SGC behind one constructor.

    scheme = make_scheme("m-sgc", n=256, B=1, W=2, lam=27)
    session = scheme.session(jobs=J)

See ``session.Session`` for the round-by-round contract.
"""

from __future__ import annotations

from .base import Scheme
from .gc import GradientCoding
from .m_sgc import MultiplexedSGC
from .session import Session
from .sr_sgc import SelectiveRepetitionSGC
from .uncoded import Uncoded

SCHEMES = {
    "uncoded": (Uncoded, ()),
    "gc": (GradientCoding, ("s",)),
    "sr-sgc": (SelectiveRepetitionSGC, ("B", "W", "lam")),
    "m-sgc": (MultiplexedSGC, ("B", "W", "lam")),
}


def make_scheme(name: str, n: int = 256, **params) -> Scheme:
    """Build a scheme by name; errors name the parameter and what is allowed."""
    if name not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {name!r}")
    cls, expected = SCHEMES[name]
    missing = [p for p in expected if p not in params]
    unknown = [p for p in params if p not in expected]
    if missing or unknown:
        allowed = ", ".join(expected) or "no parameters besides n"
        problem = f"missing {missing}" if missing else f"unknown {unknown}"
        raise ValueError(f"scheme {name!r} takes {allowed}: {problem}")
    return cls(n, **params)


__all__ = ["SCHEMES", "Scheme", "Session", "make_scheme"]
