"""Straggler models: the admissibility rules, generators and trace replay."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.schemes.stragglers import (
    BurstyModel,
    PerRoundModel,
    gilbert_elliot_pattern,
    iid_pattern,
    stragglers_from_times,
)

F = frozenset


def test_bursty_rules_by_hand():
    model = BurstyModel(n=6, B=2, W=3, lam=2)
    assert model.is_admissible([F({0}), F({0}), F(), F(), F({0})])  # burst of 2, then quiet
    assert not model.is_admissible([F({0}), F(), F({0})])  # second burst inside a window of 3
    assert not model.is_admissible([F({0}), F({0}), F({0})])  # burst longer than B
    assert not model.is_admissible([F({0, 1}), F({2})])  # 3 distinct in a window
    assert model.is_admissible([F({0, 1}), F(), F(), F({2})])  # windows are sliding


def test_per_round_model():
    assert PerRoundModel(4, 1).is_admissible([F({1}), F({2})])
    assert not PerRoundModel(4, 1).is_admissible([F({1, 2})])


@pytest.mark.parametrize("B,W,lam", [(1, 2, 3), (2, 3, 4), (2, 5, 6), (3, 4, 10)])
def test_random_patterns_are_admissible_and_use_the_budget(B, W, lam):
    model = BurstyModel(64, B, W, lam)
    rng = np.random.default_rng(7)
    patterns = [model.random_pattern(30, rng, rate=0.8) for _ in range(20)]
    assert all(model.is_admissible(p) for p in patterns)
    assert max(len(set().union(*p[r:r + W])) for p in patterns for r in range(28)) == lam


def test_adversarial_patterns_are_admissible_and_full():
    model = BurstyModel(32, 2, 4, 8)
    patterns = model.adversarial_patterns(12)
    assert set(patterns) >= {"full-bursts", "late-bursts"}
    assert all(model.is_admissible(p) for p in patterns.values())
    assert max(len(s) for s in patterns["full-bursts"]) == 8


def test_enumerate_counts_small_case():
    # n=2, B=1, W=2, lam=1, 2 rounds: per round {}, {0}, {1}; not the same worker twice in a row,
    # and at most 1 distinct per window of 2 -> (1 + 2 + 2 + 0) ... counted by brute force below
    model = BurstyModel(2, 1, 2, 1)
    patterns = list(model.enumerate(2))
    brute = [(a, b) for a in (F(), F({0}), F({1})) for b in (F(), F({0}), F({1}))
             if model.is_admissible([a, b])]
    assert len(patterns) == len(brute) == 5


def test_iid_and_gilbert_elliot_rates():
    rng = np.random.default_rng(0)
    pattern = iid_pattern(200, 200, 0.1, rng)
    assert np.mean([len(s) for s in pattern]) / 200 == pytest.approx(0.1, abs=0.01)
    ge = gilbert_elliot_pattern(200, 400, 0.02, 0.2, rng)  # stationary bad share 0.02/0.22
    assert np.mean([len(s) for s in ge[50:]]) / 200 == pytest.approx(0.0909, abs=0.02)
    with pytest.raises(ValueError, match="p must be a probability"):
        iid_pattern(4, 4, 1.5, rng)


def test_trace_replay_deadline():
    times = np.array([[1.0, 2.5, 1.1], [1.0, 1.0, 3.0]])
    assert stragglers_from_times(times, 2.0) == [F({1}), F({2})]
