"""The reference's load table, closed forms, partition sizes and parameter errors."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from coordinator.schemes import make_scheme

TABLE = [  # docs/schemes.md, "Numbers to reproduce" (n = 256)
    ("uncoded", {}, 0, Fraction(1, 256)),
    ("gc", {"s": 15}, 0, Fraction(16, 256)),
    ("sr-sgc", {"B": 2, "W": 3, "lam": 23}, 2, Fraction(13, 256)),
    ("m-sgc", {"B": 1, "W": 2, "lam": 27}, 1, Fraction(56, 7424)),
]


@pytest.mark.parametrize("name,params,T,load", TABLE)
def test_reference_table(name, params, T, load):
    scheme = make_scheme(name, n=256, **params)
    assert scheme.T == T
    assert scheme.load == pytest.approx(float(load), rel=1e-12)
    assert round(scheme.load, 6) == round(float(load), 6)


def test_sr_sgc_tolerance_from_reference():
    assert make_scheme("sr-sgc", n=256, B=2, W=3, lam=23).s == 12


@pytest.mark.parametrize("n,B,W,lam", [(256, 1, 2, 27), (256, 2, 3, 23), (64, 3, 5, 10),
                                       (16, 1, 3, 16), (10, 2, 4, 3)])
def test_m_sgc_load_is_what_its_tasks_cost(n, B, W, lam):
    """Every worker's busiest round costs exactly the closed-form load (equal slot sizes)."""
    scheme = make_scheme("m-sgc", n=n, B=B, W=W, lam=lam)
    session = scheme.session(jobs=W + B + 2)
    sizes = session.partition_sizes
    assert math.isclose(sum(sizes), 1.0)
    t = W - 1 + B  # a steady-state round: every slot busy
    for t_ in range(1, t):
        session.observe(t_, set())
    slot_cost = [sum(sizes[p] for p in task)
                 for tasks in session.tasks(t) for task in tasks.values()]
    assert max(slot_cost) == pytest.approx(min(slot_cost))
    per_worker = sum(sizes[p] for task in session.tasks(t)[0].values() for p in task)
    if lam == n:  # no D2: the B adaptive slots are reserved for redoing lost D1 chunks only
        assert scheme.load == pytest.approx((W - 1 + B) / (n * (W - 1)))
        assert per_worker == pytest.approx(1 / n)
        return
    expected = (lam + 1) * (W - 1 + B) / (n * (B + (W - 1) * (lam + 1)))
    assert per_worker == pytest.approx(expected) == pytest.approx(scheme.load)


@pytest.mark.parametrize("name,params", [("gc", {"s": 15}), ("gc", {"s": 12}),
                                         ("sr-sgc", {"B": 2, "W": 3, "lam": 23})])
def test_gc_family_load_is_what_its_tasks_cost(name, params):
    scheme = make_scheme(name, n=256, **params)
    session = scheme.session(jobs=1)
    sizes = session.partition_sizes
    costs = {round(sum(sizes[p] for p in task), 12)
             for tasks in session.tasks(1) for task in tasks.values()}
    assert costs == {round(scheme.load, 12)}


@pytest.mark.parametrize("name,params,message", [
    ("gc", {"s": 256}, "s must be an integer in [0, 255]"),
    ("gc", {"s": -1}, "s must be an integer in [0, 255]"),
    ("gc", {"s": 1.5}, "s must be an integer"),
    ("sr-sgc", {"B": 2, "W": 4, "lam": 3}, "B must divide W - 1"),
    ("sr-sgc", {"B": 2, "W": 2, "lam": 3}, "B must be an integer in [1, 1]"),
    ("m-sgc", {"B": 3, "W": 3, "lam": 3}, "B must be an integer in [1, 2]"),
    ("m-sgc", {"B": 1, "W": 2, "lam": 257}, "lam must be an integer in [1, 256]"),
    ("m-sgc", {"B": 1, "W": 1, "lam": 3}, "W must be an integer >= 2"),
    ("m-sgc", {"B": 1, "W": 2}, "missing ['lam']"),
    ("gc", {"s": 1, "B": 2}, "unknown ['B']"),
    ("fancy", {}, "scheme must be one of"),
])
def test_bad_parameters_name_the_parameter(name, params, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_scheme(name, n=256, **params)


@pytest.mark.parametrize("n", [0, -3, 2.0, "256"])
def test_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        make_scheme("uncoded", n=n)
