"""OrganizationSubscriber under Pulumi's mock runtime: the StackSets, their instances, the
artifact buckets, and templates that declare what a member stack declares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import policies
from components.config import ConfigError
from components.functions import handler_code_hash
from components.organization import ACCOUNT_STACK_SET, REGIONAL_STACK_SET
from components.subscriber import CREATE_LOG_GROUP_PATTERN
from tests.infra.harness import (
    ORG_ID,
    ROOT_ID,
    Resource,
    Run,
    config_error,
    deploy_role_arn,
    run_program,
)
from tests.infra.test_archive_protection import denied
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK, destination

MANAGEMENT = "222222222222"
REGIONS = ["eu-west-1", "us-east-1", "ap-northeast-1"]
STACK_SET = "aws:cloudformation/stackSet:StackSet"
INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
BUCKET = "aws:s3/bucket:Bucket"
DEPLOYER = deploy_role_arn(MANAGEMENT)
OTHER_ADMIN = f"arn:aws:iam::{MANAGEMENT}:role/OrganizationAccountAccessRole"


def run_organization(roots: tuple[str, ...] = (ROOT_ID,), **config: object) -> Run:
    return run_program(
        {"role": "organization", "loggingStack": STACK, "regions": REGIONS, **config},
        region="eu-west-1",
        account_id=MANAGEMENT,
        stack_outputs=LOGGING_OUTPUTS,
        roots=roots,
    )


def template(run: Run, purpose: str) -> dict[str, Any]:
    stack_set = run.one(STACK_SET, f"central-{purpose}")
    parsed: dict[str, Any] = json.loads(stack_set.inputs["templateBody"])
    return parsed


def instances(run: Run) -> dict[str, Resource]:
    return {r.name: r for r in run.of_type(INSTANCE)}


def test_stack_sets_are_service_managed_with_automatic_deployment() -> None:
    run = run_organization(
        callAs="DELEGATED_ADMIN", maxConcurrentPercentage=50, failureTolerancePercentage=5
    )
    account, regional = (
        run.one(STACK_SET, "central-account"),
        run.one(STACK_SET, "central-regional"),
    )
    assert account.inputs["name"] == ACCOUNT_STACK_SET
    assert regional.inputs["name"] == REGIONAL_STACK_SET
    for stack_set in (account, regional):
        inputs = stack_set.inputs
        assert inputs["permissionModel"] == "SERVICE_MANAGED"
        assert inputs["callAs"] == "DELEGATED_ADMIN"
        assert inputs["managedExecution"] == {"active": True}
        assert inputs["autoDeployment"]["enabled"] is True
        assert inputs["autoDeployment"]["retainStacksOnAccountRemoval"] is False
        assert inputs["operationPreferences"] == {
            "maxConcurrentPercentage": 50,
            "failureTolerancePercentage": 5,
            "regionConcurrencyType": "PARALLEL",
        }
        assert inputs["capabilities"] == ["CAPABILITY_NAMED_IAM"]
    # New accounts get the sender role before anything in their regions uses it.
    assert regional.inputs["autoDeployment"]["dependsOnStackSets"] == [account.state["arn"]]
    assert "dependsOnStackSets" not in account.inputs["autoDeployment"]


def test_instances_cover_the_root_by_default_in_every_region() -> None:
    run = run_organization()
    found = instances(run)
    assert set(found) == {"central-account-eu-west-1"} | {
        f"central-regional-{region}" for region in REGIONS
    }
    for name, instance in found.items():
        region = name.rsplit("-", 3)[-3:]
        assert instance.inputs["stackSetInstanceRegion"] == "-".join(region)
        assert instance.inputs["deploymentTargets"] == {"organizationalUnitIds": [ROOT_ID]}
        assert instance.inputs["callAs"] == "SELF"
        assert instance.inputs["retainStack"] is False
        assert instance.inputs["operationPreferences"] == {
            "concurrencyMode": "SOFT_FAILURE_TOLERANCE",
            "maxConcurrentPercentage": 25,
            "failureTolerancePercentage": 10,
            "regionConcurrencyType": "PARALLEL",
        }
    assert found["central-account-eu-west-1"].inputs["stackSetName"] == ACCOUNT_STACK_SET
    assert found["central-regional-us-east-1"].inputs["stackSetName"] == REGIONAL_STACK_SET
    assert run.outputs["organizationalUnitIds"] == [ROOT_ID]
    assert run.outputs["stackSetNames"] == {
        "account": ACCOUNT_STACK_SET,
        "regional": REGIONAL_STACK_SET,
    }


def test_instances_target_the_configured_ous_minus_excluded_accounts() -> None:
    ous = ["ou-ab12-34cd56ef", "ou-ab12-99zz88yy"]
    run = run_organization(
        organizationalUnitIds=ous,
        excludeAccounts=[MEMBER, "333333333333"],
        callAs="DELEGATED_ADMIN",
    )
    for instance in instances(run).values():
        assert instance.inputs["deploymentTargets"] == {
            "organizationalUnitIds": ous,
            "accounts": [MEMBER, "333333333333"],
            "accountFilterType": "DIFFERENCE",
        }
        assert instance.inputs["callAs"] == "DELEGATED_ADMIN"


def test_an_account_that_cannot_list_the_root_must_name_the_ous() -> None:
    message = config_error(
        {"role": "organization", "loggingStack": STACK, "callAs": "DELEGATED_ADMIN"},
        account_id=MANAGEMENT,
        stack_outputs=LOGGING_OUTPUTS,
        roots=(),
    )
    assert message == (
        "central-logging:organizationalUnitIds is not set and this account cannot list the "
        "organisation's root; set it to the OU IDs (ou-...) or the root ID (r-...) to cover."
    )


def test_a_region_without_a_destination_is_named() -> None:
    with pytest.raises(ConfigError) as raised:
        run_organization(regions=["eu-west-1", "eu-north-1"])
    assert str(raised.value).startswith(
        "central-logging:regions includes 'eu-north-1' but the logging stack "
        "example-org/central-logging/logging has no destination there"
    )


@pytest.mark.parametrize("mode", ["lambda", "account-policy"])
def test_the_mapping_gives_every_covered_region_its_destination(mode: str) -> None:
    run = run_organization(subscriptionMode=mode)
    mapping = template(run, "regional")["Mappings"]["Regions"]
    assert sorted(mapping) == sorted(REGIONS)
    for region in REGIONS:
        assert mapping[region]["DestinationArn"] == destination(region)
    assert run.outputs["destinationArns"] == {r: destination(r) for r in REGIONS}


@pytest.mark.parametrize("mode", ["lambda", "account-policy"])
def test_artifact_buckets_hold_the_code_and_are_readable_by_the_organisation_only(
    mode: str,
) -> None:
    # Both modes run the heartbeat function in every region, so both need the code there.
    run = run_organization(subscriptionMode=mode)
    buckets = {b.inputs["region"]: b for b in run.of_type(BUCKET)}
    assert sorted(buckets) == sorted(REGIONS)
    mapping = template(run, "regional")["Mappings"]["Regions"]
    key = f"handlers/{handler_code_hash()}.zip"
    for region, bucket in buckets.items():
        name = bucket.state["bucket"]
        assert mapping[region]["ArtifactBucket"] == name
        blocks = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket.name)
        assert all(
            blocks.inputs[flag]
            for flag in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        policy = run.one("aws:s3/bucketPolicy:BucketPolicy", bucket.name).policy("policy")
        arn = f"arn:aws:s3:::{name}"
        assert policy == policies.artifact_bucket_policy(arn, ORG_ID, [DEPLOYER])
        read = policy["Statement"][0]
        assert read["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
        assert read["Resource"] == f"{arn}/*"
        assert read["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}
        code = run.one("aws:s3/bucketObjectv2:BucketObjectv2", f"{bucket.name}-code")
        assert code.inputs["region"] == region and code.inputs["key"] == key
        # The template pins the version this stack uploaded.
        assert mapping[region]["CodeVersion"] == code.state["versionId"]
    resources = template(run, "regional")["Resources"]
    functions = [n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"]
    assert sorted(functions) == (
        ["Heartbeat", "Reconciler", "Subscriber"] if mode == "lambda" else ["Heartbeat"]
    )
    for function in functions:
        code_ref = resources[function]["Properties"]["Code"]
        assert code_ref == {
            "S3Bucket": {"Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "ArtifactBucket"]},
            "S3Key": key,
            "S3ObjectVersion": {
                "Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "CodeVersion"]
            },
        }


def test_artifact_buckets_are_versioned_kept_and_written_by_the_deploying_role_only() -> None:
    run = run_organization()
    for bucket in run.of_type(BUCKET):
        assert "forceDestroy" not in bucket.inputs
        versioning = run.one(
            "aws:s3/bucketVersioning:BucketVersioning", f"{bucket.name}-versioning"
        )
        assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
        # Destroy leaves the code every stack instance may still roll back to.
        assert bucket.retain_on_delete and versioning.retain_on_delete
        arn = bucket.state["arn"]
        policy = run.one("aws:s3/bucketPolicy:BucketPolicy", bucket.name).policy("policy")
        code = f"{arn}/handlers/{handler_code_hash()}.zip"
        for writer in (OTHER_ADMIN, f"arn:aws:iam::{MEMBER}:role/admin"):
            for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
                assert denied(policy, writer, action, code), (writer, action)
            for action in ("s3:PutBucketPolicy", "s3:PutBucketVersioning"):
                assert denied(policy, writer, action, arn), (writer, action)
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            assert not denied(policy, DEPLOYER, action, code), action
        assert not denied(policy, DEPLOYER, "s3:PutBucketPolicy", arn)
        assert not denied(policy, f"arn:aws:iam::{MEMBER}:role/any", "s3:GetObjectVersion", code)


def test_account_policy_mode_declares_the_policy_and_no_subscriber_function() -> None:
    run = run_organization(subscriptionMode="account-policy", excludeLogGroups=["/aws/noisy"])
    resources = template(run, "regional")["Resources"]
    assert "Subscriber" not in resources and "Reconciler" not in resources
    assert {n for n, r in resources.items() if r["Type"] == "AWS::Logs::AccountPolicy"} == {
        "AccountPolicy"
    }
    policy = resources["AccountPolicy"]["Properties"]
    assert policy["PolicyName"] == "central-logging"
    assert policy["PolicyType"] == "SUBSCRIPTION_FILTER_POLICY"
    assert policy["Scope"] == "ALL"
    # The logging account also leaves out its own delivery path's log group (recursion).
    # (tests/infra/test_limits.py resolves it in both kinds of account.)
    assert policy["SelectionCriteria"] == {
        "Fn::Join": [
            "",
            [
                'LogGroupName NOT IN ["/aws/noisy"',
                {
                    "Fn::If": [
                        "InLoggingAccount",
                        ', "/aws/kinesisfirehose/CentralLogDestination"',
                        "",
                    ]
                },
                "]",
            ],
        ]
    }
    assert template(run, "regional")["Conditions"] == {
        "InLoggingAccount": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "999999999999"]}
    }
    # The heartbeat's role is named per region.
    assert run.one(STACK_SET, "central-regional").inputs["capabilities"] == ["CAPABILITY_NAMED_IAM"]


def test_the_sender_role_is_declared_once_per_account_with_the_member_stacks_policies() -> None:
    run = run_organization()
    account = template(run, "account")["Resources"]
    assert sorted(account) == ["CoverageReaderRole", "HistoryReaderRole", "SenderRole"]
    role = account["SenderRole"]["Properties"]
    assert role["RoleName"] == "central-logging-sender"
    [deliver] = role["Policies"]
    assert deliver["PolicyName"] == "deliver"
    # As the member stack's: PutLogEvents on this account's log groups in each region.
    assert deliver["PolicyDocument"]["Statement"] == [
        {
            "Sid": "DeliverOwnLogGroups",
            "Effect": "Allow",
            "Action": "logs:PutLogEvents",
            "Resource": [
                {
                    "Fn::Sub": f"arn:${{AWS::Partition}}:logs:{region}:${{AWS::AccountId}}:log-group:*"
                }
                for region in REGIONS
            ],
        }
    ]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringLike"]["aws:SourceArn"] == [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:logs:{region}:${{AWS::AccountId}}:*"}
        for region in REGIONS
    ]
    # Every instance of the account StackSet is in the home region only.
    regions = {
        i.inputs["stackSetInstanceRegion"]
        for i in run.of_type(INSTANCE)
        if i.inputs["stackSetName"] == ACCOUNT_STACK_SET
    }
    assert regions == {"eu-west-1"}


def test_lambda_mode_declares_the_member_stacks_functions_rules_and_parameters() -> None:
    run = run_organization(
        excludeLogGroups=["/aws/lambda/noisy-*"],
        replaceFilterNames=["CentralLogDestination"],
        reconcileSchedule="rate(1 day)",
        memberAlarms=True,
    )
    resources = template(run, "regional")["Resources"]
    parameters = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in resources.values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    assert parameters == {
        "/central-logging/destination-arn": {
            "Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "DestinationArn"]
        },
        "/central-logging/sender-role-arn": {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/central-logging-sender"
        },
        # What the CLI uses unless told otherwise: the stack's own subscription settings.
        "/central-logging/settings": json.dumps(
            {
                "excludeLogGroups": ["/aws/lambda/noisy-*"],
                "filterName": "central-logging",
                "filterPattern": "",
                "replaceFilterNames": ["CentralLogDestination"],
                "subscriptionMode": "lambda",
            },
            sort_keys=True,
        ),
    }
    subscriber = resources["Subscriber"]["Properties"]
    assert subscriber["FunctionName"] == "central-logging-subscriber"
    assert subscriber["Handler"] == "handlers.subscribe.handler"
    env = subscriber["Environment"]["Variables"]
    assert env["FILTER_NAME"] == "central-logging"
    assert env["REPLACE_FILTER_NAMES"] == '["CentralLogDestination"]'
    assert env["EXCLUDE_PATTERNS"] == {
        "Fn::If": [
            "InLoggingAccount",
            '["/aws/lambda/noisy-*", "/aws/kinesisfirehose/CentralLogDestination"]',
            '["/aws/lambda/noisy-*"]',
        ]
    }
    assert resources["Reconciler"]["Properties"]["Environment"]["Variables"] == env
    created = resources["LogGroupCreatedRule"]["Properties"]
    assert created["EventPattern"] == CREATE_LOG_GROUP_PATTERN
    assert created["Targets"][0]["Arn"] == {"Fn::GetAtt": ["Subscriber", "Arn"]}
    schedule = resources["SweepScheduleRule"]["Properties"]
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    # The first sweep runs when the stack instance is created, and again after updates.
    deploy = resources["DeploySweepRule"]["Properties"]
    assert deploy["EventPattern"]["detail"]["stack-id"] == [{"Ref": "AWS::StackId"}]
    assert deploy["Targets"][0]["Arn"] == {"Fn::GetAtt": ["Reconciler", "Arn"]}
    assert json.loads(deploy["Targets"][0]["Input"]) == {"source": "central-logging.deploy"}
    # IAM is global: each region's roles carry the region in their names.
    assert resources["SubscriberRole"]["Properties"]["RoleName"] == {
        "Fn::Sub": "central-logging-subscriber-${AWS::Region}"
    }
    alarms = {
        r["Properties"]["AlarmName"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms == {
        "central-logging-subscriber-errors",
        "central-logging-reconciler-errors",
        "central-logging-dead-letters",
        "central-logging-uncovered-log-groups",
        "central-logging-heartbeat-missing",
        "central-logging-delivery-errors",
        "central-logging-delivery-throttled",
    }


def test_reconcile_schedule_off_leaves_only_the_event_and_deploy_sweeps() -> None:
    resources = template(run_organization(reconcileSchedule="off"), "regional")["Resources"]
    assert "SweepScheduleRule" not in resources
    assert {"LogGroupCreatedRule", "DeploySweepRule"} <= set(resources)


def test_a_filter_pattern_with_dollar_braces_stays_literal_in_the_account_policy() -> None:
    run = run_organization(subscriptionMode="account-policy", filterPattern='-"${oops}"')
    document = template(run, "regional")["Resources"]["AccountPolicy"]["Properties"][
        "PolicyDocument"
    ]
    text, variables = document["Fn::Sub"]
    assert json.loads(text)["FilterPattern"] == '-"${!oops}"'
    assert list(variables) == ["DestinationArn"]


def alarm_parts(resources: dict[str, Any]) -> set[str]:
    """The alarms, metric filters and target-less rules of a template: what only alarms use."""
    return {
        name
        for name, r in resources.items()
        if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::Logs::MetricFilter")
        or (r["Type"] == "AWS::Events::Rule" and "Targets" not in r["Properties"])
    }


@pytest.mark.parametrize("mode", ["lambda", "account-policy"])
def test_member_accounts_get_no_alarms_unless_member_alarms_is_set(mode: str) -> None:
    # 2,000 accounts x 17 regions x 7 alarms (lambda mode) with no action would be 238,000
    # alarms nobody hears, about $23,800 a month at $0.10 an alarm
    # (https://aws.amazon.com/cloudwatch/pricing/).
    quiet = template(run_organization(subscriptionMode=mode), "regional")["Resources"]
    loud = template(run_organization(subscriptionMode=mode, memberAlarms=True), "regional")[
        "Resources"
    ]

    assert alarm_parts(quiet) == set()
    assert {n for n, r in loud.items() if r["Type"] == "AWS::CloudWatch::Alarm"} == (
        {
            "SubscriberErrorsAlarm",
            "ReconcilerErrorsAlarm",
            "DeadLettersAlarm",
            "UncoveredAlarm",
            "HeartbeatMissingAlarm",
            "DeliveryAlarm0",
            "DeliveryAlarm1",
        }
        if mode == "lambda"
        else {
            "AccountPolicyChangedAlarm",
            "HeartbeatMissingAlarm",
            "DeliveryAlarm0",
            "DeliveryAlarm1",
        }
    )
    # Everything else an account-region runs is the same either way.
    assert set(quiet) == set(loud) - alarm_parts(loud)
    assert "Heartbeat" in quiet


def test_the_coverage_reader_role_only_describes_and_trusts_only_the_coverage_function() -> None:
    run = run_organization()
    role = template(run, "account")["Resources"]["CoverageReaderRole"]["Properties"]
    assert role["RoleName"] == "central-logging-coverage-reader"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    logging_account = destination(REGIONS[0]).split(":")[4]
    assert trust["Principal"] == {
        "AWS": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{logging_account}:root"}
    }
    assert trust["Condition"] == {
        "ArnEquals": {
            "aws:PrincipalArn": {
                "Fn::Sub": (
                    f"arn:${{AWS::Partition}}:iam::{logging_account}:role/central-logging-coverage"
                )
            }
        }
    }
    [policy] = role["Policies"]
    actions = {
        action
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert actions == {
        "logs:DescribeLogGroups",
        "logs:DescribeSubscriptionFilters",
        "logs:DescribeAccountPolicies",
    }
