"""OrganizationSubscriber: the member side in every account of the chosen OUs, present and
future, through service-managed CloudFormation StackSets with automatic deployment.

Two StackSets, because IAM is global and stack instances are regional:
- `central-logging-account`, one instance per account in the home region: the sender role,
  the one account-wide resource;
- `central-logging-regional`, one instance per account and covered region: the SSM
  parameters, the heartbeat, the delivery-error alarms and the subscription (the account
  policy with its drift alarm, or the functions with their roles, rules, dead-letter queue
  and alarms). The function roles are per region, as in a member stack, so their names
  carry the region; declaring them all in the account template instead would outgrow
  CloudFormation's 51,200-byte template body at 17 regions. Its automatic deployments wait
  for the account StackSet's (`AutoDeployment.DependsOn`), so the sender role exists before
  anything uses it.

The templates are rendered here, as JSON, from the same functions the member stack uses
(policies.py, and the alarm specs and patterns of subscriber.py, heartbeat.py and drift.py):
an account-region gets what a member stack would declare there, except alarm actions (no
topic of this stack is reachable from every account). Each region's destination comes from
the `Regions` mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import heartbeat, policies
from components.alarms import PERIOD_SECONDS, AlarmSpec, QueryAlarmSpec
from components.code_signing import ENFORCE, sign_code
from components.config import (
    ORGANIZATION_SCOPE,
    ConfigError,
    MemberSettings,
    OrganizationSettings,
    account_policy_selection,
    cli_settings,
    key,
)
from components.coverage import READER_ROLE_NAME
from components.coverage import ROLE_NAME as COVERAGE_ROLE_NAME
from components.drift import (
    ACCOUNT_POLICY_RULE_DESCRIPTION,
    FILTER_RULE_DESCRIPTION,
    account_policy_changed_alarm,
    account_policy_drift_pattern,
    filter_drift_pattern,
)
from components.functions import (
    FUNCTION_ARCHITECTURE,
    FUNCTION_LOG_RETENTION_DAYS,
    RUNTIME,
    SCHEDULED_MEMORY_MB,
    SCHEDULED_TIMEOUT_SECONDS,
    code_bucket,
    code_key,
)
from components.subscriber import (
    CREATE_LOG_GROUP_PATTERN,
    DEAD_LETTER_RETENTION_SECONDS,
    DEAD_LETTERS_ALARM,
    DEPLOY_SWEEP_EVENT,
    EVENT_MAX_AGE_SECONDS,
    EVENT_MAX_RETRIES,
    FUNCTION_MEMORY_MB,
    METRIC_NAMESPACE,
    RECONCILER,
    SUBSCRIBER,
    SWEEP_SUMMARY_PATTERN,
    UNCOVERED_ALARM,
    UNCOVERED_METRIC,
    FunctionSpec,
    account_policy_document,
    delivery_alarms,
    destination_scope,
    function_environment,
    select_destinations,
)
from handlers.core import (
    DESTINATION_PARAMETER,
    NO_SENDER_ROLE,
    SENDER_ROLE_PARAMETER,
    delivery_log_groups,
)
from handlers.heartbeat import HEARTBEAT_LOG_GROUP

Template = dict[str, Any]

ACCOUNT_STACK_SET = "central-logging-account"
REGIONAL_STACK_SET = "central-logging-regional"
SENDER_ROLE_NAME = "central-logging-sender"
DEAD_LETTER_QUEUE_NAME = "central-logging-dead-letters"
CREATED_RULE_NAME = "central-logging-log-group-created"
SCHEDULE_RULE_NAME = "central-logging-sweep-schedule"
DEPLOY_RULE_NAME = "central-logging-deploy-sweep"
FILTER_CHANGED_RULE_NAME = "central-logging-filter-changed"
ACCOUNT_POLICY_RULE_NAME = "central-logging-account-policy-changed"
HEARTBEAT_RULE_NAME = "central-logging-heartbeat"
# The rules whose undeliverable events the dead-letter queue takes.
DEAD_LETTER_RULES = (CREATED_RULE_NAME, FILTER_CHANGED_RULE_NAME)
MAPPING = "Regions"
IN_LOGGING_ACCOUNT = "InLoggingAccount"

# Pseudo parameters, resolved by CloudFormation in each account-region (Fn::Sub).
PARTITION = "${AWS::Partition}"
ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"
SENDER_ROLE_ARN = f"arn:{PARTITION}:iam::{ACCOUNT}:role/{SENDER_ROLE_NAME}"

# CloudFormation's event when a stack instance has been created or updated: the first sweep
# of a new account-region, and a new sweep when the settings or the code change (AWS
# CloudFormation User Guide, "Stack Status Change event detail").
STACK_STATUS_PATTERN: dict[str, Any] = {
    "source": ["aws.cloudformation"],
    "detail-type": ["CloudFormation Stack Status Change"],
    "detail": {
        "stack-id": [{"Ref": "AWS::StackId"}],
        "status-details": {"status": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]},
    },
}


# The region's destination, from the mapping; in Fn::Sub text, `${DestinationArn}`.
DESTINATION = {"Fn::FindInMap": [MAPPING, {"Ref": "AWS::Region"}, "DestinationArn"]}
DESTINATION_VARIABLE = "${DestinationArn}"


def sub(value: Any) -> Any:
    """`value` with every string that names a pseudo parameter or the destination wrapped
    in Fn::Sub."""
    if isinstance(value, dict):
        return {k: sub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sub(v) for v in value]
    if value == DESTINATION_VARIABLE:
        return DESTINATION
    if isinstance(value, str) and DESTINATION_VARIABLE in value:
        return {"Fn::Sub": [value, {"DestinationArn": DESTINATION}]}
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value


def logical_id(*parts: str) -> str:
    """A CloudFormation logical ID (alphanumeric) from names such as regions."""
    return "".join(word.capitalize() for part in parts for word in part.split("-"))


def _resource(type_: str, properties: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Type": type_, "Properties": dict(properties), **extra}


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    """An ARN in this account-region (Fn::Sub text)."""
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{resource}"


def _role_name(function_name: str) -> str:
    # IAM is global: the region in the name keeps the regions' roles apart.
    return f"{function_name}-{REGION}"


def _role_arn(function_name: str) -> str:
    return _arn("iam", f"role/{_role_name(function_name)}", region="")


def _subscriber_policy(spec: FunctionSpec, sender_role_arn: str | None) -> policies.Policy:
    """A subscriber function's policy, as the member stack gives it."""
    return policies.subscriber_function_policy(
        partition=PARTITION,
        region=REGION,
        account_id=ACCOUNT,
        destination_arn=DESTINATION_VARIABLE,
        sender_role_arn=sender_role_arn,
        function_log_group_arn=_arn("logs", f"log-group:/aws/lambda/{spec.name}"),
        function_arn=_arn("lambda", f"function:{spec.name}") if spec == RECONCILER else None,
        dead_letter_queue_arn=_arn("sqs", DEAD_LETTER_QUEUE_NAME),
    )


