"""The role `central-logging redrive` runs as: it moves the records Firehose diverted to
`errors/.../activePartitionExceeded/` into their partitions (central_logging/redrive.py).

The archive's bucket policy lets no one but the delivery roles write under the archive prefix;
this role is the one exception, and only for new `redrive-*.json.gz` objects
(policies.redrive_bucket_statements). The archive admin roles may assume it.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies


class RedriveRole(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        admin_arns: Output[list[str]],
        bucket_arn: Output[str],
        s3_prefix: str,
        kms_key_arn: Output[str],
        opts: ResourceOptions | None = None,
    ) -> None:
        super().__init__("central-logging:redrive:RedriveRole", name, None, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            description="central-logging redrive: diverted records into their partitions",
            assume_role_policy=admin_arns.apply(
                lambda arns: json.dumps(policies.redrive_role_trust(arns), sort_keys=True)
            ),
            opts=ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            f"{name}-role",
            role=self.role.id,
            policy=Output.all(bucket_arn, kms_key_arn).apply(
                lambda a: json.dumps(
                    policies.redrive_role_policy(
                        bucket_arn=a[0], s3_prefix=s3_prefix, kms_key_arn=a[1]
                    ),
                    sort_keys=True,
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        self.role_arn = self.role.arn
        self.register_outputs({"roleArn": self.role_arn})
