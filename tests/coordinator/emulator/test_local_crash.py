"""The local emulator survives a crash (its journaled state restored, interrupted jobs marked),
dead executions show as failed with their error, and cancel and result agree."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
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


def _everything(store: Store) -> tuple[dict, list]:
    """Every object's body and every item, as the API shows them."""
    pages = store.s3.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    bodies = {item["Key"]: store.s3.get_object(Bucket=store.bucket, Key=item["Key"])["Body"].read()
              for page in pages for item in page.get("Contents", [])}
    items = store.ddb.scan(TableName=store.table)["Items"]
    return bodies, sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.mark.parametrize("in_process", [None, (ACCOUNT, REGION)], ids=["api", "in-process"])
def test_restore_brings_back_the_last_state_and_marks_interrupted_jobs(emulator, tmp_path,
                                                                       in_process):
    """Through the API (any moto) and straight into this process's backends (the server
    restoring itself): the same objects and items come back."""
    store = Store()
    _wipe(store)  # the module's emulator: start from an empty bucket and table
    journal = Journal(DataDir(tmp_path / "data"), store.bucket, store.table, account=ACCOUNT,
                      region=REGION).attach()
    try:
        store.create_job("crash-a", {"status": "running", "created": 1.0, "round": 3})
        store.record_round("crash-a", 4, "dispatch", {"at": 1.0, "workers": [0, 1]})
        store.record_round("crash-a", 4, "invoked", {"at": 1.5})  # the workers then died
        store.create_job("crash-b", {"status": "cancelling", "created": 2.0, "round": 1})
        store.create_job("crash-c", {"status": "running", "created": 3.0, "round": 8})
        store.update_job("crash-c", {"status": "done", "round": 9, "result": {"loss": 0.25}})
        store.put_json("runs/crash-a/x.json", {"v": 1})
        store.put_json("runs/crash-a/gone.json", {"v": 0})
        store.put_json("runs/crash-a/x.json", {"v": 2})
        store.s3.delete_object(Bucket=store.bucket, Key="runs/crash-a/gone.json")
        shutil.copytree(tmp_path / "data", tmp_path / "killed")  # the files kill -9 leaves
        before = _everything(store)
    finally:
        journal.detach()
    _wipe(store)
    restored = restore(DataDir(tmp_path / "killed"), store, in_process=in_process)
    assert restored["objects"] >= 1 and restored["items"] >= 6
    assert _everything(store) == before
    assert store.get_json("runs/crash-a/x.json") == {"v": 2}
    assert not store.exists("runs/crash-a/gone.json")
    assert store.job("crash-c")["status"] == "done"  # finished stays finished
    assert store.job("crash-c")["result"] == {"loss": 0.25}
    assert mark_interrupted(store) == {"crash-a": "failed", "crash-b": "cancelled"}
    assert store.job("crash-a")["error"]["type"] == "EmulatorRestarted"
    assert "sgc resume crash-a --local" in store.job("crash-a")["error"]["message"]
    assert store.round("crash-a", 4) == {"pk": "job#crash-a", "sk": "round#000004"}  # redone
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


