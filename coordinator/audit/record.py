"""Record every AWS API call a Lambda handler makes (botocore event hooks), for the IAM audit.

Every botocore client created while the recorder is installed gets two hooks:
``before-parameter-build`` (the call's parameters and who makes it) and ``after-call`` (the HTTP
status). ``attribute()`` names the caller: the function whose handler runs in the calling thread
(the emulator's ``current_function``) or, through ``interpreter_caller``, the state machine whose
Task states moto's Step Functions interpreter is running (it invokes the steps with its own
role); calls made by no caller (the CLI, CloudFormation) are not recorded. Each call becomes one
JSON line:
``{"function", "call": "s3.GetObject", "status", "requests": [{action, resource, conditions}]}``.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session

from coordinator.audit.actions import authorizations

_KEY = "sgc_audit"


class CallRecorder:
    """Appends one line per attributed call to ``path`` (thread-safe)."""

    def __init__(self, path: Path, attribute: Callable[[], str | None], account: str):
        self.path, self.attribute, self.account = Path(path), attribute, account
        self._lock = threading.Lock()
        self._original = None

    def install(self) -> None:
        if self._original is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._original = original = botocore.session.Session.create_client
        recorder = self

        def create_client(session, *args: Any, **kwargs: Any):
            return recorder.attach(original(session, *args, **kwargs))

        botocore.session.Session.create_client = create_client

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.session.Session.create_client = self._original
            self._original = None

    def attach(self, client):
        """Hook one client (clients made before ``install`` are attached with this)."""
        client.meta.events.register("before-parameter-build", self._before)
        client.meta.events.register("after-call", self._after)
        return client

    def _before(self, params: dict, model, context: dict, **_: Any) -> None:
        function = self.attribute()
        if function is not None:
            context[_KEY] = {"function": function, "params": dict(params),
                             "service": model.service_model.service_name,
                             "operation": model.name,
                             "region": context.get("client_region") or "us-east-1"}

    def _after(self, http_response, model, context: dict, **_: Any) -> None:
        call = context.pop(_KEY, None)
        if call is None:
            return
        status = int(getattr(http_response, "status_code", 0) or 0)
        requests = authorizations(call["service"], call["operation"], call["params"],
                                  region=call["region"], account=self.account, status=status)
        line = json.dumps({
            "function": call["function"], "call": f"{call['service']}.{call['operation']}",
            "status": status,
            "requests": [{"action": r.action, "resource": r.resource,
                          "conditions": dict(r.conditions), "why": r.why} for r in requests],
        })
        with self._lock, self.path.open("a") as out:
            out.write(line + "\n")


def interpreter_caller(name: str, module: str = "moto.stepfunctions") -> Callable[[], str | None]:
    """An ``attribute`` that names ``name`` for a call made from code of ``module`` (moto's Step
    Functions interpreter, running a state machine's Task states in its own thread)."""
    def attribute() -> str | None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_globals.get("__name__", "").startswith(module):
                return name
            frame = frame.f_back
        return None

    return attribute


def read_calls(path: Path) -> list[dict]:
    """The recorded calls of a calls file (one JSON object per line)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
