"""A job's notice: --start-at parsed and bounded, the scheduled record and its published plan,
and `sgc submit --start-at` on a stack (moto) and on a bad time (no traceback)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from coordinator.warmpool import notice

NOW = 1_796_000_000.0  # 2026-11-30T...Z


@pytest.mark.parametrize("text, start", [
    ("+15m", NOW + 900), ("+2h", NOW + 7200), ("+1d", NOW + 86400), ("+90s", NOW + 90),
    ("+1h30m", NOW + 5400), ("2026-11-30T10:00:00Z", 1_796_032_800.0),
    ("2026-11-30T11:00:00+01:00", 1_796_032_800.0)])
def test_offsets_and_iso_times_with_a_zone(text, start):
    assert notice.parse_start_at(text, NOW) == start


@pytest.mark.parametrize("text, reason", [
    ("tomorrow", "is not a time; use ISO 8601 with a timezone"),
    ("2026-11-30T10:00:00", "has no timezone"),
    ("+", "is not a time"),
    ("+8d", "is more than 7 days ahead"),
    ("2026-11-29T10:00:00Z", "in the past (at most 60 s allowed)")])
def test_a_bad_time_names_the_option_and_the_formats(text, reason):
    with pytest.raises(notice.NoticeError) as error:
        notice.parse_start_at(text, NOW)
    assert error.value.where == "--start-at" and reason in error.value.reason


def test_a_start_seconds_ago_is_now_and_a_spec_time_is_checked_too():
    assert notice.check_start(NOW - 30, NOW) == NOW
    assert notice.start_of({"start_at": NOW + 60}, None, NOW) == NOW + 60
    assert notice.start_of({}, None, NOW) is None
    with pytest.raises(notice.NoticeError, match="^start_at: "):
        notice.start_of({"start_at": NOW - 3600}, None, NOW)


def test_schedule_records_the_job_and_publishes_its_notice(moto_store):
    spec = {"workers": 64, "iterations": 10, "start_at": NOW + 900}
    published = notice.schedule(moto_store, "run-1", spec, 8, NOW, "aws")
    record = moto_store.job("run-1")
    assert (record["status"], float(record["start_at"])) == ("scheduled", NOW + 900)
    assert moto_store.get_json("warmpool/plans/run-1.json") == published == {
        "job_id": "run-1", "spec": spec, "start_s": NOW + 900, "submit_s": NOW,
        "spare_environments": 8}
    with pytest.raises(ValueError, match="already exists"):
        notice.schedule(moto_store, "run-1", spec, 8, NOW, "aws")


def test_wait_until_sleeps_to_the_start():
    clock = iter([NOW, NOW, NOW + 30, NOW + 60, NOW + 61])
    slept, said = [], []
    notice.wait_until(NOW + 60, said.append, lambda: next(clock), slept.append)
    assert slept == [30.0, 30.0] and "waiting 60 s" in said[0]


SPEC = {"dataset": {"name": "synthetic", "rows": 256, "features": 6, "classes": 3},
        "models": [{"kind": "softmax", "lr": 0.5}, {"kind": "softmax", "lr": 0.3}],
        "iterations": 2, "workers": 4, "wait": {"deadline_s": 2.0},
        "stragglers": {"model": "none"}}


def _submit(tmp_path, *arguments):
    from coordinator.cli.jobs import submit

    path = tmp_path / "job.json"
    path.write_text(json.dumps(SPEC))
    return CliRunner().invoke(submit, [str(path), *arguments])


@pytest.mark.parametrize("value, message", [
    ("next week", "Invalid value for --start-at: 'next week' is not a time; use ISO 8601"),
    ("+30d", "is more than 7 days ahead"),
    ("2020-01-01T00:00:00Z", "s in the past")])
def test_submit_refuses_a_bad_start_without_a_traceback(tmp_path, value, message):
    result = _submit(tmp_path, "--start-at", value)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_submit_with_notice_on_a_stack_is_scheduled_not_started(tmp_path, moto_store,
                                                                monkeypatch):
    from coordinator.backends.base import Backend
    from coordinator.cli import jobs

    backend = Backend("aws", moto_store, sfn=None, state_machine_arn="arn:unused")
    monkeypatch.setattr(jobs.stack, "backend", lambda *args: backend)
    result = _submit(tmp_path, "--start-at", "+15m")
    assert result.exit_code == 0, result.output
    run_id = result.output.strip()
    record = moto_store.job(run_id)
    assert record["status"] == "scheduled" and "execution_arn" not in record
    plan = moto_store.get_json(f"warmpool/plans/{run_id}.json")
    assert plan["start_s"] - plan["submit_s"] == pytest.approx(900, abs=5)
    assert plan["spare_environments"] == 1 and plan["spec"]["workers"] == 4
