"""The IAM permissions each stack's `pulumi up` needs (deploy/iam/<stack>.json) cover every
resource type and provider function the program declares under the mocks, and pass parliament.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import parliament
import pytest
import yaml

from tests.infra.harness import ORG_ID, RecordingMocks, Resource, Run, run_program
from tests.infra.test_organization import MANAGEMENT, REGIONS
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK

IAM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "iam"

# What the AWS provider calls to create, read, update, tag and delete each resource type (and
# to run each function) the program uses; iam:PassRole where the resource takes a role (the
# service it is passed to is in PASSED_TO). pulumi-aws bridges terraform-provider-aws: each entry
# names the file of hashicorp/terraform-provider-aws that makes the calls. A type or function the
# program starts to use fails the test below until it is listed here and its actions are in the
# stack's policy.
ACTIONS: dict[str, list[str]] = {
    # internal/service/sts/caller_identity_data_source.go
    "aws:index/getCallerIdentity:getCallerIdentity": ["sts:GetCallerIdentity"],
    # The deploying role's path, for the archive's admin exemption (iam:GetRole on itself):
    # internal/service/iam/session_context_data_source.go.
    "aws:iam/getSessionContext:getSessionContext": ["iam:GetRole"],
    # The signed code's version, to pin it: internal/service/s3/object_data_source.go
    # (HeadObject, authorised as s3:GetObject).
    "aws:s3/getObject:getObject": ["s3:GetObject"],
    # internal/service/s3/bucket_logging.go
    "aws:s3/bucketLogging:BucketLogging": ["s3:PutBucketLogging", "s3:GetBucketLogging"],
    # internal/service/cloudtrail/trail.go
    "aws:cloudtrail/trail:Trail": [
        "cloudtrail:CreateTrail",
        "cloudtrail:GetTrail",
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:UpdateTrail",
        "cloudtrail:DeleteTrail",
        "cloudtrail:StartLogging",
        "cloudtrail:StopLogging",
        "cloudtrail:PutEventSelectors",
        "cloudtrail:GetEventSelectors",
        "cloudtrail:ListTags",
        "cloudtrail:AddTags",
        "cloudtrail:RemoveTags",
    ],
    # internal/service/s3/bucket.go (the read fetches every sub-configuration)
    "aws:s3/bucket:Bucket": [
        "s3:CreateBucket",
        "s3:DeleteBucket",
        "s3:ListBucket",
        "s3:GetBucketAcl",
        "s3:GetBucketCORS",
        "s3:GetBucketLogging",
        "s3:GetBucketPolicy",
        "s3:GetBucketRequestPayment",
        "s3:GetBucketTagging",
        "s3:GetBucketVersioning",
        "s3:GetBucketWebsite",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetAccelerateConfiguration",
        "s3:GetEncryptionConfiguration",
        "s3:GetLifecycleConfiguration",
        "s3:GetReplicationConfiguration",
        "s3:PutBucketTagging",
        "s3:PutBucketObjectLockConfiguration",
    ],
    # internal/service/s3/bucket_versioning.go
    "aws:s3/bucketVersioning:BucketVersioning": [
        "s3:PutBucketVersioning",
        "s3:GetBucketVersioning",
    ],
    # internal/service/s3/bucket_server_side_encryption_configuration.go
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
    ],
    # internal/service/s3/bucket_public_access_block.go
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": [
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ],
    # internal/service/s3/bucket_ownership_controls.go
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": [
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
    ],
    # internal/service/s3/bucket_policy.go
    "aws:s3/bucketPolicy:BucketPolicy": [
        "s3:PutBucketPolicy",
        "s3:GetBucketPolicy",
        "s3:DeleteBucketPolicy",
    ],
    # internal/service/s3/bucket_object_lock_configuration.go
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": [
        "s3:PutBucketObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    ],
    # internal/service/s3/bucket_lifecycle_configuration.go
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": [
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ],
    # internal/service/kms/key.go
    "aws:kms/key:Key": [
        "kms:CreateKey",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:PutKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:EnableKeyRotation",
        "kms:UpdateKeyDescription",
        "kms:ListResourceTags",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:ScheduleKeyDeletion",
    ],
    # internal/service/iam/role.go
    "aws:iam/role:Role": [
        "iam:CreateRole",
        "iam:GetRole",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
    ],
    # internal/service/iam/role_policy.go
    "aws:iam/rolePolicy:RolePolicy": [
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
    ],
    # internal/service/logs/destination.go
    "aws:cloudwatch/logDestination:LogDestination": [
        "logs:PutDestination",
        "logs:DescribeDestinations",
        "logs:DeleteDestination",
        "logs:ListTagsForResource",
        "logs:TagResource",
        "logs:UntagResource",
        "iam:PassRole",
    ],
    # internal/service/logs/destination_policy.go
    "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy": [
        "logs:PutDestinationPolicy",
        "logs:DescribeDestinations",
    ],
    # internal/service/logs/group.go
    "aws:cloudwatch/logGroup:LogGroup": [
        "logs:CreateLogGroup",
        "logs:DescribeLogGroups",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:DeleteLogGroup",
        "logs:ListTagsForResource",
        "logs:TagResource",
        "logs:UntagResource",
    ],
    # internal/service/logs/stream.go
    "aws:cloudwatch/logStream:LogStream": [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:DeleteLogStream",
    ],
    # internal/service/logs/metric_filter.go
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": [
        "logs:PutMetricFilter",
        "logs:DescribeMetricFilters",
        "logs:DeleteMetricFilter",
    ],
    # internal/service/logs/account_policy.go. A subscription filter policy needs
    # logs:PutSubscriptionFilter besides logs:PutAccountPolicy:
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html
    "aws:cloudwatch/logAccountPolicy:LogAccountPolicy": [
        "logs:PutAccountPolicy",
        "logs:PutSubscriptionFilter",
        "logs:DescribeAccountPolicies",
        "logs:DeleteAccountPolicy",
        "iam:PassRole",
    ],
    # internal/service/cloudwatch/metric_alarm.go
    "aws:cloudwatch/metricAlarm:MetricAlarm": [
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:ListTagsForResource",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
    ],
    "aws:cloudwatch/dashboard:Dashboard": [
        "cloudwatch:PutDashboard",
        "cloudwatch:GetDashboard",
        "cloudwatch:DeleteDashboards",
    ],
    # internal/service/events/rule.go
    "aws:cloudwatch/eventRule:EventRule": [
        "events:PutRule",
        "events:DescribeRule",
        "events:DeleteRule",
        "events:ListTargetsByRule",
        "events:ListTagsForResource",
        "events:TagResource",
        "events:UntagResource",
    ],
    # internal/service/events/target.go
    "aws:cloudwatch/eventTarget:EventTarget": [
        "events:PutTargets",
        "events:ListTargetsByRule",
        "events:RemoveTargets",
    ],
    # internal/service/kinesis/stream.go
    "aws:kinesis/stream:Stream": [
        "kinesis:CreateStream",
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:DeleteStream",
        "kinesis:IncreaseStreamRetentionPeriod",
        "kinesis:DecreaseStreamRetentionPeriod",
        "kinesis:StartStreamEncryption",
        "kinesis:StopStreamEncryption",
        "kinesis:UpdateShardCount",
        "kinesis:UpdateStreamMode",
        "kinesis:ListTagsForStream",
        "kinesis:AddTagsToStream",
        "kinesis:RemoveTagsFromStream",
    ],
    # internal/service/firehose/delivery_stream.go
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": [
        "firehose:CreateDeliveryStream",
        "firehose:DescribeDeliveryStream",
        "firehose:UpdateDestination",
        "firehose:DeleteDeliveryStream",
        "firehose:StartDeliveryStreamEncryption",
        "firehose:StopDeliveryStreamEncryption",
        "firehose:ListTagsForDeliveryStream",
        "firehose:TagDeliveryStream",
        "firehose:UntagDeliveryStream",
        "iam:PassRole",
    ],
    # internal/service/lambda/function.go
    "aws:lambda/function:Function": [
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionConfiguration",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
        "lambda:ListVersionsByFunction",
        "lambda:ListTags",
        "lambda:TagResource",
        "lambda:UntagResource",
        "iam:PassRole",
    ],
    # internal/service/lambda/permission.go
    "aws:lambda/permission:Permission": [
        "lambda:AddPermission",
        "lambda:GetPolicy",
        "lambda:RemovePermission",
    ],
    # internal/service/lambda/invocation.go
    "aws:lambda/invocation:Invocation": ["lambda:InvokeFunction"],
    # internal/service/sqs/queue.go
    # The bridged provider's resource (terraform-provider-aws,
    # internal/service/lambda/event_source_mapping.go): CreateEventSourceMapping with tags,
    # then waits and reads with GetEventSourceMapping; Update and Delete by UUID.
    "aws:lambda/eventSourceMapping:EventSourceMapping": [
        "lambda:CreateEventSourceMapping",
        "lambda:GetEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        "lambda:ListTags",
        "lambda:TagResource",
        "lambda:UntagResource",
    ],
    # internal/service/s3/bucket_notification.go: Put/GetBucketNotificationConfiguration,
    # which IAM authorises as s3:PutBucketNotification / s3:GetBucketNotification.
    "aws:s3/bucketNotification:BucketNotification": [
        "s3:PutBucketNotification",
        "s3:GetBucketNotification",
    ],
    "aws:sqs/queue:Queue": [
        "sqs:CreateQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:DeleteQueue",
        "sqs:ListQueueTags",
        "sqs:TagQueue",
        "sqs:UntagQueue",
    ],
    # internal/service/sqs/queue_policy.go
    "aws:sqs/queuePolicy:QueuePolicy": ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"],
    # internal/service/ssm/parameter.go
    "aws:ssm/parameter:Parameter": [
        "ssm:PutParameter",
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:DescribeParameters",
        "ssm:DeleteParameter",
        "ssm:ListTagsForResource",
        "ssm:AddTagsToResource",
        "ssm:RemoveTagsFromResource",
    ],
    # internal/service/sns/topic.go
    "aws:sns/topic:Topic": [
        "sns:CreateTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:DeleteTopic",
        "sns:ListTagsForResource",
        "sns:TagResource",
        "sns:UntagResource",
    ],
    # internal/service/sns/topic_subscription.go
    "aws:sns/topicSubscription:TopicSubscription": [
        "sns:Subscribe",
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:Unsubscribe",
    ],
    # internal/service/glue/catalog_database.go
    "aws:glue/catalogDatabase:CatalogDatabase": [
        "glue:CreateDatabase",
        "glue:GetDatabase",
        "glue:UpdateDatabase",
        "glue:DeleteDatabase",
        "glue:GetTags",
        "glue:TagResource",
        "glue:UntagResource",
    ],
    # internal/service/glue/catalog_table.go: resourceCatalogTableRead (run after CreateTable
    # too) reads the table's partition indexes with GetPartitionIndexes.
    "aws:glue/catalogTable:CatalogTable": [
        "glue:CreateTable",
        "glue:GetTable",
        "glue:GetPartitionIndexes",
        "glue:UpdateTable",
        "glue:DeleteTable",
    ],
    # internal/service/athena/workgroup.go
    "aws:athena/workgroup:Workgroup": [
        "athena:CreateWorkGroup",
        "athena:GetWorkGroup",
        "athena:UpdateWorkGroup",
        "athena:DeleteWorkGroup",
        "athena:ListTagsForResource",
        "athena:TagResource",
        "athena:UntagResource",
    ],
    # internal/service/athena/named_query.go
    "aws:athena/namedQuery:NamedQuery": [
        "athena:CreateNamedQuery",
        "athena:GetNamedQuery",
        "athena:DeleteNamedQuery",
    ],
    # internal/service/organizations/organization_data_source.go: DescribeOrganization, then
    # ListAccounts; where that is allowed (the management account; an AccessDenied elsewhere
    # means no roots), ListRoots and ListAWSServiceAccessForOrganization.
    "aws:organizations/getOrganization:getOrganization": [
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListRoots",
        "organizations:ListAWSServiceAccessForOrganization",
    ],
    # internal/service/cloudformation/stack_set.go: CreateStackSet (tags go in it), waiting
    # with DescribeStackSet; UpdateStackSet (it always sends Tags), waiting with
    # DescribeStackSetOperation and, when the operation fails, ListStackSetOperationResults;
    # DeleteStackSet. The Service Authorization Reference (CloudFormation) has CreateStackSet
    # and UpdateStackSet authorise cloudformation:TagResource / UntagResource. With callAs
    # DELEGATED_ADMIN the caller needs organizations:ListDelegatedAdministrators (CloudFormation
    # User Guide, "Register a delegated administrator member account"; stack_set.go names it
    # in the "Account used is not a delegated administrator" error).
    "aws:cloudformation/stackSet:StackSet": [
        "cloudformation:CreateStackSet",
        "cloudformation:DescribeStackSet",
        "cloudformation:UpdateStackSet",
        "cloudformation:DeleteStackSet",
        "cloudformation:DescribeStackSetOperation",
        "cloudformation:ListStackSetOperationResults",
        "cloudformation:TagResource",
        "cloudformation:UntagResource",
        "organizations:ListDelegatedAdministrators",
    ],
    # internal/service/cloudformation/stack_set_instance.go: CreateStackInstances,
    # UpdateStackInstances (operation preferences), DeleteStackInstances, each waited for with
    # DescribeStackSetOperation (ListStackSetOperationResults on failure); an instance with
    # OU deployment targets, the only kind the program declares, is read with
    # ListStackInstances (DescribeStackInstance reads one deployed by account ID only).
    "aws:cloudformation/stackSetInstance:StackSetInstance": [
        "cloudformation:CreateStackInstances",
        "cloudformation:ListStackInstances",
        "cloudformation:UpdateStackInstances",
        "cloudformation:DeleteStackInstances",
        "cloudformation:DescribeStackSetOperation",
        "cloudformation:ListStackSetOperationResults",
        "organizations:ListDelegatedAdministrators",
    ],
    # internal/service/s3/object.go: the upload (PutObject; tags ride on it), read with
    # HeadObject (s3:GetObject) and its tags with GetObjectTagging, tags updated with
    # PutObjectTagging / DeleteObjectTagging (s3/tags.go), DeleteObject (the artifact buckets
    # are unversioned, so no version is listed or deleted).
    # internal/service/signer/signing_profile.go
    "aws:signer/signingProfile:SigningProfile": [
        "signer:PutSigningProfile",
        "signer:GetSigningProfile",
        "signer:CancelSigningProfile",
        "signer:ListTagsForResource",
        "signer:TagResource",
        "signer:UntagResource",
    ],
    # internal/service/signer/signing_job.go; Signer reads the source version and writes the
    # signed copy into the caller's bucket ("AWS Signer uses your S3 destination bucket to
    # write your signed code", StartSigningJob).
    "aws:signer/signingJob:SigningJob": [
        "signer:StartSigningJob",
        "signer:DescribeSigningJob",
        "s3:GetObjectVersion",
        "s3:PutObject",
    ],
    # internal/service/lambda/code_signing_config.go; and, in function.go, the calls that
    # put a function under it or take it out.
    "aws:lambda/codeSigningConfig:CodeSigningConfig": [
        "lambda:CreateCodeSigningConfig",
        "lambda:GetCodeSigningConfig",
        "lambda:UpdateCodeSigningConfig",
        "lambda:DeleteCodeSigningConfig",
        "lambda:PutFunctionCodeSigningConfig",
        "lambda:DeleteFunctionCodeSigningConfig",
    ],
    "aws:s3/bucketObjectv2:BucketObjectv2": [
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObject",
    ],
}

FUNCTION = "aws:lambda/function:Function"
FIREHOSE = "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream"
DESTINATION = "aws:cloudwatch/logDestination:LogDestination"
ACCOUNT_POLICY = "aws:cloudwatch/logAccountPolicy:LogAccountPolicy"
# The service each type passes its role to: IAM evaluates iam:PassedToService against it
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService).
PASSED_TO = {
    FUNCTION: "lambda.amazonaws.com",
    FIREHOSE: "firehose.amazonaws.com",
    DESTINATION: "logs.amazonaws.com",
    ACCOUNT_POLICY: "logs.amazonaws.com",
}


def passed_roles(resource: Resource) -> list[str]:
    """The role ARNs a resource's create or update passes (iam:PassRole)."""
    inputs = resource.inputs
    if resource.type == FUNCTION:
        return [inputs["role"]]
    if resource.type == FIREHOSE:
        configurations = [
            inputs.get("extendedS3Configuration"),
            inputs.get("kinesisSourceConfiguration"),
        ]
        return [c["roleArn"] for c in configurations if c and c.get("roleArn")]
    if resource.type == DESTINATION:
        return [inputs["roleArn"]]
    if resource.type == ACCOUNT_POLICY:
        role = json.loads(inputs["policyDocument"]).get("RoleArn")
        return [role] if role else []
    return []