def _function(
    logical: str,
    function_name: str,
    *,
    description: str,
    handler: str,
    timeout: int,
    memory: int,
    policy: policies.Policy,
    code_key: Any,
    environment: Mapping[str, Any] | None = None,
    dead_letters: bool = False,
    log_level: str | None = None,
) -> dict[str, Any]:
    """A function of this region with its log group and its role (holding `policy`)."""
    properties: dict[str, Any] = {
        "FunctionName": function_name,
        "Description": description,
        "Role": {"Fn::GetAtt": [f"{logical}Role", "Arn"]},
        "Runtime": RUNTIME,
        "Handler": handler,
        "Code": {
            "S3Bucket": {"Fn::FindInMap": [MAPPING, {"Ref": "AWS::Region"}, "ArtifactBucket"]},
            "S3Key": code_key,
            # The version the stack uploaded, not whatever the key holds when an instance is
            # created ("S3ObjectVersion: For versioned objects, the version of the deployment
            # package object to use", AWS::Lambda::Function Code:
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html).
            "S3ObjectVersion": {"Fn::FindInMap": [MAPPING, {"Ref": "AWS::Region"}, "CodeVersion"]},
        },
        "Architectures": [FUNCTION_ARCHITECTURE],
        "MemorySize": memory,
        "Timeout": timeout,
    }
    if environment:
        properties["Environment"] = {"Variables": dict(environment)}
    if log_level:
        properties["LoggingConfig"] = {
            "LogFormat": "JSON",
            "ApplicationLogLevel": log_level,
            "SystemLogLevel": log_level,
        }
    if dead_letters:
        # Asynchronous invocations that still fail after Lambda's retries are kept.
        properties["DeadLetterConfig"] = {"TargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}
    return {
        f"{logical}Role": _resource(
            "AWS::IAM::Role",
            {
                "RoleName": sub(_role_name(function_name)),
                "Description": sub(f"The {function_name} function's role in {REGION}"),
                "AssumeRolePolicyDocument": policies.lambda_trust(),
                "Policies": [{"PolicyName": "function", "PolicyDocument": sub(policy)}],
            },
        ),
        f"{logical}Logs": _resource(
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": f"/aws/lambda/{function_name}",
                "RetentionInDays": FUNCTION_LOG_RETENTION_DAYS,
            },
        ),
        logical: _resource("AWS::Lambda::Function", properties, DependsOn=[f"{logical}Logs"]),
    }


