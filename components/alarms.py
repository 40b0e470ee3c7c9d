"""CloudWatch alarms of both stacks and where they notify.

Not a component of its own: each stack's component owns its alarms (they are parented to
it), and this module only keeps the shape of an alarm and its notification in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
from pulumi import ResourceOptions

from components.config import AlarmSettings

PERIOD_SECONDS = 300


@dataclass(frozen=True)
class AlarmSpec:
    """What an alarm on one metric watches and what it tells the operator: declared once,
    for a member stack (`AlarmNotifier.watch`) and the organization stack's template alike.
    By default no data means nothing flowed, which is not an alarm; where silence is the
    failure, `missing_data="breaching"`."""

    purpose: str
    description: str
    namespace: str
    metric: str
    statistic: str
    threshold: float
    comparison: str = "GreaterThanThreshold"
    periods: int = 1
    missing_data: str = "notBreaching"


@dataclass(frozen=True)
class QueryAlarmSpec:
    """An alarm on a CloudWatch Metrics Insights query, which covers every time series it
    matches, including ones that appear later (CloudWatch user guide, "Create a CloudWatch
    alarm based on a Metrics Insights query"). No data: nothing failed."""

    purpose: str
    description: str
    query: str
    threshold: float = 0


@dataclass
class AlarmNotifier:
    """Alarms of one component, notifying the configured topic (or one created per region
    for `alarmEmail`)."""

    parent: pulumi.Resource
    name: str
    settings: AlarmSettings
    _topics: dict[str, list[pulumi.Input[str]]] = field(default_factory=dict)

    def actions(self, region: str) -> list[pulumi.Input[str]]:
        if region not in self._topics:
            self._topics[region] = self._notification_target(region)
        return self._topics[region]

    def _notification_target(self, region: str) -> list[pulumi.Input[str]]:
        if self.settings.topic_arn:
            return [self.settings.topic_arn]
        if not self.settings.email:
            return []
        topic = aws.sns.Topic(
            f"{self.name}-{region}-alarms",
            region=region,
            display_name="central-logging alarms",
            opts=ResourceOptions(parent=self.parent),
        )
        aws.sns.TopicSubscription(
            f"{self.name}-{region}-alarms-email",
            region=region,
            topic=topic.arn,
            protocol="email",
            endpoint=self.settings.email,
            opts=ResourceOptions(parent=self.parent),
        )
        return [topic.arn]

    def alarm(
        self,
        purpose: str,
        region: str,
        description: str,
        *,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        statistic: str,
        threshold: float,
        comparison: str = "GreaterThanThreshold",
        periods: int = 1,
        source_region: str | None = None,
        missing_data: str = "notBreaching",
        period: int = PERIOD_SECONDS,
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm on one metric, in `region`, named after `source_region` (the region
        whose logs it watches) when that is another one. By default no data means nothing
        flowed, which is not an alarm; where silence is the failure, `missing_data="breaching"`."""
        actions = self.actions(region)
        return aws.cloudwatch.MetricAlarm(
            f"{self.name}-{source_region or region}-{purpose}",
            region=region,
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dimensions,
            statistic=statistic,
            period=period,
            evaluation_periods=periods,
            threshold=threshold,
            comparison_operator=comparison,
            treat_missing_data=missing_data,
            alarm_actions=actions,
            ok_actions=actions,
            opts=ResourceOptions(parent=self.parent),
        )

    def watch(
        self, spec: AlarmSpec, region: str, dimensions: Mapping[str, pulumi.Input[str]]
    ) -> aws.cloudwatch.MetricAlarm:
        """The alarm `spec` describes, in `region`, on the metric with these dimensions."""
        return self.alarm(
            spec.purpose,
            region,
            spec.description,
            namespace=spec.namespace,
            metric=spec.metric,
            dimensions=dimensions,
            statistic=spec.statistic,
            threshold=spec.threshold,
            comparison=spec.comparison,
            periods=spec.periods,
            missing_data=spec.missing_data,
        )

    def query_alarm(self, spec: QueryAlarmSpec, region: str) -> aws.cloudwatch.MetricAlarm:
        actions = self.actions(region)
        return aws.cloudwatch.MetricAlarm(
            f"{self.name}-{region}-{spec.purpose}",
            region=region,
            alarm_description=spec.description,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="q1", expression=spec.query, period=PERIOD_SECONDS, return_data=True
                )
            ],
            evaluation_periods=1,
            threshold=spec.threshold,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=ResourceOptions(parent=self.parent),
        )
