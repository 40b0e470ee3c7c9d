"""MemberSubscriber: one member account's side of the pipeline.

Reads the logging stack's destinations through a StackReference, then, in every configured
region, keeps every log group subscribed: either with the subscriber functions (a filter per
log group, for new groups on their CloudTrail event, for all groups on a schedule and at
deploy time) or with one account-level subscription filter policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies
from components.alarms import AlarmNotifier, AlarmSpec, QueryAlarmSpec
from components.code_signing import SignedCode
from components.config import (
    ACCOUNTS_SCOPE,
    ORGANIZATION_SCOPE,
    ConfigError,
    MemberSettings,
    account_policy_selection,
    cli_settings,
    key,
)
from components.drift import FILTER_RULE_DESCRIPTION, filter_drift_pattern, watch_account_policy
from components.functions import (
    FUNCTION_ARCHITECTURE,
    FUNCTION_LOG_RETENTION_DAYS,
    RUNTIME,
    SignedFunctionCode,
    code_arguments,
    handler_code_hash,
)
from components.heartbeat import Heartbeat
from handlers.core import (
    DESTINATION_PARAMETER,
    NO_SENDER_ROLE,
    SENDER_ROLE_PARAMETER,
    delivery_log_groups,
)

DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
# The sweep's last summary line (handlers/reconcile.py) and the number it reports.
SWEEP_SUMMARY_PATTERN = '{ $.message = "sweep finished" }'
UNCOVERED_METRIC = "UncoveredLogGroups"
METRIC_NAMESPACE = "CentralLogging"
FUNCTION_MEMORY_MB = 256
# EventBridge keeps retrying a target for a day before the event goes to the dead letters.
EVENT_MAX_AGE_SECONDS = 24 * 3600
EVENT_MAX_RETRIES = 185
# What the sweep is started with at deploy time (it sweeps on any event without a cursor).
DEPLOY_SWEEP_EVENT = {"source": "central-logging.deploy"}


@dataclass(frozen=True)
class FunctionSpec:
    """One of the subscriber functions, as every account-region runs it."""

    kind: str
    handler: str
    timeout: int

    @property
    def name(self) -> str:
        return f"central-logging-{self.kind}"

    @property
    def errors_alarm(self) -> AlarmSpec:
        return AlarmSpec(
            f"{self.kind}-errors",
            f"The {self.name} function failed: read its log group; failed invocations "
            "are retried, then kept in the dead-letter queue.",
            namespace="AWS/Lambda",
            metric="Errors",
            statistic="Sum",
            threshold=0,
        )


SUBSCRIBER = FunctionSpec("subscriber", "handlers.subscribe.handler", 60)
RECONCILER = FunctionSpec("reconciler", "handlers.reconcile.handler", 900)
DEAD_LETTERS_ALARM = AlarmSpec(
    "dead-letters",
    "Events or sweeps the subscriber could not process are waiting in the dead-letter "
    "queue: fix the cause, then run `central-logging backfill` for this account.",
    namespace="AWS/SQS",
    metric="ApproximateNumberOfMessagesVisible",
    statistic="Maximum",
    threshold=0,
)
UNCOVERED_ALARM = AlarmSpec(
    "uncovered-log-groups",
    "The last sweep left log groups without delivery (limit-exceeded: other tools "
    "hold every filter slot; failed): run `central-logging audit` to name them.",
    namespace=METRIC_NAMESPACE,
    metric=UNCOVERED_METRIC,
    statistic="Maximum",
    threshold=0,
)

# CloudTrail's record of a successful CreateLogGroup; failed calls carry `errorCode`.
CREATE_LOG_GROUP_PATTERN: dict[str, Any] = {
    "source": ["aws.logs"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {
        "eventSource": ["logs.amazonaws.com"],
        "eventName": ["CreateLogGroup"],
        "errorCode": [{"exists": False}],
    },
}


def select_destinations(
    arns: Mapping[str, str] | None,
    regions: tuple[str, ...],
    logging_stack: str,
    logging_account_id: str | None = None,
) -> dict[str, str]:
    """The destination of every configured region, or a clear error naming the gap."""
    for region in regions:
        if not arns or region not in arns:
            known = ", ".join(sorted(arns or {})) or "none"
            raise ConfigError(
                f"{key('regions')} includes {region!r} but the logging stack {logging_stack} has "
                f"no destination there (its destinationArns cover: {known}); add the region "
                "to the logging stack first or remove it here."
            )
        if logging_account_id is not None:
            check_destination_account(arns[region], region, logging_stack, logging_account_id)
    return {region: arns[region] for region in regions} if arns else {}


# arn:PARTITION:logs:REGION:ACCOUNT:destination:NAME ("Resource types defined by Amazon
# CloudWatch Logs", Service Authorization Reference).
DESTINATION_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:logs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):destination:[^:*]+$"
)


def check_destination_account(
    arn: str, region: str, logging_stack: str, logging_account_id: str
) -> None:
    """Whoever can write the logging stack's outputs must not be able to send this account's
    logs elsewhere: the destination must be the pinned logging account's, in its region."""
    match = DESTINATION_ARN_RE.fullmatch(str(arn))
    if match is None or match["account"] != logging_account_id or match["region"] != region:
        raise ConfigError(
            f"The logging stack {logging_stack} gives {arn!r} as the destination for {region}, "
            f"which is not a CloudWatch Logs destination of {key('loggingAccountId')} "
            f"{logging_account_id} in {region}; check the logging stack, or the key."
        )


