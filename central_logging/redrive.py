"""`central-logging redrive ARCHIVE`: records Firehose diverted to
`errors/region=R/activePartitionExceeded/year=/month=/day=/` for want of an active partition
are written into their partitions, once.

Each diverted object becomes one object per account in
`account=A/region=R/year=/month=/day=/redrive-<digest>.json.gz` (the day and region of the error
folder: like Firehose's own partitions, the arrival day), in the `json` format Firehose writes,
so `read`, `query` and Athena read it as any other. The digest is of the diverted object's key
and ETag: running again writes nothing that is already there. The diverted object is deleted
only after every object made from it is written; deleting it leaves a delete marker, so its
version stays in the versioned archive, named in each new object's metadata
(`x-amz-meta-redriven-from`, `-version`), for anyone to compare. A redrive that fails half way
leaves the diverted object in place; until the next run its events are read twice.

Writing under the archive prefix is denied to everyone but the delivery roles and the logging
stack's redrive role (output `redriveRoleArn`, assumable by the archive admin roles), which may
write only `redrive-*.json.gz` objects: pass it with `--role-arn`.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from central_logging import archive
from handlers.heartbeat import HEARTBEAT_PARTITION, partition_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INTERRUPTED = 130
REDRIVEN = "redriven"
WOULD_REDRIVE = "would-redrive"
LEFT = "left-in-place"
REDRIVE_PREFIX = "redrive-"
# What a partition folder may be named after: anything else in a record could lead its events
# into another folder (or out of the archive prefix).
_OWNER = re.compile(r"\d{12}")
_REGION = re.compile(r"region=([a-z]{2}(-[a-z]+)+-\d)")
_DATE = {
    "year": re.compile(r"year=(\d{4})"),
    "month": re.compile(r"month=(\d{2})"),
    "day": re.compile(r"day=(\d{2})"),
}
# Kept in memory up to this size, then in a temporary file.
SPOOL_BYTES = 8 << 20


class Unredrivable(Exception):
    """A diverted object that cannot be moved as it is; the sentence says why."""


@dataclass
class Result:
    key: str
    outcome: str
    detail: str
    written: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "outcome": self.outcome,
            "detail": self.detail,
            "written": self.written,
        }


def partition_folder(relative_key: str) -> str:
    """`region=R/year=Y/month=M/day=D/` of a diverted object, from its error folder."""
    folders = relative_key.split("/")[:-1]
    region = next((m.group(1) for f in folders if (m := _REGION.fullmatch(f))), None)
    if region is None:
        raise Unredrivable("has no region=R folder, so its partition is unknown")
    date = {}
    for name, pattern in _DATE.items():
        found = next((m.group(1) for f in folders if (m := pattern.fullmatch(f))), None)
        if found is None:
            raise Unredrivable(f"has no {name}= folder, so its partition is unknown")
        date[name] = found
    return f"region={region}/year={date['year']}/month={date['month']}/day={date['day']}/"


def redrive_name(key: str, etag: str) -> str:
    """The name of the objects made from the diverted object `key` with `etag`."""
    digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:32]
    return f"{REDRIVE_PREFIX}{digest}.json.gz"


def group_by_account(chunks: Iterator[bytes]) -> dict[str, IO[bytes]]:
    """The data envelopes of a diverted object as `json` archive text, gzip, per account;
    Unredrivable (or archive.CorruptObject) for anything that cannot be moved losslessly."""
    files: dict[str, tuple[IO[bytes], gzip.GzipFile]] = {}
    try:
        for record in archive.iter_values(chunks, sniff=True):
            for envelope in archive.diverted_envelopes(record):
                if envelope is archive.NOT_UTF8:
                    raise Unredrivable("holds records whose text is not UTF-8")
                if not isinstance(envelope, dict) or "messageType" not in envelope:
                    raise archive.CorruptObject(archive.NOT_AN_ENVELOPE)
                if envelope["messageType"] == "CONTROL_MESSAGE":
                    continue
                # Heartbeats go where Firehose puts them: their shared partition.
                owner = partition_of(envelope)
                if owner != HEARTBEAT_PARTITION and (
                    not isinstance(owner, str) or not _OWNER.fullmatch(owner)
                ):
                    raise Unredrivable(f"holds an envelope whose owner {owner!r} is no account ID")
                if owner not in files:
                    # Returned open: the caller closes it after the upload; closed below on error.
                    spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)  # noqa: SIM115
                    files[owner] = (spool, gzip.GzipFile("", "wb", fileobj=spool, mtime=0))
                files[owner][1].write(json.dumps(envelope).encode() + b"\n")
    except BaseException:
        for opened, _ in files.values():
            opened.close()
        raise
    result: dict[str, IO[bytes]] = {}
    for owner, (written, compressed) in sorted(files.items()):
        compressed.close()
        written.seek(0)
        result[owner] = written
    return result


def _put_once(
    client: S3Client, bucket: str, key: str, body: IO[bytes], source: str, version: str
) -> None:
    """Write `key` unless it exists: with If-None-Match S3 refuses (412) to replace an object,
    with s3:PutObject alone ("How to prevent object overwrites with conditional writes",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html)."""
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            IfNoneMatch="*",
            ContentType="application/json",
            ContentEncoding="gzip",
            Metadata={
                "redriven-from": source.encode("ascii", "backslashreplace").decode(),
                "redriven-from-version": version or "none",
            },
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
            raise


def redrive_object(client: S3Client, bucket: str, prefix: str, key: str, dry_run: bool) -> Result:
    """Move one diverted object into its partitions; the diverted object stays unless every
    object made from it is in place."""
    relative = key[len(prefix) :]
    try:
        folder = partition_folder(relative)
        response = client.get_object(Bucket=bucket, Key=key)
        etag, version = response["ETag"], response.get("VersionId", "")
        body = response["Body"]
        try:
            groups = group_by_account(body.iter_chunks(archive.CHUNK_BYTES))
        finally:
            body.close()
    except (Unredrivable, archive.CorruptObject) as error:
        return Result(key, LEFT, f"{archive.printable(relative)} {error}")
    except (ClientError, BotoCoreError) as error:
        return Result(key, LEFT, f"could not read {archive.printable(relative)} ({error})")
    name = redrive_name(key, etag)
    targets = {owner: f"{prefix}account={owner}/{folder}{name}" for owner in groups}
    try:
        if dry_run:
            return Result(
                key, WOULD_REDRIVE, f"into {len(targets)} partition(s)", sorted(targets.values())
            )
        for owner, target in targets.items():
            _put_once(client, bucket, target, groups[owner], key, version)
        # A plain delete: a delete marker over the version that stays, as evidence.
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        return Result(
            key,
            LEFT,
            f"could not move {archive.printable(relative)} ({error}); it "
            "stays until a run succeeds",
            sorted(targets.values()),
        )
    finally:
        for spool in groups.values():
            spool.close()
    return Result(key, REDRIVEN, f"into {len(targets)} partition(s)", sorted(targets.values()))


def list_diverted(client: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    """The keys of diverted objects, listed below the error folder only."""
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}{archive.ERRORS_FOLDER}/"
    )
    for page in pages:
        for item in page.get("Contents", []):
            if archive.is_diverted(item["Key"][len(prefix) :]):
                yield item["Key"]


def add_redrive_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `redrive` on an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "redrive",
        help="move records Firehose diverted for want of a partition into their partitions",
        description="Write the records Firehose put under errors/.../activePartitionExceeded/ "
        "into their partitions, once (deterministic names: running again adds nothing), then "
        "delete each diverted object whose records are all written.",
    )
    parser.add_argument("archive", metavar="ARCHIVE", help="s3://bucket/prefix")
    parser.add_argument(
        "--role-arn",
        help="the logging stack's redriveRoleArn, assumed; default: the caller's own credentials",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="write and delete nothing (default: off)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON report (default: text)")
    parser.add_argument("--profile", help="AWS profile; default: the standard chain")
    return parser


def _client(args: argparse.Namespace) -> S3Client:
    if args.role_arn is None:
        return archive.s3_client(args.profile)
    session = boto3.session.Session(profile_name=args.profile)
    credentials = session.client("sts").assume_role(
        RoleArn=args.role_arn, RoleSessionName=f"{archive.PROG}-redrive"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=session.region_name,
    ).client("s3")


def _report(results: list[Result], as_json: bool, out: TextIO) -> None:
    summary = Counter(r.outcome for r in results)
    if as_json:
        document = {"summary": dict(summary), "objects": [r.as_dict() for r in results]}
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        for r in results:
            out.write(f"{archive.printable(r.key)}: {r.outcome}: {r.detail}\n")
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(summary.items()))
        out.write(f"Summary: {counts or 'no diverted objects'}.\n")
    out.flush()


def run_redrive(
    args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """`redrive`: 0 all moved (or none found), 1 some left in place, 2 bad usage, 130 after
    Ctrl-C with the report so far."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    results: list[Result] = []
    if not args.archive.startswith("s3://"):
        archive.say(
            err,
            f"The archive {args.archive!r} is not an s3:// URL; redrive writes "
            "into the archive bucket.",
        )
        return 2
    try:
        bucket, prefix = archive.parse_s3_url(args.archive)
        client = _client(args)
        for key in list_diverted(client, bucket, prefix):
            results.append(redrive_object(client, bucket, prefix, key, args.dry_run))
            if err.isatty():
                err.write(f"\r\x1b[K{len(results)} diverted object(s) done")
                err.flush()
    except KeyboardInterrupt:
        _report(results, args.json, out)
        archive.say(
            err,
            "interrupted; the report covers the objects done so far; run the same "
            "command again to finish.",
        )
        return INTERRUPTED
    except ProfileNotFound:
        archive.say(err, f"The AWS profile {args.profile!r} does not exist.")
        return 2
    except NoCredentialsError:
        archive.say(err, archive.NO_CREDENTIALS)
        return 2
    except archive.UsageError as error:
        archive.say(err, str(error))
        return 2
    except (ClientError, BotoCoreError) as error:
        code, sentence = archive.source_failure(error, args.archive)
        _report(results, args.json, out)
        archive.say(err, sentence)
        return code
    finally:
        if err.isatty() and results:
            with contextlib.suppress(OSError):
                err.write("\n")
    _report(results, args.json, out)
    for r in results:
        if r.outcome == LEFT:
            archive.say(err, r.detail + ".")
    return 1 if any(r.outcome == LEFT for r in results) else 0
