"""Wait policies on a fake clock: each rule by hand, the contract (monotone, wake times), and
the virtual clock (bisection) against a poller that asks at every instant, as Collect does."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.policy import RoundView, end_of_round, make_policy, policy_from_wait
from coordinator.schemes import make_scheme


def view_for(scheme, arrivals, t=1, history=(), failures=None):
    session = scheme.session(3)
    for r, stragglers in enumerate(history, start=1):
        session.plan(r)
        session.observe(r, stragglers)
    session.plan(t)
    return RoundView(t, session, list(history), frozenset(range(scheme.n)), arrivals,
                     failures or {})


GC = make_scheme("gc", n=4, s=1)  # fractional repetition: groups {0, 1} and {2, 3}


class FakeClock:
    """Collect's loop on a fake clock: poll at ``step`` intervals, ask the policy each time."""

    def __init__(self, step: float = 0.01):
        self.step = step

    def run(self, policy, scheme, times, history=()):
        now = 0.0
        while True:
            arrivals = {w: float(x) for w, x in enumerate(times) if x <= now + 1e-12}
            decision = policy.decide(view_for(scheme, arrivals, len(history) + 1, history), now)
            if decision.stop:
                return now, decision
            now = round(now + self.step, 10)


def test_paper_rule_stops_at_the_cutoff_inside_the_model():
    policy = make_policy("paper", mu=1.0)
    early = policy.decide(view_for(GC, {0: 1.0, 1: 1.1}), 1.5)
    assert not early.stop and early.wake_at_s == 2.0
    stop = policy.decide(view_for(GC, {0: 1.0, 1: 1.1, 3: 1.2}), 2.0)
    assert stop.stop and stop.stragglers == {2} and stop.cutoff_s == 2.0


def test_paper_rule_waits_for_everyone_outside_the_model():
    policy = make_policy("paper", mu=1.0)
    late = policy.decide(view_for(GC, {0: 1.0, 1: 1.1, 3: 2.5}), 2.6)  # 2 and 3 missed 2.0
    assert not late.stop and "outside the model" in late.flags[0]
    assert policy.decide(view_for(GC, {0: 1.0, 1: 1.1, 2: 2.7, 3: 2.5}), 2.7).stragglers == set()


def test_kofn_and_decodable_by_hand():
    arrivals = {0: 1.0, 1: 1.1}  # group {0, 1} complete, group {2, 3} empty
    assert not make_policy("kofn").decide(view_for(GC, arrivals), 1.1).stop
    assert make_policy("kofn").decide(view_for(GC, {**arrivals, 3: 3.0}), 3.0).stop
    decodable = make_policy("decodable", model=False)
    assert not decodable.decide(view_for(GC, arrivals), 1.1).stop
    assert decodable.decide(view_for(GC, {0: 1.0, 2: 1.2}), 1.2).stragglers == {1, 3}


def test_min_fraction_keeps_collecting():
    policy = make_policy("decodable", model=False, min_fraction=0.75)
    assert not policy.decide(view_for(GC, {0: 1.0, 2: 1.2}), 1.2).stop
    assert policy.decide(view_for(GC, {0: 1.0, 2: 1.2, 1: 1.3}), 1.3).stop


def test_hard_limit_ends_a_round_with_a_flag():
    policy = make_policy("decodable", hard_limit_s=5.0)
    waiting = policy.decide(view_for(GC, {0: 1.0}), 4.9)
    assert not waiting.stop and waiting.wake_at_s == 5.0
    stopped = policy.decide(view_for(GC, {0: 1.0}), 5.0)
    assert stopped.stop and any("hard limit" in f for f in stopped.flags)
    assert any("undecodable" in f for f in stopped.flags)


def test_failed_workers_are_stragglers_with_their_reason():
    view = view_for(GC, {0: 1.0, 2: 1.0, 3: 1.1}, failures={1: "error: boom"})
    decision = make_policy("kofn").decide(view, 1.1)
    assert decision.stop and decision.reasons == {1: "error: boom"}


def test_job_spec_wait_names_the_policy():
    assert policy_from_wait({"mu": 0.5, "hard_limit_s": 30}).describe() == \
        "paper(mu=0.5, hard_limit_s=30.0)"
    assert policy_from_wait({"policy": "decodable", "min_fraction": 0.5}).name == "decodable"


@pytest.mark.parametrize("name,params,message", [
    ("fastest", {}, "policy must be one of"),
    ("paper", {}, "exactly one of mu or deadline_s"),
    ("paper", {"mu": -1}, "mu must be a finite number >= 0"),
    ("decodable", {"min_fraction": 2}, "min_fraction must be a number in [0, 1]"),
    ("kofn", {"tolerance": -1}, "tolerance must be an integer >= 0"),
    ("decodable", {"hard_limit_s": float("inf")}, "hard_limit_s must be a finite number > 0"),
    ("kofn", {"wait": 3}, "policy 'kofn'"),
])
def test_bad_policies_name_the_field(name, params, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_policy(name, **params)


POLICIES = [make_policy("paper", mu=0.5), make_policy("kofn"),
            make_policy("decodable", model=False), make_policy("decodable"),
            make_policy("decodable", model=False, min_fraction=0.6, cap=3.0)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=8, max_size=8), st.integers(0, len(POLICIES) - 1),
       st.sets(st.integers(0, 7), max_size=3))
def test_virtual_clock_matches_a_poller_and_the_policy_is_monotone(ticks, which, last):
    """Same stop time and stragglers as asking at every poll (what Collect does)."""
    scheme = make_scheme("m-sgc", n=8, B=1, W=2, lam=3)
    history = (frozenset(last),) if scheme.model.admits([], frozenset(last)) else ()
    policy = POLICIES[which]
    times = np.array(ticks) / 100
    session_view = lambda arrivals, late=None: view_for(scheme, arrivals, len(history) + 1, history)  # noqa
    end, decision = end_of_round(policy, session_view, np.arange(8), times)
    polled_end, polled = FakeClock(0.01).run(policy, scheme, times, history)
    assert polled_end == pytest.approx(end, abs=0.0100001)
    assert polled.stragglers == decision.stragglers
    later = policy.decide(session_view(
        {w: float(x) for w, x in enumerate(times) if x <= end + 1e-12}), end + 1.0)
    assert later.stop  # monotone: still stops later
