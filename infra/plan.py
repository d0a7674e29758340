"""The offline plan: run the project's Pulumi program under recording mocks.

:func:`build_plan` runs the program that ``Pulumi.yaml`` names, exactly as ``pulumi preview``
would (same entry point, config through ``pulumi.Config``), with a mock monitor that records
every registration: type, logical name, parent, physical name, inputs, protect, import id and
dependencies. Outputs that AWS computes (ARNs, URLs, ids) come from the adapters in
``infra/aws``, so references between resources carry realistic values. Nothing here knows
tandem's own platform; ``secure:`` config values stay an opaque placeholder.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.naming import AWS_NAME_LIMITS
from infra.aws import ADAPTERS, AwsEnv
from infra.aws.archive import archive_value
from infra.config import SECRET_PLACEHOLDER, ConfigError, _read_yaml, load_raw_config
from infra.errors import TandemError

PLAN_SCHEMA_VERSION = 1
STACK_TYPE = "pulumi:pulumi:Stack"


class PlanError(TandemError):
    """The program cannot be planned; the message is one line saying what to fix."""


@dataclass
class PlanEntry:
    """One registered resource (custom or component)."""

    path: str
    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    physical_name: str | None
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool
    import_id: str | None
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Every resource a stack declares, in registration order."""

    project: str
    stack: str
    account_id: str
    region: str
    entries: list[PlanEntry]
    project_dir: Path = Path(".")

    @property
    def resources(self) -> list[PlanEntry]:
        """The AWS resources (component resources left out)."""
        return [e for e in self.entries if e.custom]

    def entry(self, path: str) -> PlanEntry:
        """The entry at a logical path; KeyError when there is none."""
        for entry in self.entries:
            if entry.path == path:
                return entry
        raise KeyError(path)

    def counts_by_type(self) -> dict[str, int]:
        """How many resources of each type, sorted by type."""
        counts: dict[str, int] = {}
        for entry in self.resources:
            counts[entry.type] = counts.get(entry.type, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``tandem plan --format json`` (schema in the README)."""
        return {
            "schema": PLAN_SCHEMA_VERSION,
            "project": self.project,
            "stack": self.stack,
            "accountId": self.account_id,
            "region": self.region,
            "counts": self.counts_by_type(),
            "resources": [
                {"path": e.path, "type": e.type, "name": e.name, "parent": e.parent,
                 "custom": e.custom, "physicalName": e.physical_name, "id": e.id,
                 "protect": e.protect, "importId": e.import_id,
                 "dependencies": e.dependencies, "ignoreChanges": e.ignore_changes,
                 "inputs": e.inputs, "outputs": e.outputs}
                for e in self.entries
            ],
        }


# --- recording -----------------------------------------------------------------------------

def _plain(value: Any, project_dir: Path) -> Any:
    """Turn deserialized engine values into JSON-able Plan values."""
    import pulumi
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, pulumi.FileArchive):
        return archive_value(value.path, project_dir)
    if isinstance(value, pulumi.Archive | pulumi.Asset):
        return {"__asset": type(value).__name__, "value": repr(value)}
    if value is rpc.UNKNOWN or type(value).__name__ == "Unknown":
        return "<computed>"
    if isinstance(value, dict):
        return {k: _plain(v, project_dir) for k, v in value.items()
                if not k.startswith("__") or k == "__defaults"}
    if isinstance(value, list | tuple):
        return [_plain(v, project_dir) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine's protobuf Struct carries every number as a double
    return value


def _mock_classes():
    """The recording mocks, defined lazily so importing this module stays cheap."""
    import pulumi
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMocks(pulumi.runtime.Mocks):
        """Synthesizes each resource's outputs through its adapter; answers AWS invokes."""

        def __init__(self, env: AwsEnv, project_dir: Path) -> None:
            self.env, self.project_dir = env, project_dir
            self.errors: list[str] = []

        def new_resource(self, args: pulumi.runtime.MockResourceArgs):
            if not args.custom:
                return "", {}
            adapter = ADAPTERS.get(args.typ)
            if adapter is None:
                self.errors.append(f"resource '{args.name}': type {args.typ} has no adapter in "
                                   "infra/aws; add one so plan, drift, import and local "
                                   "cover it")
                return f"{args.name}-id", dict(args.inputs)
            inputs = _plain(args.inputs, self.project_dir)
            if adapter.requires_name and not adapter.physical_name(inputs):
                self.errors.append(f"resource '{args.name}' ({args.typ}): no explicit physical "
                                   f"name; set '{adapter.name_input}'")
                return f"{args.name}-id", dict(args.inputs)
            resource_id, outputs = adapter.outputs(dict(args.inputs), self.env)
            return resource_id, outputs

        def call(self, args: pulumi.runtime.MockCallArgs):
            env = self.env
            if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
                return {"accountId": env.account_id, "id": env.account_id,
                        "arn": f"arn:{env.partition}:iam::{env.account_id}:user/tandem-plan",
                        "userId": "AIDATANDEMPLAN"}
            if args.token == "aws:index/getRegion:getRegion":
                return {"name": env.region, "region": env.region, "id": env.region,
                        "endpoint": f"ec2.{env.region}.amazonaws.com",
                        "description": env.region}
            if args.token == "aws:index/getPartition:getPartition":
                return {"partition": env.partition, "id": env.partition,
                        "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws"}
            self.errors.append(f"invoke {args.token} cannot be answered offline; only "
                               "getCallerIdentity, getRegion and getPartition are")
            return {}

    class RecordingMonitor(MockMonitor):
        """Records every registration request as the engine would receive it."""

        def __init__(self, mocks: RecordingMocks) -> None:
            super().__init__(mocks)
            self.registrations: list[dict[str, Any]] = []

        def RegisterResource(self, request):  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            if request.type == STACK_TYPE:
                return response
            registered = self.resources[response.urn]
            self.registrations.append({
                "urn": response.urn, "type": request.type, "name": request.name,
                "parent": request.parent or None, "custom": bool(request.custom),
                "protect": bool(request.protect), "import_id": request.importId or None,
                "dependencies": list(request.dependencies),
                "ignore_changes": list(request.ignoreChanges),
                "inputs": rpc.deserialize_properties(request.object),
                "id": registered.id or None, "outputs": registered.state,
            })
            return response

    return RecordingMocks, RecordingMonitor


@contextmanager
def _working_directory(path: Path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _engine_config(raw: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Config as the engine hands it to a program: strings, objects as JSON, secrets opaque."""
    config, secret_keys = {}, []
    for key, value in raw.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)
        elif isinstance(value, str):
            config[key] = value
        else:
            config[key] = json.dumps(value)
    return config, secret_keys


def _default_env(raw: dict[str, Any], source: str) -> AwsEnv:
    region = raw.get("aws:region")
    accounts = raw.get("aws:allowedAccountIds")
    if not isinstance(region, str) or not region:
        raise ConfigError(source, "aws:region", "missing; the plan needs the stack's region")
    if not isinstance(accounts, list) or not accounts or not isinstance(accounts[0], str):
        raise ConfigError(source, "aws:allowedAccountIds",
                          "missing; the plan takes the stack's account id from it")
    return AwsEnv(account_id=accounts[0], region=region)


def build_plan(project_dir: str | Path, stack: str, env: AwsEnv | None = None) -> Plan:
    """Record the plan of ``stack``. ``env`` overrides the account and region that ARNs are
    built from (the endpoint's, when deploying to one); by default they come from the stack's
    ``aws:region`` and first ``aws:allowedAccountIds`` entry."""
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    project_dir = Path(project_dir).resolve()
    project = _read_yaml(project_dir / "Pulumi.yaml")
    raw, source = load_raw_config(project_dir, stack)
    env = env or _default_env(raw, source)
    main = project_dir / str(project.get("main") or ".")
    if not (main / "__main__.py").is_file() and not main.is_file():
        raise PlanError(f"Pulumi.yaml: main: {main} has no __main__.py to run")

    RecordingMocks, RecordingMonitor = _mock_classes()
    mocks = RecordingMocks(env, project_dir)
    monitor = RecordingMonitor(mocks)
    config, secret_keys = _engine_config(raw)
    loop = asyncio.new_event_loop()  # one loop per recording, closed after it
    asyncio.set_event_loop(loop)
    set_all_config(config, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=project["name"], stack=stack, preview=False,
                             monitor=monitor)
    settings.ROOT.set(None)  # run_in_stack makes the root Stack, as the real entry point does
    try:
        with _working_directory(project_dir):
            _sync_await(run_in_stack(lambda: runpy.run_path(str(main), run_name="__main__")))
    except (ConfigError, PlanError):
        raise
    except ValueError as err:
        raise PlanError(f"program error: {err}") from None
    finally:
        settings.ROOT.set(None)
        set_all_config({}, [])
        loop.close()
        asyncio.set_event_loop(None)
    if mocks.errors:
        raise PlanError(mocks.errors[0])
    return _assemble(project["name"], stack, env, project_dir, monitor.registrations)


def _assemble(project: str, stack: str, env: AwsEnv, project_dir: Path,
              registrations: list[dict[str, Any]]) -> Plan:
    by_urn = {r["urn"]: r for r in registrations}
    paths: dict[str, str] = {}

    def path_of(urn: str) -> str:
        if urn not in paths:
            record = by_urn[urn]
            parent = record["parent"]
            prefix = path_of(parent) + "/" if parent in by_urn else ""
            paths[urn] = prefix + record["name"]
        return paths[urn]

    entries = []
    for record in sorted(registrations, key=lambda r: path_of(r["urn"])):
        adapter = ADAPTERS.get(record["type"]) if record["custom"] else None
        inputs = _plain(record["inputs"], project_dir)
        physical = adapter.physical_name(inputs) if adapter else None
        entries.append(PlanEntry(
            path=path_of(record["urn"]), type=record["type"], name=record["name"],
            urn=record["urn"],
            parent=path_of(record["parent"]) if record["parent"] in by_urn else None,
            custom=record["custom"], physical_name=physical, id=record["id"],
            inputs=inputs, outputs=_plain(record["outputs"], project_dir) if adapter else {},
            protect=record["protect"], import_id=record["import_id"],
            dependencies=sorted({path_of(u) for u in record["dependencies"] if u in by_urn}),
            ignore_changes=record["ignore_changes"]))
    plan = Plan(project, stack, env.account_id, env.region, entries, project_dir)
    check_names(plan)
    return plan


def check_names(plan: Plan) -> None:
    """Fail on a physical name over its AWS limit, or one used twice for the same type."""
    seen: dict[tuple[str, str], str] = {}
    for entry in plan.resources:
        adapter = ADAPTERS[entry.type]
        name = entry.physical_name
        if not name or not adapter.name_kind:
            continue
        limit = AWS_NAME_LIMITS[adapter.name_kind]
        if len(name) > limit:
            raise PlanError(f"{entry.path}: physical name '{name}' is {len(name)} characters; "
                            f"AWS allows {limit} for {entry.type}; shorten it")
        key = (entry.type, name)
        if key in seen:
            raise PlanError(f"{entry.path}: physical name '{name}' is already used by "
                            f"{seen[key]}")
        seen[key] = entry.path


def plan_json(plan: Plan) -> str:
    """The plan as indented JSON."""
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False, default=str)


__all__ = ["Plan", "PlanEntry", "PlanError", "build_plan", "plan_json"]
