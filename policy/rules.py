"""The rules of the central-logging CrossGuard policy pack.

Most rules are a `ResourceValidationPolicy` around one small `validate(args, report_violation)`
function that reads `args.resource_type` and `args.props`: the resource's inputs as the AWS
provider receives them (camelCase names such as `assumeRolePolicy` or `blockPublicAcls`). Rules
about what a bucket lacks, or which bucket receives access logs, are `StackValidationPolicy`s
over every resource of the stack; a bucket's sub-resources are found through their `bucket`
property dependency, or by bucket name.
Policy documents arrive as JSON strings or as already-parsed objects; both are read.

During `pulumi preview`, a value that depends on a resource not created yet is unknown; reading
it raises pulumi_policy's `UnknownValueError`, which the engine treats as "not checked yet",
and `pulumi up` checks the resource again once the value is known. So no rule catches broad
exceptions.

Who belongs to the deployment (the organisation, its accounts, which stack has which role) is
read from `deployment.json` beside this file, never from the stack: the pull request under
review controls the program and its configuration, and the pack is checked out from the base
branch. The engine names the stack in PULUMI_STACK (pulumi/pkg/resource/plugin/
analyzer_plugin.go, constructEnv), which picks the stack's role there.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
TRAIL = "aws:cloudtrail/trail:Trail"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
DESTINATION_POLICY = "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER_POLICY_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_POLICY_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
EXCLUSIVE_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive",
)
KINESIS_STREAM = "aws:kinesis/stream:Stream"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
WORKGROUP = "aws:athena/workgroup:Workgroup"
LOG_DESTINATION = "aws:cloudwatch/logDestination:LogDestination"
SUBSCRIPTION_FILTER = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
ACCOUNT_POLICY = "aws:cloudwatch/logAccountPolicy:LogAccountPolicy"
FUNCTION = "aws:lambda/function:Function"
SIGNING_PROFILE = "aws:signer/signingProfile:SigningProfile"
SIGNING_JOB = "aws:signer/signingJob:SigningJob"
CODE_SIGNING_CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
LAMBDA_PERMISSION = "aws:lambda/permission:Permission"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SQS_QUEUE = "aws:sqs/queue:Queue"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
# The parameter the operator CLI subscribes log groups to by default (design, section 3).
DESTINATION_PARAMETER = "/central-logging/destination-arn"

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# S3 server access logs can only be delivered into a bucket encrypted with SSE-S3 (Amazon S3
# User Guide, "Enabling Amazon S3 server access logging"); such a log bucket may use it.
LOG_BUCKET_ALGORITHMS = ("AES256", *KMS_ALGORITHMS)
# Settings of the deprecated inline form of aws.s3.Bucket. Each one fights the separate
# resource the rules check (AWS provider v7), and forceDestroy deletes every object on destroy.
INLINE_BUCKET_SETTINGS = (
    "acl",
    "grants",
    "policy",
    "versioning",
    "serverSideEncryptionConfiguration",
    "lifecycleRules",
    "logging",
    "objectLockConfiguration",
    "replicationConfiguration",
    "website",
    "corsRules",
    "forceDestroy",
)
# Operators that hold only when the key is present and matches: a negated operator, Null or an
# ...IfExists variant lets a request without the key through, so none of them scopes anything.
MATCHING_OPERATORS = (
    "StringEquals",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "ForAnyValue:StringEquals",
    "ForAnyValue:StringLike",
)
CONFUSED_DEPUTY_KEYS = (
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
)
ORG_ID_RE = re.compile(r"o-[a-z0-9]{10,32}")
ACCOUNT_RE = re.compile(r"\d{12}")
WILDCARDS = re.compile(r"[*?]")
# Lambda assumes an execution role only for a function that an identity of the role's own
# account created or updated with it, which needs iam:PassRole on the role: no other account can
# make Lambda act with it, so there is no confused deputy to guard against. Our program leaves
# these trusts unconditioned on purpose (aws:SourceArn would have to name the function, which
# cannot exist before its role).
UNCONDITIONED_SERVICES = frozenset({"lambda.amazonaws.com"})
# Services whose actions on Resource "*" reach every bucket, key or identity of the account.
ACCOUNT_WIDE_SERVICES = ("s3", "kms", "iam")


# The shortest expiry of anything in a bucket, current or noncurrent: CloudTrail's event
# history already keeps 90 days of management events. components/config.py refuses a
# shorter expireDays with the same floor.
EXPIRE_DAYS_FLOOR = 90
# Resource types each role's program declares (its tests run every one of them); anything
# else, an aws-native or a V2 type included, is a resource the rules were not written for.
COMMON_TYPES = frozenset(
    {
        "pulumi:pulumi:Stack",
        "pulumi:providers:aws",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        ROLE,
        ROLE_POLICY,
        FUNCTION,
        LAMBDA_PERMISSION,
        SNS_TOPIC,
        "aws:sns/topicSubscription:TopicSubscription",
    }
)
# What `codeSigning` adds to a member or logging stack: a versioned code bucket per region, the
# code, its signing profile and job, and the code signing config (components/code_signing.py).
CODE_SIGNING_TYPES = frozenset(
    {
        "central-logging:code_signing:SignedCode",
        SIGNING_PROFILE,
        SIGNING_JOB,
        CODE_SIGNING_CONFIG,
        BUCKET,
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        BUCKET_VERSIONING,
        BUCKET_POLICY,
        PUBLIC_ACCESS_BLOCK,
        BUCKET_ENCRYPTION,
    }
)
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "logging": COMMON_TYPES
    | {
        "central-logging:destination:CentralDestination",
        "central-logging:freshness:FreshnessCheck",
        "central-logging:coverage:CoverageCheck",
        "central-logging:redrive:RedriveRole",
        "central-logging:reader:ArchiveReader",
        "aws:cloudwatch/dashboard:Dashboard",
        SQS_QUEUE,
        SQS_QUEUE_POLICY,
        BUCKET_NOTIFICATION,
        "aws:lambda/eventSourceMapping:EventSourceMapping",
        "aws:athena/namedQuery:NamedQuery",
        WORKGROUP,
        TRAIL,
        LOG_DESTINATION,
        DESTINATION_POLICY,
        "aws:cloudwatch/logStream:LogStream",
        "aws:glue/catalogDatabase:CatalogDatabase",
        "aws:glue/catalogTable:CatalogTable",
        FIREHOSE,
        KINESIS_STREAM,
        KMS_KEY,
        BUCKET,
        LIFECYCLE,
        BUCKET_LOGGING,
        OBJECT_LOCK,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        BUCKET_POLICY,
        PUBLIC_ACCESS_BLOCK,
        BUCKET_ENCRYPTION,
        BUCKET_VERSIONING,
        *CODE_SIGNING_TYPES,
    },
    "member": COMMON_TYPES
    | CODE_SIGNING_TYPES
    | {
        "central-logging:subscriber:MemberSubscriber",
        "central-logging:heartbeat:Heartbeat",
        "pulumi:pulumi:StackReference",
        ACCOUNT_POLICY,
        "aws:cloudwatch/logMetricFilter:LogMetricFilter",
        "aws:lambda/invocation:Invocation",
        SQS_QUEUE,
        SQS_QUEUE_POLICY,
        "aws:ssm/parameter:Parameter",
    },
    "organization": frozenset(
        {
            "pulumi:pulumi:Stack",
            "pulumi:providers:aws",
            "pulumi:pulumi:StackReference",
            "central-logging:organization:OrganizationSubscriber",
            STACK_SET,
            "aws:cloudformation/stackSetInstance:StackSetInstance",
            BUCKET,
            "aws:s3/bucketObjectv2:BucketObjectv2",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            BUCKET_VERSIONING,
            BUCKET_POLICY,
            PUBLIC_ACCESS_BLOCK,
            BUCKET_ENCRYPTION,
            # codeSigning: the artifact buckets' code signed, per region.
            SIGNING_PROFILE,
            SIGNING_JOB,
        }
    ),
}
# CloudFormation types the organization stack's StackSet templates declare.
ALLOWED_TEMPLATE_TYPES = frozenset(
    {
        "AWS::CloudWatch::Alarm",
        "AWS::Events::Rule",
        "AWS::IAM::Role",
        "AWS::Lambda::CodeSigningConfig",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Logs::AccountPolicy",
        "AWS::Logs::LogGroup",
        "AWS::Logs::MetricFilter",
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
        "AWS::SSM::Parameter",
    }
)
# AWS managed policies a role may get: none. An allow-list, since AWS keeps adding managed
# policies as powerful as the ones that were once named here (AdministratorAccess,
# PowerUserAccess, IAMFullAccess, ...). Customer managed policies must be declared in the
# stack, where no-broad-role-actions reads them.
ALLOWED_AWS_MANAGED_POLICIES: frozenset[str] = frozenset()
# Stands for ${AWS::AccountId} in a StackSet template: the account each instance runs in,
# which is in the organisation by construction (service-managed StackSets).
TEMPLATE_ACCOUNT = "000000000000"
GITHUB_OIDC = "token.actions.githubusercontent.com"
DEPLOYMENT_FILE = Path(__file__).with_name("deployment.json")


@dataclass(frozen=True)
class Deployment:
    """Who belongs: the organisation, every account of the deployment, each stack's role,
    and the existing buckets (existingBucketName) the archive may be."""

    organization_id: str | None
    accounts: frozenset[str]
    stacks: Mapping[str, str]
    existing_buckets: frozenset[str]


@functools.cache
def deployment() -> Deployment:
    raw = json.loads(DEPLOYMENT_FILE.read_text())
    return Deployment(
        organization_id=raw.get("organizationId") or None,
        accounts=frozenset(raw.get("accounts", [])),
        stacks=dict(raw.get("stacks", {})),
        existing_buckets=frozenset(raw.get("existingBuckets", [])),
    )


def stack_name() -> str:
    return os.environ.get("PULUMI_STACK", "")


def stack_role() -> str | None:
    """The role deployment.json gives the stack under review (by its name, or its last part)."""
    name = stack_name()
    roles = deployment().stacks
    return roles.get(name) or roles.get(name.rsplit("/", 1)[-1])


def _trusted_account(account: str | None) -> bool:
    return account is not None and (account in deployment().accounts or account == TEMPLATE_ACCOUNT)


def _items(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them, as a list."""
    if value is None:
        return []
    if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _statements(document: Any) -> list[Mapping[str, Any]] | None:
    """The statements of a policy document given as JSON text or parsed; None if unreadable."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, Mapping):
        return None
    statements = _items(document.get("Statement"))
    if not all(isinstance(s, Mapping) for s in statements):
        return None
    return statements


def _conditions(statement: Mapping[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """Condition operator -> lower-cased condition key -> values (IAM keys ignore case)."""
    found: dict[str, dict[str, list[Any]]] = {}
    for operator, clauses in (statement.get("Condition") or {}).items():
        for key, values in clauses.items():
            found.setdefault(operator, {})[key.lower()] = _items(values)
    return found


def _matching_values(statement: Mapping[str, Any], key: str) -> list[str]:
    """Values of `key` under operators that only match when the key is present."""
    conditions = _conditions(statement)
    return [str(v) for op in MATCHING_OPERATORS for v in conditions.get(op, {}).get(key, [])]


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in _items(principal.get("AWS"))


def _grants_everyone(statement: Mapping[str, Any]) -> bool:
    """An Allow to "*", or to everyone but a few (NotPrincipal)."""
    return statement.get("Effect") == "Allow" and (
        "NotPrincipal" in statement or _is_everyone(statement.get("Principal"))
    )


def _unreadable(args: ResourceValidationArgs, key: str, report_violation: ReportViolation) -> None:
    report_violation(f"{args.resource_type} {key} is not a readable JSON policy document.", None)


def validate_public_access_blocked(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != PUBLIC_ACCESS_BLOCK:
        return
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if args.props.get(flag) is not True]
    if off:
        report_violation(
            f"The bucket's public access block must set {', '.join(off)} to true.", None
        )


def validate_versioned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET_VERSIONING:
        return
    status = (args.props.get("versioningConfiguration") or {}).get("status")
    if status != "Enabled":
        report_violation(f"Bucket versioning must be Enabled, not {status}.", None)


def validate_no_inline_bucket_settings(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != BUCKET:
        return
    inline = [name for name in INLINE_BUCKET_SETTINGS if args.props.get(name) not in (None, False)]
    if stack_role() == "organization":
        # Its buckets hold build output only, which `pulumi destroy` may empty; no logs.
        inline = [name for name in inline if name != "forceDestroy"]
    if inline:
        report_violation(
            f"The bucket sets {', '.join(inline)} inline; declare each as its own resource "
            "(BucketPolicy, BucketVersioning, ...) so the rules can check it, and never "
            "forceDestroy an archive.",
            None,
        )


def _bucket_arns(bucket: str) -> tuple[list[str], list[str]]:
    """The ARNs of a bucket and of an object in it, in every partition."""
    partitions = ("aws", "aws-cn", "aws-us-gov")
    return (
        [f"arn:{p}:s3:::{bucket}" for p in partitions],
        [f"arn:{p}:s3:::{bucket}/any/key" for p in partitions],
    )


def _covers(patterns: list[str], arns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(arn, p) for p in patterns for arn in arns)


def _tls_condition(statement: Mapping[str, Any]) -> bool:
    """The statement's only condition is one of the documented TLS denies: aws:SecureTransport
    false (Bool, or BoolIfExists, which also denies requests without the key), or s3:TlsVersion
    below 1.2 or more (AWS Storage Blog, "Enforcing encryption in transit with TLS1.2 or higher
    with Amazon S3"). Any further condition would narrow the deny to some principals."""
    clauses = [
        (operator, key, values)
        for operator, keys in _conditions(statement).items()
        for key, values in keys.items()
    ]
    if len(clauses) != 1:
        return False
    [(operator, key, values)] = clauses
    if operator in ("Bool", "BoolIfExists") and key == "aws:securetransport":
        return [str(v).lower() for v in values] == ["false"]
    if operator in ("NumericLessThan", "NumericLessThanIfExists") and key == "s3:tlsversion":
        try:
            return len(values) == 1 and float(values[0]) >= 1.2
        except (TypeError, ValueError):
            return False
    return False


def _denies_insecure_transport(statement: Mapping[str, Any], bucket: str) -> bool:
    actions = {str(a).lower() for a in _items(statement.get("Action"))}
    resources = [str(r) for r in _items(statement.get("Resource"))]
    bucket_arns, object_arns = _bucket_arns(bucket)
    return (
        statement.get("Effect") == "Deny"
        and "NotPrincipal" not in statement
        and _is_everyone(statement.get("Principal"))
        and bool(actions & {"*", "s3:*"})
        and _covers(resources, bucket_arns)
        and _covers(resources, object_arns)
        and _tls_condition(statement)
    )


def validate_tls_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET_POLICY:
        return
    statements = _statements(args.props.get("policy"))
    if statements is None:
        _unreadable(args, "policy", report_violation)
        return
    bucket = str(args.props.get("bucket"))
    if not any(_denies_insecure_transport(s, bucket) for s in statements):
        report_violation(
            f'The bucket policy must deny s3:* to "*" on {bucket} and every object in it when '
            "aws:SecureTransport is false, with no other condition.",
            None,
        )
    for statement in statements:
        if _grants_everyone(statement) and not _organization_reads_code(statement):
            report_violation(
                f"Bucket policy statement {statement.get('Sid', '')!r} allows everyone "
                '(Principal "*" or NotPrincipal); grant named principals only.',
                None,
            )


def _organization_reads_code(statement: Mapping[str, Any]) -> bool:
    """The organization stack's code buckets: every account of the organisation reads the
    functions' code (the version the templates pin), as CloudFormation creates them there with
    that account's credentials."""
    organization = deployment().organization_id
    return (
        stack_role() == "organization"
        and "NotPrincipal" not in statement
        and organization is not None
        and _organizations(statement) == {organization}
        and {str(a) for a in _items(statement.get("Action"))}
        <= {"s3:GetObject", "s3:GetObjectVersion"}
    )


def _organizations(statement: Mapping[str, Any]) -> set[str] | None:
    """The organisations a Principal "*" statement is limited to, or None if it names none
    exactly. aws:PrincipalOrgID takes exact IDs; aws:PrincipalOrgPaths paths that begin with one
    (o-.../r-.../ou-...), as AWS's examples write them."""
    ids = _matching_values(statement, "aws:principalorgid")
    paths = _matching_values(statement, "aws:principalorgpaths")
    if not ids and not paths:
        return None
    found = set()
    for value in ids:
        if not ORG_ID_RE.fullmatch(value):
            return None
        found.add(value)
    for value in paths:
        org, _, _rest = value.partition("/")
        if not ORG_ID_RE.fullmatch(org):
            return None
        found.add(org)
    return found


def validate_destination_policy_org_scoped(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != DESTINATION_POLICY:
        return
    statements = _statements(args.props.get("accessPolicy"))
    if statements is None:
        _unreadable(args, "accessPolicy", report_violation)
        return
    everyone = "any AWS account could send logs"
    named: set[str] = set()
    for statement in statements:
        sid = statement.get("Sid", "")
        if statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            report_violation(
                f"Destination policy statement {sid!r} allows with NotPrincipal: {everyone}.", None
            )
            continue
        if not _is_everyone(statement.get("Principal")):
            continue
        organizations = _organizations(statement)
        if organizations is None:
            report_violation(
                f'Destination policy statement {sid!r} allows Principal "*" without an exact '
                f"aws:PrincipalOrgID (or aws:PrincipalOrgPaths) condition: {everyone}.",
                None,
            )
        else:
            named |= organizations
    if len(named) > 1:
        report_violation(
            f"Destination policy admits several organisations {sorted(named)}; it must name "
            "exactly one.",
            None,
        )


def _pinned(key: str, value: str, services: set[str]) -> bool:
    """A confused-deputy condition value that names a source of this deployment: an account
    or organisation of deployment.json, not any source that matches a pattern."""
    organization = deployment().organization_id
    if key == "aws:sourceaccount":
        return _trusted_account(value)
    if key == "aws:sourceorgid":
        return organization is not None and value == organization
    if key == "aws:sourceorgpaths":
        return organization is not None and value.partition("/")[0] == organization
    # aws:SourceArn: a literal partition and service, and an account of the deployment.
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or WILDCARDS.search(parts[1] + parts[2]):
        return False
    _, _, service, region, account, _ = parts
    if _trusted_account(account):
        return True
    # A logging stack for a whole organisation admits CloudWatch Logs of the region for any
    # sender account (components/policies.py, logs_sender_trust): CloudWatch Logs uses a role
    # only for a destination or filter that an identity of the role's own account created with
    # iam:PassRole, so no other account can make it act with this one; the destination policy
    # (aws:PrincipalOrgID) keeps other organisations out.
    return (
        services == {"logs.amazonaws.com"}
        and service == "logs"
        and region != ""
        and not WILDCARDS.search(region)
        and account == "*"
    )


def _confused_deputy_guarded(statement: Mapping[str, Any], services: set[str]) -> bool:
    for key in CONFUSED_DEPUTY_KEYS:
        values = _matching_values(statement, key)
        if values and all(_pinned(key, v, services) for v in values):
            return True
    return False


def validate_confused_deputy(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != ROLE:
        return
    statements = _statements(args.props.get("assumeRolePolicy"))
    if statements is None:
        _unreadable(args, "assumeRolePolicy", report_violation)
        return
    for statement in statements:
        if _grants_everyone(statement):
            report_violation(
                'Role trust allows everyone (Principal "*", {"AWS": "*"} or NotPrincipal) to '
                "assume the role.",
                None,
            )
            continue
        principal = statement.get("Principal")
        if statement.get("Effect") != "Allow" or not isinstance(principal, Mapping):
            continue
        services = {str(s) for s in _items(principal.get("Service"))}
        if not services or services <= UNCONDITIONED_SERVICES:
            continue
        if not _confused_deputy_guarded(statement, services):
            report_violation(
                f"Role trust for {sorted(services)} needs a confused-deputy condition that "
                "names a source of this deployment (StringEquals/StringLike/ArnEquals/ArnLike "
                "on aws:SourceArn or aws:SourceAccount naming an account of "
                "policy/deployment.json, or aws:SourceOrgID/aws:SourceOrgPaths its "
                "organisation; not Null, a negated or ...IfExists operator, a wildcard account "
                "nor a region alone).",
                None,
            )


# Resource types whose documents name who may act, and the input holding the document.
PRINCIPAL_DOCUMENTS = {
    ROLE: "assumeRolePolicy",
    BUCKET_POLICY: "policy",
    KMS_KEY: "policy",
    KMS_KEY_POLICY: "policy",
    DESTINATION_POLICY: "accessPolicy",
    SNS_TOPIC: "policy",
    SNS_TOPIC_POLICY: "policy",
    SQS_QUEUE: "policy",
    SQS_QUEUE_POLICY: "policy",
}
PRINCIPAL_KINDS = ("AWS", "Service", "Federated")
PRINCIPAL_ARN_RE = re.compile(r"arn:aws[a-z-]*:(iam|sts)::(\d{12}):.+")
GITHUB_PROVIDER_RE = re.compile(
    rf"arn:aws[a-z-]*:iam::(\d{{12}}):oidc-provider/{re.escape(GITHUB_OIDC)}"
)


def _principal_account(principal: str) -> str | None:
    """The account an AWS principal (an account ID, or an IAM or STS ARN) belongs to."""
    if ACCOUNT_RE.fullmatch(principal):
        return principal
    match = PRINCIPAL_ARN_RE.fullmatch(principal)
    return match.group(2) if match else None


def _exact_github_subject(statement: Mapping[str, Any]) -> bool:
    """GitHub's OIDC token is trusted only for exact subjects (repo:OWNER/REPO:pull_request,
    ...:environment:NAME) and the STS audience: a pattern such as repo:* or repo:org/* admits
    other repositories or every branch (GitHub, "OpenID Connect reference",
    https://docs.github.com/en/actions/reference/security/oidc)."""
    conditions = _conditions(statement)
    equal = conditions.get("StringEquals", {})
    subjects = [str(v) for v in equal.get(f"{GITHUB_OIDC}:sub", [])]
    audiences = [str(v) for v in equal.get(f"{GITHUB_OIDC}:aud", [])]
    patterns = {
        op
        for op, keys in conditions.items()
        if op != "StringEquals" and f"{GITHUB_OIDC}:sub" in keys
    }
    return (
        bool(subjects)
        and all(v.startswith("repo:") and not WILDCARDS.search(v) for v in subjects)
        and audiences == ["sts.amazonaws.com"]
        and not patterns
    )


def _outside_principals(statement: Mapping[str, Any]) -> list[str]:
    """Who an Allow statement admits from outside the deployment's accounts and organisation."""
    if statement.get("Effect") != "Allow":
        return []
    organization = deployment().organization_id
    named_orgs = _organizations(statement) or set()
    found = [f"organisation {o}" for o in sorted(named_orgs) if o != organization]
    if "NotPrincipal" in statement:
        found.append("everyone but the NotPrincipal")
    principal = statement.get("Principal")
    if isinstance(principal, Mapping):
        found += [f"{kind} principals" for kind in principal if kind not in PRINCIPAL_KINDS]
    everyone = _is_everyone(principal)
    if everyone and (organization is None or named_orgs != {organization}):
        found.append('"*" not limited to the organisation')
    if not isinstance(principal, Mapping):
        return found
    for value in _items(principal.get("AWS")):
        if str(value) != "*" and not _trusted_account(_principal_account(str(value))):
            found.append(str(value))
    for value in _items(principal.get("Federated")):
        match = GITHUB_PROVIDER_RE.fullmatch(str(value))
        if not (match and _trusted_account(match.group(1)) and _exact_github_subject(statement)):
            found.append(f"{value} (only GitHub's OIDC provider, for exact subjects)")
    return found


def validate_principals_inside(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type == LAMBDA_PERMISSION:
        service = str(args.props.get("principal") or "").endswith(".amazonaws.com")
        if service and not (args.props.get("sourceArn") or args.props.get("sourceAccount")):
            report_violation(
                f"The Lambda permission for {args.props.get('principal')} names no sourceArn or "
                "sourceAccount: any account's resource of that service could invoke the function.",
                None,
            )
        for key in ("principal", "sourceAccount"):
            value = args.props.get(key)
            if value is None or (key == "principal" and str(value).endswith(".amazonaws.com")):
                continue
            if not _trusted_account(_principal_account(str(value))):
                report_violation(
                    f"The Lambda permission's {key} {value} is outside the accounts of "
                    "policy/deployment.json.",
                    None,
                )
        return
    document_key = PRINCIPAL_DOCUMENTS.get(args.resource_type)
    if document_key is None or args.props.get(document_key) is None:
        return
    statements = _statements(args.props.get(document_key))
    if statements is None:
        _unreadable(args, document_key, report_violation)
        return
    for statement in statements:
        outside = _outside_principals(statement)
        if outside:
            report_violation(
                f"{args.resource_type} statement {statement.get('Sid', '')!r} admits "
                f"{', '.join(outside)}: principals must be accounts of policy/deployment.json "
                "or its organisation.",
                None,
            )


def validate_stream_encrypted(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != KINESIS_STREAM:
        return
    encryption = args.props.get("encryptionType")
    if encryption != "KMS":
        report_violation(f"Kinesis stream encryptionType must be KMS, not {encryption}.", None)


def _account_wide(resource: str) -> bool:
    """A Resource that matches more than named resources: "*", or an ARN with a wildcard in
    its partition, service, region or account, or in the first part of its resource name (a
    bucket, a key ID, a role name): arn:aws:s3:::*/* is as wide as "*"."""
    if not WILDCARDS.search(resource):
        return False
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return True
    _, partition, service, region, account, name = parts
    if WILDCARDS.search(partition + service + region + account):
        return True
    if service == "s3":
        return WILDCARDS.search(name.split("/", 1)[0]) is not None
    kind, _, rest = name.partition("/") if "/" in name else name.partition(":")
    return WILDCARDS.search(rest or kind) is not None


def _broad_grants(statements: list[Mapping[str, Any]]) -> list[str]:
    found = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append("NotAction (allows everything not listed)")
        if "NotResource" in statement:
            found.append("NotResource (allows every resource not listed)")
        actions = [str(a) for a in _items(statement.get("Action"))]
        resources = [str(r) for r in _items(statement.get("Resource"))]
        found += [a for a in actions if WILDCARDS.search(a)]
        wide = [r for r in resources if _account_wide(r)]
        if wide:
            found += [
                f"{a} on {', '.join(wide)}"
                for a in actions
                if a.split(":")[0].lower() in ACCOUNT_WIDE_SERVICES and not WILDCARDS.search(a)
            ]
        passes_roles = any(fnmatch.fnmatch("iam:passrole", a.lower()) for a in actions)
        if passes_roles and any(WILDCARDS.search(r) for r in resources):
            found.append(f"iam:PassRole on {', '.join(r for r in resources if '*' in r)}")
    return found


def validate_no_broad_actions(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type in (ROLE_POLICY, USER_POLICY, GROUP_POLICY, MANAGED_POLICY):
        documents = [args.props.get("policy")]
    elif args.resource_type == ROLE:
        documents = [p.get("policy") for p in _items(args.props.get("inlinePolicies"))]
    else:
        return
    for document in documents:
        if document is None:  # an empty inline policy entry removes inline policies
            continue
        statements = _statements(document)
        if statements is None:
            _unreadable(args, "policy", report_violation)
            continue
        broad = _broad_grants(statements)
        if broad:
            report_violation(
                f"IAM policy allows {', '.join(broad)}; grant the actions the role needs on the "
                "resources it needs.",
                None,
            )


def _attached_policy_arns(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(input name, policy ARN) of every managed policy a resource attaches."""
    if resource_type in (
        ROLE_POLICY_ATTACHMENT,
        USER_POLICY_ATTACHMENT,
        GROUP_POLICY_ATTACHMENT,
        POLICY_ATTACHMENT,
    ):
        return [("policyArn", props.get("policyArn"))]
    if resource_type in EXCLUSIVE_ATTACHMENTS:
        return [("policyArns", arn) for arn in _items(props.get("policyArns"))]
    if resource_type == ROLE:
        return [("managedPolicyArns", arn) for arn in _items(props.get("managedPolicyArns"))]
    return []


def validate_no_admin_managed_policies(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    declared = [r for r in args.resources if r.resource_type == MANAGED_POLICY]
    for resource in args.resources:
        for key, arn in _attached_policy_arns(resource.resource_type, resource.props):
            text = str(arn)
            if text.split(":")[4:5] == ["aws"]:
                if text.rsplit("/", 1)[-1] not in ALLOWED_AWS_MANAGED_POLICIES:
                    report_violation(
                        f"No role, user or group may get the AWS managed policy {text}; only "
                        "policies this stack declares, whose statements the pack reads.",
                        resource.urn,
                    )
            elif not any(p in resource.property_dependencies.get(key, []) for p in declared):
                report_violation(
                    f"The managed policy {text} is not declared in this stack, so the pack "
                    "cannot read what it grants; declare it as an aws.iam.Policy.",
                    resource.urn,
                )


def validate_key_policy(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (KMS_KEY, KMS_KEY_POLICY):
        return
    document = args.props.get("policy")
    if document is None:  # AWS's default key policy: the account's IAM, nobody else
        return
    statements = _statements(document)
    if statements is None:
        _unreadable(args, "policy", report_violation)
        return
    for statement in statements:
        if _grants_everyone(statement):
            report_violation(
                f"Key policy statement {statement.get('Sid', '')!r} grants "
                f"{statement.get('Action')} to everyone; name the principals.",
                None,
            )


def _bucket_of(resource: PolicyResource, buckets: list[PolicyResource]) -> PolicyResource | None:
    """The bucket a bucket sub-resource configures: by dependency, or by bucket name."""
    for bucket in buckets:
        if bucket in resource.property_dependencies.get("bucket", []):
            return bucket
    for bucket in buckets:
        if resource.props.get("bucket") == bucket.props.get("bucket"):
            return bucket
    return None


def _configured(
    args: StackValidationArgs, resource_type: str, buckets: list[PolicyResource]
) -> dict[str, list[PolicyResource]]:
    """Bucket URN -> the resources of `resource_type` that configure it."""
    found: dict[str, list[PolicyResource]] = {}
    for resource in args.resources:
        if resource.resource_type == resource_type:
            bucket = _bucket_of(resource, buckets)
            if bucket is not None:
                found.setdefault(bucket.urn, []).append(resource)
    return found


def validate_buckets_fully_protected(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    required = {
        PUBLIC_ACCESS_BLOCK: "public access block",
        BUCKET_ENCRYPTION: "default encryption",
        BUCKET_VERSIONING: "versioning",
        BUCKET_POLICY: "TLS-only bucket policy",
    }
    if stack_role() == "organization":
        # Its buckets keep no record, only code each deployment uploads again.
        del required[BUCKET_VERSIONING]
    configured = {kind: _configured(args, kind, buckets) for kind in required}
    for bucket in buckets:
        missing = [name for kind, name in required.items() if bucket.urn not in configured[kind]]
        if missing:
            report_violation(
                f"Bucket {bucket.name} is declared without a {', '.join(missing)} resource.",
                bucket.urn,
            )


def _log_buckets(args: StackValidationArgs, buckets: list[PolicyResource]) -> set[str]:
    """URNs of the buckets that receive S3 server access logs or CloudTrail log files."""
    names = set()
    targets = []
    for resource in args.resources:
        if resource.resource_type == BUCKET_LOGGING:
            names.add(resource.props.get("targetBucket"))
            targets += resource.property_dependencies.get("targetBucket", [])
        elif resource.resource_type == TRAIL:
            names.add(resource.props.get("s3BucketName"))
            targets += resource.property_dependencies.get("s3BucketName", [])
    return {b.urn for b in buckets if b in targets or b.props.get("bucket") in names}


def _code_buckets(args: StackValidationArgs, buckets: list[PolicyResource]) -> set[str]:
    """URNs of the buckets whose code a signing job signs (`codeSigning`)."""
    return {
        bucket.urn
        for resource in args.resources
        if resource.resource_type == SIGNING_JOB
        for bucket in _bucket_targets(resource, "source", resource.props.get("source"), buckets)
    }


def validate_kms_encrypted(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    log_buckets = _log_buckets(args, buckets)
    code_buckets = _code_buckets(args, buckets)
    for resource in args.resources:
        if resource.resource_type != BUCKET_ENCRYPTION:
            continue
        bucket = _bucket_of(resource, buckets)
        logs = bucket is not None and bucket.urn in log_buckets
        # The organization stack's buckets hold code every account of the organisation reads;
        # a signed-code bucket, code Signer and Lambda read as the deploying role.
        code = stack_role() == "organization" or (bucket is not None and bucket.urn in code_buckets)
        allowed = LOG_BUCKET_ALGORITHMS if logs or code else KMS_ALGORITHMS
        algorithms = [
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for rule in _items(resource.props.get("rules"))
        ]
        if not algorithms or any(a not in allowed for a in algorithms):
            report_violation(
                f"Bucket default encryption must be SSE-KMS (sseAlgorithm aws:kms), not "
                f"{algorithms}; only a bucket receiving access logs or holding code may use "
                "AES256.",
                resource.urn,
            )


def validate_resource_types(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    role = stack_role()
    if role not in ALLOWED_TYPES:
        report_violation(
            f"Stack {stack_name()!r} has no role in policy/deployment.json (stacks: name -> "
            "logging, member or organization), so the pack cannot tell what it may declare.",
            None,
        )
        return
    for resource in args.resources:
        if resource.resource_type not in ALLOWED_TYPES[role]:
            report_violation(
                f"A {role} stack declares no {resource.resource_type}; the rules were not "
                "written for it (an aws-native or V2 type, or a new one: add it to the pack "
                "with its rules first).",
                resource.urn,
            )


def _bucket_targets(
    resource: PolicyResource, key: str, value: Any, buckets: list[PolicyResource]
) -> list[PolicyResource]:
    """The stack's buckets an input names, by dependency or by name in an S3 ARN or URL."""
    found = [b for b in buckets if b in resource.property_dependencies.get(key, [])]
    text = json.dumps(value, default=str)
    found += [
        b
        for b in buckets
        if b not in found
        and b.props.get("bucket")
        and re.search(rf"(:::|s3://){re.escape(str(b.props['bucket']))}([/\"]|$)", text)
    ]
    return found


def _archive_buckets(args: StackValidationArgs, buckets: list[PolicyResource]) -> set[str]:
    """URNs of the buckets a delivery stream writes the archive into."""
    found: set[str] = set()
    for resource in args.resources:
        if resource.resource_type == FIREHOSE:
            value = resource.props.get("extendedS3Configuration")
            found |= {
                b.urn for b in _bucket_targets(resource, "extendedS3Configuration", value, buckets)
            }
    return found


def validate_lifecycle_floor(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    kept = _archive_buckets(args, buckets) | _log_buckets(args, buckets)
    results = set()
    for resource in args.resources:
        if resource.resource_type == WORKGROUP:
            value = resource.props.get("configuration")
            results |= {b.urn for b in _bucket_targets(resource, "configuration", value, buckets)}
    for resource in args.resources:
        if resource.resource_type != LIFECYCLE:
            continue
        bucket = _bucket_of(resource, buckets)
        if bucket is not None and bucket.urn in results and bucket.urn not in kept:
            continue  # Athena's query results: copies, which athenaResultsDays expires
        for rule in _items(resource.props.get("rules")):
            if rule.get("status") != "Enabled":
                continue
            expiration = rule.get("expiration") or {}
            noncurrent = rule.get("noncurrentVersionExpiration") or {}
            short = [
                f"{name} {value}"
                for name, value in (
                    ("expiration days", expiration.get("days")),
                    ("noncurrent days", noncurrent.get("noncurrentDays")),
                )
                if value is not None and float(value) < EXPIRE_DAYS_FLOOR
            ]
            if expiration.get("date"):
                short.append(f"expiration date {expiration['date']}")
            if short:
                report_violation(
                    f"Lifecycle rule {rule.get('id', '')!r} expires objects after "
                    f"{', '.join(short)}; an archive keeps everything at least "
                    f"{EXPIRE_DAYS_FLOOR} days.",
                    resource.urn,
                )


def validate_no_replication_outside(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    for resource in args.resources:
        if resource.resource_type != REPLICATION:
            continue
        for rule in _items(resource.props.get("rules")):
            destination = rule.get("destination") or {}
            ours = _bucket_targets(resource, "rules", destination.get("bucket"), buckets)
            account = destination.get("account")
            if not ours or (account is not None and not _trusted_account(str(account))):
                report_violation(
                    f"Replication rule {rule.get('id', '')!r} copies the archive to "
                    f"{destination.get('bucket')} (account {account}), not to a bucket this "
                    "stack declares.",
                    resource.urn,
                )


# Where an S3 event notification names its target (BucketNotification's inputs).
NOTIFICATION_TARGETS = (
    ("queues", "queueArn"),
    ("topics", "topicArn"),
    ("lambdaFunctions", "lambdaFunctionArn"),
)


def validate_notifications_inside(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """An archive's object events go only to targets in the deployment's accounts: a queue of
    another account would learn every object written, and could be made to drop them from the
    freshness state."""
    if args.resource_type != BUCKET_NOTIFICATION:
        return
    for key, arn_key in NOTIFICATION_TARGETS:
        for target in _items(args.props.get(key)):
            arn = target.get(arn_key)
            if not isinstance(arn, str):
                continue  # unknown until the target exists: checked when it is
            account = arn.split(":")[4] if arn.count(":") >= 5 else None
            if not _trusted_account(account):
                report_violation(
                    f"The bucket notification sends object events to {arn}, outside the "
                    "deployment's accounts.",
                    args.urn,
                )


# The partition key every json archive stream extracts (handlers/heartbeat.py
# partition_key_query; the pack keeps its own copy, as it runs from the base commit): the
# envelope's owner, heartbeats and control messages together. Another query could file one
# account's records under another's, or under the heartbeat partition, out of `read --account`
# and Athena's sight.
PARTITION_KEY_QUERY = (
    '{owner: (if .messageType == "CONTROL_MESSAGE" or .logGroup == "/central-logging/heartbeat" '
    'then "heartbeat" else .owner end)}'
)
# Processors that only decompress, extract the partition key and delimit records.
FIREHOSE_PROCESSORS = frozenset(
    {"Decompression", "MetadataExtraction", "AppendDelimiterToRecord", "RecordDeAggregation"}
)


def validate_firehose_delivers_to_the_archive(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    existing = {f":::{name}" for name in deployment().existing_buckets}
    for resource in args.resources:
        if resource.resource_type != FIREHOSE:
            continue
        name = resource.props.get("name")
        if resource.props.get("destination") != "extended_s3":
            report_violation(
                f"Delivery stream {name} delivers to {resource.props.get('destination')}; the "
                "archive takes extended_s3 only.",
                resource.urn,
            )
            continue
        config = resource.props.get("extendedS3Configuration") or {}
        processors = (config.get("processingConfiguration") or {}).get("processors")
        odd = [
            str(p.get("type"))
            for p in _items(processors)
            if p.get("type") not in FIREHOSE_PROCESSORS
        ]
        if odd:
            report_violation(
                f"Delivery stream {name} transforms records with {', '.join(odd)}; whoever "
                "controls a transform rewrites or drops the logs before the archive.",
                resource.urn,
            )
        queries = [
            parameter.get("parameterValue")
            for p in _items(processors)
            if p.get("type") == "MetadataExtraction"
            for parameter in _items(p.get("parameters"))
            if parameter.get("parameterName") == "MetadataExtractionQuery"
        ]
        if any(query != PARTITION_KEY_QUERY for query in queries):
            report_violation(
                f"Delivery stream {name} partitions records by {queries}, not by the "
                f"envelope's owner ({PARTITION_KEY_QUERY}): records would be filed under "
                "another partition than their account's.",
                resource.urn,
            )
        for key in ("bucketArn",):
            arn = str(config.get(key))
            ours = _bucket_targets(resource, "extendedS3Configuration", arn, buckets)
            if not ours and not any(arn.endswith(e) for e in existing):
                report_violation(
                    f"Delivery stream {name} writes to {arn}, which is neither a bucket of this "
                    "stack nor an existingBuckets entry of policy/deployment.json.",
                    resource.urn,
                )
        if config.get("s3BackupMode") not in (None, "Disabled"):
            report_violation(
                f"Delivery stream {name} backs records up to a second bucket; the archive is "
                "the only copy the pack judges.",
                resource.urn,
            )


def validate_destinations_target_the_stack(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    streams = [r for r in args.resources if r.resource_type in (FIREHOSE, KINESIS_STREAM)]
    roles = [r for r in args.resources if r.resource_type == ROLE]
    for resource in args.resources:
        if resource.resource_type != LOG_DESTINATION:
            continue
        for key, declared, what in (("targetArn", streams, "stream"), ("roleArn", roles, "role")):
            if not any(d in resource.property_dependencies.get(key, []) for d in declared):
                report_violation(
                    f"Destination {resource.props.get('name')} sends to the {what} "
                    f"{resource.props.get(key)}, which this stack does not declare.",
                    resource.urn,
                )


def _destination_arns(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """The CloudWatch Logs destinations a member-side resource delivers to."""
    if resource_type == SUBSCRIPTION_FILTER:
        return [str(props.get("destinationArn"))]
    if resource_type == ACCOUNT_POLICY:
        try:
            document = json.loads(str(props.get("policyDocument")))
        except ValueError:
            return ["(an unreadable account policy document)"]
        return [str(document.get("DestinationArn"))]
    if resource_type == FUNCTION:
        variables = (props.get("environment") or {}).get("variables") or {}
        arn = variables.get("DESTINATION_ARN")
        return [] if arn is None else [str(arn)]
    if resource_type == SSM_PARAMETER and props.get("name") == DESTINATION_PARAMETER:
        return [str(props.get("value"))]
    return []


def validate_member_destinations(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    for arn in _destination_arns(args.resource_type, args.props):
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "logs" or not _trusted_account(parts[4]):
            report_violation(
                f"{args.resource_type} delivers to {arn}, which is not a CloudWatch Logs "
                "destination in an account of policy/deployment.json.",
                None,
            )


_SUBSTITUTION = re.compile(r"\$\{([^}!]+)\}")
PSEUDO_PARAMETERS = {
    "AWS::AccountId": TEMPLATE_ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::URLSuffix": "amazonaws.com",
}
_NO_VALUE = object()


def _resolve(node: Any, template: Mapping[str, Any], branch: bool) -> Any:
    """A template value with its intrinsic functions evaluated as far as the rules need:
    pseudo parameters (the instance's own account stands as TEMPLATE_ACCOUNT), Fn::Sub,
    Fn::Join, Fn::FindInMap (the first region's row), and one branch of every Fn::If."""
    if isinstance(node, list):
        return [v for v in (_resolve(i, template, branch) for i in node) if v is not _NO_VALUE]
    if not isinstance(node, Mapping):
        return node
    if len(node) == 1:
        [(function, argument)] = node.items()
        if function == "Ref":
            if argument == "AWS::NoValue":
                return _NO_VALUE
            return PSEUDO_PARAMETERS.get(argument, f"ref-{argument}")
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            values = {k: _resolve(v, template, branch) for k, v in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                return str(values.get(name, PSEUDO_PARAMETERS.get(name, f"ref-{name}")))

            return _SUBSTITUTION.sub(substitute, text).replace("${!", "${")
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(p) for p in _resolve(parts, template, branch))
        if function == "Fn::If":
            _, when_true, when_false = argument
            return _resolve(when_true if branch else when_false, template, branch)
        if function == "Fn::FindInMap":
            name, _, second = (_resolve(a, template, branch) for a in argument)
            rows = (template.get("Mappings") or {}).get(name) or {}
            return next((row.get(second) for row in rows.values()), f"ref-{name}")
        if function == "Fn::GetAtt":
            resource, attribute = argument if isinstance(argument, list) else argument.split(".")
            return f"getatt-{resource}-{attribute}"
    return {
        k: v
        for k, v in ((k, _resolve(v, template, branch)) for k, v in node.items())
        if v is not _NO_VALUE
    }


def _translated(cfn_type: str, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A template resource as the Pulumi resource the rules read, or None if none applies."""
    if cfn_type == "AWS::IAM::Role":
        return ROLE, {
            "assumeRolePolicy": properties.get("AssumeRolePolicyDocument"),
            "inlinePolicies": [
                {"name": p.get("PolicyName"), "policy": p.get("PolicyDocument")}
                for p in _items(properties.get("Policies"))
            ],
            "managedPolicyArns": properties.get("ManagedPolicyArns"),
        }
    if cfn_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        return MANAGED_POLICY, {"policy": properties.get("PolicyDocument")}
    if cfn_type == "AWS::SQS::QueuePolicy":
        return SQS_QUEUE_POLICY, {"policy": properties.get("PolicyDocument")}
    if cfn_type == "AWS::S3::BucketPolicy":
        return BUCKET_POLICY, {
            "bucket": properties.get("Bucket"),
            "policy": properties.get("PolicyDocument"),
        }
    if cfn_type == "AWS::Lambda::Permission":
        return LAMBDA_PERMISSION, {
            "principal": properties.get("Principal"),
            "sourceAccount": properties.get("SourceAccount"),
            "sourceArn": properties.get("SourceArn"),
        }
    if cfn_type == "AWS::Logs::AccountPolicy":
        return ACCOUNT_POLICY, {
            "policyDocument": properties.get("PolicyDocument"),
            "selectionCriteria": properties.get("SelectionCriteria"),
        }
    if cfn_type == "AWS::Logs::SubscriptionFilter":
        return SUBSCRIPTION_FILTER, {
            "destinationArn": properties.get("DestinationArn"),
            "filterPattern": properties.get("FilterPattern"),
        }
    if cfn_type == "AWS::SSM::Parameter":
        return SSM_PARAMETER, {"name": properties.get("Name"), "value": properties.get("Value")}
    if cfn_type == "AWS::Lambda::Function":
        variables = (properties.get("Environment") or {}).get("Variables")
        return FUNCTION, {"environment": {"variables": variables}}
    return None


def template_resources(body: Any) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(logical ID, CloudFormation type, Pulumi type, inputs) of each resource of a StackSet
    template that a rule reads, once per branch of its conditions."""
    template = json.loads(body) if isinstance(body, str) else body
    for branch in (True, False):
        resolved = _resolve(template.get("Resources") or {}, template, branch)
        for logical_id, resource in resolved.items():
            translated = _translated(resource.get("Type"), resource.get("Properties") or {})
            if translated is not None:
                yield logical_id, resource.get("Type"), *translated


def validate_stack_set_templates(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """A StackSet deploys its template into every account of the OUs: the template's
    resources pass the same rules as the stack's own."""
    if args.resource_type != STACK_SET:
        return
    body = args.props.get("templateBody")
    try:
        template = json.loads(body) if isinstance(body, str) else dict(body or {})
    except (TypeError, ValueError):
        report_violation("The StackSet's templateBody is not a readable JSON template.", None)
        return
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") not in ALLOWED_TEMPLATE_TYPES:
            report_violation(
                f"StackSet template resource {logical_id} is a {resource.get('Type')}, which "
                "the organization stack's templates do not declare.",
                None,
            )
    seen: set[str] = set()
    for logical_id, cfn_type, resource_type, props in template_resources(template):
        for _, arn in _attached_policy_arns(resource_type, props):
            text = (
                f"StackSet template resource {logical_id} ({cfn_type}) gets the managed policy "
                f"{arn}; template roles carry their statements inline, where the rules read them."
            )
            if text not in seen:
                seen.add(text)
                report_violation(text, None)
        inner = ResourceValidationArgs(
            resource_type=resource_type,
            props=props,
            urn=f"{args.urn}/{logical_id}",
            name=logical_id,
            opts=args.opts,
            provider=None,
        )
        for rule in POLICIES:
            if isinstance(rule, ResourceValidationPolicy) and rule.name != TEMPLATE_RULE:
                found: list[str] = []
                rule.validate(inner, functools.partial(_collect, found))
                for message in found:
                    text = f"StackSet template resource {logical_id} ({cfn_type}): {message}"
                    if text not in seen:
                        seen.add(text)
                        report_violation(text, None)


TEMPLATE_RULE = "stack-set-templates-pass-the-rules"


def _collect(found: list[str], message: str, urn: str | None = None) -> None:
    found.append(message)


# Acknowledgements are the pack's configuration, passed with --policy-pack-config from the
# base branch (Pulumi, "Configuring policy packs",
# https://www.pulumi.com/docs/iac/crossguard/configuration/).
COVERAGE_RULE = "coverage-reductions-acknowledged"
COVERAGE_SETTINGS = {
    "filterPatterns": "filterPattern",
    "excludeLogGroups": "excludeLogGroups",
    "expireDays": "expireDays",
    "transitionDays": "transitionDays",
    "objectLock": "objectLockMode/objectLockDays",
    "archiveAdminRoleArns": "archiveAdminRoleArns",
}
# The logging account's own delivery-error log group, which member stacks there leave out
# (log recursion, handlers/core.py delivery_log_groups): an exclusion of the design.
RECURSION_EXCLUSION = re.compile(r"/aws/kinesisfirehose/[A-Za-z0-9_.-]+")
# Who is exempt from a deny of these is an archive admin (components/policies.py,
# _deny_rewrites): they can change the archive's protections or destroy its history.
ADMIN_ACTIONS = frozenset(
    {"s3:putbucketpolicy", "s3:putlifecycleconfiguration", "s3:deleteobjectversion", "s3:*"}
)
ADMIN_EXCEPTION_OPERATORS = ("ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike")


def _subscription_settings(
    resource_type: str, props: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    """(setting, value) of the filter pattern and exclusions a member-side resource applies."""
    if resource_type == FUNCTION:
        variables = (props.get("environment") or {}).get("variables") or {}
        if "FILTER_PATTERN" in variables:
            yield "filterPatterns", str(variables["FILTER_PATTERN"])
        if "EXCLUDE_PATTERNS" in variables:
            for name in json.loads(str(variables["EXCLUDE_PATTERNS"])):
                yield "excludeLogGroups", str(name)
    elif resource_type == SUBSCRIPTION_FILTER:
        yield "filterPatterns", str(props.get("filterPattern") or "")
    elif resource_type == ACCOUNT_POLICY:
        document = json.loads(str(props.get("policyDocument")))
        yield "filterPatterns", str(document.get("FilterPattern") or "")
        criteria = str(props.get("selectionCriteria") or "")
        if criteria.startswith("LogGroupName NOT IN "):
            for name in json.loads(criteria.removeprefix("LogGroupName NOT IN ")):
                yield "excludeLogGroups", str(name)


def coverage_settings(args: StackValidationArgs) -> dict[str, set[str]]:
    """What the stack really applies, read from the resources AWS gets (never from the
    program's word): filter patterns and exclusions of every subscription path, StackSet
    templates included, and the archive's lifecycle, Object Lock and admin exemptions."""
    found: dict[str, set[str]] = {name: set() for name in COVERAGE_SETTINGS}
    for resource in args.resources:
        found_here = list(_subscription_settings(resource.resource_type, resource.props))
        if resource.resource_type == STACK_SET:
            for _, _, resource_type, props in template_resources(
                resource.props.get("templateBody")
            ):
                found_here += _subscription_settings(resource_type, props)
        for setting, value in found_here:
            found[setting].add(value)
    found["filterPatterns"].discard("")
    found["excludeLogGroups"] = {
        n for n in found["excludeLogGroups"] if not RECURSION_EXCLUSION.fullmatch(n)
    }
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    archives = _archive_buckets(args, buckets)
    locked = False
    for resource in args.resources:
        bucket = _bucket_of(resource, buckets) if resource.resource_type != BUCKET else None
        if bucket is None or bucket.urn not in archives:
            continue
        if resource.resource_type == LIFECYCLE:
            for rule in _items(resource.props.get("rules")):
                if rule.get("status") != "Enabled":
                    continue
                days = (rule.get("expiration") or {}).get("days")
                if days is not None:
                    found["expireDays"].add(str(int(days)))
                for transition in _items(rule.get("transitions")):
                    found["transitionDays"].add(str(int(transition.get("days") or 0)))
        elif resource.resource_type == OBJECT_LOCK:
            retention = (resource.props.get("rule") or {}).get("defaultRetention") or {}
            days, years = retention.get("days"), retention.get("years")
            period = f"{int(days)}d" if days is not None else f"{int(years or 0)}y"
            found["objectLock"].add(f"{retention.get('mode')}:{period}")
            locked = True
        elif resource.resource_type == BUCKET_POLICY:
            for statement in _statements(resource.props.get("policy")) or []:
                actions = {str(a).lower() for a in _items(statement.get("Action"))}
                if statement.get("Effect") != "Deny" or not actions & ADMIN_ACTIONS:
                    continue
                conditions = _conditions(statement)
                for operator in ADMIN_EXCEPTION_OPERATORS:
                    for value in conditions.get(operator, {}).get("aws:principalarn", []):
                        found["archiveAdminRoleArns"].add(str(value))
    if archives and not locked:
        found["objectLock"].add("off")
    return found


def validate_coverage_acknowledged(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    acknowledged = args.get_config()
    for setting, values in coverage_settings(args).items():
        allowed = {str(v) for v in acknowledged.get(setting) or []}
        if setting == "objectLock" and not allowed:
            allowed = {"off"}
        for value in sorted(values - allowed):
            report_violation(
                f"{COVERAGE_SETTINGS[setting]} {value!r} changes what the archive keeps and is "
                f"not acknowledged: an owner lists it under {setting} in "
                'policy/acknowledged.json (README, "Acknowledging a coverage change").',
                None,
            )


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    ResourceValidationPolicy(
        name="archive-bucket-public-access-blocked",
        description="S3 public access blocks set all four flags.",
        validate=validate_public_access_blocked,
    ),
    StackValidationPolicy(
        name="archive-bucket-kms-encrypted",
        description=(
            "S3 buckets are encrypted by default with KMS; a bucket receiving S3 server access "
            "logs or CloudTrail files may use SSE-S3."
        ),
        validate=validate_kms_encrypted,
    ),
    StackValidationPolicy(
        name="archive-bucket-protections-declared",
        description=(
            "Every S3 bucket has a public access block, default encryption, versioning and "
            "bucket policy resource."
        ),
        validate=validate_buckets_fully_protected,
    ),
    ResourceValidationPolicy(
        name="notifications-inside-the-deployment",
        description="S3 event notifications go only to queues, topics and functions of the "
        "deployment's accounts.",
        validate=validate_notifications_inside,
    ),
    ResourceValidationPolicy(
        name="archive-bucket-no-inline-settings",
        description="S3 buckets set no inline ACL, policy, versioning, ... and no forceDestroy.",
        validate=validate_no_inline_bucket_settings,
    ),
    ResourceValidationPolicy(
        name="archive-bucket-versioned",
        description="S3 bucket versioning is enabled.",
        validate=validate_versioned,
    ),
    ResourceValidationPolicy(
        name="archive-bucket-tls-only",
        description=(
            "S3 bucket policies deny every request made without TLS and allow nothing to "
            'Principal "*".'
        ),
        validate=validate_tls_only,
    ),
    ResourceValidationPolicy(
        name="destination-policy-org-scoped",
        description=(
            'Log destination policies allow "*" only with the exact ID of one organisation '
            "(aws:PrincipalOrgID or aws:PrincipalOrgPaths), and never NotPrincipal."
        ),
        validate=validate_destination_policy_org_scoped,
    ),
    ResourceValidationPolicy(
        name="service-roles-confused-deputy",
        description=(
            "Roles assumed by an AWS service carry aws:SourceArn, aws:SourceAccount, "
            "aws:SourceOrgID or aws:SourceOrgPaths naming the source (Lambda execution roles "
            'excepted); no role trusts "*".'
        ),
        validate=validate_confused_deputy,
    ),
    ResourceValidationPolicy(
        name="kinesis-stream-encrypted",
        description="Kinesis streams are encrypted with KMS.",
        validate=validate_stream_encrypted,
    ),
    ResourceValidationPolicy(
        name="no-broad-role-actions",
        description=(
            "No IAM policy allows a wildcard action, NotAction, NotResource, S3, KMS or IAM "
            "actions on *, or iam:PassRole on a wildcard."
        ),
        validate=validate_no_broad_actions,
    ),
    StackValidationPolicy(
        name="no-admin-managed-policies",
        description=(
            "No role, user or group gets an AWS managed policy (an allow-list, empty), or a "
            "customer managed policy the stack does not declare, however attached."
        ),
        validate=validate_no_admin_managed_policies,
    ),
    ResourceValidationPolicy(
        name="key-policy-grants-nothing-to-everyone",
        description='KMS key policies allow nothing to Principal "*" or through NotPrincipal.',
        validate=validate_key_policy,
    ),
    StackValidationPolicy(
        name="resource-types-allowed",
        description=(
            "A stack declares only the resource types of its role in policy/deployment.json: "
            "no aws-native or V2 type the rules were not written for."
        ),
        validate=validate_resource_types,
    ),
    ResourceValidationPolicy(
        name="principals-inside-the-organization",
        description=(
            "Trust and resource policies and Lambda permissions admit only accounts of "
            "policy/deployment.json, its organisation, and GitHub's OIDC token for exact "
            "subjects."
        ),
        validate=validate_principals_inside,
    ),
    StackValidationPolicy(
        name="archive-lifecycle-floor",
        description=(
            f"No lifecycle rule expires current or noncurrent objects in under "
            f"{EXPIRE_DAYS_FLOOR} days (Athena's result copies excepted)."
        ),
        validate=validate_lifecycle_floor,
    ),
    StackValidationPolicy(
        name="no-replication-outside-the-stack",
        description="Buckets replicate only into buckets the stack declares.",
        validate=validate_no_replication_outside,
    ),
    StackValidationPolicy(
        name="firehose-delivers-to-the-archive",
        description=(
            "Delivery streams write to an S3 bucket of the stack (or an existing bucket of "
            "policy/deployment.json), with no Lambda transform and no backup copy."
        ),
        validate=validate_firehose_delivers_to_the_archive,
    ),
    StackValidationPolicy(
        name="destinations-target-the-stack",
        description="Log destinations send to a stream and with a role the stack declares.",
        validate=validate_destinations_target_the_stack,
    ),
    ResourceValidationPolicy(
        name="member-destinations-in-the-deployment",
        description=(
            "Subscription filters, account policies, subscriber functions and the CLI's "
            "destination parameter deliver to destinations in accounts of "
            "policy/deployment.json."
        ),
        validate=validate_member_destinations,
    ),
    ResourceValidationPolicy(
        name=TEMPLATE_RULE,
        description=(
            "StackSet templates declare only the organization stack's CloudFormation types, "
            "and their resources pass the same rules as the stack's."
        ),
        validate=validate_stack_set_templates,
    ),
    StackValidationPolicy(
        name=COVERAGE_RULE,
        description=(
            "A filter pattern, exclusion, expiry, transition, Object Lock or archive admin "
            "that changes what the archive keeps is listed in policy/acknowledged.json."
        ),
        validate=validate_coverage_acknowledged,
        config_schema=PolicyConfigSchema(
            properties={
                setting: {"type": "array", "items": {"type": ["string", "number"]}}
                for setting in COVERAGE_SETTINGS
            }
        ),
    ),
]
