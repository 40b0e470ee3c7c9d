"""The rules of the central-logging CrossGuard policy pack.

Each rule is a `ResourceValidationPolicy` around one small `validate(args, report_violation)`
function that reads `args.resource_type` and `args.props`: the resource's inputs as the AWS
provider receives them (camelCase names such as `assumeRolePolicy` or `blockPublicAcls`).
Policy documents arrive as JSON strings or as already-parsed objects; both are read.

During `pulumi preview`, a value that depends on a resource not created yet is unknown; reading
it raises pulumi_policy's `UnknownValueError`, which the engine treats as "not checked yet",
and `pulumi up` checks the resource again once the value is known. So no rule catches broad
exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
DESTINATION_POLICY = "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KINESIS_STREAM = "aws:kinesis/stream:Stream"

PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
CONFUSED_DEPUTY_KEYS = (
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
)
# Lambda assumes an execution role only for a function that an identity of the role's own
# account created or updated with it, which needs iam:PassRole on the role: no other account can
# make Lambda act with it, so there is no confused deputy to guard against. Our program leaves
# these trusts unconditioned on purpose (aws:SourceArn would have to name the function, which
# cannot exist before its role).
UNCONDITIONED_SERVICES = frozenset({"lambda.amazonaws.com"})
FORBIDDEN_ACTIONS = ("*", "iam:*", "logs:*")
# The AWS managed policies that grant what FORBIDDEN_ACTIONS stand for.
FORBIDDEN_MANAGED_POLICIES = (
    "AdministratorAccess",
    "IAMFullAccess",
    "CloudWatchLogsFullAccess",
)


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


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in _items(principal.get("AWS"))


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


def validate_kms_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET_ENCRYPTION:
        return
    rules = _items(args.props.get("rules"))
    algorithms = [
        (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for rule in rules
    ]
    if not algorithms or any(a not in KMS_ALGORITHMS for a in algorithms):
        report_violation(
            f"Bucket default encryption must be SSE-KMS (sseAlgorithm aws:kms), not {algorithms}.",
            None,
        )


def validate_versioned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET_VERSIONING:
        return
    status = (args.props.get("versioningConfiguration") or {}).get("status")
    if status != "Enabled":
        report_violation(f"Bucket versioning must be Enabled, not {status}.", None)


def _denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    actions = {str(a).lower() for a in _items(statement.get("Action"))}
    values = _conditions(statement).get("Bool", {}).get("aws:securetransport", [])
    return (
        statement.get("Effect") == "Deny"
        and _is_everyone(statement.get("Principal"))
        and bool(actions & {"*", "s3:*"})
        and any(str(v).lower() == "false" for v in values)
    )


def validate_tls_only(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET_POLICY:
        return
    statements = _statements(args.props.get("policy"))
    if statements is None:
        _unreadable(args, "policy", report_violation)
    elif not any(_denies_insecure_transport(s) for s in statements):
        report_violation(
            'The bucket policy must deny s3:* to "*" when aws:SecureTransport is false.', None
        )


def validate_destination_policy_org_scoped(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != DESTINATION_POLICY:
        return
    statements = _statements(args.props.get("accessPolicy"))
    if statements is None:
        _unreadable(args, "accessPolicy", report_violation)
        return
    for statement in statements:
        if statement.get("Effect") != "Allow" or not _is_everyone(statement.get("Principal")):
            continue
        org_ids = _conditions(statement).get("StringEquals", {}).get("aws:principalorgid")
        if not org_ids:
            report_violation(
                f'Destination policy statement {statement.get("Sid", "")!r} allows Principal "*" '
                "without a StringEquals aws:PrincipalOrgID condition: any AWS account could "
                "send logs.",
                None,
            )


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
        principal = statement.get("Principal")
        if statement.get("Effect") != "Allow" or not isinstance(principal, Mapping):
            continue
        services = {str(s) for s in _items(principal.get("Service"))}
        if not services or services <= UNCONDITIONED_SERVICES:
            continue
        keys = {key for clauses in _conditions(statement).values() for key in clauses}
        if not keys & set(CONFUSED_DEPUTY_KEYS):
            report_violation(
                f"Role trust for {sorted(services)} needs a confused-deputy condition on "
                "aws:SourceArn, aws:SourceAccount, aws:SourceOrgID or aws:SourceOrgPaths.",
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


def _broad_grants(statements: list[Mapping[str, Any]]) -> list[str]:
    found = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append("NotAction (allows everything not listed)")
        found += [
            str(a) for a in _items(statement.get("Action")) if str(a).lower() in FORBIDDEN_ACTIONS
        ]
    return found


def validate_no_broad_actions(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type in (ROLE_POLICY, MANAGED_POLICY):
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


def validate_no_admin_managed_policies(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type == ROLE_POLICY_ATTACHMENT:
        arns = [args.props.get("policyArn")]
    elif args.resource_type == ROLE:
        arns = _items(args.props.get("managedPolicyArns"))
    else:
        return
    for arn in arns:
        if str(arn).rsplit("/", 1)[-1] in FORBIDDEN_MANAGED_POLICIES:
            report_violation(f"Roles must not get the managed policy {arn}.", None)


POLICIES: list[ResourceValidationPolicy] = [
    ResourceValidationPolicy(
        name="archive-bucket-public-access-blocked",
        description="S3 public access blocks set all four flags.",
        validate=validate_public_access_blocked,
    ),
    ResourceValidationPolicy(
        name="archive-bucket-kms-encrypted",
        description="S3 buckets are encrypted by default with KMS.",
        validate=validate_kms_encrypted,
    ),
    ResourceValidationPolicy(
        name="archive-bucket-versioned",
        description="S3 bucket versioning is enabled.",
        validate=validate_versioned,
    ),
    ResourceValidationPolicy(
        name="archive-bucket-tls-only",
        description="S3 bucket policies deny every request made without TLS.",
        validate=validate_tls_only,
    ),
    ResourceValidationPolicy(
        name="destination-policy-org-scoped",
        description='Log destination policies allow "*" only with aws:PrincipalOrgID.',
        validate=validate_destination_policy_org_scoped,
    ),
    ResourceValidationPolicy(
        name="service-roles-confused-deputy",
        description=(
            "Roles assumed by an AWS service carry aws:SourceArn, aws:SourceAccount, "
            "aws:SourceOrgID or aws:SourceOrgPaths (Lambda execution roles excepted)."
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
        description="No IAM policy for a role allows *, iam:* or logs:*.",
        validate=validate_no_broad_actions,
    ),
    ResourceValidationPolicy(
        name="no-admin-managed-policies",
        description="No role gets AdministratorAccess, IAMFullAccess or CloudWatchLogsFullAccess.",
        validate=validate_no_admin_managed_policies,
    ),
]
