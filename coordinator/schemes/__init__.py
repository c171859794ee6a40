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


REPLICATED = ("sr-sgc", "m-sgc")  # the schemes that redo lost work, so can replicate it


def make_scheme(name: str, n: int = 256, replication: int = 1, **params) -> Scheme:
    """Build a scheme by name; errors name the parameter and what is allowed.

    ``replication``: how many workers recompute each lost share (SR-SGC's repeated tasks,
    M-SGC's lost D1 chunks); 1 (the default) is the paper's scheme. M-SGC with lam = n also
    takes ``group`` (D1 chunks computed by groups of that many workers; default 1).
    """
    if name not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {name!r}")
    if replication != 1:
        if name not in REPLICATED:
            raise ValueError(f"replication applies to {' and '.join(REPLICATED)} only "
                             f"(scheme {name!r} redoes nothing), got replication={replication!r}")
        params["replication"] = replication
    cls, expected = SCHEMES[name]
    expected = (*expected, "replication") if name in REPLICATED else expected
    expected = (*expected, "group") if name == "m-sgc" else expected
    missing = [p for p in expected if p not in params and p not in ("replication", "group")]
    unknown = [p for p in params if p not in expected]
    if missing or unknown:
        allowed = ", ".join(expected) or "no parameters besides n"
        problem = f"missing {missing}" if missing else f"unknown {unknown}"
        raise ValueError(f"scheme {name!r} takes {allowed}: {problem}")
    return cls(n, **params)


__all__ = ["SCHEMES", "Scheme", "Session", "make_scheme"]
