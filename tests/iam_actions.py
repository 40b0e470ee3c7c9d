"""Which IAM action AWS authorises for each API call, as the Service Authorization Reference
says, so that tests enforcing IAM under moto never depend on moto's own names for actions
(moto 5.2.6 began calling ListObjectsV2 `s3:ListObjectsV2`; AWS calls it `s3:ListBucket`).

The operation comes from botocore (the call the code under test made), never from moto.
Most services name the action after the operation; the exceptions are listed here, each
checked against its service's page of the reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

# IAM service prefixes that differ from botocore's service name.
IAM_PREFIX_OF_SERVICE: dict[str, str] = {}

# Operations whose IAM action is not `<prefix>:<operation>`.
IAM_ACTION_OF_OPERATION = {
    # Amazon S3: "ListObjectsV2 ... Permissions: s3:ListBucket"; HeadObject needs GetObject;
    # HeadBucket and ListObjects need ListBucket; ListObjectVersions needs ListBucketVersions.
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    # AWS Lambda: "Invoke ... lambda:InvokeFunction".
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
    ("lambda", "Invoke"): "lambda:InvokeFunction",
}

# Services whose actions diverge from their operations often enough that an operation missing
# from the table above fails the test instead of being guessed.
EXPLICIT_SERVICES = frozenset({"s3"})
# S3 operations whose action is their own name (the reference lists them so).
S3_SAME_NAME = frozenset(
    {
        "GetObject",
        "PutObject",
        "DeleteObject",
        "GetObjectTagging",
        "PutObjectTagging",
        "GetBucketPolicy",
        "PutBucketPolicy",
        "GetBucketVersioning",
        "GetBucketLocation",
        "GetObjectRetention",
        "CreateBucket",
        "DeleteBucket",
        "DeleteBucketPolicy",
        "PutBucketVersioning",
    }
)


class UnmappedOperation(AssertionError):
    """A call whose IAM action the table does not know: add it, from the reference."""


def iam_action(service: str, operation: str) -> str:
    """The IAM action AWS checks for `operation` of botocore service `service`."""
    mapped = IAM_ACTION_OF_OPERATION.get((service, operation))
    if mapped:
        return mapped
    if service in EXPLICIT_SERVICES and operation not in S3_SAME_NAME:
        raise UnmappedOperation(
            f"{service}:{operation} is not in tests/iam_actions.py; add the action the Service "
            "Authorization Reference names for it."
        )
    return f"{IAM_PREFIX_OF_SERVICE.get(service, service)}:{operation}"


_current = threading.local()


def current_action() -> str | None:
    """The IAM action of the botocore call in progress on this thread, if any."""
    call: tuple[str, str] | None = getattr(_current, "call", None)
    return iam_action(*call) if call else None


@contextmanager
def _calling(service: str, operation: str) -> Iterator[None]:
    previous = getattr(_current, "call", None)
    _current.call = (service, operation)
    try:
        yield
    finally:
        _current.call = previous


def track_calls(monkeypatch: Any) -> None:
    """Record each botocore call's IAM action for the thread making it (moto's mock answers
    in that same thread, so its authorisation check can read it)."""
    make_api_call = BaseClient._make_api_call

    def tracked(client: BaseClient, operation_name: str, api_params: Any) -> Any:
        with _calling(client.meta.service_model.service_name, operation_name):
            return make_api_call(client, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", tracked)
