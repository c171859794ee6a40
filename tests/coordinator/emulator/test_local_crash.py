"""The local emulator survives a crash (its journaled state restored, interrupted jobs marked),
dead executions show as failed with their error, and cancel and result agree."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from coordinator_e2e_helpers import free_port, make_spec
from timeouts import scaled, wait_for

from coordinator.backends.outcome import NoResult, job_result
from coordinator.emulator.core import ACCOUNT, REGION
from coordinator.emulator.journal import Journal
from coordinator.emulator.persist import DataDir, mark_interrupted, restore
from coordinator.spec.jobspec import validate
from coordinator.storage.state import Store


def _wipe(store: Store) -> None:
    pages = store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    for page in pages:
        for item in page.get("Contents", []):
            store.s3.delete_object(Bucket=store.bucket, Key=item["Key"])
    for item in store.ddb.scan(TableName=store.table)["Items"]:
        store.ddb.delete_item(TableName=store.table, Key={"pk": item["pk"], "sk": item["sk"]})


def test_restore_brings_back_the_last_state_and_marks_interrupted_jobs(emulator, tmp_path):
    store = Store()
    journal = Journal(DataDir(tmp_path / "data"), store.bucket, store.table, account=ACCOUNT,
                      region=REGION).attach()
    try:
        store.create_job("crash-a", {"status": "running", "created": 1.0, "round": 3})
        store.create_job("crash-b", {"status": "cancelling", "created": 2.0, "round": 1})
        store.create_job("crash-c", {"status": "running", "created": 3.0, "round": 8})
        store.update_job("crash-c", {"status": "done", "round": 9, "result": {"loss": 0.25}})
        store.put_json("runs/crash-a/x.json", {"v": 1})
        store.put_json("runs/crash-a/gone.json", {"v": 0})
        store.put_json("runs/crash-a/x.json", {"v": 2})
        store.s3.delete_object(Bucket=store.bucket, Key="runs/crash-a/gone.json")
        shutil.copytree(tmp_path / "data", tmp_path / "killed")  # the files kill -9 leaves
    finally:
        journal.detach()
    _wipe(store)
    restored = restore(DataDir(tmp_path / "killed"), store)
    assert restored["objects"] >= 1 and restored["items"] >= 6
    assert store.get_json("runs/crash-a/x.json") == {"v": 2}
    assert not store.exists("runs/crash-a/gone.json")
    assert store.job("crash-c")["status"] == "done"  # finished stays finished
    assert store.job("crash-c")["result"] == {"loss": 0.25}
    assert mark_interrupted(store) == {"crash-a": "failed", "crash-b": "cancelled"}
    assert store.job("crash-a")["error"]["type"] == "EmulatorRestarted"
    assert "sgc resume crash-a --local" in store.job("crash-a")["error"]["message"]
    assert restore(DataDir(tmp_path / "nothing"), store) is None


def test_a_job_whose_execution_is_gone_shows_failed_with_the_reason(backend):
    backend.store.create_job("lost-1", {"status": "running", "created": 1.0, "round": 2,
                                        "execution_arn": "arn:aws:states:us-east-1:"
                                        "123456789012:execution:sgcflow-job:lost-1-x001"})
    record = backend.refresh("lost-1")
    assert record["status"] == "failed"
    assert record["error"]["type"] == "ExecutionLost"
    assert backend.store.job("lost-1")["status"] == "failed"
    with pytest.raises(NoResult, match="lost-1 is failed"):
        job_result(backend.store, "lost-1", record)


def test_cancel_now_then_result_names_only_objects_that_exist(emulator, backend):
    run_id = backend.submit(validate(make_spec(iterations=4)))
    wait_for(lambda: backend.store.job(run_id).get("round", 0) >= 3, 120, "round 3 committed",
               poll_s=0.05)
    backend.kill(run_id)
    assert backend.cancel(run_id) == "cancelled"
    result = job_result(backend.store, run_id, backend.refresh(run_id))
    assert result["status"] == "cancelled"
    assert result["partial"] is True  # Finalize never ran: summarized from the round log
    for model in result["models"]:
        assert backend.store.exists(model["final_params_key"])
        assert 0 <= model["final_iteration"] < 4


@pytest.mark.slow
def test_kill_9_of_the_server_then_up_restores_and_resume_finishes(tmp_path):
    port = free_port()
    env = {**os.environ, "SGC_LOCAL_STATE": str(tmp_path / "local.json")}
    # long enough (121 rounds) that the kill lands mid-job: a round takes a fraction of a second
    spec = make_spec(iterations=60, stragglers={"model": "none"})
    (tmp_path / "job.json").write_text(json.dumps(spec))

    def sgc(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-c", "from coordinator.cli import main; main()",
                               *args], env=env, capture_output=True, text=True,
                              timeout=scaled(240), cwd=Path(__file__).parents[3])
        assert (done.returncode == 0) == ok, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        return done

    def gone(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    # the server compiles the kernels before it is ready: minutes on a cold, loaded machine
    sgc("local", "up", "--port", str(port), "--timeout", f"{min(3600, scaled(120)):.0f}")
    try:
        run_id = sgc("submit", str(tmp_path / "job.json"), "--local").stdout.strip()
        wait_for(lambda: json.loads(sgc("status", run_id, "--local", "--json").stdout)[
            "round"] >= 4, 120, "round 4 committed", poll_s=0.5)
        reached = time.time()
        meta = tmp_path / "local-data" / "meta.json"
        # a snapshot that holds round 4 (they take longer on a busy box)
        wait_for(lambda: meta.exists() and json.loads(meta.read_text())["saved_at"] >= reached,
                   60, "a snapshot after round 4", poll_s=0.25)
        pid = json.loads((tmp_path / "local.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: gone(pid), 10, f"the killed server (pid {pid}) gone")
        down = sgc("status", run_id, "--local", ok=False)
        assert "crashed or was killed" in down.stderr and "sgc local up" in down.stderr
        up = sgc("local", "up", "--port", str(port), "--timeout",
                 f"{min(3600, scaled(120)):.0f}").stdout
        assert f"job {run_id} was running" in up
        status = json.loads(sgc("status", run_id, "--local", "--json").stdout)
        assert status["status"] == "failed"
        assert status["error"]["type"] == "EmulatorRestarted"
        assert status["round"] >= 3
        sgc("resume", run_id, "--local", "--watch")
        result = json.loads(sgc("result", run_id, "--local", "--json").stdout)
        assert result["status"] == "done"
        assert [m["final_iteration"] for m in result["models"]] == [60, 60]
    finally:
        sgc("local", "down")
