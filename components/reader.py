"""ArchiveReader: the role analysts and tools (a security tooling account, a SIEM) assume to
read the archive and query it, and nothing more (policies.archive_reader_policy).

Declared by CentralDestination when `readerPrincipals` is set; exported as `readerRoleArn`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from components import policies


class ArchiveReader(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        *,
        principals: Sequence[str],
        region: str,
        account_id: Output[str],
        bucket_arn: Output[str],
        s3_prefix: str,
        kms_key_arn: Output[str],
        athena: tuple[str, str] | None,
        results_bucket_arn: Output[str] | None,
        opts: ResourceOptions | None = None,
    ) -> None:
        super().__init__("central-logging:reader:ArchiveReader", name, None, opts)
        partition = policies.partition_for(region)
        self.role = aws.iam.Role(
            name,
            description="Reads and queries the central-logging archive; changes nothing",
            assume_role_policy=json.dumps(
                policies.reader_trust(partition, principals), sort_keys=True
            ),
            opts=ResourceOptions(parent=self),
        )
        aws.iam.RolePolicy(
            name,
            role=self.role.id,
            policy=Output.all(account_id, bucket_arn, kms_key_arn, results_bucket_arn).apply(
                lambda a: json.dumps(
                    policies.archive_reader_policy(
                        partition=partition,
                        region=region,
                        account_id=a[0],
                        bucket_arn=a[1],
                        s3_prefix=s3_prefix,
                        kms_key_arn=a[2],
                        athena=(*athena, a[3]) if athena and a[3] else None,
                    ),
                    sort_keys=True,
                )
            ),
            opts=ResourceOptions(parent=self),
        )
        self.role_arn = self.role.arn
        self.register_outputs({"roleArn": self.role_arn})
