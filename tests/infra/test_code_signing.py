"""Lambda code signing (`codeSigning: true`) in the member and logging stacks: every function is
deployed from the object AWS Signer signed, under a code signing config that enforces the
stack's own signing profile (components/code_signing.py)."""

from __future__ import annotations

import functools

import pytest

from tests.infra.harness import ORG_ID, Run, config_error, deploy_role_arn, run_program
from tests.infra.test_archive_protection import denied
from tests.infra.test_organization import REGIONS as ORGANIZATION_REGIONS
from tests.infra.test_organization import run_organization, template
from tests.infra.test_subscriber import LOGGING_OUTPUTS, MEMBER, STACK

FUNCTION = "aws:lambda/function:Function"
PROFILE = "aws:signer/signingProfile:SigningProfile"
JOB = "aws:signer/signingJob:SigningJob"
CONFIG = "aws:lambda/codeSigningConfig:CodeSigningConfig"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
REGIONS = ["eu-west-1", "us-east-1"]


@functools.cache
def member_stack(code_signing: bool = True) -> Run:
    return run_program(
        {"role": "member", "loggingStack": STACK, "regions": REGIONS, "codeSigning": code_signing},
        account_id=MEMBER,
        stack_outputs=LOGGING_OUTPUTS,
    )


@functools.cache
def logging_stack() -> Run:
    return run_program(
        {
            "role": "logging",
            "organizationId": ORG_ID,
            "organizationReaderRoleArn": "arn:aws:iam::222222222222:role/list-accounts",
            "coverageCheck": True,
            "codeSigning": True,
        },
        account_id=MEMBER,
    )


def signed_code_of_region(
    run: Run, region: str, *, with_config: bool = True
) -> tuple[str, str, str | None]:
    """(bucket, signed key, code signing config ARN) the stack declares in `region`, checked
    to be the signing of the uploaded code, enforced for that profile only (the config of an
    organization stack is in its template, not `with_config`)."""
    [job] = [j for j in run.of_type(JOB) if j.inputs["region"] == region]
    [code] = [o for o in run.of_type(OBJECT) if o.inputs["region"] == region]
    [profile] = [p for p in run.of_type(PROFILE) if p.inputs["region"] == region]
    assert profile.inputs["platformId"] == "AWSLambda-SHA384-ECDSA"
    assert job.inputs["profileName"] == profile.state["name"]
    assert job.inputs["source"]["s3"] == {
        "bucket": code.inputs["bucket"],
        "key": code.inputs["key"],
        "version": code.state["versionId"],
    }
    [signed] = job.state["signedObjects"][0]["s3s"]
    assert signed["key"].startswith("signed/")
    configs = [c for c in run.of_type(CONFIG) if c.inputs["region"] == region]
    if not with_config:
        assert configs == []
        return signed["bucket"], signed["key"], None
    [config] = configs
    assert config.inputs["allowedPublishers"] == {
        "signingProfileVersionArns": [profile.state["versionArn"]]
    }
    assert config.inputs["policies"] == {"untrustedArtifactOnDeployment": "Enforce"}
    return signed["bucket"], signed["key"], config.state["arn"]


@pytest.mark.parametrize("region", REGIONS)
def test_every_member_function_runs_the_signed_code_of_its_region(region: str) -> None:
    run = member_stack()
    bucket, key, config_arn = signed_code_of_region(run, region)
    functions = [f for f in run.of_type(FUNCTION) if f.inputs["region"] == region]

    assert sorted(f.inputs["name"] for f in functions) == [
        "central-logging-heartbeat",
        "central-logging-reconciler",
        "central-logging-subscriber",
    ]
    for function in functions:
        assert "code" not in function.inputs
        assert (
            function.inputs["s3Bucket"],
            function.inputs["s3Key"],
            function.inputs["codeSigningConfigArn"],
        ) == (bucket, key, config_arn)


def test_the_logging_stack_s_functions_run_signed_code_from_its_home_region() -> None:
    run = logging_stack()
    bucket, key, config_arn = signed_code_of_region(run, "eu-west-1")
    functions = run.of_type(FUNCTION)

    assert sorted(f.inputs["name"] for f in functions) == [
        "central-logging-coverage",
        "central-logging-freshness",
    ]
    for function in functions:
        assert "code" not in function.inputs
        assert (function.inputs["s3Key"], function.inputs["codeSigningConfigArn"]) == (
            key,
            config_arn,
        )
        assert function.inputs["s3Bucket"] == bucket


