"""The worker event's identifiers and numbers are held to their bounds: full-string matches (no
trailing newline), rounds and workers within the job's declared bounds and the key widths, ASCII
digits only for partitions, and a huge value cut short in the error and its record."""

from __future__ import annotations

import pytest
from test_worker import RUN, _event, _expect_error, _prepare

from coordinator.contract import errors, keys, records
from functions import worker

HEX = "ab" * 32


@pytest.mark.parametrize("run", ["r1\n", "run-1\n", "\nrun-1", "run 1", "run-1\r"])
def test_a_run_id_with_a_newline_or_space_is_refused(aws, run):
    _, params = _prepare(aws, k=2)
    event = {**_event(aws, params, 0, {0: 1.0}, jobs=(2,)), "run": run}
    with pytest.raises(errors.EventError) as info:
        worker.handler(event, None)
    assert info.value.field == "run"
    assert not aws.keys("runs/") or all("\n" not in key for key in aws.keys("runs/"))
    assert aws.records() == []  # no completion record under a key with a newline


@pytest.mark.parametrize("changes, field", [
    ({"round": 2**63}, "round"),
    ({"round": keys.MAX_ROUND + 1}, "round"),
    ({"worker": 10**6}, "worker"),
    ({"worker": keys.MAX_WORKER + 1}, "worker"),
    ({"rounds": 5, "round": 6}, "round"),          # past the job's declared rounds
    ({"workers": 4, "worker": 4}, "worker"),       # n = 4: workers 0..3
    ({"rounds": keys.MAX_ROUND + 1}, "rounds"),
    ({"workers": 0}, "workers"),
    ({"workers": True}, "workers"),
])
def test_rounds_and_workers_stay_within_their_bounds(changes, field):
    event = {"run": RUN, "round": 1, "worker": 0, **changes}
    with pytest.raises(errors.EventError) as info:
        worker._identity(event)
    assert info.value.field == field


def test_the_largest_round_and_worker_that_fit_the_keys_are_accepted():
    event = {"run": RUN, "round": keys.MAX_ROUND, "worker": keys.MAX_WORKER}
    assert worker._identity(event) == (RUN, keys.MAX_ROUND, keys.MAX_WORKER)
    assert worker._identity({**event, "rounds": 7, "workers": 4, "round": 7, "worker": 3}) == \
        (RUN, 7, 3)


def test_a_job_past_the_key_width_is_refused(aws):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["job"] = keys.MAX_JOB + 1
    _expect_error(aws, event, errors.EventError, "tasks[0].job")


@pytest.mark.parametrize("partition", ["\u0663", "\u00b2", "\uff11", "01", "100000", " 1",
                                       "1\n", "9" * 5000],
                         ids=["arabic-3", "superscript-2", "fullwidth-1", "leading-zero",
                              "100000", "space", "newline", "5000-digits"])
def test_a_partition_index_is_canonical_ascii_digits(aws, partition):
    _, params = _prepare(aws, k=4)
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["coefficients"] = {partition: 1.0}
    error = _expect_error(aws, event, errors.EventError, "ASCII digits")
    assert error.field.startswith("tasks[0].coefficients[")
    assert len(error.field) <= errors.MAX_FIELD_CHARS


@pytest.mark.parametrize("field, value", [("params_key", "runs/x/params/job-000001.npy\n"),
                                          ("dataset", "datasets/syn\n"),
                                          ("manifest_sha256", HEX + "\n"),
                                          ("params_sha256", HEX + "\n")])
def test_keys_and_digests_with_a_trailing_newline_are_refused(aws, field, value):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    event["tasks"][0][field] = value
    _expect_error(aws, event, errors.EventError, f"tasks[0].{field}")


def test_a_200_kb_value_is_cut_in_the_error_and_its_record(aws):
    _, params = _prepare(aws, k=2)
    event = _event(aws, params, 0, {0: 1.0}, jobs=(2,))
    event["tasks"][0]["model"]["kind"] = "x" * 200_000
    error = _expect_error(aws, event, errors.EventError, "tasks[0].model.kind",
                          "characters, cut", "allowed")  # the tail (what is allowed) stays
    assert len(str(error)) < 1000


def test_the_coordinator_declares_the_jobs_bounds_in_every_event():
    event = records.worker_event(RUN, 3, 1, "b", [], rounds=5, workers=4)
    assert (event["rounds"], event["workers"]) == (5, 4)
    assert set(records.worker_event(RUN, 3, 1, "b", [])) == {"run", "round", "worker", "bucket",
                                                              "tasks"}


@pytest.mark.parametrize("build", [lambda: keys.result_key(RUN, 1, 1, keys.MAX_WORKER + 1),
                                   lambda: keys.result_key(RUN, keys.MAX_ROUND + 1, 1, 0),
                                   lambda: keys.params_key(RUN, 0),
                                   lambda: keys.record_keys(RUN, 1, -1),
                                   lambda: keys.completions_partition(RUN, 2**63)])
def test_a_key_never_takes_a_number_wider_than_its_field(build):
    with pytest.raises(ValueError, match="-digit key field"):
        build()


def test_keys_take_numpy_integers():
    import numpy as np

    assert keys.result_key(RUN, np.int64(2), np.int32(3), np.uint8(4)) == \
        keys.result_key(RUN, 2, 3, 4)