def account_template(member: MemberSettings, logging_account_id: str) -> Template:
    """The account-wide part, deployed once per account: IAM only (the sender role, the
    read-only role of the logging account's coverage check, and the history reader)."""
    resources: dict[str, Any] = {
        "CoverageReaderRole": _resource(
            "AWS::IAM::Role",
            {
                "RoleName": READER_ROLE_NAME,
                "Description": (
                    "The central-logging coverage check of the logging account reads this "
                    "account's log groups, subscription filters and account policies"
                ),
                "AssumeRolePolicyDocument": sub(
                    policies.coverage_reader_trust(
                        PARTITION, logging_account_id, COVERAGE_ROLE_NAME
                    )
                ),
                "Policies": [
                    {
                        "PolicyName": "describe",
                        "PolicyDocument": sub(policies.coverage_reader_policy(PARTITION, ACCOUNT)),
                    }
                ],
            },
        ),
        "SenderRole": _resource(
            "AWS::IAM::Role",
            {
                "RoleName": SENDER_ROLE_NAME,
                "Description": (
                    "CloudWatch Logs delivery of this account's logs to the central destinations"
                ),
                "AssumeRolePolicyDocument": sub(
                    policies.sender_role_trust(PARTITION, member.regions, ACCOUNT)
                ),
                "Policies": [
                    {
                        "PolicyName": "deliver",
                        "PolicyDocument": sub(
                            policies.sender_role_policy(PARTITION, member.regions, ACCOUNT)
                        ),
                    }
                ],
            },
        ),
    }
    resources["HistoryReaderRole"] = _history_reader_role(member, logging_account_id)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "central-logging: the account-wide part of a member account (IAM)",
        "Resources": resources,
    }


def _history_reader_role(member: MemberSettings, logging_account_id: str) -> dict[str, Any]:
    """The read-only role `central-logging history --assume-role` reads this account with."""
    return _resource(
        "AWS::IAM::Role",
        {
            "RoleName": policies.HISTORY_READER_ROLE_NAME,
            "Description": "central-logging history: reads this account's log groups, read-only",
            "AssumeRolePolicyDocument": sub(
                policies.history_reader_trust(PARTITION, logging_account_id)
            ),
            "Policies": [
                {
                    "PolicyName": "read-log-groups",
                    "PolicyDocument": sub(
                        policies.history_reader_policy(PARTITION, member.regions, ACCOUNT)
                    ),
                }
            ],
        },
    )


def _exclusions(
    member: MemberSettings, destinations: Mapping[str, str]
) -> tuple[list[str], list[str]]:
    """What every account leaves out, and what the logging account leaves out (its delivery
    path's own log groups too, as a member stack there does)."""
    delivery = sorted(
        {
            name
            for arn in destinations.values()
            for name in delivery_log_groups(arn, policies.arn_account(arn))
        }
    )
    common = list(member.exclude_log_groups)
    return common, [*common, *(name for name in delivery if name not in common)]


def logging_account_of(destinations: Mapping[str, str]) -> str:
    """The one account that holds every destination."""
    logging_accounts = {policies.arn_account(arn) for arn in destinations.values()}
    if len(logging_accounts) != 1:
        raise ValueError(f"destinations in several accounts: {sorted(logging_accounts)}")
    return logging_accounts.pop()


def _if_logging_account(in_logging: Any, elsewhere: Any) -> dict[str, Any]:
    return {"Fn::If": [IN_LOGGING_ACCOUNT, in_logging, elsewhere]}


