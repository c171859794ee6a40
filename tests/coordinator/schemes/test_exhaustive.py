"""Every admissible straggler pattern for small n: each job decodes by j + T, exactly."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from coordinator.schemes import make_scheme
from coordinator.schemes.gradient_check import pattern_outcome
from coordinator.schemes.stragglers import BurstyModel

FAST_LIMIT = 12_000  # patterns per case in the fast suite; larger cases run in the slow one


def bursty_cases():
    for n, W in itertools.product(range(2, 7), (2, 3)):
        for B, lam in itertools.product(range(1, W), range(1, n + 1)):
            yield "m-sgc", n, B, W, lam
            if (W - 1) % B == 0 and -(-B * lam // (W - 1 + B)) < n:
                yield "sr-sgc", n, B, W, lam


SLOW_LIMIT = 60_000  # larger cases (n = 5, 6 with B = 2, W = 3) are sampled (3,000 patterns)


def count(model: BurstyModel, rounds: int, cap: int) -> int:
    """Admissible patterns over ``rounds`` rounds, counted up to about cap (at least cap + 1
    when there are more). The last round is counted, not enumerated: after a history, a set S
    is admissible when it avoids the workers of the burst rule's forbidden rounds and
    |S | window| <= lam, so S takes any part of the allowed workers already in the window and at
    most lam - |window| of the other allowed ones (``last_round_count``, checked against the
    enumeration below). Collection runs this for every case in every process."""
    total = 0
    for prefix in model.enumerate(rounds - 1):
        total += last_round_count(model, prefix)
        if total > cap:
            break
    return total


def last_round_count(model: BurstyModel, history: list[frozenset[int]]) -> int:
    r = len(history)
    window = set().union(*history[max(0, r - model.W + 1):r])
    if len(window) > model.lam:
        return 0
    allowed = model.allowed_workers(history)
    old, new = len(allowed & window), len(allowed - window)
    return 2 ** old * sum(math.comb(new, k) for k in range(min(model.lam - len(window), new) + 1))


@pytest.mark.parametrize("n,B,W,lam", [(3, 1, 2, 2), (4, 1, 3, 2), (4, 2, 3, 3), (5, 1, 2, 5)])
def test_the_last_round_count_is_the_enumerations(n, B, W, lam):
    model = BurstyModel(n, B, W, lam)
    rounds = 2 + W - 2 + B
    assert count(model, rounds, 10**9) == sum(1 for _ in model.enumerate(rounds))


CASES = [case for case in bursty_cases()]
FAST = [c for c in CASES if count(BurstyModel(c[1], *c[2:]), 2 + c[3] - 2 + c[2], FAST_LIMIT)
        <= FAST_LIMIT]
SLOW = [c for c in CASES if c not in FAST]


def check_all(name, n, B, W, lam, jobs=2, patterns=None):
    scheme = make_scheme(name, n=n, B=B, W=W, lam=lam)
    checked = 0
    for pattern in patterns or scheme.model.enumerate(jobs + scheme.T):
        decoded_round, error = pattern_outcome(scheme.session(jobs), pattern)
        late = [j for j in range(1, jobs + 1) if decoded_round.get(j, 10**9) > j + scheme.T]
        assert not late and error < 1e-9, (name, n, B, W, lam, [sorted(s) for s in pattern])
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("name,n,B,W,lam", FAST)
def test_every_admissible_pattern_decodes_by_deadline(name, n, B, W, lam):
    check_all(name, n, B, W, lam)


@pytest.mark.slow
@pytest.mark.parametrize("name,n,B,W,lam", SLOW)
def test_every_admissible_pattern_larger_cases(name, n, B, W, lam):
    """Exhaustive where there are at most SLOW_LIMIT patterns, else 3,000 random admissible ones."""
    model = BurstyModel(n, B, W, lam)
    rounds = 2 + W - 2 + B
    if count(model, rounds, SLOW_LIMIT) <= SLOW_LIMIT:
        check_all(name, n, B, W, lam)
        return
    rng = np.random.default_rng(n * 100 + lam)
    patterns = [model.random_pattern(rounds, rng, rate=rate)
                for rate in (0.3, 0.6, 0.9) for _ in range(1000)]
    check_all(name, n, B, W, lam, patterns=patterns)


@pytest.mark.parametrize("n,s", [(2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (6, 3)])
def test_gc_every_straggler_set_up_to_s(n, s):
    scheme = make_scheme("gc", n=n, s=s)
    for size in range(s + 1):
        for stragglers in itertools.combinations(range(n), size):
            decoded_round, error = pattern_outcome(scheme.session(1), [frozenset(stragglers)])
            assert decoded_round == {1: 1} and error < 1e-9


def test_uncoded_decodes_only_with_everyone():
    scheme = make_scheme("uncoded", n=4)
    assert pattern_outcome(scheme.session(1), [frozenset()])[0] == {1: 1}
    session = scheme.session(1)
    assert pattern_outcome(session, [frozenset({2})])[0] == {}
    assert "partition 2 (worker 2) not delivered" in session.late(1)[1]
