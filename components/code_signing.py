"""SignedCode: the functions' code signed by AWS Signer, and a Lambda code signing config that
lets nothing else be deployed (`codeSigning: true`; one per region that runs functions).

A signing profile (platform AWSLambda-SHA384-ECDSA) signs the code object the stack uploads
into a versioned bucket ("Your S3 source bucket must be version enabled", StartSigningJob,
https://docs.aws.amazon.com/signer/latest/api/API_StartSigningJob.html); the signed copy is
written under SIGNED_PREFIX of the same bucket. The code signing config names that profile
version as its only allowed publisher, with the policy Enforce: "Lambda blocks the deployment
request if signature validation checks fail" ("Configuring code signing for AWS Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-codesigning.html). The member and
logging stacks deploy their functions from the signed object under that config; the
organization stack signs the code in its artifact buckets and puts a config of the same shape
into its StackSet template (components/organization.py).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components.functions import SignedFunctionCode, code_bucket

SIGNING_PLATFORM = "AWSLambda-SHA384-ECDSA"
SIGNED_PREFIX = "signed/"
# Signing profile names take letters, digits and underscores only (PutSigningProfile); a
# cancelled profile's name cannot be used again, so each gets a generated suffix.
PROFILE_NAME_PREFIX = "central_logging_"
ENFORCE = "Enforce"


def sign_code(
    parent: pulumi.Resource,
    prefix: str,
    *,
    region: str,
    bucket: Output[str],
    key: pulumi.Input[str],
    version: Output[str],
) -> tuple[aws.signer.SigningProfile, Output[str]]:
    """A signing profile of `region` and the job that signs the object `key` at `version` of
    `bucket`; returns the profile and the key of the signed object (same bucket)."""
    child = ResourceOptions(parent=parent)
    profile = aws.signer.SigningProfile(
        f"{prefix}-signing",
        region=region,
        platform_id=SIGNING_PLATFORM,
        name_prefix=PROFILE_NAME_PREFIX,
        opts=child,
    )
    job = aws.signer.SigningJob(
        f"{prefix}-signing",
        region=region,
        profile_name=profile.name,
        source=aws.signer.SigningJobSourceArgs(
            s3=aws.signer.SigningJobSourceS3Args(bucket=bucket, key=key, version=version)
        ),
        destination=aws.signer.SigningJobDestinationArgs(
            s3=aws.signer.SigningJobDestinationS3Args(bucket=bucket, prefix=SIGNED_PREFIX)
        ),
        opts=child,
    )
    signed_key = job.signed_objects.apply(lambda objects: objects[0].s3s[0].key or "")  # type: ignore[index]
    return profile, signed_key


class SignedCode(pulumi.ComponentResource):
    """The functions' code of one region of a member or logging stack: a versioned bucket
    written by the deploying role only, the code object, its signed copy, and the code
    signing config every function of the region is deployed under."""

    def __init__(self, name: str, *, region: str, opts: ResourceOptions | None = None) -> None:
        super().__init__("central-logging:code_signing:SignedCode", name, None, opts)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=invoke)
        # The role behind this run's session, as aws:PrincipalArn holds it (with its path).
        deployer = aws.iam.get_session_context_output(arn=caller.arn, opts=invoke).issuer_arn
        bucket = code_bucket(
            self, f"{name}-bucket", region=region, organization_id=None, deployer=deployer
        )
        profile, signed_key = sign_code(
            self,
            name,
            region=region,
            bucket=bucket.name,
            key=bucket.code.key,
            version=bucket.code.version_id,
        )
        config = aws.lambda_.CodeSigningConfig(
            name,
            region=region,
            description="central-logging: only code signed by this stack's signing profile",
            allowed_publishers=aws.lambda_.CodeSigningConfigAllowedPublishersArgs(
                signing_profile_version_arns=[profile.version_arn]
            ),
            policies=aws.lambda_.CodeSigningConfigPoliciesArgs(
                untrusted_artifact_on_deployment=ENFORCE
            ),
            opts=ResourceOptions(parent=self),
        )
        self.code = SignedFunctionCode(bucket=bucket.name, key=signed_key, config_arn=config.arn)
        self.register_outputs({})
