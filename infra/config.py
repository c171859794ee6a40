"""Deployment settings: read from CDK context (`-c key=value` or cdk.json), validated, one home.

Names and sizes shared with the emulator (function names, default memory, timeouts) come from
``coordinator.workflow.resources`` so the cloud and the local backend cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.contract import env
from coordinator.workflow import resources
from coordinator.workflow.definition import STEP_BUDGET

ARCHITECTURES = ("x86_64", "arm64")
BUNDLE_MODES = ("auto", "full", "source")
# How the Round step reaches the workers (coordinator/control/rounds.py fanout_mode): ``auto``
# relays through sqrt(n) worker invocations from RELAY_FROM workers on (docs/critical-path.md).
FANOUT_MODES = env.FANOUT_MODES
# Retention periods CloudWatch Logs accepts (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)
ROOT = Path(__file__).resolve().parent.parent
WORKER_ALIAS = "live"
NUMBA_CACHE_DIR = "/tmp/numba-cache"
# Env var names the functions read (docs/contracts.md, "Environment variables").
ENV_BUCKET = "SGC_BUCKET"
ENV_TABLE = "SGC_TABLE"
ENV_NUMBA_CACHE = "NUMBA_CACHE_DIR"
ENV_WORKER_FUNCTION = "SGC_WORKER_FUNCTION"
ENV_WORKER_ALIAS = "SGC_WORKER_ALIAS"
ENV_WARMPOOL_PLANS_PREFIX = "SGC_WARMPOOL_PLANS_PREFIX"
ENV_WARMPOOL_REGIONS = "SGC_WARMPOOL_REGIONS"
ENV_STATE_MACHINE = "SGC_STATE_MACHINE"  # the warm-pool manager starts jobs submitted with notice
ENV_FANOUT = env.FANOUT


@dataclass(frozen=True)
class InfraConfig:
    """Everything the stacks vary on; defaults give the 256-worker deployment."""

    regions: tuple[str, ...] = ("us-east-1",)
    workers: int = 256
    worker_memory_mb: int = resources.WORKER_MEMORY_MB
    worker_timeout_s: int = resources.WORKER_TIMEOUT_S
    step_memory_mb: int = resources.STEP_MEMORY_MB
    architecture: str = "x86_64"
    bundle: str = "auto"
    fanout: str = "auto"
    provisioned: int = 0
    log_retention_days: int = 30
    results_expire_days: int = 14
    warm_pool_minutes: int = 1  # the manager's tick (docs/coldstart.md: lead times assume 1)
    # Lambda steps per execution before continue-as-new (a lower one exercises it in tests).
    step_budget: int = STEP_BUDGET
    alarm_email: str = ""
    account: str | None = None

    def __post_init__(self) -> None:
        if not self.regions or any(not r or r.strip() != r for r in self.regions):
            raise ValueError(f"regions: need one or more names like us-east-1, got {self.regions}")
        _check_range("workers", self.workers, 1, 1000)
        _check_range("worker_memory_mb", self.worker_memory_mb, 128, 10240)
        _check_range("worker_timeout_s", self.worker_timeout_s, 1, 900)
        _check_range("step_memory_mb", self.step_memory_mb, 128, 10240)
        _check_range("provisioned", self.provisioned, 0, self.workers)
        _check_range("results_expire_days", self.results_expire_days, 1, 3650)
        _check_range("warm_pool_minutes", self.warm_pool_minutes, 1, 1440)
        # >= 4: an execution must get through one round; ~6 history events per step < 25,000.
        _check_range("step_budget", self.step_budget, 4, 4000)
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        _check_choice("bundle", self.bundle, BUNDLE_MODES)
        _check_choice("fanout", self.fanout, FANOUT_MODES)
        _check_choice("log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        if self.alarm_email and "@" not in self.alarm_email:
            raise ValueError(f"alarm_email: expected an e-mail address, got {self.alarm_email!r}")

    @property
    def relays(self) -> bool:
        """Whether worker invocations may relay (invoke the worker function themselves)."""
        return self.fanout != "flat"

    @classmethod
    def from_context(cls, get: Callable[[str], Any], account: str | None = None) -> InfraConfig:
        """Build from a context getter (``app.node.try_get_context``); strings are parsed."""
        defaults = cls()
        values: dict[str, Any] = {"account": account}
        raw_regions = get("regions")
        if raw_regions is not None:
            values["regions"] = _regions(raw_regions)
        for name in ("workers", "worker_memory_mb", "worker_timeout_s", "step_memory_mb",
                     "provisioned", "log_retention_days", "results_expire_days",
                     "warm_pool_minutes", "step_budget"):
            raw = get(name)
            if raw is not None:
                values[name] = _integer(name, raw)
        for name in ("architecture", "bundle", "fanout", "alarm_email"):
            raw = get(name)
            if raw is not None:
                values[name] = str(raw).strip()
        merged = {**defaults.__dict__, **values}
        return cls(**merged)


def _regions(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _integer(name: str, raw: Any) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an integer, got {raw!r}") from None


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name}: must be between {low} and {high}, got {value}")


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: must be one of {list(allowed)}, got {value!r}")


def parse_context_args(argv: Sequence[str]) -> dict[str, str]:
    """``-c key=value`` / ``--context key=value`` pairs of a command line."""
    context: dict[str, str] = {}
    args = list(argv)
    for index, arg in enumerate(args):
        if arg in ("-c", "--context"):
            if index + 1 >= len(args) or "=" not in args[index + 1]:
                raise ValueError(f"{arg}: expected key=value after it, got {args[index + 1:]}")
            key, value = args[index + 1].split("=", 1)
            context[key] = value
    return context


def file_context(root: Path = ROOT) -> dict[str, Any]:
    """The ``context`` block of cdk.json (the CLI passes it itself; direct runs read it here)."""
    path = root / "cdk.json"
    return dict(json.loads(path.read_text()).get("context", {})) if path.is_file() else {}