def regional_template(
    member: MemberSettings,
    destinations: Mapping[str, str],
    artifact_buckets: Mapping[str, str],
    code_key: str,
    code_versions: Mapping[str, str],
    scope: str = ORGANIZATION_SCOPE,
    signed_code: Mapping[str, SignedCodeOfRegion] | None = None,
) -> Template:
    """The part of every account-region: what a member stack declares in a region (the
    parameters, the heartbeat, the delivery alarms and the subscription itself). The
    functions' code is `code_key` at `code_versions[region]` in that region's artifact bucket,
    or, with `signed_code` (codeSigning), its signed copy there, under a code signing config
    that enforces the signing profile. The filters pass the sender role only where the
    destinations' `scope` is an organisation, as in a member stack."""
    sender_role = SENDER_ROLE_ARN if scope == ORGANIZATION_SCOPE else None
    mapping: dict[str, dict[str, str]] = {
        region: {
            "DestinationArn": arn,
            "ArtifactBucket": artifact_buckets[region],
            "CodeVersion": code_versions[region],
        }
        for region, arn in destinations.items()
    }
    function_code: Any = code_key
    if signed_code:
        for region, signed in signed_code.items():
            mapping[region].update(
                CodeKey=signed.key,
                CodeVersion=signed.version,
                SigningProfileVersionArn=signed.profile_version_arn,
            )
        function_code = {"Fn::FindInMap": [MAPPING, {"Ref": "AWS::Region"}, "CodeKey"]}
    logging_account = logging_account_of(destinations)
    resources: dict[str, Any] = {
        "DestinationParameter": _resource(
            "AWS::SSM::Parameter",
            {
                "Name": DESTINATION_PARAMETER,
                "Type": "String",
                "Value": DESTINATION,
                "Description": "The central-logging destination of this region (CLI default)",
            },
        ),
        "SenderRoleParameter": _resource(
            "AWS::SSM::Parameter",
            {
                "Name": SENDER_ROLE_PARAMETER,
                "Type": "String",
                "Value": sub(sender_role) if sender_role else NO_SENDER_ROLE,
                "Description": "The role CloudWatch Logs delivers this account's logs with",
            },
        ),
        **{
            f"SettingsParameter{number or ''}": _resource(
                "AWS::SSM::Parameter",
                {
                    "Name": parameter,
                    "Type": "String",
                    "Value": value,
                    "Description": "The subscription settings of this account's stack (CLI "
                    "defaults)",
                },
            )
            for number, (parameter, value) in enumerate(cli_settings(member))
        },
        **_heartbeat(function_code, member.heartbeat_minutes),
    }
    for number, alarm in enumerate(delivery_alarms(member.filter_name)):
        resources[f"DeliveryAlarm{number}"] = _query_alarm(alarm)
    common, in_logging = _exclusions(member, destinations)
    if member.subscription_mode == "lambda":
        resources.update(
            _subscriber_functions(member, function_code, common, in_logging, sender_role)
        )
    else:
        resources.update(_account_policy(member, common, in_logging, sender_role))
    if signed_code:
        _under_code_signing(resources)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "central-logging: this region's subscription to the central destination",
        "Mappings": {MAPPING: mapping},
        "Conditions": {
            IN_LOGGING_ACCOUNT: {"Fn::Equals": [{"Ref": "AWS::AccountId"}, logging_account]}
        },
        "Resources": resources,
    }


@dataclass(frozen=True)
class SignedCodeOfRegion:
    """The functions' code of one region as Signer signed it: the signed object's key and
    version in the region's artifact bucket, and the signing profile version that signed it."""

    key: str
    version: str
    profile_version_arn: str


def _under_code_signing(resources: dict[str, Any]) -> None:
    """Add a code signing config that admits only code the organization stack's signing
    profile signed (policy Enforce), and put every function of `resources` under it
    (AWS::Lambda::CodeSigningConfig, AWS::Lambda::Function CodeSigningConfigArn:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-codesigningconfig.html)."""
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    for function in functions:
        function["Properties"]["CodeSigningConfigArn"] = {
            "Fn::GetAtt": ["CodeSigningConfig", "CodeSigningConfigArn"]
        }
    resources["CodeSigningConfig"] = _resource(
        "AWS::Lambda::CodeSigningConfig",
        {
            "Description": "central-logging: only code signed by the organization stack",
            "AllowedPublishers": {
                "SigningProfileVersionArns": [
                    {"Fn::FindInMap": [MAPPING, {"Ref": "AWS::Region"}, "SigningProfileVersionArn"]}
                ]
            },
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": ENFORCE},
        },
    )


def _alarm(spec: AlarmSpec, dimensions: Mapping[str, Any]) -> dict[str, Any]:
    """The alarm `spec` describes, as the member stack declares it but without actions: no
    topic of the organization stack can be notified from every member account."""
    properties: dict[str, Any] = {
        "AlarmName": f"central-logging-{spec.purpose}",
        "AlarmDescription": spec.description,
        "Namespace": spec.namespace,
        "MetricName": spec.metric,
        "Statistic": spec.statistic,
        "Period": PERIOD_SECONDS,
        "EvaluationPeriods": spec.periods,
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison,
        "TreatMissingData": spec.missing_data,
    }
    if dimensions:
        properties["Dimensions"] = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    return _resource("AWS::CloudWatch::Alarm", properties)


