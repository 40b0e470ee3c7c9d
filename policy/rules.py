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
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
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
# AWS managed policies that grant wildcard IAM, logs, S3 or KMS rights, or nearly everything.
FORBIDDEN_MANAGED_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "IAMFullAccess",
    "CloudWatchLogsFullAccess",
    "AmazonS3FullAccess",
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
        if _grants_everyone(statement):
            report_violation(
                f"Bucket policy statement {statement.get('Sid', '')!r} allows everyone "
                '(Principal "*" or NotPrincipal); grant named principals only.',
                None,
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


def _pinned(key: str, value: str) -> bool:
    """A confused-deputy condition value that names a source rather than matching any."""
    if key == "aws:sourceaccount":
        return ACCOUNT_RE.fullmatch(value) is not None
    if key == "aws:sourceorgid":
        return ORG_ID_RE.fullmatch(value) is not None
    if key == "aws:sourceorgpaths":
        return ORG_ID_RE.fullmatch(value.partition("/")[0]) is not None
    # aws:SourceArn: a literal partition and service, and a literal region, account or
    # resource (arn:aws:logs:eu-west-1:*:* names CloudWatch Logs of one region).
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or WILDCARDS.search(parts[1] + parts[2]):
        return False
    return any(part and not WILDCARDS.search(part) for part in parts[3:])


def _confused_deputy_guarded(statement: Mapping[str, Any]) -> bool:
    for key in CONFUSED_DEPUTY_KEYS:
        values = _matching_values(statement, key)
        if values and all(_pinned(key, v) for v in values):
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
        if not _confused_deputy_guarded(statement):
            report_violation(
                f"Role trust for {sorted(services)} needs a confused-deputy condition that "
                "names its source (StringEquals/StringLike/ArnEquals/ArnLike on aws:SourceArn, "
                "aws:SourceAccount, aws:SourceOrgID or aws:SourceOrgPaths; not Null, a negated "
                "or ...IfExists operator, nor a wildcard alone).",
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
        if "NotResource" in statement:
            found.append("NotResource (allows every resource not listed)")
        actions = [str(a) for a in _items(statement.get("Action"))]
        resources = [str(r) for r in _items(statement.get("Resource"))]
        found += [a for a in actions if WILDCARDS.search(a)]
        if "*" in resources:
            found += [
                f"{a} on *"
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


def validate_no_admin_managed_policies(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type in (
        ROLE_POLICY_ATTACHMENT,
        USER_POLICY_ATTACHMENT,
        GROUP_POLICY_ATTACHMENT,
        POLICY_ATTACHMENT,
    ):
        arns = [args.props.get("policyArn")]
    elif args.resource_type in EXCLUSIVE_ATTACHMENTS:
        arns = _items(args.props.get("policyArns"))
    elif args.resource_type == ROLE:
        arns = _items(args.props.get("managedPolicyArns"))
    else:
        return
    for arn in arns:
        if str(arn).rsplit("/", 1)[-1] in FORBIDDEN_MANAGED_POLICIES:
            report_violation(f"No role, user or group may get the managed policy {arn}.", None)


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


def validate_kms_encrypted(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    log_buckets = _log_buckets(args, buckets)
    for resource in args.resources:
        if resource.resource_type != BUCKET_ENCRYPTION:
            continue
        bucket = _bucket_of(resource, buckets)
        allowed = LOG_BUCKET_ALGORITHMS if bucket and bucket.urn in log_buckets else KMS_ALGORITHMS
        algorithms = [
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for rule in _items(resource.props.get("rules"))
        ]
        if not algorithms or any(a not in allowed for a in algorithms):
            report_violation(
                f"Bucket default encryption must be SSE-KMS (sseAlgorithm aws:kms), not "
                f"{algorithms}; only a bucket receiving access logs may use AES256.",
                resource.urn,
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
    ResourceValidationPolicy(
        name="no-admin-managed-policies",
        description=(
            "No role, user or group gets AdministratorAccess, PowerUserAccess, IAMFullAccess, "
            "CloudWatchLogsFullAccess or AmazonS3FullAccess, however attached."
        ),
        validate=validate_no_admin_managed_policies,
    ),
    ResourceValidationPolicy(
        name="key-policy-grants-nothing-to-everyone",
        description='KMS key policies allow nothing to Principal "*" or through NotPrincipal.',
        validate=validate_key_policy,
    ),
]
