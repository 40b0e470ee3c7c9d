"""The StackSet templates the organization stack renders, checked as AWS would see them:
cfn-lint finds no error, parliament passes every IAM policy in them, and moto's
CloudFormation deploys them (the resource types moto cannot create are named below)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
import parliament
import pytest
from botocore.validate import validate_parameters
from cfnlint.api import ManualArgs, lint
from moto import mock_aws
from moto.cloudformation.parsing import resource_class_from_type

from components.config import parse_organization
from components.organization import account_template, regional_template, render
from tests.aws_env import fake_credentials
from tests.infra.test_organization import REGIONS, run_organization
from tests.infra.test_policies_lint import known

CONFIGS: dict[str, dict[str, object]] = {
    "lambda": {
        "excludeLogGroups": ["/aws/lambda/noisy-*"],
        "replaceFilterNames": ["CentralLogDestination"],
        "filterPattern": '-"{ $.level = DEBUG }"',
    },
    "lambda-no-schedule": {"reconcileSchedule": "off"},
    "account-policy": {"subscriptionMode": "account-policy", "excludeLogGroups": ["/aws/noisy"]},
    "account-policy-all": {"subscriptionMode": "account-policy"},
    "code-signing": {"codeSigning": True},
}
# moto's CloudFormation has no AWS::Lambda::CodeSigningConfig, which every function of a
# code-signing template names by Fn::GetAtt: those templates are linted, not deployed.
DEPLOYED_CONFIGS = [c for c in CONFIGS if not CONFIGS[c].get("codeSigning")]
TEMPLATES = [(config, purpose) for config in CONFIGS for purpose in ("account", "regional")]

# What moto's CloudFormation cannot create (moto 5: no model for these types). The test
# deploys everything else, asserts this list is exactly what it had to leave out, and
# creates these through their own APIs instead (the account policy, which moto lacks
# altogether, is checked against botocore's model of PutAccountPolicy).
MOTO_UNSUPPORTED = {
    "AWS::CloudWatch::Alarm",
    "AWS::Logs::AccountPolicy",
    "AWS::Logs::MetricFilter",
    "AWS::SQS::QueuePolicy",
}
ACCOUNT = "123456789012"  # moto's default account


@cache
def rendered(config: str) -> dict[str, dict[str, Any]]:
    # With the member alarms: the fullest template is the one to lint and deploy.
    run = run_organization(**CONFIGS[config], memberAlarms=True)
    return {
        purpose: json.loads(
            run.one("aws:cloudformation/stackSet:StackSet", f"central-{purpose}").inputs[
                "templateBody"
            ]
        )
        for purpose in ("account", "regional")
    }


@pytest.mark.parametrize(("config", "purpose"), TEMPLATES)
def test_cfn_lint_reports_nothing(config: str, purpose: str) -> None:
    template = rendered(config)[purpose]
    matches = lint(json.dumps(template), config=ManualArgs(regions=REGIONS))
    assert [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches] == []


def resolve(value: Any, template: dict[str, Any], region: str, account: str) -> Any:
    """The value CloudFormation would give `value` in `account` and `region` (the intrinsics
    these templates use; resource attributes become readable placeholders)."""
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/test/id",
    }

    def walk(item: Any, variables: dict[str, str]) -> Any:
        if isinstance(item, list):
            return [walk(i, variables) for i in item]
        if not isinstance(item, dict):
            return item
        if len(item) == 1:
            ((function, argument),) = item.items()
            if function == "Ref":
                return pseudo.get(argument, f"ref:{argument}")
            if function == "Fn::GetAtt":
                return f"getatt:{argument[0]}.{argument[1]}"
            if function == "Fn::FindInMap":
                name, key, field = walk(argument, variables)
                return template["Mappings"][name][key][field]
            if function == "Fn::Equals":
                left, right = walk(argument, variables)
                return left == right
            if function == "Fn::If":
                condition, yes, no = argument
                chosen = walk(template["Conditions"][condition], variables)
                return walk(yes if chosen else no, variables)
            if function == "Fn::Join":
                delimiter, parts = argument
                return delimiter.join(walk(parts, variables))
            if function == "Fn::Sub":
                text, extra = (argument, {}) if isinstance(argument, str) else argument
                names = {**pseudo, **{k: walk(v, variables) for k, v in extra.items()}}
                for name, replacement in names.items():
                    text = text.replace("${" + name + "}", replacement)
                assert "${" not in text.replace("${!", ""), text
                return text.replace("${!", "${")
        return {k: walk(v, variables) for k, v in item.items()}

    return walk(value, {})


def iam_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, where, document) of every IAM policy in the template."""
    for name, resource in template["Resources"].items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Role":
            yield "trust", name, properties["AssumeRolePolicyDocument"]
            for policy in properties.get("Policies", []):
                yield "identity", f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        if resource["Type"] == "AWS::SQS::QueuePolicy":
            yield "resource", name, properties["PolicyDocument"]