def _query_alarm(spec: QueryAlarmSpec) -> dict[str, Any]:
    return _resource(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"central-logging-{spec.purpose}",
            "AlarmDescription": spec.description,
            "Metrics": [
                {"Id": "q1", "Expression": spec.query, "Period": PERIOD_SECONDS, "ReturnData": True}
            ],
            "EvaluationPeriods": 1,
            "Threshold": spec.threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


def _target(function: str, *, retry: bool = True, **extra: Any) -> dict[str, Any]:
    target = {"Id": function.lower(), "Arn": {"Fn::GetAtt": [function, "Arn"]}, **extra}
    if retry:
        target["RetryPolicy"] = {
            "MaximumEventAgeInSeconds": EVENT_MAX_AGE_SECONDS,
            "MaximumRetryAttempts": EVENT_MAX_RETRIES,
        }
    return target


def _rule(
    name: str, description: str, target: dict[str, Any] | None = None, **trigger: Any
) -> dict[str, Any]:
    return _resource(
        "AWS::Events::Rule",
        {
            "Name": name,
            "Description": description,
            **trigger,
            **({"Targets": [target]} if target else {}),
        },
    )


def _permission(function: str, rule: str) -> dict[str, Any]:
    return _resource(
        "AWS::Lambda::Permission",
        {
            "FunctionName": {"Ref": function},
            "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
        },
    )


def _heartbeat(code_key: Any, minutes: int) -> dict[str, Any]:
    """What components/heartbeat.py declares in a member region."""
    policy = policies.heartbeat_function_policy(
        partition=PARTITION,
        region=REGION,
        account_id=ACCOUNT,
        function_log_group_arn=_arn("logs", f"log-group:/aws/lambda/{heartbeat.FUNCTION_NAME}"),
    )
    return {
        "HeartbeatLogGroup": _resource(
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": HEARTBEAT_LOG_GROUP,
                "RetentionInDays": heartbeat.HEARTBEAT_RETENTION_DAYS,
                # Subscription filters take only the Standard class.
                "LogGroupClass": "STANDARD",
            },
        ),
        **_function(
            "Heartbeat",
            heartbeat.FUNCTION_NAME,
            description=heartbeat.description(minutes),
            handler=heartbeat.HANDLER,
            timeout=SCHEDULED_TIMEOUT_SECONDS,
            memory=SCHEDULED_MEMORY_MB,
            policy=policy,
            code_key=code_key,
            log_level=heartbeat.QUIET_LOG_LEVEL,
        ),
        "HeartbeatScheduleRule": _rule(
            HEARTBEAT_RULE_NAME,
            heartbeat.description(minutes),
            _target("Heartbeat", retry=False),
            ScheduleExpression=heartbeat.schedule(minutes),
        ),
        "HeartbeatSchedulePermission": _permission("Heartbeat", "HeartbeatScheduleRule"),
        "HeartbeatMissingAlarm": _alarm(
            heartbeat.missing_alarm(minutes), {"LogGroupName": HEARTBEAT_LOG_GROUP}
        ),
    }


def _selection_criteria(common: list[str], in_logging: list[str]) -> Any:
    """The account policy's selection criteria: `in_logging` in the logging account, `common`
    elsewhere. The names every account leaves out are written once, the logging account's
    extra ones joined in by condition: the config lets them reach 25 KB, and twice that would
    not fit CloudFormation's 51,200-byte template body ("CloudFormation quotas",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html)."""
    extra = in_logging[len(common) :]
    whole = account_policy_selection(common)
    if whole is None:
        return _if_logging_account(account_policy_selection(extra), {"Ref": "AWS::NoValue"})
    if not extra:
        return whole
    # 'LogGroupName NOT IN ["a", "b"' + ', "c"' in the logging account + ']'
    more = ", " + json.dumps(extra)[1:-1]
    return {"Fn::Join": ["", [whole[:-1], _if_logging_account(more, ""), "]"]]}


def _account_policy(
    member: MemberSettings, common: list[str], in_logging: list[str], sender_role: str | None
) -> Template:
    """Account-policy mode: the policy, and the alarm on changes to it (components/drift.py)."""
    # Fn::Sub text: a literal "${" in the filter pattern is written "${!".
    document = account_policy_document(
        DESTINATION_VARIABLE, sender_role, member.filter_pattern.replace("${", "${!")
    )
    return {
        "AccountPolicy": _resource(
            "AWS::Logs::AccountPolicy",
            {
                "PolicyName": member.filter_name,
                "PolicyType": "SUBSCRIPTION_FILTER_POLICY",
                "Scope": "ALL",
                "PolicyDocument": sub(json.dumps(document)),
                "SelectionCriteria": _selection_criteria(common, in_logging),
            },
        ),
        "AccountPolicyChangedRule": _rule(
            ACCOUNT_POLICY_RULE_NAME,
            ACCOUNT_POLICY_RULE_DESCRIPTION,
            EventPattern=account_policy_drift_pattern(member.filter_name),
        ),
        "AccountPolicyChangedAlarm": _alarm(
            account_policy_changed_alarm(member.filter_name),
            # The rule's name, as AWS/Events publishes MatchedEvents by it.
            {"RuleName": ACCOUNT_POLICY_RULE_NAME},
        ),
    }


