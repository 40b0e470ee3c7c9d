"""central-logging: read the stack's configuration, build its one component, export."""

import pulumi

from components.config import LoggingSettings, OrganizationSettings, read_stack_config
from components.destination import CentralDestination
from components.organization import OrganizationSubscriber
from components.subscriber import MemberSubscriber

settings = read_stack_config()

if isinstance(settings, LoggingSettings):
    central = CentralDestination("central", settings)
    pulumi.export("destinationArns", central.destination_arns)
    pulumi.export("destinationArn", central.destination_arns[settings.regions[0]])
    pulumi.export("destinationScope", settings.destination_scope)
    pulumi.export("bucketName", central.bucket_name)
    pulumi.export("bucketArn", central.bucket_arn)
    pulumi.export("kmsKeyArn", central.kms_key_arn)
    pulumi.export("deliveryStreamArns", central.delivery_stream_arns)
    if settings.transport == "kinesis":
        pulumi.export("streamArns", central.stream_arns)
    pulumi.export("archivePrefix", central.archive_prefix)
    pulumi.export("accessTrail", central.access_trail)
    if central.redrive:
        pulumi.export("redriveRoleArn", central.redrive.role_arn)
    if central.history_writer:
        pulumi.export("historyWriterRoleArn", central.history_writer.arn)
    if central.reader:
        pulumi.export("readerRoleArn", central.reader.role_arn)
elif isinstance(settings, OrganizationSettings):
    organization = OrganizationSubscriber("central", settings)
    pulumi.export("destinationArns", organization.destination_arns)
    pulumi.export("subscriptionMode", settings.member.subscription_mode)
    pulumi.export("stackSetNames", organization.stack_set_names)
    pulumi.export("organizationalUnitIds", organization.organizational_unit_ids)
else:
    member = MemberSubscriber("central", settings)
    pulumi.export("destinationArns", member.destination_arns)
    pulumi.export("subscriptionMode", settings.subscription_mode)
    if settings.subscription_mode == "lambda":
        pulumi.export("subscriberFunctionArns", member.subscriber_function_arns)
    pulumi.export("senderRoleArn", member.sender_role_arn)
