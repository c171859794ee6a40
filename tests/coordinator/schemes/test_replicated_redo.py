"""Replicated redo: exact for every straggler pattern at small n, on time inside the model,
and exact at n = 256 with random partial gradients; the contract and the load stay honest."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.schemes import make_scheme
from coordinator.schemes.gradient_check import pattern_outcome, replay


def all_patterns(n: int, rounds: int):
    subsets = [frozenset(c) for size in range(n + 1)
               for c in itertools.combinations(range(n), size)]
    return itertools.product(subsets, repeat=rounds)


M_SGC_CASES = [(n, g, r) for n in (2, 3, 4) for g in (1, 2, 4) for r in (2, n)
               if n % g == 0 and g <= n]


@pytest.mark.parametrize("n,group,replication", M_SGC_CASES)
def test_replicated_m_sgc_is_exact_for_every_pattern(n, group, replication):
    """Every pattern over 3 rounds (J = 2): whatever decodes is exact; inside the (1, 2, n)
    model every job decodes by j + T; outside it a job may be late, never wrong."""
    scheme = make_scheme("m-sgc", n=n, B=1, W=2, lam=n, replication=replication, group=group)
    checked = 0
    for pattern in all_patterns(n, 3):
        decoded, error = pattern_outcome(scheme.session(2), list(pattern))
        assert error < 1e-12, [sorted(s) for s in pattern]
        if scheme.model.is_admissible(list(pattern)):
            assert decoded == {j: decoded[j] for j in (1, 2)} and all(
                decoded[j] <= j + scheme.T for j in (1, 2)), [sorted(s) for s in pattern]
        checked += 1
    assert checked == 2 ** (3 * n)


def test_a_worker_straggling_twice_no_longer_holds_its_job():
    """Worker 0 straggles in rounds 1 and 2: without copies job 1 is late; with copies any
    other worker's replica completes it."""
    pattern = [frozenset({0}), frozenset({0}), frozenset()]
    plain = make_scheme("m-sgc", n=4, B=1, W=2, lam=4)
    copies = make_scheme("m-sgc", n=4, B=1, W=2, lam=4, replication=4)
    assert pattern_outcome(plain.session(2), pattern)[0].get(1) is None
    assert pattern_outcome(copies.session(2), pattern)[0][1] == 2


@pytest.mark.parametrize("n,B,W,lam", [(3, 1, 2, 2), (4, 1, 2, 3), (4, 2, 3, 2), (5, 1, 3, 3)])
def test_replicated_sr_sgc_keeps_the_model_guarantee(n, B, W, lam):
    scheme = make_scheme("sr-sgc", n=n, B=B, W=W, lam=lam, replication=2)
    for pattern in scheme.model.enumerate(2 + scheme.T):
        decoded, error = pattern_outcome(scheme.session(2), pattern)
        assert error < 1e-9 and all(decoded.get(j, 99) <= j + scheme.T for j in (1, 2))


def test_sr_sgc_helpers_carry_their_copy_in_the_load():
    scheme = make_scheme("sr-sgc", n=6, B=1, W=2, lam=2, replication=3)  # s = 1
    session = scheme.session(3)
    session.plan(1)
    session.observe(1, {0, 1, 2})  # v = 3 > s: 2 rows repeated in round 2, 2 copies each more
    loads = session.worker_loads(2)
    single = 2 / 6  # (s + 1) / n
    assert sorted(loads).count(2 * single) == 4 and max(loads) == pytest.approx(2 * single)
    assert scheme.load == pytest.approx(single)  # the nominal load is the paper's


def test_m_sgc_copies_use_idle_slots_only():
    scheme = make_scheme("m-sgc", n=8, B=1, W=2, lam=8, replication=8)
    session = scheme.session(3)
    session.plan(1)
    session.observe(1, {3})
    assert max(session.worker_loads(2)) == pytest.approx(scheme.load)  # 2/n: never more
    tasks = session.tasks(2)
    assert all(len(task) == 2 for task in tasks)  # one result per worker and job


@pytest.mark.parametrize("kwargs,message", [
    ({"replication": 0}, r"replication must be an integer in \[1, 8\]"),
    ({"replication": 9}, r"replication must be an integer in \[1, 8\]"),
    ({"lam": 3, "replication": 2}, "replication > 1 needs lam = n"),
    ({"group": 3}, "group > 1 needs lam = n"),
])
def test_bad_replication_names_the_parameter(kwargs, message):
    params = {"B": 1, "W": 2, "lam": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_scheme("m-sgc", n=8, **params)


def test_replication_is_only_for_schemes_that_redo():
    with pytest.raises(ValueError, match="replication applies to sr-sgc and m-sgc only"):
        make_scheme("gc", n=8, s=1, replication=2)


def test_default_keeps_the_papers_scheme():
    plain = make_scheme("m-sgc", n=8, B=1, W=2, lam=3)
    assert plain.params == {"B": 1, "W": 2, "lam": 3} and plain.replication == 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 4, 16]), st.floats(0.0, 0.6))
def test_replicated_m_sgc_exact_at_n256(seed, group, rate):
    rng = np.random.default_rng(seed)
    scheme = make_scheme("m-sgc", n=256, B=1, W=2, lam=256, replication=256, group=group)
    jobs = 4
    pattern = [frozenset(np.flatnonzero(rng.random(256) < rate).tolist())
               for _ in range(jobs + 1)]
    outcome = replay(scheme.session(jobs), pattern, rng)
    assert outcome.max_error < 1e-9
    assert set(outcome.decoded_round) | set(outcome.late) == set(range(1, jobs + 1))
