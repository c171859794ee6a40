"""Late results: a straggler's result that lands in a later round still counts for every job
it serves that is open and within its deadline (coordinator/schemes/session.py)."""

from __future__ import annotations

import numpy as np
import pytest

from coordinator.schemes import make_scheme
from coordinator.schemes.gradient_check import replay
from coordinator.schemes.switching import SwitchingSession

# Worker 0 straggles twice in a row: outside M-SGC(B=1, W=2, lam=1)'s model, so without its
# late result job 1 lacks worker 0's D1 chunk at its deadline (round 2).
PATTERN = [frozenset({0}), frozenset({0}), frozenset()]


def msgc():
    return make_scheme("m-sgc", n=4, B=1, W=2, lam=1)


def test_without_the_late_result_the_job_is_late():
    outcome = replay(msgc().session(2), PATTERN, np.random.default_rng(0))
    assert 1 in outcome.late


def test_the_stragglers_late_result_completes_its_job_exactly_by_the_deadline():
    late = [frozenset(), frozenset({(1, 0)}), frozenset()]
    outcome = replay(msgc().session(2), PATTERN, np.random.default_rng(0), dim=5, late=late)
    assert outcome.late == {}
    assert outcome.decoded_round[1] == 2 and outcome.max_error < 1e-12


def test_the_late_result_is_named_by_the_round_it_was_computed_in():
    session = msgc().session(2)
    session.observe(1, {0})
    session.observe(2, {0}, late=[(1, 0)])
    weights = session.decoded(2)[1]
    assert (1, 0, 1) in weights  # worker 0's round-1 result for job 1
    assert session.late_results(2) == frozenset({(1, 0)})


def test_a_late_result_past_its_jobs_deadline_or_for_a_decoded_job_is_not_useful():
    session = msgc().session(3)
    session.observe(1, {0})
    assert session.useful(2, 1, 0)  # job 1 is open until round 2
    session.observe(2, set(), late=[(1, 0)])
    assert not session.useful(3, 1, 0)  # job 1 decoded (and due)
    gc = make_scheme("gc", n=4, s=1).session(3)
    gc.observe(1, {2})
    assert not gc.useful(2, 1, 2)  # T = 0: job 1's deadline was round 1


def test_would_be_late_counts_the_late_results_landed_so_far():
    session = msgc().session(2)
    session.observe(1, {0})
    assert session.would_be_late(2, {0}) == {1}
    assert session.would_be_late(2, {0}, late=[(1, 0)]) == set()


@pytest.mark.parametrize("late,message", [
    ([(1, 1)], r"late result \(round 1, worker 1\) in round 2: only an earlier round's "
               r"straggler can deliver late"),
    ([(2, 0)], r"late result \(round 2, worker 0\) in round 2"),
])
def test_late_results_that_cannot_be_are_refused(late, message):
    session = msgc().session(3)
    session.observe(1, {0})
    with pytest.raises(ValueError, match=message):
        session.observe(2, set(), late=late)


def test_a_late_result_counts_once_and_re_observing_is_a_no_op_only_if_identical():
    session = msgc().session(3)
    session.observe(1, {0})
    session.observe(2, {0}, late=[(1, 0)])
    session.observe(2, {0}, late=[(1, 0)])  # the same: nothing changes
    with pytest.raises(ValueError, match="already observed"):
        session.observe(2, {0}, late=[])
    with pytest.raises(ValueError, match=r"already counted in round 2"):
        session.observe(3, set(), late=[(1, 0)])


def test_a_switching_session_passes_late_results_to_the_segment_that_ran_the_round():
    session = SwitchingSession(msgc(), 4, min_rounds=5)
    session.observe(1, {0})
    session.switch(3, make_scheme("m-sgc", n=4, B=1, W=2, lam=1))
    session.observe(2, {0}, late=[(1, 0)])
    assert 1 in session.decoded(2)
    assert session.late_results(2) == frozenset({(1, 0)})


def test_a_job_past_its_deadline_does_not_hold_later_rounds():
    """GC(s=1): two stragglers in round 1 leave job 1 late for good. Round 2 waits only for
    what job 2 needs: job 1 is reported late, but no round-2 result could rescue it."""
    session = make_scheme("gc", n=4, s=1).session(3)
    session.observe(1, {0, 1})
    assert 1 in session.late(1)
    assert session.would_be_late(2, {3}) == set()  # job 2 decodes without worker 3
    assert session.would_be_late(2, {2, 3}) == {2}
    session.observe(2, {3})
    assert sorted(session.late(2)) == [1]  # still reported, never decoded
    assert session.weights(1) is None and session.weights(2) is not None
