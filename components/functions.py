"""The Lambda functions of both stacks: one bundle of handlers/, and the shape every small
scheduled function shares (its log group, a role holding one rendered policy, a schedule).

Not a component: each function belongs to the component that declares it (parent).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.buckets import versioned_private_bucket

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
RUNTIME = "python3.13"
FUNCTION_LOG_RETENTION_DAYS = 90
FUNCTION_ARCHITECTURE = "arm64"
# A scheduled function's size and time limit, unless it asks for more time.
SCHEDULED_MEMORY_MB = 128
SCHEDULED_TIMEOUT_SECONDS = 60


def handler_files(directory: Path = HANDLERS_DIR) -> dict[str, Path]:
    """The files bundled into the functions: the handlers package's modules only."""
    return {
        f"handlers/{path.relative_to(directory).as_posix()}": path
        for path in sorted(directory.rglob("*.py"))
        if "__pycache__" not in path.parts and not path.name.startswith("test")
    }


def handler_code() -> pulumi.AssetArchive:
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(str(path)) for name, path in handler_files().items()}
    )


def handler_code_hash() -> str:
    """A digest of the bundled files: changes whenever the functions' code does."""
    digest = hashlib.sha256()
    for name, path in handler_files().items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def code_key() -> str:
    """The key of the functions' code in a code bucket: it changes with the code."""
    return f"handlers/{handler_code_hash()}.zip"


@dataclass(frozen=True)
class CodeBucket:
    """A versioned bucket holding the functions' code, and what depends on it."""

    name: Output[str]
    code: aws.s3.BucketObjectv2
    policy: aws.s3.BucketPolicy


def code_bucket(
    parent: pulumi.Resource,
    prefix: str,
    *,
    region: str,
    organization_id: str | None,
    deployer: Output[str],
) -> CodeBucket:
    """A versioned, private bucket in `region` holding the functions' code at code_key(),
    written by `deployer` only and readable by the organisation `organization_id` (the
    StackSet instances) when given. Versioned and without forceDestroy: `pulumi destroy`
    leaves the bucket, its settings and every version of the code (delete them by hand once
    nothing runs that code)."""
    kept = ResourceOptions(parent=parent, retain_on_delete=True)
    bucket = aws.s3.Bucket(prefix, region=region, opts=kept)
    # Encrypted by default like every bucket the pack admits (policy/rules.py); SSE-S3, since
    # Lambda, Signer and every account of the organisation read the code with their own
    # credentials, and an SSE-KMS object would need each of them granted the key.
    blocks, versioning = versioned_private_bucket(
        prefix,
        bucket,
        region=region,
        encryption=aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            )
        ),
        opts=kept,
        suffixed=False,
    )
    policy = aws.s3.BucketPolicy(
        prefix,
        region=region,
        bucket=bucket.id,
        policy=Output.all(bucket.arn, deployer).apply(
            lambda a: json.dumps(
                policies.artifact_bucket_policy(a[0], organization_id, [a[1]]), sort_keys=True
            )
        ),
        opts=ResourceOptions(parent=parent, depends_on=[blocks], retain_on_delete=True),
    )
    code = aws.s3.BucketObjectv2(
        f"{prefix}-code",
        region=region,
        bucket=bucket.id,
        key=code_key(),
        source=handler_code(),
        # Uploaded into the versioned bucket, so that it has a version ID to pin and sign.
        opts=ResourceOptions(parent=parent, depends_on=[versioning]),
    )
    return CodeBucket(bucket.bucket, code, policy)


@dataclass(frozen=True)
class SignedFunctionCode:
    """The functions' code as AWS Signer signed it (components/code_signing.py), and the code
    signing config under which Lambda deploys that and nothing else."""

    bucket: Output[str]
    key: Output[str]
    config_arn: Output[str]


def code_arguments(signed: SignedFunctionCode | None) -> dict[str, Any]:
    """A Function's code arguments: the handlers uploaded with the function, or, with
    `codeSigning`, the signed object under the code signing config."""
    if signed is None:
        return {"code": handler_code()}
    return {
        "s3_bucket": signed.bucket,
        "s3_key": signed.key,
        "code_signing_config_arn": signed.config_arn,
    }


@dataclass
class ScheduledFunction:
    function: aws.lambda_.Function
    role_policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup


def scheduled_function(
    parent: pulumi.Resource,
    prefix: str,
    *,
    region: str,
    function_name: str,
    description: str,
    handler: str,
    schedule: str,
    policy: Callable[[Output[str]], Output[policies.Policy]],
    environment: Mapping[str, pulumi.Input[str]] | None = None,
    timeout: int = SCHEDULED_TIMEOUT_SECONDS,
    memory: int = SCHEDULED_MEMORY_MB,
    role_name: str | None = None,
    log_level: str | None = None,
    signed_code: SignedFunctionCode | None = None,
) -> ScheduledFunction:
    """A function run on `schedule`, whose role holds only `policy(own log group ARN)`; the
    role is named `role_name` where other accounts' policies name it; its code is
    `signed_code` where given. With `log_level`, its logs are JSON, system and application
    logs filtered at that level."""
    child = ResourceOptions(parent=parent)
    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-logs",
        region=region,
        name=f"/aws/lambda/{function_name}",
        retention_in_days=FUNCTION_LOG_RETENTION_DAYS,
        opts=child,
    )
    role = aws.iam.Role(
        prefix,
        name=role_name,
        description=description,
        assume_role_policy=json.dumps(policies.lambda_trust(), sort_keys=True),
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(
        prefix,
        role=role.id,
        policy=policy(log_group.arn).apply(lambda p: json.dumps(p, sort_keys=True)),
        opts=child,
    )
    function = aws.lambda_.Function(
        prefix,
        region=region,
        name=function_name,
        description=description,
        role=role.arn,
        runtime=RUNTIME,
        handler=handler,
        architectures=[FUNCTION_ARCHITECTURE],
        memory_size=memory,
        timeout=timeout,
        environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment)
        if environment
        else None,
        logging_config=aws.lambda_.FunctionLoggingConfigArgs(
            log_format="JSON", application_log_level=log_level, system_log_level=log_level
        )
        if log_level
        else None,
        opts=ResourceOptions(parent=parent, depends_on=[log_group, role_policy]),
        **code_arguments(signed_code),
    )
    rule = aws.cloudwatch.EventRule(
        f"{prefix}-schedule",
        region=region,
        description=description,
        schedule_expression=schedule,
        opts=child,
    )
    aws.cloudwatch.EventTarget(
        f"{prefix}-schedule", region=region, rule=rule.name, arn=function.arn, opts=child
    )
    aws.lambda_.Permission(
        f"{prefix}-schedule",
        region=region,
        function=function.name,
        action="lambda:InvokeFunction",
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=child,
    )
    return ScheduledFunction(function, role_policy, log_group)
