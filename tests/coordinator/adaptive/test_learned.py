"""What a run learned, carried to the next run on the same workload: checked on the way in,
round-tripped through storage, and a run starting from it chooses at once instead of exploring."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.adaptive import Learned, OnlineChooser, OnlineRun
from coordinator.adaptive.family import exploration

N = 16


def _learned(rounds: int = 3) -> Learned:
    rng = np.random.default_rng(0)
    loads = np.repeat([[1.0], [0.25], [0.125]], N, axis=1)[:rounds]
    horizons = np.full(rounds, 5.0)
    times = np.minimum(1.0 + loads * 2 + rng.exponential(0.2, (rounds, N)), 5.0)
    return Learned(loads, times, horizons)


def test_it_round_trips_through_one_array_and_checks_it():
    learned = _learned()
    back = Learned.from_array(learned.to_array(), N)
    for name in ("loads", "times", "horizons"):
        np.testing.assert_array_equal(getattr(back, name), getattr(learned, name))
    with pytest.raises(ValueError, match=r"shape \(rounds, 33\)"):
        Learned.from_array(learned.to_array()[:, :-1], N)
    with pytest.raises(ValueError, match="float64"):
        Learned.from_array(learned.to_array().astype(np.float32), N)


@pytest.mark.parametrize("change, words", [
    (lambda a: a.__setitem__((0, 1), np.nan), "load must be finite"),
    (lambda a: a.__setitem__((0, 1), 65.0), "load must be finite, in"),
    (lambda a: a.__setitem__((0, 1 + N), -1.0), "time must be finite, >= 0"),
    (lambda a: a.__setitem__((0, 1 + N), 9.0), "at most its round's horizon"),
    (lambda a: a.__setitem__((0, 0), 0.0), "horizon must be finite and > 0"),
])
def test_a_damaged_array_is_refused_naming_what(change, words):
    array = _learned().to_array()
    change(array)
    with pytest.raises(ValueError, match=words):
        Learned.from_array(array, N)


def test_a_run_with_two_learned_loads_chooses_its_first_job_instead_of_exploring():
    learned = _learned()
    chooser = OnlineChooser(N, batches={"gc": 2, "replicated": 1})
    for loads, times, horizon in learned.rounds():
        chooser.observe(loads, times, horizon)
    run = OnlineRun(N, 40, models=2, prior=learned)
    assert run.explore == [] and run.blocks == [(1, chooser.choose()[0])]
    assert run.predicted_s == chooser.choose()[1]


def test_one_learned_load_is_not_enough_and_the_run_explores_as_usual():
    run = OnlineRun(N, 40, models=2, prior=_learned(rounds=1))
    assert run.config(1) == exploration(N, 2)[0]


def test_a_prior_of_another_fleet_size_is_refused():
    with pytest.raises(ValueError, match="learned on 16 workers, this run has 32"):
        OnlineRun(32, 40, models=2, prior=_learned())
