"""Batched rounds: the layout keeps every model's iterations apart, and every gradient of a batch
decodes exactly (coordinator/schemes/batching.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.schemes import make_scheme
from coordinator.schemes.batching import BatchedSession, Layout, batch_target, batched
from coordinator.schemes.gradient_check import replay


def sizes(layout: Layout) -> list[int]:
    return [len(layout.real_jobs(g)) for g in range(1, layout.batches + 1)]


def assert_dependencies_hold(layout: Layout, deadlines: dict[int, int]) -> None:
    """Job j starts only in a round after job j - M's deadline (one batch per round)."""
    for job in range(layout.models + 1, layout.jobs + 1):
        before = layout.batch_of(job - layout.models)
        assert deadlines[before] < layout.batch_of(job), (job, sizes(layout))


def test_targets_split_the_models_into_T_plus_1_groups():
    assert [batch_target(4, T) for T in (0, 1, 2, 3, 4)] == [4, 2, 1, 1, 0]
    layout = Layout(12, 4)
    assert layout.replan(1, 0, 4) == 3 and sizes(layout) == [4, 4, 4]
    layout = Layout(12, 4)
    assert layout.replan(1, 1, 2) == 6 and sizes(layout) == [2] * 6


def test_a_switch_from_delay_1_to_0_passes_through_a_half_batch():
    layout = Layout(16, 4)
    layout.replan(1, 1, 2)  # batches of 2, deadline a round later
    layout.replan(3, 0, 4)  # from the third batch: all four models, if the rule allows
    assert sizes(layout) == [2, 2, 2, 4, 4, 2]
    deadlines = {g: g + (1 if g < 3 else 0) for g in range(1, layout.batches + 1)}
    assert_dependencies_hold(layout, deadlines)


@settings(max_examples=80, deadline=None)
@given(models=st.integers(1, 6), jobs=st.integers(1, 40),
       segments=st.lists(st.tuples(st.integers(1, 8), st.integers(0, 1)), min_size=1,
                         max_size=5))
def test_any_sequence_of_delays_keeps_every_models_iterations_apart(models, jobs, segments):
    """sgcflow switches between delay 0 and 1 at any batch: the greedy layout never lets a
    model's next gradient start before its last one's deadline, and never stalls."""
    layout = Layout(jobs, models)
    T_of: dict[int, int] = {}
    start = 1
    for length, T in segments:
        target = batch_target(models, T)
        if target < 1 or (start > 1 and start > layout.batches):
            continue
        count = layout.replan(start, T, target)
        T_of.update(dict.fromkeys(range(start, start + count), T))
        start += min(length, count)
    if not T_of:
        return
    deadlines = {g: g + T_of[g] for g in range(1, layout.batches + 1)}
    assert sum(sizes(layout)) == jobs
    assert_dependencies_hold(layout, deadlines)


@pytest.mark.parametrize("name,params,models", [
    ("gc", {"s": 3}, 2), ("gc", {"s": 7}, 4), ("m-sgc", {"B": 1, "W": 2, "lam": 3}, 2),
    ("m-sgc", {"B": 1, "W": 2, "lam": 3}, 4), ("sr-sgc", {"B": 1, "W": 2, "lam": 2}, 4)])
def test_every_gradient_of_a_batch_decodes_exactly(name, params, models):
    scheme = make_scheme(name, n=8, **params)
    session = batched(scheme, 12, models)
    assert isinstance(session, BatchedSession)
    rng = np.random.default_rng(1)
    pattern = scheme.model.random_pattern(session.rounds, rng, rate=0.7) \
        if scheme.name != "gc" else [frozenset(rng.choice(8, scheme.s, replace=False).tolist())
                                     for _ in range(session.rounds)]
    outcome = replay(session, pattern, rng, dim=4)
    assert outcome.late == {}
    assert sorted(outcome.decoded_round) == list(range(1, 13))
    assert outcome.max_error < 1e-9


def test_a_batch_costs_its_workers_b_times_the_load_and_tasks_name_real_jobs():
    scheme = make_scheme("gc", n=4, s=1)
    session = batched(scheme, 4, models=2)
    assert session.rounds == 2
    assert session.worker_loads(1) == pytest.approx([2 * 2 / 4] * 4)
    assert sorted(session.tasks(1)[0]) == [1, 2]
    assert session.tasks(1)[0][1] == session.tasks(1)[0][2]  # same coefficients, two models
    session.observe(1, {3})
    assert sorted(session.tasks(2)[0]) == [3, 4]
    assert sorted(session.decoded(1)) == [1, 2]
    assert all(key[2] == job for job, weights in session.decoded(1).items() for key in weights)


def test_a_scheme_whose_delay_exceeds_the_models_is_refused_by_name():
    with pytest.raises(ValueError, match=r"sr-sgc\(B=2, W=3, lam=2\) has delay T=2: it needs "
                                         r"at least T \+ 1 = 3 models in flight, got models=2"):
        batched(make_scheme("sr-sgc", n=8, B=2, W=3, lam=2), 10, 2)


@settings(max_examples=25, deadline=None)
@given(scheme=st.sampled_from([("gc", {"s": 2}), ("sr-sgc", {"B": 1, "W": 2, "lam": 3}),
                               ("m-sgc", {"B": 1, "W": 2, "lam": 4}), ("uncoded", {})]),
       models=st.integers(1, 4), seed=st.integers(0, 10_000))
def test_worker_loads_are_the_tasks_partitions_share(scheme, models, seed):
    """``worker_loads`` (read off the plan) equals the share of the partitions each worker's
    ``tasks`` name, every round, whatever the stragglers: a batched task names each real job
    of its batch, so its partitions count once per gradient."""
    name, params = scheme
    code = make_scheme(name, n=6, **params)
    if models < code.T + 1:
        return
    session = batched(code, 8, models) if models > 1 else code.session(8)
    inner = session.inner if isinstance(session, BatchedSession) else session
    rng = np.random.default_rng(seed)
    for t in range(1, session.rounds + 1):
        want = [sum(inner.partition_sizes[p] for task in tasks.values() for p in task)
                for tasks in session.tasks(t)]
        assert session.worker_loads(t) == pytest.approx(want)
        session.observe(t, set(rng.choice(6, size=int(rng.integers(0, 2)), replace=False)
                               .tolist()))