class LocalServer:
    """`sgc` in a subprocess against a `sgc local up` server whose files are under tmp_path."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.port = str(free_port())
        self.env = {**os.environ, "SGC_LOCAL_STATE": str(tmp_path / "local.json")}

    def sgc(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-c", "from coordinator.cli import main; main()",
                               *args], env=self.env, capture_output=True, text=True,
                              timeout=scaled(240), cwd=Path(__file__).parents[3])
        assert (done.returncode == 0) == ok, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        return done

    def up(self) -> str:
        # no --timeout: up waits while the server compiles kernels (minutes on a cold machine)
        return self.sgc("local", "up", "--port", self.port).stdout

    def kill_9(self) -> None:
        pid = json.loads((self.tmp_path / "local.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: _gone(pid), 10, f"the killed server (pid {pid}) gone")

    def status(self, run_id: str) -> dict:
        return json.loads(self.sgc("status", run_id, "--local", "--json").stdout)

    def result(self, run_id: str) -> dict:
        return json.loads(self.sgc("result", run_id, "--local", "--json").stdout)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _params(result: dict) -> list:
    return [(m["final_iteration"], m["final_params_sha256"]) for m in result["models"]]


def _kept(result: dict) -> dict:
    """A result as a restart keeps it: the S3 version ids of restored objects are new."""
    return {**result, "models": [{k: v for k, v in m.items() if k != "final_params_version"}
                                 for m in result["models"]]}


@pytest.mark.slow
def test_kill_9_of_the_server_then_up_restores_and_resume_finishes(tmp_path):
    server = LocalServer(tmp_path)
    # long enough (21 rounds) that the kill lands mid-job, at round 4: a round takes a fraction
    # of a second; a deadline no worker misses on a loaded machine: every run decodes from the
    # same results
    spec = make_spec(iterations=10, stragglers={"model": "none"},
                     wait={"deadline_s": 120.0, "hard_limit_s": 300})
    (tmp_path / "job.json").write_text(json.dumps(spec))
    server.up()
    try:
        run_id = server.sgc("submit", str(tmp_path / "job.json"), "--local").stdout.strip()
        wait_for(lambda: server.status(run_id)["round"] >= 4, 120, "round 4 committed",
                 poll_s=0.5)
        server.kill_9()  # no waiting for a snapshot: every acknowledged change is on disk
        down = server.sgc("status", run_id, "--local", ok=False)
        assert "crashed or was killed" in down.stderr and "sgc local up" in down.stderr
        assert f"job {run_id} was running" in server.up()
        status = server.status(run_id)
        assert status["status"] == "failed"
        assert status["error"]["type"] == "EmulatorRestarted"
        assert status["round"] >= 4
        server.sgc("resume", run_id, "--local", "--watch")
        result = server.result(run_id)
        assert result["status"] == "done"
        assert [m["final_iteration"] for m in result["models"]] == [10, 10]
        whole = server.sgc("submit", str(tmp_path / "job.json"), "--local", "--watch")
        reference = server.result(whole.stdout.splitlines()[0].strip())
        assert _params(result) == _params(reference)  # bitwise the uninterrupted run
    finally:
        server.sgc("local", "down")


@pytest.mark.slow
def test_kill_9_right_after_submit_or_finish_and_down_then_up_lose_nothing(tmp_path):
    server = LocalServer(tmp_path)
    # a deadline no worker misses on a loaded machine: both runs decode from the same results
    spec = make_spec(iterations=6, stragglers={"model": "none"},
                     wait={"deadline_s": 120.0, "hard_limit_s": 300})
    (tmp_path / "job.json").write_text(json.dumps(spec))
    server.up()
    try:
        whole = server.sgc("submit", str(tmp_path / "job.json"), "--local", "--watch")
        whole_id = whole.stdout.splitlines()[0].strip()
        reference = server.result(whole_id)  # the same job, never interrupted
        assert reference["status"] == "done"
        run_id = server.sgc("submit", str(tmp_path / "job.json"), "--local").stdout.strip()
        server.kill_9()  # right after submit
        server.up()
        assert server.status(run_id)["status"] == "failed"  # kept, marked for resume
        assert _kept(server.result(whole_id)) == _kept(reference)  # finished stays finished
        server.sgc("resume", run_id, "--local", "--watch")
        resumed = server.result(run_id)
        assert resumed["status"] == "done"
        stragglers = [[r["stragglers"] for r in json.loads(server.sgc(
            "logs", job, "--local", "--json").stdout)] for job in (whole_id, run_id)]
        assert _params(resumed) == _params(reference), stragglers  # bitwise the uninterrupted
        server.kill_9()  # right after it finished
        server.up()
        assert _kept(server.result(run_id)) == _kept(resumed)
        assert _kept(server.result(whole_id)) == _kept(reference)
        down = json.loads(server.sgc("local", "down", "--timeout", "0", "--json").stdout)
        assert down["stopped"]  # killed at once: as a down past its timeout
        server.up()
        assert _kept(server.result(run_id)) == _kept(resumed)
        assert _kept(server.result(whole_id)) == _kept(reference)
    finally:
        server.sgc("local", "down")