def _subscriber_functions(
    member: MemberSettings,
    code_key: str,
    common: list[str],
    in_logging: list[str],
    sender_role: str | None,
) -> Template:
    """Lambda mode: what MemberSubscriber._subscriber_functions declares, as CloudFormation."""
    environment = function_environment(
        member,
        destination_arn=DESTINATION,
        sender_role_arn=sub(sender_role) if sender_role else None,
        exclude_patterns=_if_logging_account(json.dumps(in_logging), json.dumps(common)),
    )
    queue_arn = _arn("sqs", DEAD_LETTER_QUEUE_NAME)
    resources: dict[str, Any] = {
        "DeadLetters": _resource(
            "AWS::SQS::Queue",
            {
                "QueueName": DEAD_LETTER_QUEUE_NAME,
                "SqsManagedSseEnabled": True,
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
            },
        ),
        "DeadLettersPolicy": _resource(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": "DeadLetters"}],
                "PolicyDocument": sub(
                    policies.dead_letter_queue_policy(
                        queue_arn,
                        [_arn("events", f"rule/{name}") for name in DEAD_LETTER_RULES],
                    )
                ),
            },
        ),
    }
    for spec in (SUBSCRIBER, RECONCILER):
        function = logical_id(spec.kind)
        resources.update(
            _function(
                function,
                spec.name,
                description=f"central-logging {spec.kind}: keeps log groups subscribed",
                handler=spec.handler,
                timeout=spec.timeout,
                memory=FUNCTION_MEMORY_MB,
                policy=_subscriber_policy(spec, sender_role),
                code_key=code_key,
                environment=environment,
                dead_letters=True,
            )
        )
        resources[f"{function}ErrorsAlarm"] = _alarm(
            spec.errors_alarm, {"FunctionName": {"Ref": function}}
        )

    to_subscriber = _target(
        "Subscriber", DeadLetterConfig={"Arn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}
    )
    resources["LogGroupCreatedRule"] = _rule(
        CREATED_RULE_NAME,
        "A log group was created: subscribe it",
        to_subscriber,
        EventPattern=CREATE_LOG_GROUP_PATTERN,
    )
    resources["LogGroupCreatedPermission"] = _permission("Subscriber", "LogGroupCreatedRule")
    # Someone else put or deleted a filter: the subscriber decides as for a new group.
    resources["FilterChangedRule"] = _rule(
        FILTER_CHANGED_RULE_NAME,
        FILTER_RULE_DESCRIPTION,
        to_subscriber,
        EventPattern=sub(
            filter_drift_pattern([_role_arn(spec.name) for spec in (SUBSCRIBER, RECONCILER)])
        ),
    )
    resources["FilterChangedPermission"] = _permission("Subscriber", "FilterChangedRule")
    if member.reconcile_schedule:
        resources["SweepScheduleRule"] = _rule(
            SCHEDULE_RULE_NAME,
            "Sweep every log group of this region",
            _target("Reconciler"),
            ScheduleExpression=member.reconcile_schedule,
        )
        resources["SweepSchedulePermission"] = _permission("Reconciler", "SweepScheduleRule")
    # The first sweep when this account-region's stack is created (and again after every
    # update), so existing log groups are covered with no script to run.
    resources["DeploySweepRule"] = _rule(
        DEPLOY_RULE_NAME,
        "This stack was created or updated: sweep every log group of this region",
        _target("Reconciler", Input=json.dumps(DEPLOY_SWEEP_EVENT)),
        EventPattern=STACK_STATUS_PATTERN,
    )
    resources["DeploySweepPermission"] = _permission("Reconciler", "DeploySweepRule")

    resources["DeadLettersAlarm"] = _alarm(
        DEAD_LETTERS_ALARM, {"QueueName": {"Fn::GetAtt": ["DeadLetters", "QueueName"]}}
    )
    resources["UncoveredMetricFilter"] = _resource(
        "AWS::Logs::MetricFilter",
        {
            "LogGroupName": {"Ref": "ReconcilerLogs"},
            "FilterPattern": SWEEP_SUMMARY_PATTERN,
            "MetricTransformations": [
                {
                    "MetricName": UNCOVERED_METRIC,
                    "MetricNamespace": METRIC_NAMESPACE,
                    "MetricValue": "$.uncovered",
                }
            ],
        },
    )
    resources["UncoveredAlarm"] = _alarm(UNCOVERED_ALARM, {})
    return resources


def without_member_alarms(template: Template) -> Template:
    """`template` without what only serves alarms in member accounts: the alarms (no action
    there, nobody notified), the metric filters that feed them (each a custom metric, billed
    like any other) and the rules with no target (kept only for AWS/Events' MatchedEvents).
    The logging account watches freshness centrally instead (components/freshness.py)."""
    alarm_only = {"AWS::CloudWatch::Alarm", "AWS::Logs::MetricFilter"}
    resources = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] not in alarm_only
        and not (
            resource["Type"] == "AWS::Events::Rule" and "Targets" not in resource["Properties"]
        )
    }
    return {**template, "Resources": resources}