V = TypeVar("V")


def function_environment(
    settings: MemberSettings, *, destination_arn: V, sender_role_arn: V | None, exclude_patterns: V
) -> dict[str, V | str]:
    """The subscriber functions' environment (design section 4); `exclude_patterns` is the
    JSON array of globs; SENDER_ROLE_ARN only where the filters pass a role. Values are
    strings in a member stack, CloudFormation expressions in the organization stack's
    template."""
    environment: dict[str, V | str] = {"DESTINATION_ARN": destination_arn}
    if sender_role_arn is not None:
        environment["SENDER_ROLE_ARN"] = sender_role_arn
    return {
        **environment,
        "FILTER_NAME": settings.filter_name,
        "FILTER_PATTERN": settings.filter_pattern,
        "EXCLUDE_PATTERNS": exclude_patterns,
        "REPLACE_FILTER_NAMES": json.dumps(list(settings.replace_filter_names)),
    }


def account_policy_document(
    destination_arn: V, role_arn: V | None, filter_pattern: str
) -> dict[str, Any]:
    """The policy document of an account-level subscription filter policy; RoleArn only for
    a destination that admits an organisation (AWS's example for a destination that lists
    the sending account passes none: "Step 3: Create an account-level subscription filter
    policy", CreateSubscriptionFilterFirehose-Account.html)."""
    document: dict[str, Any] = {"DestinationArn": destination_arn}
    if role_arn is not None:
        document["RoleArn"] = role_arn
    return {**document, "FilterPattern": filter_pattern, "Distribution": "Random"}


def destination_scope(value: object, logging_stack: str) -> str:
    """The logging stack's `destinationScope`. A logging stack from before that output
    admitted senders with their role either way, so its absence keeps passing the role."""
    if value is None:
        return ORGANIZATION_SCOPE
    if value not in (ORGANIZATION_SCOPE, ACCOUNTS_SCOPE):
        raise ConfigError(
            f"The logging stack {logging_stack} exports destinationScope {value!r}; it must be "
            f"{ORGANIZATION_SCOPE} or {ACCOUNTS_SCOPE}: update the logging stack."
        )
    return str(value)


def delivery_alarms(filter_name: str) -> tuple[QueryAlarmSpec, ...]:
    """CloudWatch Logs' own errors delivering our filter's events (in the sender account,
    per log group and filter, AWS/Logs): one Metrics Insights query covers every log group,
    including those created later. A query alarm watches one query, so two alarms."""
    quoted = filter_name.replace("\\", "\\\\").replace("'", "\\'")
    return tuple(
        QueryAlarmSpec(
            purpose,
            f"CloudWatch Logs {meaning} forwarding events of filter {filter_name} to the "
            "central destination (it retries for 24 h): check the destination, its access "
            "policy and the sender role.",
            query=f"SELECT SUM({metric}) FROM \"AWS/Logs\" WHERE FilterName = '{quoted}'",
        )
        for purpose, metric, meaning in (
            ("delivery-errors", "DeliveryErrors", "received errors"),
            ("delivery-throttled", "DeliveryThrottling", "was throttled"),
        )
    )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@dataclass
class RegionalSubscriber:
    """The subscriber functions of one region (lambda mode)."""

    subscriber: aws.lambda_.Function
    reconciler: aws.lambda_.Function


