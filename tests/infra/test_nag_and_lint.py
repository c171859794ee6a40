"""cdk-nag (AwsSolutions) finds nothing unacknowledged; cfn-lint passes on every template."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from infra_helpers import cfn_lint

from infra.nag import acknowledge, attach_checks

# One synthesis per session: keep its users on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("infra-synth")


def test_synthesis_ran_cdk_nag_without_unacknowledged_findings(synth):
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []  # a failing plugin would have raised in app.synth()


def test_acknowledgments_carry_reasons(synth):
    acknowledged = []
    for stack in synth.stacks.values():
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    acknowledged.append(entry.data)
    reasons = {rule.split("::", 1)[1]: reason for data in acknowledged
               for rule, reason in data.items()}
    # SQS3: the failure queue is itself the dead-letter destination (cdk-nag only recognizes
    # queues named in another queue's redrive policy).
    assert {rule.split("[")[0] for rule in reasons} == {
        "AwsSolutions-S1", "AwsSolutions-L1", "AwsSolutions-IAM5", "AwsSolutions-SQS3"}
    assert all(len(reason.strip()) >= 20 for reason in reasons.values()), reasons


def test_a_short_reason_is_refused():
    app = cdk.App()
    with pytest.raises(ValueError, match="reason for AwsSolutions-S1: say why"):
        acknowledge(cdk.Stack(app, "S"), "AwsSolutions-S1", "because")


def test_unacknowledged_finding_fails_synthesis(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bad", env=cdk.Environment(region="us-east-1"))
    s3.Bucket(stack, "NoLogs", enforce_ssl=True)
    attach_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert rules == {"AwsSolutions-S1"}


def test_cfn_lint_passes_on_every_template(synth):
    assert len(list(synth.outdir.glob("*.template.json"))) == 2
    code, output = cfn_lint(synth.outdir)
    assert code == 0, output