# Configurations that together declare every resource type a stack of that role can have.
CONFIGS: dict[str, list[dict[str, object]]] = {
    "logging": [
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "regions": ["eu-west-1", "us-east-1"],
            "objectLockMode": "GOVERNANCE",
            "objectLockDays": 30,
            "transitionDays": 30,
            "expireDays": 400,
            "alarmEmail": "ops@example.com",
            "readerPrincipals": [MEMBER],
            "organizationReaderRoleArn": "arn:aws:iam::222222222222:role/organization-reader",
            "coverageCheck": True,
        },
        {
            "role": "logging",
            "memberAccounts": [MEMBER],
            "transport": "kinesis",
            "archiveFormat": "raw",
            "accessTrail": "cloudtrail",
        },
        {"role": "logging", "memberAccounts": [MEMBER], "codeSigning": True},
    ],
    "member": [
        {"role": "member", "loggingStack": STACK, "alarmEmail": "ops@example.com"},
        {"role": "member", "loggingStack": STACK, "subscriptionMode": "account-policy"},
        {"role": "member", "loggingStack": STACK, "codeSigning": True},
    ],
    "organization": [
        # The alarms' resource types are granted, for those who bring them back.
        {
            "role": "organization",
            "loggingStack": STACK,
            "regions": REGIONS,
            "memberAlarms": True,
            "codeSigning": True,
        },
        {
            "role": "organization",
            "loggingStack": STACK,
            "regions": REGIONS,
            "subscriptionMode": "account-policy",
            "callAs": "DELEGATED_ADMIN",
            "organizationalUnitIds": ["ou-ab12-34cd56ef"],
        },
    ],
}
# The account a stack of each role is run in, where not a member account: the organization
# stack runs in the management account (or a StackSets delegated administrator).
DEPLOY_ACCOUNTS = {"organization": MANAGEMENT}


