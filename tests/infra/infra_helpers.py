"""Template lookups shared by the infrastructure tests (unique module name: no conftest clash)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REGIONS = ("us-east-1", "eu-west-1")


@dataclass
class Synth:
    app: object
    outdir: Path
    templates: dict[str, dict]  # region -> template JSON
    stacks: dict[str, object]   # region -> SgcflowStack


def synthesize(outdir: Path, **context) -> Synth:
    """Synthesize the app (cdk-nag included) with ``context`` over ``bundle=source``."""
    from infra.app import build_app, stack_id

    context = {"bundle": "source", **context}
    app = build_app(context, outdir=str(outdir))
    app.synth()
    regions = [r.strip() for r in str(context.get("regions", "us-east-1")).split(",")]
    templates = {r: json.loads((outdir / f"{stack_id(r)}.template.json").read_text())
                 for r in regions}
    stacks = {r: app.node.find_child(stack_id(r)) for r in regions}
    return Synth(app, outdir, templates, stacks)


def resources_of(template: dict, kind: str) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def only(template: dict, kind: str) -> tuple[str, dict]:
    found = resources_of(template, kind)
    assert len(found) == 1, f"{kind}: {sorted(found)}"
    return next(iter(found.items()))


def function_by_handler(template: dict, handler: str) -> tuple[str, dict]:
    found = [(lid, r) for lid, r in resources_of(template, "AWS::Lambda::Function").items()
             if r["Properties"]["Handler"] == handler]
    assert len(found) == 1, handler
    return found[0]


def role_statements(template: dict, role_id: str) -> list[dict]:
    """All statements of the inline policies attached to ``role_id``."""
    statements = []
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def cfn_lint(outdir: Path) -> tuple[int, str]:
    """cfn-lint on every template of an assembly; W3005 (CDK's redundant DependsOn) ignored."""
    templates = sorted(str(p) for p in outdir.glob("*.template.json"))
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks",
                             "W3005", "--", *templates], capture_output=True, text=True,
                            check=False)
    return result.returncode, result.stdout + result.stderr


def probe_handler(event, context):
    """A Lambda handler for tests: what environment and identity an invocation sees, in its own
    thread and in a thread it starts."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from coordinator.emulator.invoke import current_function

    def seen() -> dict:
        return {"probe": os.environ.get("SGC_PROBE"), "function": current_function()}

    with ThreadPoolExecutor(max_workers=1) as pool:
        child = pool.submit(seen).result()
    return {**seen(), "child": child}