class MemberSubscriber(pulumi.ComponentResource):
    """Every log group of one member account, in every configured region, subscribed."""

    def __init__(
        self, name: str, settings: MemberSettings, opts: ResourceOptions | None = None
    ) -> None:
        super().__init__("central-logging:subscriber:MemberSubscriber", name, None, opts)
        self.name = name
        self.settings = settings
        self.partition = policies.partition_for(settings.home_region)
        self.account_id = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id

        logging_stack = pulumi.StackReference(
            f"{name}-logging-stack",
            stack_name=settings.logging_stack,
            opts=ResourceOptions(parent=self),
        )
        self.destination_arns: Output[dict[str, str]] = logging_stack.require_output(
            "destinationArns"
        ).apply(
            lambda arns: select_destinations(
                arns, settings.regions, settings.logging_stack, settings.logging_account_id
            )
        )

        self.sender_role = aws.iam.Role(
            f"{name}-sender",
            description="CloudWatch Logs delivery of this account's logs to the central destinations",
            assume_role_policy=self.account_id.apply(
                lambda account: _json(
                    policies.sender_role_trust(self.partition, settings.regions, account)
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        sender_policy = aws.iam.RolePolicy(
            f"{name}-sender",
            role=self.sender_role.id,
            policy=self.account_id.apply(
                lambda account: _json(
                    policies.sender_role_policy(self.partition, settings.regions, account)
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        # The role filters pass (roleArn): only to destinations that admit an organisation;
        # one that lists accounts takes none (PutSubscriptionFilter, roleArn: "You don't need
        # to provide the ARN when you are working with a logical destination for
        # cross-account delivery", API_PutSubscriptionFilter.html). The role itself is
        # declared either way: the scope arrives as an output of the logging stack.
        scope = logging_stack.get_output("destinationScope").apply(
            lambda value: destination_scope(value, settings.logging_stack)
        )
        self.sender_role_arn: Output[str | None] = Output.all(scope, self.sender_role.arn).apply(
            lambda a: a[1] if a[0] == ORGANIZATION_SCOPE else None
        )
        self._history_reader()

        self.alarms = AlarmNotifier(self, name, settings.alarms)
        self.functions: dict[str, RegionalSubscriber] = {}
        self.heartbeats: dict[str, Heartbeat] = {}
        self.signed_code: dict[str, SignedFunctionCode] = {}
        for region in settings.regions:
            if settings.code_signing:
                self.signed_code[region] = SignedCode(
                    f"{name}-{region}-code", region=region, opts=ResourceOptions(parent=self)
                ).code
            self.heartbeats[region] = Heartbeat(
                f"{name}-{region}-heartbeat",
                region=region,
                partition=self.partition,
                account_id=self.account_id,
                alarms=self.alarms,
                minutes=settings.heartbeat_minutes,
                signed_code=self.signed_code.get(region),
                opts=ResourceOptions(parent=self),
            )
            for alarm in delivery_alarms(settings.filter_name):
                self.alarms.query_alarm(alarm, region)
            destination_arn = self.destination_arns[region]
            excluded = Output.all(destination_arn, self.account_id).apply(
                lambda a: [*settings.exclude_log_groups, *delivery_log_groups(a[0], a[1])]
            )
            aws.ssm.Parameter(
                f"{name}-{region}-destination-arn",
                region=region,
                name=DESTINATION_PARAMETER,
                type="String",
                value=destination_arn,
                description="The central-logging destination of this region (CLI default)",
                opts=ResourceOptions(parent=self),
            )
            # The CLI passes the same role as the subscriber, so both decide alike.
            aws.ssm.Parameter(
                f"{name}-{region}-sender-role-arn",
                region=region,
                name=SENDER_ROLE_PARAMETER,
                type="String",
                value=self.sender_role_arn.apply(lambda arn: arn or NO_SENDER_ROLE),
                description="The role central-logging filters of this account pass (CLI default)",
                opts=ResourceOptions(parent=self),
            )
            for parameter, value in cli_settings(settings):
                aws.ssm.Parameter(
                    f"{name}-{region}-{parameter.rsplit('/', 1)[1]}",
                    region=region,
                    name=parameter,
                    type="String",
                    value=value,
                    description="The subscription settings of this account's stack (CLI defaults)",
                    opts=ResourceOptions(parent=self),
                )
            if settings.subscription_mode == "account-policy":
                self._account_policy(region, destination_arn, excluded, sender_policy)
            else:
                self.functions[region] = self._subscriber_functions(
                    region, destination_arn, excluded, sender_policy
                )

        self.subscriber_function_arns = Output.all(
            **{region: f.subscriber.arn for region, f in self.functions.items()}
        )
        self.register_outputs(
            {"destinationArns": self.destination_arns, "senderRoleArn": self.sender_role_arn}
        )

    def _history_reader(self) -> None:
        """The read-only role `central-logging history --assume-role` reads this account with,
        trusted by the logging account (which owns the destinations)."""
        settings = self.settings
        logging_account = self.destination_arns.apply(
            lambda arns: policies.arn_account(arns[settings.regions[0]])
        )
        role = aws.iam.Role(
            f"{self.name}-history-reader",
            name=policies.HISTORY_READER_ROLE_NAME,
            description="central-logging history: reads this account's log groups, read-only",
            assume_role_policy=logging_account.apply(
                lambda account: _json(policies.history_reader_trust(self.partition, account))
            ),
            opts=ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{self.name}-history-reader",
            role=role.id,
            policy=self.account_id.apply(
                lambda account: _json(
                    policies.history_reader_policy(self.partition, settings.regions, account)
                )
            ),
            opts=ResourceOptions(parent=self),
        )

    def _account_policy(
        self,
        region: str,
        destination_arn: Output[str],
        excluded: Output[list[str]],
        sender_policy: aws.iam.RolePolicy,
    ) -> None:
        s = self.settings
        document = Output.all(destination_arn, self.sender_role_arn).apply(
            lambda a: _json(account_policy_document(a[0], a[1], s.filter_pattern))
        )
        aws.cloudwatch.LogAccountPolicy(
            f"{self.name}-{region}-account-policy",
            region=region,
            policy_name=s.filter_name,
            policy_type="SUBSCRIPTION_FILTER_POLICY",
            scope="ALL",
            policy_document=document,
            selection_criteria=excluded.apply(account_policy_selection),
            opts=ResourceOptions(parent=self, depends_on=[sender_policy]),
        )
        watch_account_policy(self, self.alarms, self.name, region, s.filter_name)

    def _subscriber_functions(
        self,
        region: str,
        destination_arn: Output[str],
        excluded: Output[list[str]],
        sender_policy: aws.iam.RolePolicy,
    ) -> RegionalSubscriber:
        s = self.settings
        prefix = f"{self.name}-{region}"
        child = ResourceOptions(parent=self)
        dead_letters = aws.sqs.Queue(
            f"{prefix}-dead-letters",
            region=region,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            opts=child,
        )
        environment = Output.all(destination_arn, self.sender_role_arn, excluded).apply(
            lambda a: function_environment(
                s, destination_arn=a[0], sender_role_arn=a[1], exclude_patterns=json.dumps(a[2])
            )
        )
        subscriber, _, _ = self._function(
            region, SUBSCRIBER, destination_arn, environment, dead_letters
        )
        reconciler, reconciler_policy, reconciler_logs = self._function(
            region, RECONCILER, destination_arn, environment, dead_letters
        )
        self._subscriber_alarms(region, dead_letters, reconciler_logs)

        created = aws.cloudwatch.EventRule(
            f"{prefix}-log-group-created",
            region=region,
            description="A log group was created: subscribe it",
            event_pattern=_json(CREATE_LOG_GROUP_PATTERN),
            opts=child,
        )
        # Someone else put or deleted a filter: the subscriber decides as for a new group.
        drift = aws.cloudwatch.EventRule(
            f"{prefix}-filter-changed",
            region=region,
            description=FILTER_RULE_DESCRIPTION,
            event_pattern=Output.all(subscriber.role, reconciler.role).apply(
                lambda roles: _json(filter_drift_pattern(roles))
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{prefix}-dead-letters",
            region=region,
            queue_url=dead_letters.url,
            policy=Output.all(dead_letters.arn, created.arn, drift.arn).apply(
                lambda a: _json(policies.dead_letter_queue_policy(a[0], a[1:]))
            ),
            opts=child,
        )
        self._trigger(region, created, subscriber, dead_letters, "log-group-created")
        self._trigger(region, drift, subscriber, dead_letters, "filter-changed")
        if s.reconcile_schedule:
            schedule = aws.cloudwatch.EventRule(
                f"{prefix}-sweep-schedule",
                region=region,
                description="Sweep every log group of this region",
                schedule_expression=s.reconcile_schedule,
                opts=child,
            )
            self._trigger(region, schedule, reconciler, None, "sweep-schedule")

        # `pulumi up` itself covers the existing log groups: sweep once now, and again
        # whenever what a subscription means changes.
        aws.lambda_.Invocation(
            f"{prefix}-deploy-sweep",
            region=region,
            function_name=reconciler.name,
            input=_json(DEPLOY_SWEEP_EVENT),
            triggers={
                "destination": destination_arn,
                # Filters to re-put with or without roleArn when the scope changes.
                "senderRole": self.sender_role_arn.apply(lambda arn: arn or NO_SENDER_ROLE),
                "settings": excluded.apply(
                    lambda names: _json(
                        [s.filter_name, s.filter_pattern, names, s.replace_filter_names]
                    )
                ),
                "code": handler_code_hash(),
            },
            opts=ResourceOptions(
                parent=self,
                depends_on=[reconciler_policy, sender_policy, self.heartbeats[region].log_group],
            ),
        )
        return RegionalSubscriber(subscriber, reconciler)

    def _function(
        self,
        region: str,
        spec: FunctionSpec,
        destination_arn: Output[str],
        environment: Output[dict[str, str]],
        dead_letters: aws.sqs.Queue,
    ) -> tuple[aws.lambda_.Function, aws.iam.RolePolicy, aws.cloudwatch.LogGroup]:
        kind = spec.kind
        prefix = f"{self.name}-{region}-{kind}"
        function_name = spec.name
        log_group = aws.cloudwatch.LogGroup(
            f"{prefix}-logs",
            region=region,
            name=f"/aws/lambda/{function_name}",
            retention_in_days=FUNCTION_LOG_RETENTION_DAYS,
            opts=ResourceOptions(parent=self),
        )
        role = aws.iam.Role(
            prefix,
            description=f"central-logging {kind} function in {region}",
            assume_role_policy=_json(policies.lambda_trust()),
            opts=ResourceOptions(parent=self),
        )
        function_arn = self.account_id.apply(
            lambda account: (
                f"arn:{self.partition}:lambda:{region}:{account}:function:{function_name}"
            )
        )
        role_policy = aws.iam.RolePolicy(
            prefix,
            role=role.id,
            policy=Output.all(
                self.account_id,
                destination_arn,
                self.sender_role_arn,
                log_group.arn,
                function_arn,
                dead_letters.arn,
            ).apply(
                lambda a: _json(
                    policies.subscriber_function_policy(
                        partition=self.partition,
                        region=region,
                        account_id=a[0],
                        destination_arn=a[1],
                        sender_role_arn=a[2],
                        function_log_group_arn=a[3],
                        function_arn=a[4] if spec == RECONCILER else None,
                        dead_letter_queue_arn=a[5],
                    )
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        function = aws.lambda_.Function(
            prefix,
            region=region,
            name=function_name,
            description=f"central-logging {kind}: keeps log groups subscribed",
            role=role.arn,
            runtime=RUNTIME,
            handler=spec.handler,
            architectures=[FUNCTION_ARCHITECTURE],
            memory_size=FUNCTION_MEMORY_MB,
            timeout=spec.timeout,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            # Asynchronous invocations that still fail after Lambda's retries are kept.
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(
                target_arn=dead_letters.arn
            ),
            # Lambda checks at creation that the role may use the dead-letter queue.
            opts=ResourceOptions(parent=self, depends_on=[log_group, role_policy]),
            **code_arguments(self.signed_code.get(region)),
        )
        self.alarms.watch(spec.errors_alarm, region, {"FunctionName": function.name})
        return function, role_policy, log_group

    def _subscriber_alarms(
        self, region: str, dead_letters: aws.sqs.Queue, reconciler_logs: aws.cloudwatch.LogGroup
    ) -> None:
        self.alarms.watch(DEAD_LETTERS_ALARM, region, {"QueueName": dead_letters.name})
        aws.cloudwatch.LogMetricFilter(
            f"{self.name}-{region}-uncovered",
            region=region,
            log_group_name=reconciler_logs.name,
            pattern=SWEEP_SUMMARY_PATTERN,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=UNCOVERED_METRIC, namespace=METRIC_NAMESPACE, value="$.uncovered"
            ),
            opts=ResourceOptions(parent=self),
        )
        self.alarms.watch(UNCOVERED_ALARM, region, {})

    def _trigger(
        self,
        region: str,
        rule: aws.cloudwatch.EventRule,
        function: aws.lambda_.Function,
        dead_letters: aws.sqs.Queue | None,
        purpose: str,
    ) -> None:
        prefix = f"{self.name}-{region}-{purpose}"
        aws.cloudwatch.EventTarget(
            prefix,
            region=region,
            rule=rule.name,
            arn=function.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_event_age_in_seconds=EVENT_MAX_AGE_SECONDS,
                maximum_retry_attempts=EVENT_MAX_RETRIES,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dead_letters.arn)
            if dead_letters
            else None,
            opts=ResourceOptions(parent=self),
        )
        aws.lambda_.Permission(
            prefix,
            region=region,
            function=function.name,
            action="lambda:InvokeFunction",
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=ResourceOptions(parent=self),
        )
