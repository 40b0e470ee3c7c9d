"""Run the Pulumi program under Pulumi's mock runtime and record what it declares.

Each run gets a fresh event loop and fresh mocks, runs `__main__.py` with `runpy` like the
Pulumi CLI would, and returns every registered resource (inputs as the provider would
receive them) and the resolved stack outputs. It closes every event loop it opened.
"""

from __future__ import annotations

import asyncio
import json
import runpy
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pytest
from pulumi.runtime import rpc

from components.config import ConfigError

PROGRAM = Path(__file__).resolve().parents[2] / "__main__.py"
ACCOUNT_ID = "111111111111"
LOGGING_ACCOUNT_ID = "999999999999"
ORG_ID = "o-exampleorgid"
# The role the tests deploy with: a role with a path, as IAM Identity Center's roles have.
DEPLOY_ROLE = "deployer"


def deploy_role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/platform/{DEPLOY_ROLE}"


ROOT_ID = "r-ab12"

# ARN shapes of the resource types the program declares: {region}, {account}, {name}.
ARN_FORMATS = {
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:kms/key:Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:kinesis/stream:Stream": "arn:aws:kinesis:{region}:{account}:stream/{name}",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": (
        "arn:aws:firehose:{region}:{account}:deliverystream/{name}"
    ),
    "aws:cloudwatch/logDestination:LogDestination": (
        "arn:aws:logs:{region}:{account}:destination:{name}"
    ),
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",
    "aws:ssm/parameter:Parameter": "arn:aws:ssm:{region}:{account}:parameter{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
    "aws:cloudtrail/trail:Trail": "arn:aws:cloudtrail:{region}:{account}:trail/{name}",
    "aws:cloudformation/stackSet:StackSet": (
        "arn:aws:cloudformation:{region}:{account}:stackset/{name}:id"
    ),
    "aws:signer/signingProfile:SigningProfile": (
        "arn:aws:signer:{region}:{account}:/signing-profiles/{name}"
    ),
    "aws:lambda/codeSigningConfig:CodeSigningConfig": (
        "arn:aws:lambda:{region}:{account}:code-signing-config:csc-{name}"
    ),
}
NAME_KEYS = {"aws:s3/bucket:Bucket": "bucket"}


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    # What this resource was known by before (the `aliases` option): former names, or URNs.
    aliases: list[str] = field(default_factory=list)
    # Resource options the mocks do not see, read from the RegisterResource request.
    retain_on_delete: bool = False
    # Input name -> URNs of the resources that input's value came from.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    def policy(self, key: str) -> Any:
        """A policy input, parsed from its JSON string."""
        return json.loads(self.inputs[key])


@dataclass
class Run:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # URN -> parent URN of everything registered, components included (the mock monitor
    # names only the immediate parent's type in a URN).
    parents: dict[str, str] = field(default_factory=dict)

    def ancestor_types(self, resource: Resource) -> list[str]:
        """The types of `resource`'s parents, nearest first."""
        types = []
        urn = self.parents.get(resource.urn, "")
        while urn:
            types.append(urn.split("::")[2].split("$")[-1])
            urn = self.parents.get(urn, "")
        return types

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {len(found)}"
        return found[0]