def test_only_the_deploying_role_writes_the_code_and_nobody_outside_the_account_reads_it() -> None:
    run = member_stack()
    [bucket_policy] = [
        p
        for p in run.of_type("aws:s3/bucketPolicy:BucketPolicy")
        if p.inputs["region"] == "eu-west-1"
    ]
    policy = bucket_policy.policy("policy")
    bucket, key, _ = signed_code_of_region(run, "eu-west-1")
    signed = f"arn:aws:s3:::{bucket}/{key}"
    administrator = f"arn:aws:iam::{MEMBER}:role/administrator"

    assert denied(policy, administrator, "s3:PutObject", signed)
    assert not denied(policy, deploy_role_arn(MEMBER), "s3:PutObject", signed)
    assert not [s for s in policy["Statement"] if s["Effect"] == "Allow"]


def test_without_code_signing_the_functions_carry_their_code() -> None:
    run = member_stack(code_signing=False)
    assert run.of_type(PROFILE) == run.of_type(JOB) == run.of_type(CONFIG) == []
    for function in run.of_type(FUNCTION):
        assert "code" in function.inputs
        assert "codeSigningConfigArn" not in function.inputs


@pytest.mark.parametrize("role", ["member", "logging", "organization"])
def test_code_signing_takes_true_or_false(role: str) -> None:
    config = {"role": role, "loggingStack": STACK, "organizationId": ORG_ID, "codeSigning": "yes"}
    if role != "logging":
        del config["organizationId"]
    else:
        del config["loggingStack"]

    assert config_error(config, account_id=MEMBER, stack_outputs=LOGGING_OUTPUTS) == (
        "central-logging:codeSigning is 'yes'; it must be true or false."
    )


def test_the_organization_templates_run_the_signed_code_pinned_under_an_enforcing_config() -> None:
    run = run_organization(codeSigning=True)
    regional = template(run, "regional")
    functions = {
        name: resource["Properties"]
        for name, resource in regional["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    this_region = {"Ref": "AWS::Region"}

    assert sorted(functions) == ["Heartbeat", "Reconciler", "Subscriber"]
    for properties in functions.values():
        assert properties["Code"] == {
            "S3Bucket": {"Fn::FindInMap": ["Regions", this_region, "ArtifactBucket"]},
            "S3Key": {"Fn::FindInMap": ["Regions", this_region, "CodeKey"]},
            "S3ObjectVersion": {"Fn::FindInMap": ["Regions", this_region, "CodeVersion"]},
        }
        assert properties["CodeSigningConfigArn"] == {
            "Fn::GetAtt": ["CodeSigningConfig", "CodeSigningConfigArn"]
        }
    assert regional["Resources"]["CodeSigningConfig"]["Properties"] == {
        "Description": "central-logging: only code signed by the organization stack",
        "AllowedPublishers": {
            "SigningProfileVersionArns": [
                {"Fn::FindInMap": ["Regions", this_region, "SigningProfileVersionArn"]}
            ]
        },
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": "Enforce"},
    }
    for region in ORGANIZATION_REGIONS:
        bucket, key, _ = signed_code_of_region(run, region, with_config=False)
        [profile] = [p for p in run.of_type(PROFILE) if p.inputs["region"] == region]
        mapping = regional["Mappings"]["Regions"][region]
        assert (mapping["ArtifactBucket"], mapping["CodeKey"]) == (bucket, key)
        # The signed object's own version, read back from the bucket (the mocks name it so).
        assert mapping["CodeVersion"] == f"{key}-version"
        assert mapping["SigningProfileVersionArn"] == profile.state["versionArn"]


def test_without_code_signing_the_organization_templates_name_the_uploaded_code() -> None:
    run = run_organization()
    regional = template(run, "regional")
    assert "CodeSigningConfig" not in regional["Resources"]
    assert run.of_type(PROFILE) == run.of_type(JOB) == []
    heartbeat = regional["Resources"]["Heartbeat"]["Properties"]
    assert heartbeat["Code"]["S3Key"].startswith("handlers/")
    assert "CodeSigningConfigArn" not in heartbeat
