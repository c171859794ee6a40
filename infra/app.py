"""Build the CDK app: one ``SgcflowStack`` per region named in context, cdk-nag attached.

Context comes from, in increasing priority: ``infra.config`` defaults, ``cdk.json``'s
``context``, and ``-c key=value`` (on ``python app.py`` or the CDK CLI). Run directly,
``python app.py`` writes ``cdk.out/`` itself, so synthesis needs no CDK CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from coordinator.workflow import resources
from infra.config import InfraConfig, file_context, parse_context_args  # noqa: F401 (app.py)
from infra.nag import attach_checks
from infra.stack import SgcflowStack

ROOT = Path(__file__).resolve().parent.parent


def stack_id(region: str) -> str:
    return f"{resources.STACK_NAME}-{region}"


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """The app with one stack per region. ``context`` overrides cdk.json (tests pass it)."""
    under_cli = "CDK_CONTEXT_JSON" in os.environ or "CDK_OUTDIR" in os.environ
    merged = {} if under_cli else file_context()
    merged.update(context or {})
    if outdir is None and not under_cli:
        outdir = str(ROOT / "cdk.out")
    app = cdk.App(context=merged, outdir=outdir)
    config = InfraConfig.from_context(app.node.try_get_context,
                                      account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    for region in config.regions:
        SgcflowStack(app, stack_id(region), config=config,
                     stack_name=resources.STACK_NAME,
                     env=cdk.Environment(account=config.account, region=region),
                     description=f"sgcflow: coded gradient workers and job workflow ({region})")
    attach_checks(app)
    return app
