"""The private buckets both stacks declare: owned by their account alone (ACLs disabled),
with every public access blocked; the buckets that keep records also versioned and encrypted
by default.

Not a component: a bucket's settings belong to the component that declares the bucket
(`opts` names the parent, and whether `pulumi destroy` leaves them). Their policies are
built in policies.py.
"""

from __future__ import annotations

import pulumi_aws as aws
from pulumi import ResourceOptions


def private_bucket(
    name: str,
    bucket: aws.s3.Bucket,
    *,
    region: str,
    opts: ResourceOptions,
    suffixed: bool = True,
) -> aws.s3.BucketPublicAccessBlock:
    """Enforce `bucket`'s ownership and block all public access to it; return the block,
    which the bucket's policy must follow. The settings are `<name>-ownership` and
    `<name>-public-access`, or, not `suffixed`, `name` itself (the artifact buckets' were
    declared so, and keep those names)."""
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership" if suffixed else name,
        region=region,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    return aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access" if suffixed else name,
        region=region,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )


def versioned_private_bucket(
    name: str,
    bucket: aws.s3.Bucket,
    *,
    region: str,
    encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
    opts: ResourceOptions,
    suffixed: bool = True,
) -> tuple[aws.s3.BucketPublicAccessBlock, aws.s3.BucketVersioning]:
    """`private_bucket`, versioned (`<name>-versioning`) and encrypted by default with
    `encryption` (`<name>-encryption`); return the public access block and the versioning,
    which Object Lock and lifecycle rules must follow."""
    public_access = private_bucket(name, bucket, region=region, opts=opts, suffixed=suffixed)
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        region=region,
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
            status="Enabled"
        ),
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption", region=region, bucket=bucket.id, rules=[encryption], opts=opts
    )
    return public_access, versioning
