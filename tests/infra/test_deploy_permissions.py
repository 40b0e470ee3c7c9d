"""The IAM permissions each stack's `pulumi up` needs (deploy/iam/<stack>.json) cover every
resource type and provider function the program declares under the mocks, and pass parliament.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import parliament
import pytest
import yaml

from tests.infra.harness import ORG_ID, RecordingMocks, Run, run_program
from tests.infra.test_organization import MANAGEMENT, REGIONS
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK

IAM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "iam"

# What the AWS provider calls to create, read, update, tag and delete each resource type (and
# to run each function) the program uses; iam:PassRole where the resource takes a role. A type
# or function the program starts to use fails the test below until it is listed here and its
# actions are in the stack's policy.
ACTIONS: dict[str, list[str]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": ["sts:GetCallerIdentity"],
    # The deploying role's path, for the archive's admin exemption (iam:GetRole on itself).
    "aws:iam/getSessionContext:getSessionContext": ["iam:GetRole"],
    "aws:s3/bucketLogging:BucketLogging": ["s3:PutBucketLogging", "s3:GetBucketLogging"],
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
    "aws:s3/bucketVersioning:BucketVersioning": [
        "s3:PutBucketVersioning",
        "s3:GetBucketVersioning",
    ],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": [
        "s3:PutEncryptionConfiguration",
        "s3:GetEncryptionConfiguration",
    ],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": [
        "s3:PutBucketPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ],
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": [
        "s3:PutBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
    ],
    "aws:s3/bucketPolicy:BucketPolicy": [
        "s3:PutBucketPolicy",
        "s3:GetBucketPolicy",
        "s3:DeleteBucketPolicy",
    ],
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": [
        "s3:PutBucketObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    ],
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": [
        "s3:PutLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ],
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
    "aws:iam/rolePolicy:RolePolicy": [
        "iam:PutRolePolicy",
        "iam:GetRolePolicy",
        "iam:DeleteRolePolicy",
    ],
    "aws:cloudwatch/logDestination:LogDestination": [
        "logs:PutDestination",
        "logs:DescribeDestinations",
        "logs:DeleteDestination",
        "logs:ListTagsForResource",
        "logs:TagResource",
        "logs:UntagResource",
        "iam:PassRole",
    ],
    "aws:cloudwatch/logDestinationPolicy:LogDestinationPolicy": [
        "logs:PutDestinationPolicy",
        "logs:DescribeDestinations",
    ],
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
    "aws:cloudwatch/logStream:LogStream": [
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:DeleteLogStream",
    ],
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": [
        "logs:PutMetricFilter",
        "logs:DescribeMetricFilters",
        "logs:DeleteMetricFilter",
    ],
    "aws:cloudwatch/logAccountPolicy:LogAccountPolicy": [
        "logs:PutAccountPolicy",
        "logs:DescribeAccountPolicies",
        "logs:DeleteAccountPolicy",
        "iam:PassRole",
    ],
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
    "aws:cloudwatch/eventRule:EventRule": [
        "events:PutRule",
        "events:DescribeRule",
        "events:DeleteRule",
        "events:ListTargetsByRule",
        "events:ListTagsForResource",
        "events:TagResource",
        "events:UntagResource",
    ],
    "aws:cloudwatch/eventTarget:EventTarget": [
        "events:PutTargets",
        "events:ListTargetsByRule",
        "events:RemoveTargets",
    ],
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
    "aws:lambda/permission:Permission": [
        "lambda:AddPermission",
        "lambda:GetPolicy",
        "lambda:RemovePermission",
    ],
    "aws:lambda/invocation:Invocation": ["lambda:InvokeFunction"],
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
    "aws:sqs/queuePolicy:QueuePolicy": ["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"],
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
    "aws:sns/topic:Topic": [
        "sns:CreateTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:DeleteTopic",
        "sns:ListTagsForResource",
        "sns:TagResource",
        "sns:UntagResource",
    ],
    "aws:sns/topicSubscription:TopicSubscription": [
        "sns:Subscribe",
        "sns:GetSubscriptionAttributes",
        "sns:SetSubscriptionAttributes",
        "sns:Unsubscribe",
    ],
    "aws:glue/catalogDatabase:CatalogDatabase": [
        "glue:CreateDatabase",
        "glue:GetDatabase",
        "glue:UpdateDatabase",
        "glue:DeleteDatabase",
        "glue:GetTags",
        "glue:TagResource",
        "glue:UntagResource",
    ],
    "aws:glue/catalogTable:CatalogTable": [
        "glue:CreateTable",
        "glue:GetTable",
        "glue:UpdateTable",
        "glue:DeleteTable",
    ],
    "aws:athena/workgroup:Workgroup": [
        "athena:CreateWorkGroup",
        "athena:GetWorkGroup",
        "athena:UpdateWorkGroup",
        "athena:DeleteWorkGroup",
        "athena:ListTagsForResource",
        "athena:TagResource",
        "athena:UntagResource",
    ],
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
    "aws:s3/bucketObjectv2:BucketObjectv2": [
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectTagging",
        "s3:PutObjectTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObject",
    ],
}

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
        },
        {
            "role": "logging",
            "memberAccounts": [MEMBER],
            "transport": "kinesis",
            "archiveFormat": "raw",
            "accessTrail": "cloudtrail",
        },
    ],
    "member": [
        {"role": "member", "loggingStack": STACK, "alarmEmail": "ops@example.com"},
        {"role": "member", "loggingStack": STACK, "subscriptionMode": "account-policy"},
    ],
    "organization": [
        {"role": "organization", "loggingStack": STACK, "regions": REGIONS},
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


def policy(stack: str) -> dict[str, Any]:
    return json.loads((IAM_DIR / f"{stack}.json").read_text())  # type: ignore[no-any-return]


def listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def allowed(document: dict[str, Any], action: str, resource: str | None = None) -> bool:
    """Whether an Allow statement names the action (IAM matches actions case-insensitively),
    and, if given, the resource."""
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatchcase(action.lower(), p.lower()) for p in listed(statement["Action"]))
        and (
            resource is None or any(fnmatchcase(resource, r) for r in listed(statement["Resource"]))
        )
        for statement in document["Statement"]
    )


def action_patterns(document: dict[str, Any]) -> list[str]:
    return [p for statement in document["Statement"] for p in listed(statement["Action"])]


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_the_deploy_policy_covers_every_declared_type_and_no_more(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = declared(stack, monkeypatch)
    document = policy(stack)

    assert sorted(tokens - set(ACTIONS)) == []  # list the new type's actions in ACTIONS
    missing = {t: [a for a in ACTIONS[t] if not allowed(document, a)] for t in sorted(tokens)}
    assert {t: actions for t, actions in missing.items() if actions} == {}
    needed = {a.lower() for t in tokens for a in ACTIONS[t]}
    unneeded = [
        p for p in action_patterns(document) if not any(fnmatchcase(a, p.lower()) for a in needed)
    ]
    assert unneeded == []


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


@pytest.mark.parametrize("stack", sorted(CONFIGS))
def test_the_deploy_policy_passes_parliament(stack: str) -> None:
    analysed = parliament.analyze_policy_string(json.dumps(policy(stack)))

    assert [f"{f.issue} {f.detail}" for f in analysed.findings if not accepted(f)] == []


ROOT = IAM_DIR.parents[1]
POLICY_VENV = (
    "python -m venv policy/venv && policy/venv/bin/pip install --quiet -r policy/requirements.txt"
)


def test_readme_gives_the_policies_and_the_pack_setup_the_workflows_use() -> None:
    readme = (ROOT / "README.md").read_text()
    for stack in CONFIGS:
        assert f"deploy/iam/{stack}.json" in readme
    assert POLICY_VENV in readme
    assert POLICY_VENV in (ROOT / ".github" / "workflows" / "pull-request.yml").read_text()
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
