"""The wait policy: cutoff, stragglers inside/outside the model, hard limit, reasons."""

from __future__ import annotations

from coordinator.control.wait import cutoff, decide

DEADLINE = {"deadline_s": 2.0, "hard_limit_s": 10.0}
MU = {"mu": 0.5, "hard_limit_s": 10.0}
EVERYONE = set(range(4))


def never_late(missing):
    return set()


def test_cutoff_rules():
    assert cutoff(DEADLINE, {}) == 2.0
    assert cutoff(MU, {}) is None
    assert cutoff(MU, {0: 1.0, 1: 3.0}) == 1.5


def test_waits_until_the_cutoff_then_names_the_stragglers():
    arrivals = {0: 0.1, 1: 0.2}
    assert not decide(DEADLINE, 1.0, EVERYONE, arrivals, {}, lambda s: True, never_late).stop
    done = decide(DEADLINE, 2.1, EVERYONE, arrivals, {3: "error: Boom: x"}, lambda s: True,
                  never_late)
    assert done.stop and done.stragglers == [2, 3] and done.flags == []
    assert done.reasons == {2: "no result within 2.100 s (cutoff 2.000 s)", 3: "error: Boom: x"}


def test_stops_early_when_everyone_reported():
    done = decide(DEADLINE, 0.3, EVERYONE, {0: 0.1, 1: 0.1, 2: 0.2}, {3: "garbage: nan"},
                  lambda s: True, never_late)
    assert done.stop and done.stragglers == [3]


def test_mu_rule_uses_the_fastest_worker():
    arrivals = {0: 1.0, 1: 1.2}
    assert not decide(MU, 1.4, EVERYONE, arrivals, {}, lambda s: True, never_late).stop
    assert decide(MU, 1.6, EVERYONE, arrivals, {}, lambda s: True, never_late).stragglers == [2, 3]


def test_outside_the_model_waits_for_more_then_hits_the_hard_limit():
    def inside(missing):
        return len(missing) <= 1

    def late(missing):
        return {7} if len(missing) > 1 else set()

    arrivals = {0: 0.1, 1: 0.1}
    waiting = decide(DEADLINE, 3.0, EVERYONE, arrivals, {}, inside, late)
    assert not waiting.stop and "outside the model" in waiting.flags[0]
    assert decide(DEADLINE, 3.5, EVERYONE, {**arrivals, 2: 3.4}, {}, inside, late).stragglers \
        == [3]
    hard = decide(DEADLINE, 10.0, EVERYONE, arrivals, {}, inside, late)
    assert hard.stop and hard.stragglers == [2, 3]
    assert any("hard limit" in f for f in hard.flags)
    assert any("jobs [7]" in f for f in hard.flags)