def run_stack(stack: str, config: dict[str, object]) -> Run:
    return run_program(
        config, account_id=DEPLOY_ACCOUNTS.get(stack, MEMBER), stack_outputs=LOGGING_OUTPUTS
    )


def declared(stack: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every resource type and provider function a stack of this role uses."""
    tokens: set[str] = set()
    call = RecordingMocks.call

    def recording_call(mocks: RecordingMocks, args: Any) -> Any:
        tokens.add(args.token)
        return call(mocks, args)

    monkeypatch.setattr(RecordingMocks, "call", recording_call)
    for config in CONFIGS[stack]:
        run = run_stack(stack, config)
        tokens |= {r.type for r in run.resources if r.type.startswith("aws:")}
    return tokens


def policy_files(stack: str) -> list[Path]:
    """The policies to attach to the deploy role of a stack of this role: `<role>.json`, or
    its parts `<role>-<part>.json` where one managed policy cannot hold it
    (`<role>-preview.json` is the preview role's, tests/infra/test_preview_permissions.py)."""
    parts = [p for p in IAM_DIR.glob(f"{stack}-*.json") if p.stem != f"{stack}-preview"]
    return sorted(IAM_DIR.glob(f"{stack}.json")) + sorted(parts)


def policy(stack: str) -> dict[str, Any]:
    """What the deploy role may do: the statements of all the stack's policies."""
    statements = [
        statement
        for path in policy_files(stack)
        for statement in json.loads(path.read_text())["Statement"]
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM's StringEquals / StringLike / ArnLike on a request context: a key the request does
    not carry fails the condition (the only operators the deploy policies use; ArnLike matches
    each ARN segment with wildcards, which fnmatch over the whole ARN approximates)."""
    operators = {
        "StringEquals": lambda v, p: v == p,
        "StringLike": fnmatchcase,
        "ArnLike": fnmatchcase,
    }
    for operator, keys in statement.get("Condition", {}).items():
        match = operators[operator]
        for key, values in keys.items():
            if key not in context or not any(match(context[key], v) for v in listed(values)):
                return False
    return True


def allowed(
    document: dict[str, Any],
    action: str,
    resource: str | None = None,
    context: dict[str, str] | None = None,
) -> bool:
    """Whether an Allow statement names the action (IAM matches actions case-insensitively),
    and, if given, the resource, with its conditions holding for the request context."""
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatchcase(action.lower(), p.lower()) for p in listed(statement["Action"]))
        and (
            resource is None or any(fnmatchcase(resource, r) for r in listed(statement["Resource"]))
        )
        and conditions_hold(statement, context or {})
        for statement in document["Statement"]
    )


# Condition keys a request carries besides iam:PassedToService, as the program makes it:
# CreateEventSourceMapping names the function it feeds (Service Authorization Reference,
# AWS Lambda: lambda:FunctionArn), the logging stack's freshness function.
REQUEST_CONTEXT = {
    "lambda:CreateEventSourceMapping": {
        "lambda:FunctionArn": "arn:aws:lambda:eu-west-1:111111111111:function:"
        "central-logging-freshness"
    },
}


def request_context(type_: str, action: str) -> dict[str, str]:
    if action == "iam:PassRole":
        return {"iam:PassedToService": PASSED_TO[type_]}
    return REQUEST_CONTEXT.get(action, {})


def action_patterns(document: dict[str, Any]) -> list[str]:
    return [p for statement in document["Statement"] for p in listed(statement["Action"])]


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_the_deploy_policy_covers_every_declared_type_and_no_more(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = declared(stack, monkeypatch)
    document = policy(stack)

    assert sorted(tokens - set(ACTIONS)) == []  # list the new type's actions in ACTIONS
    missing = {
        t: [a for a in ACTIONS[t] if not allowed(document, a, context=request_context(t, a))]
        for t in sorted(tokens)
    }
    assert {t: actions for t, actions in missing.items() if actions} == {}
    needed = {a.lower() for t in tokens for a in ACTIONS[t]}
    unneeded = [
        p for p in action_patterns(document) if not any(fnmatchcase(a, p.lower()) for a in needed)
    ]
    assert unneeded == []


def test_every_type_that_passes_a_role_names_the_service() -> None:
    assert sorted(t for t, actions in ACTIONS.items() if "iam:PassRole" in actions) == sorted(
        PASSED_TO
    )


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_each_role_the_stack_passes_may_be_passed_to_its_service_only(stack: str) -> None:
    document = policy(stack)
    passed = []
    for config in CONFIGS[stack]:
        run = run_stack(stack, config)
        for resource in run.resources:
            for role in passed_roles(resource):
                service = PASSED_TO[resource.type]
                passed.append(role)
                assert allowed(document, "iam:PassRole", role, {"iam:PassedToService": service}), (
                    resource.type,
                    role,
                )
                # Not to a service that could run it with other code or data.
                assert not allowed(
                    document, "iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}
                )
    if stack != "organization":
        assert passed


STACK_SET = "aws:cloudformation/stackSet:StackSet"
INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
# StackSet operations that CloudFormation also authorises on the deployment targets
# (stackset-target/<stack set ID>/<OU or account>) and on each resource type of the template
# (type/resource/AWS-IAM-Role): Service Authorization Reference, CloudFormation; User Guide,
# "Restrict stack set operations based on Region and resource types".
DEPLOYING = [
    "cloudformation:UpdateStackSet",
    "cloudformation:CreateStackInstances",
    "cloudformation:UpdateStackInstances",
    "cloudformation:DeleteStackInstances",
]


# The mocks name a bucket by its logical name; Pulumi's autonaming appends a random suffix.
AUTONAME_SUFFIX = "-0a1b2c3"


def bucket_arns(run: Run) -> list[tuple[str, str]]:
    """(type, ARN) of each S3 resource the run declares, as IAM authorises it."""
    found = []
    for resource in run.resources:
        if not resource.type.startswith("aws:s3/"):
            continue
        bucket = resource.inputs.get("bucket", resource.state["bucket"]) + AUTONAME_SUFFIX
        key = resource.inputs["key"] if resource.type == OBJECT else None
        found.append((resource.type, f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")))
    return found


def test_the_organization_policy_names_its_buckets_stack_sets_targets_and_template_types() -> None:
    document = policy("organization")
    type_arns: set[str] = set()
    for config in CONFIGS["organization"]:
        run = run_stack("organization", config)
        for type_, arn in bucket_arns(run):
            assert [a for a in ACTIONS[type_] if not allowed(document, a, arn)] == [], arn
        stack_sets = {s.inputs["name"]: s for s in run.of_type(STACK_SET)}
        for instance in run.of_type(INSTANCE):
            stack_set = stack_sets[instance.inputs["stackSetName"]]
            arn = stack_set.state["arn"]
            actions = ACTIONS[STACK_SET] + ACTIONS[INSTANCE]
            assert [a for a in actions if not allowed(document, a, arn)] == [], arn
            prefix, stack_set_id = arn.split(":stackset/")
            template = json.loads(stack_set.inputs["templateBody"])
            used = {
                f"{prefix}:type/resource/{r['Type'].replace('::', '-')}"
                for r in template["Resources"].values()
            }
            targets = {
                f"{prefix}:stackset-target/{stack_set_id}/{target}"
                for target in instance.inputs["deploymentTargets"]["organizationalUnitIds"]
            }
            for target in sorted(used | targets):
                assert [a for a in DEPLOYING if not allowed(document, a, target)] == [], target
            type_arns |= used
    # No resource type the templates do not declare.
    granted = [
        r
        for statement in document["Statement"]
        for r in listed(statement["Resource"])
        if ":type/resource/" in r
    ]
    assert [r for r in granted if not any(fnmatchcase(arn, r) for arn in type_arns)] == []


# Findings that hold for any deployer of these resources, with the reason each is accepted.
ACCEPTED = {
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION": (
        "the logging stack writes the archive's bucket policy and lifecycle, and the "
        "organization stack its artifact buckets' policies, so whoever deploys them can change "
        "them; that is why the deploy roles are guarded ones"
    ),
}
# RESOURCE_MISMATCH findings where parliament wants every resource type an action can take,
# by action; the stack tags only its workgroup.
ONE_OF_SEVERAL_RESOURCE_TYPES = {
    "athena:ListTagsForResource",
    "athena:TagResource",
    "athena:UntagResource",
}


def accepted(finding: Any) -> bool:
    if finding.issue in ACCEPTED:
        return True
    return finding.issue == "RESOURCE_MISMATCH" and all(
        item["action"] in ONE_OF_SEVERAL_RESOURCE_TYPES for item in finding.detail
    )


POLICY_FILES = sorted(p for stack in CONFIGS for p in policy_files(stack))
# Besides the deploy policies: the preview roles' (test_preview_permissions.py), the roles'
# trust policies (tests/workflows) and the archive reader's (test_reader_role.py).
OTHER_FILES = re.compile(r"(\w+-preview|trust-\w+|reader)\.json")


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_the_deploy_policy_passes_parliament(path: Path) -> None:
    analysed = parliament.analyze_policy_string(path.read_text())

    assert [f"{f.issue} {f.detail}" for f in analysed.findings if not accepted(f)] == []


# A managed policy holds at most 6,144 characters, whitespace not counted
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
MANAGED_POLICY_CHARACTERS = 6144


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_each_deploy_policy_fits_a_managed_policy(path: Path) -> None:
    assert len("".join(path.read_text().split())) <= MANAGED_POLICY_CHARACTERS


def test_every_policy_file_is_a_stack_roles_or_named_for_its_use() -> None:
    others = [p for p in IAM_DIR.glob("*.json") if p not in POLICY_FILES]
    assert [p.name for p in others if not OTHER_FILES.fullmatch(p.name)] == []


ROOT = IAM_DIR.parents[1]
POLICY_VENV = (
    "python -m venv policy/venv && policy/venv/bin/pip install --quiet -r policy/requirements.txt"
)


def test_readme_gives_the_policies_and_the_pack_setup_the_workflows_use() -> None:
    readme = (ROOT / "README.md").read_text()
    for path in POLICY_FILES:
        assert f"deploy/iam/{path.name}" in readme
    assert POLICY_VENV in readme
    assert POLICY_VENV in (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["options"]["virtualenv"] == "venv"


def test_a_self_managed_backend_stack_name_is_a_valid_logging_stack() -> None:
    diy = "organization/central-logging/logging"
    run = run_program(
        {"role": "member", "loggingStack": diy},
        account_id=MEMBER,
        stack_outputs={diy: LOGGING_OUTPUTS[STACK]},
    )
    assert run.outputs["destinationArns"] == {
        "eu-west-1": LOGGING_OUTPUTS[STACK]["destinationArns"]["eu-west-1"]
    }
