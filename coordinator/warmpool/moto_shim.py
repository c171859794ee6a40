"""Provisioned-concurrency API for moto clients (moto 5.2 answers 404 "Not yet implemented").

moto stores functions, versions and aliases but has no provisioned-concurrency config. This shim
answers Put/Get/DeleteProvisionedConcurrencyConfig on a boto3 Lambda client (botocore
``before-call`` hook, in-process only) with AWS's documented behaviour, after checking through
moto that the function and qualifier exist: ``$LATEST`` and unknown qualifiers are rejected, a
new config is IN_PROGRESS and becomes READY on the next read (``ready_after_reads``), a missing
config is ProvisionedConcurrencyConfigNotFoundException. ``fail`` injects errors per region.
The account quota is checked as AWS does: every alias's provisioned environments in a region
together must leave ``min_unreserved`` (100) of ``account_limit`` (1,000) unreserved, else
InvalidParameterValueException with AWS's message.
"""

from __future__ import annotations

import datetime as dt

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError


class ProvisionedConcurrencyShim:
    OPERATIONS = ("PutProvisionedConcurrencyConfig", "GetProvisionedConcurrencyConfig",
                  "DeleteProvisionedConcurrencyConfig")

    def __init__(self, ready_after_reads: int = 1, account_limit: int = 1000,
                 min_unreserved: int = 100):
        self.account_limit, self.min_unreserved = account_limit, min_unreserved
        self.configs: dict[tuple[str, str, str], dict] = {}
        self.reads: dict[tuple[str, str, str], int] = {}
        self.fail: dict[str, list[str]] = {}  # region -> error codes to raise, one per call
        self.calls: list[tuple[str, str]] = []  # (region, operation)
        self.ready_after_reads = ready_after_reads

    def attach(self, client):
        """Register the hooks on ``client`` and return it (for use as a client factory)."""
        for operation in self.OPERATIONS:
            client.meta.events.register(f"before-parameter-build.lambda.{operation}",
                                        self._remember)
            client.meta.events.register(f"before-call.lambda.{operation}",
                                        self._answer(client, operation))
        return client

    @staticmethod
    def _remember(params, context, **_):
        context["shim_params"] = dict(params)

    def _answer(self, client, operation):
        def handler(context, **_):
            region = client.meta.region_name
            self.calls.append((region, operation))
            try:
                if self.fail.get(region):
                    code = self.fail[region].pop(0)
                    return _error(500 if code == "ServiceException" else 429, code,
                                  "injected failure")
                return 200, getattr(self, "_" + operation)(client, region,
                                                           context["shim_params"])
            except ClientError as error:
                status = error.response["ResponseMetadata"].get("HTTPStatusCode", 400)
                return _error(status, error.response["Error"]["Code"],
                              error.response["Error"]["Message"])

        def wrapped(context, **kwargs):
            status, body = handler(context, **kwargs)
            return AWSResponse("https://shim", status, {}, None), body

        return wrapped

    def _key(self, client, region: str, params: dict) -> tuple[str, str, str]:
        name, qualifier = params["FunctionName"], params.get("Qualifier", "")
        if qualifier in ("", "$LATEST"):
            raise _client_error(400, "InvalidParameterValueException",
                                "Provisioned concurrency is not supported on $LATEST")
        if qualifier.isdigit():
            versions = client.list_versions_by_function(FunctionName=name)["Versions"]
            if qualifier not in {v["Version"] for v in versions}:
                raise _client_error(404, "ResourceNotFoundException",
                                    f"Function not found: {name}:{qualifier}")
        else:
            client.get_alias(FunctionName=name, Name=qualifier)  # raises ResourceNotFound
        return region, name.split(":")[-1], qualifier

    def _PutProvisionedConcurrencyConfig(self, client, region, params):
        amount = int(params["ProvisionedConcurrentExecutions"])
        if amount < 1:
            raise _client_error(400, "InvalidParameterValueException",
                                "ProvisionedConcurrentExecutions must be >= 1")
        key = self._key(client, region, params)
        others = sum(c["RequestedProvisionedConcurrentExecutions"]
                     for k, c in self.configs.items() if k[0] == region and k != key)
        if others + amount > self.account_limit - self.min_unreserved:
            raise _client_error(400, "InvalidParameterValueException",
                                "Specified ConcurrentExecutions for function decreases "
                                "account's UnreservedConcurrentExecution below its minimum "
                                f"value of [{self.min_unreserved}].")
        now = dt.datetime.now(dt.UTC).isoformat()
        self.configs[key] = {"RequestedProvisionedConcurrentExecutions": amount,
                             "AvailableProvisionedConcurrentExecutions": 0,
                             "AllocatedProvisionedConcurrentExecutions": 0,
                             "Status": "IN_PROGRESS", "LastModified": now}
        self.reads[key] = 0
        return dict(self.configs[key])

    def _GetProvisionedConcurrencyConfig(self, client, region, params):
        key = self._key(client, region, params)
        if key not in self.configs:
            raise _client_error(404, "ProvisionedConcurrencyConfigNotFoundException",
                                "No Provisioned Concurrency Config found for this function")
        self.reads[key] += 1
        config = self.configs[key]
        if config["Status"] == "IN_PROGRESS" and self.reads[key] >= self.ready_after_reads:
            amount = config["RequestedProvisionedConcurrentExecutions"]
            config.update(Status="READY", AvailableProvisionedConcurrentExecutions=amount,
                          AllocatedProvisionedConcurrentExecutions=amount)
        return dict(config)

    def _DeleteProvisionedConcurrencyConfig(self, client, region, params):
        key = self._key(client, region, params)
        if self.configs.pop(key, None) is None:
            raise _client_error(404, "ProvisionedConcurrencyConfigNotFoundException",
                                "No Provisioned Concurrency Config found for this function")
        return {}


def _client_error(status: int, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "shim")


def _error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": status}}
