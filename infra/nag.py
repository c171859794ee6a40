"""cdk-nag (AwsSolutions pack) wiring and the one way we acknowledge a finding: with a reason.

cdk-nag 3 runs as a CDK policy-validation plugin: ``app.synth()`` raises ``ValidationFailed``
when a finding is not acknowledged, so `make synth` and the tests fail on new findings.
Acknowledgments are per finding (``AwsSolutions-IAM5[Resource::…]``), never a whole rule.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, IConstruct


def attach_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack on every stack of ``app`` at synthesis."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Accept one cdk-nag finding on ``construct`` (and its children) for a stated reason."""
    if len(reason.strip()) < 20:
        raise ValueError(f"reason for {finding}: say why in a sentence, got {reason!r}")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def logical_id(construct: Construct) -> str:
    """CloudFormation logical id of an L2 construct's main resource (as cdk-nag prints it)."""
    resource = construct.node.default_child
    if not isinstance(resource, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource as default child")
    stack = cdk.Stack.of(construct)
    return stack.resolve(resource.logical_id)


def wildcard_finding(construct: Construct, suffix: str) -> str:
    """The IAM5 finding id for ``<construct.Arn><suffix>`` (e.g. a bucket prefix ``/runs/*``)."""
    return f"AwsSolutions-IAM5[Resource::<{logical_id(construct)}.Arn>{suffix}]"