@pytest.mark.parametrize(("config", "purpose"), TEMPLATES)
def test_parliament_passes_every_iam_policy(config: str, purpose: str) -> None:
    template = rendered(config)[purpose]
    documents = list(iam_documents(template))
    # The sender role is account-wide; every region has at least the heartbeat's role.
    assert documents
    problems = []
    for region in REGIONS:
        for kind, where, document in documents:
            text = json.dumps(resolve(document, template, region, "111111111111"))
            for finding in parliament.analyze_policy_string(text).findings:
                resource_type = "aws:iam/role:Role" if kind == "trust" else kind
                if not known(resource_type, finding):
                    problems.append(f"{region} {where}: {finding.issue} {finding.detail}")
    assert problems == []


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fake_credentials(monkeypatch, REGIONS[0])
    with mock_aws():
        yield


def deployable(template: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The template without the resources moto cannot create, and their types."""
    import moto.logs.models  # noqa: F401  (registers the Logs types with moto's CloudFormation)

    left_out = {
        r["Type"] for r in template["Resources"].values() if not resource_class_from_type(r["Type"])
    }
    kept = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] not in left_out
    }
    return {**template, "Resources": kept}, left_out


def deploy(template: dict[str, Any], region: str, name: str) -> set[str]:
    body, left_out = deployable(template)
    cloudformation = boto3.client("cloudformation", region_name=region)
    cloudformation.create_stack(
        StackName=name, TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    }
    for resource in template["Resources"].values():
        if resource["Type"] in left_out:
            create_through_api(resource, template, region, physical)
    return left_out


def create_through_api(
    resource: dict[str, Any], template: dict[str, Any], region: str, physical: dict[str, str]
) -> None:
    """A resource moto's CloudFormation cannot create, created (or validated) through the API
    CloudFormation would call, with the values CloudFormation would resolve."""
    properties = resolve(resource["Properties"], template, region, ACCOUNT)
    properties = json.loads(
        re.sub(r'"ref:(\w+)"', lambda m: json.dumps(physical[m.group(1)]), json.dumps(properties))
    )
    kind = resource["Type"]
    if kind == "AWS::CloudWatch::Alarm":
        boto3.client("cloudwatch", region_name=region).put_metric_alarm(**properties)
    elif kind == "AWS::Logs::MetricFilter":
        (transformation,) = properties["MetricTransformations"]
        boto3.client("logs", region_name=region).put_metric_filter(
            logGroupName=properties["LogGroupName"],
            filterName="uncovered",
            filterPattern=properties["FilterPattern"],
            metricTransformations=[
                {
                    "metricName": transformation["MetricName"],
                    "metricNamespace": transformation["MetricNamespace"],
                    "metricValue": transformation["MetricValue"],
                }
            ],
        )
    elif kind == "AWS::SQS::QueuePolicy":
        (queue_url,) = properties["Queues"]
        boto3.client("sqs", region_name=region).set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )
    elif kind == "AWS::Logs::AccountPolicy":
        logs = boto3.client("logs", region_name=region)
        request = {
            "policyName": properties["PolicyName"],
            "policyDocument": properties["PolicyDocument"],
            "policyType": properties["PolicyType"],
            "scope": properties["Scope"],
            **(
                {"selectionCriteria": properties["SelectionCriteria"]}
                if "SelectionCriteria" in properties
                else {}
            ),
        }
        validate_parameters(
            request, logs.meta.service_model.operation_model("PutAccountPolicy").input_shape
        )
        document = json.loads(request["policyDocument"])
        assert (
            document["DestinationArn"] == template["Mappings"]["Regions"][region]["DestinationArn"]
        )
        assert document["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/central-logging-sender"
    else:
        raise AssertionError(f"no API to create {kind} with")


def code_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handlers/__init__.py", "")
    return buffer.getvalue()


# What every account-region has, and what each mode adds (names as the template gives them).
ALARMS = {"heartbeat-missing", "delivery-errors", "delivery-throttled"}
MODE_ALARMS = {
    "lambda": {"subscriber-errors", "reconciler-errors", "dead-letters", "uncovered-log-groups"},
    "account-policy": {"account-policy-changed"},
}
RULES = {"heartbeat"}
MODE_RULES = {
    "lambda": {"log-group-created", "filter-changed", "deploy-sweep"},
    "account-policy": {"account-policy-changed"},
}
FUNCTIONS = {"heartbeat"}
MODE_FUNCTIONS = {"lambda": {"subscriber", "reconciler"}, "account-policy": set()}


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("config", DEPLOYED_CONFIGS)
def test_moto_deploys_the_templates_into_an_account(config: str) -> None:
    templates = rendered(config)
    regional = templates["regional"]
    mode = str(CONFIGS[config].get("subscriptionMode", "lambda"))
    scheduled = CONFIGS[config].get("reconcileSchedule") != "off" and mode == "lambda"
    left_out = deploy(templates["account"], REGIONS[0], "account")
    for region in REGIONS:
        mapping = regional["Mappings"]["Regions"][region]
        # The artifact bucket the organization stack fills (in another account, really).
        s3 = boto3.client("s3", region_name=region)
        create: dict[str, Any] = {"Bucket": mapping["ArtifactBucket"]}
        if region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**create)
        key = regional["Resources"]["Heartbeat"]["Properties"]["Code"]["S3Key"]
        s3.put_object(Bucket=mapping["ArtifactBucket"], Key=key, Body=code_archive())
        left_out |= deploy(regional, region, f"regional-{region}")

        ssm = boto3.client("ssm", region_name=region)
        parameter = ssm.get_parameter(Name="/central-logging/destination-arn")["Parameter"]
        assert parameter["Value"] == mapping["DestinationArn"]
        sender = ssm.get_parameter(Name="/central-logging/sender-role-arn")["Parameter"]
        assert sender["Value"] == f"arn:aws:iam::{ACCOUNT}:role/central-logging-sender"
        functions = boto3.client("lambda", region_name=region)
        names = {f["FunctionName"] for f in functions.list_functions()["Functions"]}
        assert names == {f"central-logging-{k}" for k in FUNCTIONS | MODE_FUNCTIONS[mode]}
        for kind in FUNCTIONS | MODE_FUNCTIONS[mode]:
            configuration = functions.get_function(FunctionName=f"central-logging-{kind}")[
                "Configuration"
            ]
            assert configuration["Role"] == (
                f"arn:aws:iam::{ACCOUNT}:role/central-logging-{kind}-{region}"
            )
            if kind in MODE_FUNCTIONS["lambda"]:
                variables = configuration["Environment"]["Variables"]
                assert variables["DESTINATION_ARN"] == mapping["DestinationArn"]
                assert variables["SENDER_ROLE_ARN"] == sender["Value"]
        alarms = boto3.client("cloudwatch", region_name=region).describe_alarms()
        assert {a["AlarmName"] for a in alarms["MetricAlarms"]} == {
            f"central-logging-{a}" for a in ALARMS | MODE_ALARMS[mode]
        }
        logs = boto3.client("logs", region_name=region)
        groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
        assert groups["/central-logging/heartbeat"]["retentionInDays"] == 7
        filters = logs.describe_metric_filters()["metricFilters"]
        assert [f["logGroupName"] for f in filters] == (
            ["/aws/lambda/central-logging-reconciler"] if mode == "lambda" else []
        )
        rules = boto3.client("events", region_name=region).list_rules()["Rules"]
        assert {r["Name"] for r in rules} == {
            f"central-logging-{r}"
            for r in RULES | MODE_RULES[mode] | ({"sweep-schedule"} if scheduled else set())
        }

    iam = boto3.client("iam")
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    # IAM is global: the regions' stacks created their roles side by side.
    assert roles == {
        "central-logging-sender",
        "central-logging-coverage-reader",
        "central-logging-history-reader",
    } | {f"central-logging-{k}-{r}" for k in FUNCTIONS | MODE_FUNCTIONS[mode] for r in REGIONS}
    expected = {
        t
        for t in MOTO_UNSUPPORTED
        if any(r["Type"] == t for tmpl in templates.values() for r in tmpl["Resources"].values())
    }
    assert left_out == expected


@pytest.mark.parametrize("mode", ["lambda", "account-policy"])
def test_every_region_aws_offers_fits_in_one_template_body(mode: str) -> None:
    regions = boto3.session.Session().get_available_regions("logs")
    assert len(regions) > 25
    settings = parse_organization(
        {"loggingStack": "o/p/s", "regions": json.dumps(regions), "subscriptionMode": mode},
        regions[0],
    )
    destinations = {
        r: f"arn:aws:logs:{r}:999999999999:destination:CentralLogDestination" for r in regions
    }
    buckets = {r: f"central-{r}-artifacts-0123456" for r in regions}
    code_key = f"handlers/{'0' * 64}.zip"
    for template in (
        account_template(settings.member, "999999999999"),
        regional_template(
            settings.member,
            destinations,
            buckets,
            code_key,
            # S3 version IDs are up to 1,024 characters; observed ones are 32.
            {r: "v" * 32 for r in regions},
        ),
    ):
        # CloudFormation quotas: "Template body size in a request: 51,200 bytes".
        assert len(render(template).encode()) <= 51_200
