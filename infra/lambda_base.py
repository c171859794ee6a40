"""What every sgcflow Lambda shares: the code bundle, and a function with its own role and logs.

Each function gets a role with no managed policy: only write access to its own log group, plus
whatever its construct grants. One dependency layer and one source asset per stack serve all
functions (the code is the project's ``functions/`` + ``coordinator/`` packages).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import packaging
from infra.config import ENV_NUMBA_CACHE, NUMBA_CACHE_DIR, InfraConfig
from infra.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_12
# /tmp holds the Numba cache and, for a moment on each cold start, libllvmlite.so unpacked from
# its zip (~171 MB): twice the 512 MB default leaves room for both and for the handlers.
EPHEMERAL_STORAGE_MB = 1024
ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


def resolve_layer_folder(config: InfraConfig) -> tuple[Path, str]:
    """(folder, cache key) of the dependency layer the bundle mode asks for.

    ``full`` builds (downloads once) the real layer; ``source`` uses a placeholder so unit tests
    and a first offline synth need no wheels; ``auto`` uses the real layer when it is cached.
    """
    if config.bundle == "source":
        return packaging.stub_layer(), "stub"
    key = packaging.layer_key(config.architecture)
    cached = packaging.BUILD_DIR / f"layer-{config.architecture}-{key}"
    if config.bundle == "auto" and not (cached / "python").is_dir():
        return packaging.stub_layer(), "stub"
    return packaging.dependency_layer(config.architecture), key


class LambdaBundle(Construct):
    """The dependency layer and the source code asset shared by a stack's functions."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        folder, key = resolve_layer_folder(config)
        self.is_stub = key == "stub"
        if self.is_stub:
            cdk.Annotations.of(self).add_warning_v2(
                "sgcflow:stub-layer",
                "dependency layer is a placeholder (bundle=source, or bundle=auto without a "
                "cached layer): deploy with -c bundle=full")
        self.architecture = ARCHITECTURES[config.architecture]
        # Puts zipped packages (llvmlite) on sys.path even if the layer's .pth is not read.
        self.environment = {} if self.is_stub else {"PYTHONPATH": packaging.python_path()}
        self.layer = lambda_.LayerVersion(
            self, "Dependencies",
            code=lambda_.Code.from_asset(str(folder), asset_hash=f"{key}-{config.architecture}",
                                         asset_hash_type=cdk.AssetHashType.CUSTOM),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[self.architecture],
            description=f"numpy, numba, llvmlite, pyarrow for Python 3.12 ({config.architecture})",
        )
        self.code = lambda_.Code.from_asset(str(packaging.source_asset(
            with_cache=not self.is_stub)))


class SgcFunction(Construct):
    """A Python 3.12 Lambda with the shared bundle, its own least-privilege role and log group."""

    def __init__(self, scope: Construct, construct_id: str, *, bundle: LambdaBundle,
                 function_name: str, handler: str, memory_mb: int, timeout_s: int,
                 environment: Mapping[str, str], log_retention_days: int, description: str,
                 reserved_concurrency: int | None = None,
                 retry_attempts: int | None = None,
                 on_failure: lambda_.IDestination | None = None) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", removal_policy=cdk.RemovalPolicy.DESTROY)
        self.log_group.node.default_child.retention_in_days = log_retention_days
        self.role = iam.Role(self, "Role",
                             assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"sgcflow {function_name}: its own logs and grants only")
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn]))
        self.function = lambda_.Function(
            self, "Function",
            function_name=function_name,
            description=description,
            runtime=RUNTIME,
            architecture=bundle.architecture,
            handler=handler,
            code=bundle.code,
            layers=[bundle.layer],
            memory_size=memory_mb,
            ephemeral_storage_size=cdk.Size.mebibytes(EPHEMERAL_STORAGE_MB),
            timeout=cdk.Duration.seconds(timeout_s),
            environment={ENV_NUMBA_CACHE: NUMBA_CACHE_DIR, "POWERTOOLS_SERVICE_NAME": function_name,
                         **bundle.environment, **environment},
            role=self.role,
            log_group=self.log_group,
            reserved_concurrent_executions=reserved_concurrency,
            retry_attempts=retry_attempts,
            on_failure=on_failure,  # failed asynchronous invocations (infra.failures)
        )
        acknowledge(self.function, "AwsSolutions-L1",
                    "Pinned to Python 3.12: the dependency layer holds cp312 wheels (numba, "
                    "llvmlite, pyarrow); moving runtime means rebuilding and re-measuring it.")
