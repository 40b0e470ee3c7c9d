"""Whether a CloudTrail trail records this region's management events: without one, EventBridge
never sees the CloudWatch Logs calls that new-log-group subscription and drift repair react to
(EventBridge User Guide, "Events from AWS services"; design section 6), so a new log group waits
for the scheduled sweep and a deleted or altered filter stays so until then.

A trail counts if it applies to the region (its home region, or a multi-region trail), is
logging, and selects write management events of CloudWatch Logs. Organisation trails count:
DescribeTrails with includeShadowTrails returns them in member accounts, and GetTrailStatus
and GetEventSelectors take their full ARN there (AWS CloudTrail API Reference,
https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_DescribeTrails.html,
API_GetTrailStatus.html, API_GetEventSelectors.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

LOGS_EVENT_SOURCE = "logs.amazonaws.com"


def _selects_logs_writes(selector: Mapping[str, Any]) -> bool:
    """A basic event selector (ReadWriteType, IncludeManagementEvents, which default to All
    and true) that records CreateLogGroup and PutSubscriptionFilter, both write events."""
    return selector.get("IncludeManagementEvents", True) is True and selector.get(
        "ReadWriteType", "All"
    ) in ("All", "WriteOnly")


def _advanced_selects_logs_writes(selector: Mapping[str, Any]) -> bool:
    """An advanced event selector of management events that keeps write events and does not
    leave out CloudWatch Logs' event source (AdvancedFieldSelector: Equals, NotEquals,
    StartsWith, NotStartsWith...); a field condition this code does not know counts against."""
    fields = {f.get("Field"): f for f in selector.get("FieldSelectors", [])}
    category = fields.pop("eventCategory", {})
    if category.get("Equals") != ["Management"] or set(category) - {"Field", "Equals"}:
        return False
    read_only = fields.pop("readOnly", None)
    if read_only is not None and read_only != {"Field": "readOnly", "Equals": ["false"]}:
        return False
    source = fields.pop("eventSource", None)
    if source is not None:
        kept = set(source) - {"Field", "NotEquals"}
        if kept or LOGS_EVENT_SOURCE in source.get("NotEquals", []):
            return False
    return not fields


def records_logs_writes(
    event_selectors: Sequence[Mapping[str, Any]],
    advanced_event_selectors: Sequence[Mapping[str, Any]],
) -> bool:
    """Whether a trail's selectors (GetEventSelectors) record CloudWatch Logs' write
    management events."""
    return any(_selects_logs_writes(s) for s in event_selectors) or any(
        _advanced_selects_logs_writes(s) for s in advanced_event_selectors
    )


def applies_to_region(trail: Mapping[str, Any], region: str) -> bool:
    return bool(trail.get("IsMultiRegionTrail")) or trail.get("HomeRegion") == region


def management_trail(cloudtrail: Any, region: str) -> str | None:
    """The ARN of a trail recording this region's CloudWatch Logs write management events, or
    None. Raises the ClientError of a call that failed."""
    trails = cloudtrail.describe_trails(includeShadowTrails=True).get("trailList", [])
    for trail in trails:
        arn = trail.get("TrailARN")
        if not arn or not applies_to_region(trail, region):
            continue
        if not cloudtrail.get_trail_status(Name=arn).get("IsLogging"):
            continue
        selectors = cloudtrail.get_event_selectors(TrailName=arn)
        if records_logs_writes(
            selectors.get("EventSelectors", []), selectors.get("AdvancedEventSelectors", [])
        ):
            return str(arn)
    return None
