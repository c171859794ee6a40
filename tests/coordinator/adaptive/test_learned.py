"""What a run learned, carried to the next run on the same workload: the whole state its next
choice depends on (the load fit and the window of rounds), checked on the way in, round-tripped
through one array, and a run starting from it chooses as the first would, instead of exploring."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.adaptive import Learned, OnlineChooser, OnlineRun
from coordinator.adaptive.family import exploration

N = 16
BATCHES = {"gc": 2, "replicated": 1}


def _chooser(loads_per_round) -> OnlineChooser:
    """A chooser that observed one round per entry, times rising with load, horizon 5 s."""
    rng = np.random.default_rng(0)
    chooser = OnlineChooser(N, batches=BATCHES)
    for load in loads_per_round:
        times = np.minimum(0.5 + 2 * load + rng.exponential(0.2, N), 5.0)
        chooser.observe(np.full(N, load), times, 5.0)
    return chooser


def _learned(loads=(1.0, 0.25, 0.125)) -> Learned:
    return _chooser(loads).learned()


def test_a_later_run_knows_exactly_what_the_first_knew_past_its_window():
    """Far loads seen only long before the window (the exploring rounds) stay in the fit: the
    second chooser's estimates are the first one's, to the last bit."""
    first = _chooser([1.0, 0.25] + [0.125] * 150 + [0.0625] * 100)
    second = OnlineChooser(N, batches=BATCHES)
    second.start_from(Learned.from_array(first.learned().to_array(), N))
    assert second.fit.distinct_loads == 4
    assert second.estimates() == first.estimates() and second.choose() == first.choose()
    assert len(first.learned().horizons) == 100  # the window, not the whole run


def test_it_round_trips_through_one_array_and_a_bad_header_is_refused():
    learned = _learned()
    back = Learned.from_array(learned.to_array(), N)
    for name in Learned.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(back, name), getattr(learned, name))
    with pytest.raises(ValueError, match="header"):
        Learned.from_array(learned.to_array()[:-1], N)
    with pytest.raises(ValueError, match="header"):
        Learned.from_array(learned.to_array(), 2 * N)
    header_inf = learned.to_array()
    header_inf[0] = np.inf
    with pytest.raises(ValueError, match="not finite"):
        Learned.from_array(header_inf, N)
    with pytest.raises(ValueError, match="float64"):
        Learned.from_array(learned.to_array().astype(np.float32), N)


def _damaged(name: str, value: float) -> np.ndarray:
    learned = _learned()
    fields = {k: getattr(learned, k).copy() for k in Learned.__dataclass_fields__}
    fields[name].reshape(-1)[-1] = value  # the last entry: the exploring loads come first
    return np.concatenate([learned.to_array()[:3]]
                          + [fields[k].ravel() for k in Learned.__dataclass_fields__])


@pytest.mark.parametrize("name, value, words", [
    ("loads", np.nan, "every load must be finite"),
    ("loads", 65.0, "every load must be finite"),
    ("times", -1.0, "every time must be finite"),
    ("times", 9.0, "at most its round's horizon"),
    ("horizons", np.nan, "every horizon"),
    ("fit_loads", 0.25, "distinct"),
    ("fit_sums", np.inf, "every fit sum"),
    ("fit_counts", 0.5, "every fit count must be an integer"),
    ("fit_known", N + 1, "known ranks"),
])
def test_a_damaged_array_is_refused_naming_what(name, value, words):
    with pytest.raises(ValueError, match=words):
        Learned.from_array(_damaged(name, value), N)


def test_a_horizon_of_zero_is_accepted_as_the_chooser_does():
    """The virtual clock can end a round at 0 s: the chooser learned it, so it carries over."""
    chooser = OnlineChooser(N, batches=BATCHES)
    chooser.observe(np.full(N, 1.0), np.zeros(N), 0.0)
    assert Learned.from_array(chooser.learned().to_array(), N).horizons.tolist() == [0.0]


def test_a_run_with_two_learned_loads_chooses_its_first_job_instead_of_exploring():
    learned = _learned()
    chooser = OnlineChooser(N, batches=BATCHES)
    chooser.start_from(learned)
    run = OnlineRun(N, 40, models=2, prior=learned)
    assert run.explore == [] and run.blocks == [(1, chooser.choose()[0])]
    assert run.predicted_s == chooser.choose()[1]


def test_one_learned_load_is_not_enough_and_the_run_explores_as_usual():
    run = OnlineRun(N, 40, models=2, prior=_learned(loads=(1.0,)))
    assert run.config(1) == exploration(N, 2)[0]


def test_a_prior_of_another_fleet_size_is_refused():
    with pytest.raises(ValueError, match="learned on 16 workers, this run has 32"):
        OnlineRun(32, 40, models=2, prior=_learned())
