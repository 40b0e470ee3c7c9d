"""CoverageCheck: does every log group of the organisation deliver to the archive?
(logging stack, home region, daily; handlers/coverage.py)

The check (`coverageCheck`) runs in the logging account and trusts nothing the audited
accounts say about themselves: it lists the accounts through a role of the management
account (`organizationReaderRoleArn`, which the freshness check uses too), leaves out
`exemptAccounts`, reads each account through the read-only role the organization stack
deploys there (READER_ROLE_NAME), and judges against the logging stack's own destinations. It writes its report under REPORT_PREFIX in the archive bucket, outside
the archive prefix, and publishes `UncoveredLogGroups` (per region and in all) and
`UncheckedAccountRegions`; the alarms watch the totals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
from pulumi import Output, ResourceOptions

from components import policies
from components.alarms import AlarmNotifier
from components.config import COVERAGE_REPORT_PREFIX, CoverageConfig, LoggingSettings
from components.functions import SignedFunctionCode, scheduled_function
from handlers.coverage import UNCHECKED_METRIC, UNCOVERED_METRIC
from handlers.freshness import METRIC_NAMESPACE

FUNCTION_NAME = "central-logging-coverage"
# The coverage function's role; the roles it assumes in other accounts trust this name.
ROLE_NAME = FUNCTION_NAME
# The read-only role the organization stack deploys in every account.
READER_ROLE_NAME = "central-logging-coverage-reader"
REPORT_PREFIX = COVERAGE_REPORT_PREFIX
SCHEDULE = "rate(1 day)"
TIMEOUT_SECONDS = 900  # Lambda's longest; the check continues itself before it
MEMORY_MB = 512
DAY_SECONDS = 86_400


class CoverageCheck(pulumi.ComponentResource):
    """The coverage function, its schedule and its two alarms."""

    def __init__(
        self,
        name: str,
        *,
        settings: LoggingSettings,
        coverage: CoverageConfig,
        sender_role_name: str,
        account_id: Output[str],
        bucket_name: Output[str],
        bucket_arn: Output[str],
        kms_key_arn: Output[str],
        destination_arns: Output[Mapping[str, str]],
        alarms: AlarmNotifier,
        signed_code: SignedFunctionCode | None = None,
        opts: ResourceOptions | None = None,
    ) -> None:
        super().__init__("central-logging:coverage:CoverageCheck", name, None, opts)
        home = settings.home_region
        partition = policies.partition_for(home)
        environment: dict[str, pulumi.Input[str]] = {
            "DESTINATION_ARNS": destination_arns.apply(lambda d: json.dumps(d, sort_keys=True)),
            "ORGANIZATION_ROLE_ARN": coverage.organization_role_arn,
            "READER_ROLE_NAME": READER_ROLE_NAME,
            "SENDER_ROLE_NAME": sender_role_name,
            "REPORT_BUCKET": bucket_name,
            "REPORT_PREFIX": REPORT_PREFIX,
            "FILTER_PATTERN": coverage.filter_pattern,
            "EXCLUDE_PATTERNS": json.dumps(list(coverage.exclude_log_groups)),
            "EXCLUDE_ACCOUNTS": json.dumps(list(settings.exempt_accounts)),
        }
        scheduled_function(
            self,
            f"{name}-function",
            region=home,
            function_name=FUNCTION_NAME,
            description="central-logging coverage: does every log group deliver to the archive?",
            handler="handlers.coverage.handler",
            schedule=SCHEDULE,
            environment=environment,
            timeout=TIMEOUT_SECONDS,
            memory=MEMORY_MB,
            role_name=ROLE_NAME,
            signed_code=signed_code,
            policy=lambda own_logs: Output.all(account_id, bucket_arn, kms_key_arn, own_logs).apply(
                lambda a: policies.coverage_function_policy(
                    partition=partition,
                    organization_role_arn=coverage.organization_role_arn,
                    reader_role_name=READER_ROLE_NAME,
                    bucket_arn=a[1],
                    bucket_region=home,
                    report_prefix=REPORT_PREFIX,
                    kms_key_arn=a[2],
                    function_arn=f"arn:{partition}:lambda:{home}:{a[0]}:function:{FUNCTION_NAME}",
                    function_log_group_arn=a[3],
                )
            ),
        )
        report = f"s3://<bucket>/{REPORT_PREFIX}latest.json and /aws/lambda/{FUNCTION_NAME}"
        # One datapoint a day: the alarms look at a day, and no datapoint in a day means the
        # check did not finish, which breaches.
        alarms.alarm(
            "log-groups-uncovered",
            home,
            "Log groups of the organisation do not deliver to the archive (or take no "
            f"subscription filter), or the daily coverage check did not finish: read {report}.",
            namespace=METRIC_NAMESPACE,
            metric=UNCOVERED_METRIC,
            dimensions={},
            statistic="Maximum",
            threshold=0,
            missing_data="breaching",
            period=DAY_SECONDS,
        )
        alarms.alarm(
            "account-regions-unchecked",
            home,
            "The coverage check could not read some account-regions (no reader role "
            f"{READER_ROLE_NAME}, or it was changed), or did not finish: read {report}; add "
            "accounts the organization stack leaves out to exemptAccounts.",
            namespace=METRIC_NAMESPACE,
            metric=UNCHECKED_METRIC,
            dimensions={},
            statistic="Maximum",
            threshold=0,
            missing_data="breaching",
            period=DAY_SECONDS,
        )
        self.register_outputs({})