def render(template: Template) -> str:
    return json.dumps(template, sort_keys=True, separators=(",", ":"))


# CloudFormation quotas: "Template body size in a request: 51,200 bytes"
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
TEMPLATE_BODY_MAX_BYTES = 51_200


def fitting_body(template: Template, purpose: str) -> str:
    """The rendered template, or a configuration error if CloudFormation would refuse its
    size: reached only with many regions, the longest names and the most exclusions at once
    (the destinations' ARNs come from the logging stack, so this is known at preview)."""
    body = render(template)
    size = len(body.encode())
    if size > TEMPLATE_BODY_MAX_BYTES:
        raise ConfigError(
            f"The {purpose} StackSet's template would be {size} bytes with these settings, over "
            f"CloudFormation's {TEMPLATE_BODY_MAX_BYTES}-byte template body: cover fewer "
            f"{key('regions')}, exclude fewer log groups in {key('excludeLogGroups')}, shorten "
            f"{key('filterPattern')}, or give the logging stack a shorter destinationName."
        )
    return body


class OrganizationSubscriber(pulumi.ComponentResource):
    """Every account of the chosen OUs subscribed, in every configured region."""

    def __init__(
        self, name: str, settings: OrganizationSettings, opts: ResourceOptions | None = None
    ) -> None:
        member = settings.member
        targets = settings.organizational_unit_ids
        organization = aws.organizations.get_organization()
        if not targets:
            targets = tuple(root.id for root in organization.roots)
        if not targets:
            raise ConfigError(
                f"{key('organizationalUnitIds')} is not set and this account cannot list the "
                "organisation's root; set it to the OU IDs (ou-...) or the root ID (r-...) to "
                "cover."
            )
        super().__init__("central-logging:organization:OrganizationSubscriber", name, None, opts)
        self.name = name
        self.settings = settings
        self.organizational_unit_ids = list(targets)
        child = ResourceOptions(parent=self)

        def member_alarms(template: Template) -> Template:
            return template if settings.member_alarms else without_member_alarms(template)

        logging_stack = pulumi.StackReference(
            f"{name}-logging-stack", stack_name=member.logging_stack, opts=child
        )
        self.destination_arns: Output[dict[str, str]] = logging_stack.require_output(
            "destinationArns"
        ).apply(
            lambda arns: select_destinations(
                arns, member.regions, member.logging_stack, member.logging_account_id
            )
        )

        # Both modes run functions (the heartbeat in every region; in lambda mode the
        # subscriber and the reconciler too): their code is read from a bucket in the region.
        code: list[pulumi.Resource] = []
        self.artifact_buckets: dict[str, Output[str]] = {}
        code_versions: dict[str, Output[str]] = {}
        signed_code: dict[str, Output[SignedCodeOfRegion]] = {}
        code_object = code_key()
        invoke = pulumi.InvokeOutputOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=invoke)
        # The IAM role behind this run's session, as aws:PrincipalArn holds it (with its path).
        deployer = aws.iam.get_session_context_output(arn=caller.arn, opts=invoke).issuer_arn
        for region in member.regions:
            artifacts = code_bucket(
                self,
                f"{self.name}-{region}-artifacts",
                region=region,
                organization_id=organization.id,
                deployer=deployer,
            )
            bucket = artifacts.name
            # BucketObjectv2's versionId: "Unique version ID value for the object, if bucket
            # versioning is enabled" (https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucketobjectv2/).
            version = artifacts.code.version_id
            self.artifact_buckets[region] = bucket
            code_versions[region] = version
            code += [artifacts.policy, artifacts.code]
            if member.code_signing:
                signed_code[region] = self._signed_code(region, bucket, code_object, version)

        scope = logging_stack.get_output("destinationScope").apply(
            lambda value: destination_scope(value, member.logging_stack)
        )
        regional_body = Output.all(
            destinations=self.destination_arns,
            buckets=Output.all(**self.artifact_buckets),
            versions=Output.all(**code_versions),
            scope=scope,
            signed=Output.all(**signed_code) if signed_code else None,
        ).apply(
            lambda a: fitting_body(
                member_alarms(
                    regional_template(
                        member,
                        a["destinations"],
                        a["buckets"],
                        code_object,
                        a["versions"],
                        a["scope"],
                        a["signed"],
                    )
                ),
                "regional",
            )
        )
        account_body = self.destination_arns.apply(
            lambda d: fitting_body(
                member_alarms(account_template(member, logging_account_of(d))), "account"
            )
        )

        account_set = self._stack_set(
            "account",
            ACCOUNT_STACK_SET,
            "central-logging: the account-wide part (IAM) of every member account",
            account_body,
            capabilities=["CAPABILITY_NAMED_IAM"],
        )
        regional_set = self._stack_set(
            "regional",
            REGIONAL_STACK_SET,
            "central-logging: every covered region of every member account",
            regional_body,
            capabilities=["CAPABILITY_NAMED_IAM"],
            depends_on_stack_sets=[account_set.arn],
            opts=ResourceOptions(parent=self, depends_on=code),
        )
        account_instance = self._instance("account", account_set, member.home_region, [])
        for region in member.regions:
            self._instance("regional", regional_set, region, [account_instance])
        self.stack_set_names = {"account": account_set.name, "regional": regional_set.name}
        self.register_outputs(
            {"destinationArns": self.destination_arns, "stackSetNames": self.stack_set_names}
        )

    def _operation(self) -> dict[str, Any]:
        return {
            "max_concurrent_percentage": self.settings.max_concurrent_percentage,
            "failure_tolerance_percentage": self.settings.failure_tolerance_percentage,
            "region_concurrency_type": "PARALLEL",
        }

    def _stack_set(
        self,
        purpose: str,
        stack_set_name: str,
        description: str,
        body: Output[str],
        *,
        capabilities: list[str] | None = None,
        depends_on_stack_sets: list[Output[str]] | None = None,
        opts: ResourceOptions | None = None,
    ) -> aws.cloudformation.StackSet:
        return aws.cloudformation.StackSet(
            f"{self.name}-{purpose}",
            name=stack_set_name,
            description=description,
            permission_model="SERVICE_MANAGED",
            call_as=self.settings.call_as,
            auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
                enabled=True,
                # An account that leaves the OUs loses its stacks (and their filters).
                retain_stacks_on_account_removal=False,
                depends_on_stack_sets=depends_on_stack_sets,
            ),
            managed_execution=aws.cloudformation.StackSetManagedExecutionArgs(active=True),
            operation_preferences=aws.cloudformation.StackSetOperationPreferencesArgs(
                **self._operation()
            ),
            capabilities=capabilities,
            template_body=body,
            opts=opts or ResourceOptions(parent=self),
        )

    def _instance(
        self,
        purpose: str,
        stack_set: aws.cloudformation.StackSet,
        region: str,
        depends_on: list[pulumi.Resource],
    ) -> aws.cloudformation.StackSetInstance:
        # Deleting a stack instance (destroying this stack, or an account leaving the OUs or
        # joining `excludeAccounts`: stacks are not retained) deletes what its template
        # declares there: the regional one the functions, rules, dead-letter queue, alarms,
        # heartbeat, SSM parameters and account policy; the account one the sender role. It
        # leaves the subscription filters the subscriber put (no CloudFormation resource):
        # without the sender role they fail to deliver and hold a filter slot until
        # `central-logging unsubscribe` removes them, which it does only once the functions
        # and the drift rule are gone.
        excluded = list(self.settings.exclude_accounts)
        return aws.cloudformation.StackSetInstance(
            f"{self.name}-{purpose}-{region}",
            stack_set_name=stack_set.name,
            stack_set_instance_region=region,
            call_as=self.settings.call_as,
            deployment_targets=aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(
                organizational_unit_ids=self.organizational_unit_ids,
                # Every account of the OUs except these (AWS CloudFormation API Reference,
                # DeploymentTargets: DIFFERENCE).
                accounts=excluded or None,
                account_filter_type="DIFFERENCE" if excluded else None,
            ),
            operation_preferences=aws.cloudformation.StackSetInstanceOperationPreferencesArgs(
                concurrency_mode="SOFT_FAILURE_TOLERANCE", **self._operation()
            ),
            retain_stack=False,
            opts=ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _signed_code(
        self, region: str, bucket: Output[str], code_key: str, version: Output[str]
    ) -> Output[SignedCodeOfRegion]:
        """Sign the code object of `region`'s artifact bucket; the signed copy is pinned by
        its version like the unsigned one (Signer reports its key only, so its version is
        read back from the bucket)."""
        profile, signed_key = sign_code(
            self,
            f"{self.name}-{region}-artifacts",
            region=region,
            bucket=bucket,
            key=code_key,
            version=version,
        )
        signed_version = aws.s3.get_object_output(
            bucket=bucket,
            key=signed_key,
            region=region,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).version_id
        return Output.all(signed_key, signed_version, profile.version_arn).apply(
            lambda a: SignedCodeOfRegion(key=a[0], version=a[1], profile_version_arn=a[2])
        )