def _reveal(value: Any) -> Any:
    """Inputs with secrets unwrapped (the SDK marks them with a signature key)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _reveal(value["value"])
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        run: Run,
        account_id: str,
        region: str,
        stack_outputs: Mapping[str, Any],
        roots: Sequence[str] = (ROOT_ID,),
    ) -> None:
        self.run = run
        self.account_id = account_id
        self.region = region
        self.stack_outputs = stack_outputs
        self.roots = roots

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            stack = args.inputs["name"]
            if stack not in self.stack_outputs:
                raise RuntimeError(f"unknown stack {stack}")
            return stack, {"name": stack, "outputs": self.stack_outputs[stack]}
        state = _reveal(args.inputs)
        name_key = NAME_KEYS.get(args.typ, "name")
        # Pulumi would append a random suffix; the logical name keeps the tests readable.
        state.setdefault(name_key, args.name)
        arn_format = ARN_FORMATS.get(args.typ)
        if arn_format:
            state["arn"] = arn_format.format(
                region=state.get("region") or self.region,
                account=self.account_id,
                name=state[name_key],
            )
        if args.typ == "aws:kms/key:Key":
            state["keyId"] = state["arn"].rsplit("/", 1)[1]
        if args.typ == "aws:s3/bucketObjectv2:BucketObjectv2":
            state["versionId"] = f"{args.name}-version"
        if args.typ == "aws:signer/signingProfile:SigningProfile":
            state["version"] = "v1"
            state["versionArn"] = f"{state['arn']}/v1"
        if args.typ == "aws:signer/signingJob:SigningJob":
            # Signer names the signed object after the job, under the destination's prefix.
            destination = state["destination"]["s3"]
            state["jobId"] = f"{args.name}-job"
            state["signedObjects"] = [
                {
                    "s3s": [
                        {
                            "bucket": destination["bucket"],
                            "key": f"{destination.get('prefix', '')}{args.name}-job.zip",
                        }
                    ]
                }
            ]
        if args.typ == "aws:sqs/queue:Queue":
            state["url"] = (
                f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{state['name']}"
            )
        # S3 identifies a bucket by its name; other IDs only need to be distinct.
        resource_id = state["bucket"] if args.typ == "aws:s3/bucket:Bucket" else f"{args.name}-id"
        self.run.resources.append(Resource("", args.typ, args.name, _reveal(args.inputs), state))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:sts::{self.account_id}:assumed-role/{DEPLOY_ROLE}/session",
                "userId": "AROATEST:session",
                "id": self.account_id,
            }
        if args.token == "aws:iam/getSessionContext:getSessionContext":
            # The role behind an assumed-role session, with the path the session ARN drops.
            assert args.args["arn"].endswith(f"assumed-role/{DEPLOY_ROLE}/session")
            return {
                "arn": args.args["arn"],
                "issuerArn": deploy_role_arn(self.account_id),
                "issuerId": "AROATEST",
                "issuerName": DEPLOY_ROLE,
                "sessionName": "session",
                "id": args.args["arn"],
            }
        if args.token == "aws:organizations/getOrganization:getOrganization":
            # An account that may not call ListRoots sees no roots.
            return {
                "id": ORG_ID,
                "arn": f"arn:aws:organizations::{self.account_id}:organization/{ORG_ID}",
                "roots": [
                    {"id": root, "arn": "", "name": "Root", "policyTypes": []}
                    for root in self.roots
                ],
            }
        if args.token == "aws:s3/getObject:getObject":
            key = args.args["key"]
            return {"bucket": args.args["bucket"], "key": key, "versionId": f"{key}-version"}
        raise NotImplementedError(f"no mock for {args.token}")


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):  # type: ignore[misc]
    """Records each resource's URN (it names the parent chain), its aliases, its
    retainOnDelete and its property dependencies."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        self.recording.run.parents[response.urn] = request.parent
        for resource in self.recording.run.resources:
            if (resource.type, resource.name, resource.urn) == (request.type, request.name, ""):
                resource.urn = response.urn
                resource.aliases = [a.urn or a.spec.name for a in request.aliases]
                resource.retain_on_delete = request.retainOnDelete
                resource.property_dependencies = {
                    name: list(dependencies.urns)
                    for name, dependencies in request.propertyDependencies.items()
                }
        return response


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def run_program(
    config: Mapping[str, Any],
    *,
    region: str = "eu-west-1",
    account_id: str = LOGGING_ACCOUNT_ID,
    stack_outputs: Mapping[str, Any] | None = None,
    into: Run | None = None,
    roots: Sequence[str] = (ROOT_ID,),
) -> Run:
    """Run `__main__.py` with `central-logging:` config keys (values as in stack YAML),
    recording into `into` (a new Run by default)."""
    # The mock monitor runs in the loop's executor and needs an event loop in each of its
    # threads; left to itself it opens one per thread that nothing closes.
    thread_loops: list[asyncio.AbstractEventLoop] = []
    executor = ThreadPoolExecutor(initializer=_open_thread_loop, initargs=(thread_loops,))
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        loop.set_default_executor(executor)
        run = into if into is not None else Run()
        mocks = RecordingMocks(run, account_id, region, stack_outputs or {}, roots)
        pulumi.runtime.set_mocks(
            mocks,
            project="central-logging",
            stack="test",
            preview=False,
            monitor=RecordingMonitor(mocks),
        )
        all_config = {f"central-logging:{k}": _config_value(v) for k, v in config.items()}
        if region:
            all_config["aws:region"] = region
        pulumi.runtime.set_all_config(all_config)
        exports: dict[str, Any] = {}

        @pulumi.runtime.test  # type: ignore[misc]
        def program() -> pulumi.Output[None]:
            with mock.patch.object(pulumi, "export", exports.__setitem__):
                runpy.run_path(str(PROGRAM), run_name="__main__")
            return pulumi.Output.from_input(exports).apply(run.outputs.update)

        program()
    except BaseException as raised:
        loop.set_exception_handler(_unless_copy_of(raised))
        raise
    finally:
        _close(loop, executor, thread_loops)
    return run


def _open_thread_loop(opened: list[asyncio.AbstractEventLoop]) -> None:
    """Give an executor thread its event loop (Pulumi's `_ensure_event_loop` finds it)."""
    thread_loop = asyncio.new_event_loop()
    opened.append(thread_loop)
    asyncio.set_event_loop(thread_loop)


def _unless_copy_of(raised: BaseException) -> Callable[[asyncio.AbstractEventLoop, Any], None]:
    """An exception handler for a run that failed: an error raised in an apply fails every
    Output derived from it, and the run stops at the first; the rest are never awaited. Their
    copies of the error the test already received are dropped (Pulumi's own language host
    silences the whole asyncio logger for this reason, pulumi-language-python-exec); anything
    else asyncio reports still reaches its log."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("exception") is not raised:
            loop.default_exception_handler(context)

    return handle


def _close(
    loop: asyncio.AbstractEventLoop,
    executor: ThreadPoolExecutor,
    thread_loops: list[asyncio.AbstractEventLoop],
) -> None:
    """Cancel what a failed run left pending (nothing is left after a successful one), wait
    for the executor's threads, and close every loop of the run, even if cancelling fails:
    no task of this run outlives it, and no loop is left for the garbage collector (which
    may finalize a loop's sockets before the loop, and then fails to close it)."""
    try:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        executor.shutdown(wait=True)
        for thread_loop in thread_loops:
            thread_loop.close()
        loop.close()


def config_error(config: Mapping[str, Any], **options: Any) -> str:
    """The message a configuration stops the program with; no resource may exist by then."""
    run = Run()
    with pytest.raises(ConfigError) as raised:
        run_program(config, into=run, **options)
    assert [r.type for r in run.resources] == []
    return str(raised.value)
