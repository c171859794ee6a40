"""The provisioned-concurrency driver and the scheduled handler against moto (+ the shim)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from coordinator.warmpool.driver import WarmPoolDriver
from coordinator.warmpool.moto_shim import ProvisionedConcurrencyShim


@pytest.fixture
def shim(lambda_alias):
    return ProvisionedConcurrencyShim()


@pytest.fixture
def driver(shim):
    return WarmPoolDriver("sgc-worker", "live", max_attempts=3, sleep=lambda _: None,
                          client_factory=lambda r: shim.attach(boto3.client("lambda",
                                                                            region_name=r)))


def test_moto_itself_does_not_implement_provisioned_concurrency(lambda_alias):
    client = boto3.client("lambda", region_name="us-east-1")
    with pytest.raises(ClientError) as error:
        client.get_provisioned_concurrency_config(FunctionName="sgc-worker", Qualifier="live")
    # if this starts failing, moto implements it: drop the shim from these tests
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Not yet implemented" in str(error.value)


def test_put_get_delete_and_idempotence(driver, shim):
    first = driver.apply({"us-east-1": 256, "eu-west-2": 16})
    assert {r: (x.action, x.status) for r, x in first.results.items()} == {
        "us-east-1": ("put", "IN_PROGRESS"), "eu-west-2": ("put", "IN_PROGRESS")}
    assert driver.current("us-east-1") == (256, "READY")
    puts = sum(op == "PutProvisionedConcurrencyConfig" for _, op in shim.calls)
    again = driver.apply({"us-east-1": 256, "eu-west-2": 16})
    assert {r: x.action for r, x in again.results.items()} == {"us-east-1": "noop",
                                                               "eu-west-2": "noop"}
    assert sum(op == "PutProvisionedConcurrencyConfig" for _, op in shim.calls) == puts
    resized = driver.apply({"us-east-1": 300})
    assert resized.results["us-east-1"].action == "put"
    assert driver.current("us-east-1")[0] == 300
    released = driver.apply({"us-east-1": 0, "eu-west-2": 0})
    assert {r: x.action for r, x in released.results.items()} == {"us-east-1": "delete",
                                                                  "eu-west-2": "delete"}
    assert driver.current("us-east-1") == (0, None) and shim.configs == {}
    assert driver.apply({"us-east-1": 0}).results["us-east-1"].action == "noop"


def test_a_failing_region_is_retried_reported_and_the_others_go_on(driver, shim):
    shim.fail["eu-west-2"] = ["ServiceException"] * 3
    report = driver.apply({"us-east-1": 8, "eu-west-2": 8})
    assert report.failed == ["eu-west-2"]
    assert report.results["eu-west-2"].attempts == 3
    assert "ServiceException" in report.results["eu-west-2"].error
    assert report.results["us-east-1"].action == "put"
    # the next run retries it and converges
    report = driver.apply({"us-east-1": 8, "eu-west-2": 8})
    assert report.failed == [] and report.results["eu-west-2"].action == "put"
    assert report.results["us-east-1"].action == "noop"


def test_throttling_once_is_absorbed_by_the_retry(driver, shim):
    shim.fail["us-east-1"] = ["TooManyRequestsException"]
    result = driver.apply({"us-east-1": 4}).results["us-east-1"]
    assert (result.action, result.attempts, result.error) == ("put", 2, None)


def test_a_missing_alias_fails_without_retrying(shim):
    driver = WarmPoolDriver("sgc-worker", "blue", sleep=lambda _: None,
                            client_factory=lambda r: shim.attach(boto3.client(
                                "lambda", region_name=r)))
    result = driver.apply({"us-east-1": 4}).results["us-east-1"]
    assert (result.action, result.attempts) == ("failed", 1)
    assert "ResourceNotFoundException" in result.error


def test_latest_is_refused_by_the_driver_and_the_shim(shim):
    with pytest.raises(ValueError, match=r"alias.*\$LATEST"):
        WarmPoolDriver("sgc-worker", "$LATEST")
    client = shim.attach(boto3.client("lambda", region_name="us-east-1"))
    with pytest.raises(ClientError, match="InvalidParameterValueException"):
        client.put_provisioned_concurrency_config(FunctionName="sgc-worker",
                                                  Qualifier="$LATEST",
                                                  ProvisionedConcurrentExecutions=1)
    client.put_provisioned_concurrency_config(FunctionName="sgc-worker", Qualifier="1",
                                              ProvisionedConcurrentExecutions=1)  # a version


def test_bad_targets_are_refused(driver):
    with pytest.raises(ValueError, match=r"targets\['us-east-1'\]"):
        driver.apply({"us-east-1": -1})


def test_scheduled_handler_applies_the_plans(driver, monkeypatch):
    from functions.warmpool_handler import handler

    monkeypatch.setenv("SGC_WARMPOOL_REGIONS", "us-east-1,eu-west-2")
    jobs = [{"job_id": "a", "start_s": 1000.0, "submit_s": 0.0,
             "spec": {"iterations": 1000, "regions": ["us-east-1"]}}]
    result = handler({"jobs": jobs, "now_s": 900.0}, None, driver=driver)
    assert result["targets"] == {"us-east-1": 256, "eu-west-2": 0}
    assert result["failed"] == []
    assert driver.current("us-east-1")[0] == 256
    after = handler({"jobs": jobs, "now_s": 7000.0}, None, driver=driver)
    assert after["regions"]["us-east-1"]["action"] == "delete"


def test_scheduled_handler_reads_plans_from_s3(driver, monkeypatch):
    import json

    from functions.warmpool_handler import handler

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="sgcflow-data")
    monkeypatch.setenv("SGC_BUCKET", "sgcflow-data")
    monkeypatch.setenv("SGC_WARMPOOL_REGIONS", "us-east-1")
    assert handler({"now_s": 0.0}, None, driver=driver)["targets"] == {"us-east-1": 0}
    jobs = [{"job_id": "a", "start_s": 1000.0, "submit_s": 0.0, "spec": {"iterations": 1000}}]
    s3.put_object(Bucket="sgcflow-data", Key="warmpool/plans/a.json", Body=json.dumps(jobs[0]))
    assert handler({"now_s": 900.0}, None, driver=driver)["targets"] == {"us-east-1": 256}


def test_handler_without_a_worker_function_names_the_variable(monkeypatch):
    from functions.warmpool_handler import handler

    monkeypatch.delenv("SGC_WORKER_FUNCTION", raising=False)
    with pytest.raises(ValueError, match="SGC_WORKER_FUNCTION"):
        handler({"jobs": [], "now_s": 0.0})


def test_handler_builds_its_driver_from_the_environment(lambda_alias, monkeypatch):
    from functions import warmpool_handler as module

    monkeypatch.setenv("SGC_WORKER_FUNCTION", "sgc-worker")
    monkeypatch.setenv("SGC_WORKER_ALIAS", "live")
    monkeypatch.setenv("SGC_WARMPOOL_REGIONS", "us-east-1")
    shim = ProvisionedConcurrencyShim()
    monkeypatch.setattr("coordinator.warmpool.driver.default_client",
                        lambda r: shim.attach(boto3.client("lambda", region_name=r)))
    jobs = [{"job_id": "a", "start_s": 1000.0, "submit_s": 0.0, "spec": {"iterations": 1000}}]
    result = module.handler({"jobs": jobs, "now_s": 900.0})
    assert result["targets"] == {"us-east-1": 256} and result["failed"] == []
    assert shim.configs[("us-east-1", "sgc-worker", "live")][
        "RequestedProvisionedConcurrentExecutions"] == 256


def test_wait_ready_polls_until_ready_and_names_what_never_was(shim, driver):
    shim.ready_after_reads = 3
    driver.apply({"us-east-1": 16})
    assert driver.wait_ready({"us-east-1": 16, "eu-west-2": 0}) == {"us-east-1": "READY"}
    shim.ready_after_reads = 10**6
    driver.apply({"eu-west-2": 8})
    clock = iter(range(0, 10_000, 100))  # virtual seconds: nothing sleeps
    virtual_limit_s = 300
    with pytest.raises(Exception, match=r"not READY after 300 s: eu-west-2 \(IN_PROGRESS\)"):
        driver.wait_ready({"eu-west-2": 8}, timeout_s=virtual_limit_s, poll_s=100,
                          clock=lambda: next(clock))


def test_a_target_over_the_account_quota_is_reported_as_such(driver):
    result = driver.apply({"us-east-1": 950}).results["us-east-1"]
    assert result.action == "failed" and result.quota and result.attempts == 1
    assert "950 provisioned environments exceeds this account's Lambda concurrency" in \
        result.error and "Service Quotas" in result.error


def test_pings_are_sent_concurrently_as_events_to_the_alias():
    from coordinator.warmpool import pings

    class Client:
        calls: list = []

        def invoke(self, **kwargs):
            self.calls.append(kwargs)
            return {"StatusCode": 202}

    client = Client()
    assert pings.send(client, "sgc-worker", "live", 40, "run-1", hold_s=5.0) == 40
    assert len(client.calls) == 40 and {c["InvocationType"] for c in client.calls} == {"Event"}
    assert json.loads(client.calls[0]["Payload"]) == {"warm": {"job_id": "run-1",
                                                               "hold_s": 5.0}}
    assert client.calls[0]["Qualifier"] == "live" and pings.send(client, "f", "live", 0, "r") == 0


def _plan_cli(*arguments):
    from click.testing import CliRunner

    from coordinator.cli.warmpool import warmpool

    return CliRunner().invoke(warmpool, ["plan", *arguments])


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"iterations": 3000, "workers": 200, "region": "us-east-1",
                                "scheme": {"name": "gc", "s": 2}}))
    return path


def test_plan_apply_sets_the_alias_and_waits_for_ready(spec_file, shim, monkeypatch):
    shim.ready_after_reads = 2
    monkeypatch.setattr("coordinator.warmpool.apply.default_client",
                        lambda r: shim.attach(boto3.client("lambda", region_name=r)))
    result = _plan_cli(str(spec_file), "--apply", "--function", "sgc-worker", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    (plan,) = payload["plans"]
    assert plan["mode"] == "provisioned" and plan["spare"] == 25
    assert payload["applied"] == [{"region": "us-east-1", "mode": "provisioned",
                                   "environments": 225, "status": "READY"}]
    assert shim.configs[("us-east-1", "sgc-worker", "live")]["Status"] == "READY"


def test_plan_apply_over_the_quota_says_what_to_do(tmp_path, shim, monkeypatch):
    monkeypatch.setattr("coordinator.warmpool.apply.default_client",
                        lambda r: shim.attach(boto3.client("lambda", region_name=r)))
    # another function's 100 provisioned environments already hold part of the region's 900
    shim.attach(boto3.client("lambda", region_name="us-east-1")).put_provisioned_concurrency_config(
        FunctionName="sgc-worker", Qualifier="1", ProvisionedConcurrentExecutions=100)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"iterations": 3000, "workers": 880, "region": "us-east-1"}))
    result = _plan_cli(str(path), "--apply", "--function", "sgc-worker")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--apply: us-east-1: 900 provisioned environments exceeds this account's" in \
        result.output and "Service Quotas" in result.output


def test_plan_names_a_bad_prices_file(spec_file, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text('{"us-east-1": {"on_demand_gb_s": "cheap"}}')
    result = _plan_cli(str(spec_file), "--prices", str(prices))
    assert result.exit_code == 2 and "--prices.us-east-1.on_demand_gb_s" in result.output
