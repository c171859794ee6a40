"""Apply per-region provisioned-concurrency targets to the worker alias, idempotently, and wait
for them to be READY.

One boto3 Lambda client per region. For each region: read the current config; do nothing when
it already asks for the target (and has not FAILED); put the target (> 0) or delete it (0).
Throttling, conflicts and service errors are retried with backoff; a region that still fails
is reported and the other regions go on (the next scheduled run retries it, which is safe
because every call converges to the same state). A target over the account's concurrency quota
is reported as such (``quota``), with what to do. Never touches ``$LATEST``. ``wait_ready``
polls until every region's config is READY (none is usable before: AWS allocates all or
nothing), FAILED, or a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import boto3
from botocore.exceptions import BotoCoreError, ClientError

RETRYABLE = {"ServiceException", "TooManyRequestsException", "ResourceConflictException",
             "ThrottlingException", "EC2ThrottledException", "InternalFailure"}
ABSENT = {"ProvisionedConcurrencyConfigNotFoundException"}
QUOTA_HINTS = ("UnreservedConcurrentExecution", "ConcurrentExecutions", "concurrency limit")
QUOTA_ADVICE = ("exceeds this account's Lambda concurrency in the region (default quota 1,000, "
                "of which 100 always stay unreserved): request an increase (Service Quotas, "
                "AWS Lambda 'Concurrent executions') or lower the job's workers")


@dataclass
class RegionResult:
    region: str
    target: int
    action: str = "noop"  # "put" | "delete" | "noop" | "failed"
    status: str | None = None  # IN_PROGRESS | READY | FAILED (after the action) or None
    attempts: int = 0
    error: str | None = None
    quota: bool = False  # the target is over the account's concurrency quota


@dataclass
class DriverReport:
    results: dict[str, RegionResult] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return sorted(r for r, result in self.results.items() if result.action == "failed")

    def to_dict(self) -> dict:
        return {"failed": self.failed,
                "regions": {r: asdict(result) for r, result in self.results.items()}}


def default_client(region: str):
    """A Lambda client for the region (honours AWS_ENDPOINT_URL, so moto servers work too)."""
    return boto3.client("lambda", region_name=region)


class WarmPoolDriver:
    """Drive the worker alias's provisioned concurrency towards per-region targets."""

    def __init__(self, function_name: str, alias: str,
                 client_factory: Callable[[str], object] | None = None,
                 max_attempts: int = 3, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        if not function_name:
            raise ValueError("function_name: required (the worker function's name or ARN)")
        if not alias or alias == "$LATEST" or ":" in alias:
            raise ValueError(f"alias: must be a published version or alias name, got {alias!r} "
                             "(provisioned concurrency is not allowed on $LATEST)")
        if max_attempts < 1:
            raise ValueError(f"max_attempts: must be >= 1, got {max_attempts}")
        self.function_name, self.alias = function_name, alias
        self.client_factory, self.max_attempts = client_factory, max_attempts
        self.backoff_s, self.sleep = backoff_s, sleep
        self._clients: dict[str, object] = {}

    def client(self, region: str):
        if region not in self._clients:
            factory = self.client_factory or default_client
            self._clients[region] = factory(region)
        return self._clients[region]

    def current(self, region: str) -> tuple[int, str | None]:
        """(requested environments, status) of the alias's config; (0, None) when there is none."""
        try:
            config = self.client(region).get_provisioned_concurrency_config(
                FunctionName=self.function_name, Qualifier=self.alias)
        except ClientError as error:
            if _code(error) in ABSENT:
                return 0, None
            raise
        return int(config["RequestedProvisionedConcurrentExecutions"]), config.get("Status")

    def apply(self, targets: dict[str, int]) -> DriverReport:
        """Converge every region to its target; failures are per region, never global."""
        report = DriverReport()
        for region, target in sorted(targets.items()):
            if not isinstance(target, int) or target < 0:
                raise ValueError(f"targets[{region!r}]: expected an integer >= 0, got {target!r}")
            report.results[region] = self._apply_region(region, target)
        return report

    def _apply_region(self, region: str, target: int) -> RegionResult:
        result = RegionResult(region, target)
        for attempt in range(1, self.max_attempts + 1):
            result.attempts = attempt
            try:
                self._converge(region, target, result)
                result.error = None
                return result
            except ClientError as error:
                result.error = f"{_code(error)}: {error}"
                if _is_quota(error):
                    result.quota = True
                    result.error = f"{region}: {target} provisioned environments {QUOTA_ADVICE} " \
                                   f"({_code(error)}: {_message(error)})"
                if _code(error) not in RETRYABLE:
                    break
            except BotoCoreError as error:  # connection problems: retry
                result.error = f"{type(error).__name__}: {error}"
            if attempt < self.max_attempts:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
        result.action = "failed"
        return result

    def _converge(self, region: str, target: int, result: RegionResult) -> None:
        requested, status = self.current(region)
        client = self.client(region)
        if requested == target and status != "FAILED":
            result.action, result.status = "noop", status
        elif target == 0:
            try:
                client.delete_provisioned_concurrency_config(
                    FunctionName=self.function_name, Qualifier=self.alias)
            except ClientError as error:
                if _code(error) not in ABSENT | {"ResourceNotFoundException"}:
                    raise
            result.action, result.status = "delete", None
        else:
            response = client.put_provisioned_concurrency_config(
                FunctionName=self.function_name, Qualifier=self.alias,
                ProvisionedConcurrentExecutions=target)
            result.action, result.status = "put", response.get("Status")


    def wait_ready(self, targets: dict[str, int], timeout_s: float = 600.0,
                   poll_s: float = 10.0, clock: Callable[[], float] = time.monotonic
                   ) -> dict[str, str]:
        """Poll until every region with a target > 0 is READY at that target; returns each
        region's last status. Raises ``NotReady`` naming the regions that FAILED or were
        still allocating after ``timeout_s``."""
        pending = {r: t for r, t in targets.items() if t > 0}
        statuses: dict[str, str] = {}
        deadline = clock() + timeout_s
        while True:
            for region, target in list(pending.items()):
                requested, status = self.current(region)
                statuses[region] = status or "absent"
                if status == "READY" and requested >= target:
                    del pending[region]
                elif status == "FAILED":
                    raise NotReady(f"{region}: provisioned concurrency FAILED (see "
                                   "get_provisioned_concurrency_config's StatusReason)")
            if not pending:
                return statuses
            if clock() >= deadline:
                waiting = ", ".join(f"{r} ({statuses[r]})" for r in sorted(pending))
                raise NotReady(f"not READY after {timeout_s:g} s: {waiting}")
            self.sleep(poll_s)


class NotReady(RuntimeError):
    """Provisioned concurrency did not become READY (the message names the regions)."""


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "")


def _is_quota(error: ClientError) -> bool:
    text = f"{_code(error)} {_message(error)}"
    return _code(error) in ("InvalidParameterValueException", "LimitExceededException") and \
        any(hint.lower() in text.lower() for hint in QUOTA_HINTS)
