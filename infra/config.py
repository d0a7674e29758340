"""The typed stack config: one validated dataclass, loaded from files or from ``pulumi.Config``.

Keys live under ``tandem:`` (plus ``aws:region``, ``aws:allowedAccountIds`` and ``aws:profile``).
A stack file carries only sizing and switches; what the platform contains is decided in code.
Every problem is a :class:`ConfigError` whose one-line message names the file and the key.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.monitoring import AlarmThresholds
from components.worker import LOG_RETENTION_DAYS
from infra.errors import TandemError
from infra.workloads import PIPELINE_KEYS, PIPELINES, WORKER_SIZING_KEYS, WORKERS

PROJECT_FILE = "Pulumi.yaml"
SECRET_PLACEHOLDER = "[secret]"
_SECRET_KEY = re.compile(r"pass(word|wd)?|token|api_?key|secret|private_?key|access_?key|"
                         r"credential", re.IGNORECASE)
_LABEL = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VPC = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class ConfigError(TandemError):
    """A stack-config problem: ``str(err)`` is one line naming the file and the key."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}")


@dataclass(frozen=True)
class WorkerSizing:
    """Per-stack sizing of one worker; None keeps the platform's default."""

    reserved_concurrency: int | None = None
    memory: int | None = None
    batch_size: int | None = None
    max_concurrency: int | None = None


@dataclass(frozen=True)
class Network:
    """The existing VPC and private subnets the pipelines' tasks run in."""

    vpc_id: str
    private_subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class PipelineSettings:
    """Per-stack switches and sizing of one pipeline; None keeps the platform's default."""

    image_tag: str
    schedule_enabled: bool = False
    cpu: int | None = None
    memory: int | None = None


@dataclass(frozen=True)
class ImportSpec:
    """An existing resource to adopt: its Pulumi import id and, if off-convention, its name."""

    id: str
    name: str | None = None


@dataclass(frozen=True)
class StackConfig:
    """The validated config of one stack."""

    app: str
    env: str
    account_id: str
    region: str
    allowed_account_ids: tuple[str, ...]
    log_retention_days: int = 30
    alarm_email: str | None = None
    aws_profile: str | None = None
    workers: dict[str, WorkerSizing] = field(default_factory=dict)
    imports: dict[str, ImportSpec] = field(default_factory=dict)
    alarm_thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    network: Network | None = None
    pipelines: dict[str, PipelineSettings] = field(default_factory=dict)
    source: str = "stack config"

    @property
    def prefix(self) -> str:
        """The prefix of every physical name in this stack: ``{app}-{env}-``."""
        return f"{self.app}-{self.env}-"

    def sizing(self, worker: str) -> WorkerSizing:
        """The stack's sizing for ``worker`` (all defaults when the stack sets none)."""
        return self.workers.get(worker, WorkerSizing())

    @classmethod
    def from_files(cls, project_dir: str | Path, stack: str) -> StackConfig:
        """Load ``Pulumi.yaml``'s project config overlaid with ``Pulumi.<stack>.yaml``."""
        raw, source = load_raw_config(Path(project_dir), stack)
        return cls.from_raw(raw, source)

    @classmethod
    def from_pulumi(cls) -> StackConfig:
        """Load from the running Pulumi program's config (engine or mocks)."""
        from pulumi.runtime import config as runtime_config

        values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
        secret_keys = set(runtime_config.get_config_secret_keys_env())
        raw: dict[str, Any] = {}
        for key, value in values.items():
            if key in secret_keys or runtime_config.is_config_secret(key):
                raw[key] = {"secure": SECRET_PLACEHOLDER}
            else:
                raw[key] = _from_engine_string(key, value)
        return cls.from_raw(raw, "stack config")

    @classmethod
    def from_raw(cls, raw: dict[str, Any], source: str) -> StackConfig:
        """Validate a flat ``{namespaced key: value}`` map, as a stack file's ``config:``."""
        _reject_plain_secrets(raw, source)
        _reject_unknown(raw, source)
        get = _Getter(raw, source)
        app = get.label("tandem:app")
        env = get.label("tandem:env")
        account_id = get.account("tandem:accountId")
        region = get.string("aws:region", required=True)
        if not _REGION.match(region):
            raise ConfigError(source, "aws:region", f"'{region}' is not an AWS region name")
        allowed = raw.get("aws:allowedAccountIds")
        if allowed is None:
            raise ConfigError(source, "aws:allowedAccountIds",
                              f"missing; set it to [\"{account_id}\"] so this stack can only "
                              "touch its own account")
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise ConfigError(source, "aws:allowedAccountIds",
                              "must be a list of quoted 12-digit account ids")
        if account_id not in allowed:
            raise ConfigError(source, "aws:allowedAccountIds",
                              f"does not contain tandem:accountId ({account_id}); add it")
        retention = get.integer("tandem:logRetentionDays", default=30)
        if retention not in LOG_RETENTION_DAYS:
            raise ConfigError(source, "tandem:logRetentionDays",
                              f"{retention} is not a CloudWatch Logs retention; use one of "
                              f"{', '.join(map(str, LOG_RETENTION_DAYS))}")
        email = get.string("tandem:alarmEmail")
        if email is not None and not _EMAIL.match(email):
            raise ConfigError(source, "tandem:alarmEmail", f"'{email}' is not an e-mail address")
        return cls(
            app=app, env=env, account_id=account_id, region=region,
            allowed_account_ids=tuple(allowed), log_retention_days=retention,
            alarm_email=email, aws_profile=get.string("aws:profile"),
            workers=_workers(raw.get("tandem:workers") or {}, source),
            imports=_imports(raw.get("tandem:imports") or {}, source),
            alarm_thresholds=_thresholds(raw.get("tandem:alarmThresholds"), source),
            network=_network(raw.get("tandem:network"), source),
            pipelines=_pipelines(raw.get("tandem:pipelines") or {}, source),
            source=source)


# --- loading -------------------------------------------------------------------------------

def project_name(project_dir: Path) -> str:
    """The ``name:`` of the project file (the namespace of un-namespaced config keys)."""
    return _read_yaml(project_dir / PROJECT_FILE).get("name") or "tandem"


def load_raw_config(project_dir: Path, stack: str) -> tuple[dict[str, Any], str]:
    """Merge project-level config (``Pulumi.yaml``) and the stack file's ``config:``.

    Returns the flat map and the stack file's name (for error messages).
    """
    project = _read_yaml(project_dir / PROJECT_FILE)
    if not project:
        raise ConfigError(PROJECT_FILE, "name", f"no {PROJECT_FILE} in {project_dir}; "
                          "run tandem from the project root or pass --project-dir")
    name = project.get("name") or "tandem"
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")]
                       for p in project_dir.glob("Pulumi.*.yaml"))
        raise ConfigError(stack_file.name, "stack",
                          f"unknown stack '{stack}'; known stacks: {', '.join(known) or 'none'}")
    raw: dict[str, Any] = {}
    for key, value in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(value, dict) and ("value" in value or "default" in value):
            value = value.get("value", value.get("default"))
        raw[full] = value
    stack_doc = _read_yaml(stack_file)
    stack_config = stack_doc.get("config") or {}
    if not isinstance(stack_config, dict):
        raise ConfigError(stack_file.name, "config", "must be a map of key: value")
    for key, value in stack_config.items():
        raw[key if ":" in key else f"{name}:{key}"] = value
    return raw, stack_file.name


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        doc = YAML(typ="safe", pure=True).load(path.read_text())
    except YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "document"
        raise ConfigError(path.name, where, f"invalid YAML: {getattr(err, 'problem', err)}") \
            from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(path.name, "document", "must be a YAML map")
    return doc


# --- validation ----------------------------------------------------------------------------

#: Top-level keys a stack may set, with the kind of value each takes.
_TOP_KEYS: dict[str, str] = {
    "tandem:app": "string", "tandem:env": "string", "tandem:accountId": "string",
    "tandem:logRetentionDays": "integer", "tandem:alarmEmail": "string",
    "tandem:workers": "map", "tandem:imports": "map", "tandem:alarmThresholds": "map",
    "tandem:network": "map", "tandem:pipelines": "map",
    "aws:region": "string", "aws:allowedAccountIds": "list", "aws:profile": "string",
}


def _from_engine_string(key: str, value: Any) -> Any:
    """The engine passes every config value as a string; objects and lists as JSON."""
    if not isinstance(value, str) or _TOP_KEYS.get(key) == "string":
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _reject_plain_secrets(raw: dict[str, Any], source: str) -> None:
    def walk(path: str, leaf: str, value: Any) -> None:
        if _is_secure(value):
            return
        if _SECRET_KEY.search(leaf) and not isinstance(value, dict):
            raise ConfigError(source, path,
                              "looks like a secret but holds plain text; remove it and run "
                              f"'pulumi config set --secret {path.split('.')[0]} ...', or keep "
                              "it in Secrets Manager")
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{path}.{k}", str(k), v)

    for key, value in raw.items():
        walk(key, key.split(":", 1)[-1], value)


def _did_you_mean(key: str, known: list[str]) -> str:
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else f"; allowed: {', '.join(sorted(known))}"


def _reject_unknown(raw: dict[str, Any], source: str) -> None:
    for key in raw:
        if key not in _TOP_KEYS:
            raise ConfigError(source, key, "unknown key" + _did_you_mean(key, list(_TOP_KEYS)))
        if _is_secure(raw[key]):
            raise ConfigError(source, key, "must not be a secret")


class _Getter:
    """Typed access to the flat map; each failure is a ConfigError naming the key."""

    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw, self.source = raw, source

    def _fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    def string(self, key: str, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self._fail(key, "missing; this key is required")
            return None
        if not isinstance(value, str):
            raise self._fail(key, f"must be a string, got {type(value).__name__} {value!r}")
        return value

    def label(self, key: str) -> str:
        value = self.string(key, required=True)
        if not _LABEL.match(value) or len(value) > 16:
            raise self._fail(key, f"'{value}' must be 1-16 lowercase letters, digits and "
                                  "single hyphens, starting with a letter")
        return value

    def account(self, key: str) -> str:
        value = self.raw.get(key)
        if value is None:
            raise self._fail(key, "missing; this key is required")
        if not isinstance(value, str) or not _ACCOUNT.match(value):
            raise self._fail(key, f"{value!r} must be a quoted 12-digit account id, "
                                  "e.g. \"123456789012\"")
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, f"must be an integer, got {type(value).__name__} {value!r}")
        return value


def _workers(value: Any, source: str) -> dict[str, WorkerSizing]:
    key = "tandem:workers"
    if not isinstance(value, dict):
        raise ConfigError(source, key, "must be a map of worker name to sizing")
    result = {}
    for worker, sizing in value.items():
        if worker not in WORKERS:
            raise ConfigError(source, f"{key}.{worker}", "unknown worker (workers are declared "
                              "in code, not in a stack file)" + _did_you_mean(worker,
                                                                              list(WORKERS)))
        if not isinstance(sizing, dict):
            raise ConfigError(source, f"{key}.{worker}", "must be a map of sizing keys")
        fields: dict[str, int] = {}
        for name, number in sizing.items():
            path = f"{key}.{worker}.{name}"
            if name not in WORKER_SIZING_KEYS:
                raise ConfigError(source, path, "unknown key"
                                  + _did_you_mean(name, list(WORKER_SIZING_KEYS)))
            low, high = WORKER_SIZING_KEYS[name]
            if isinstance(number, bool) or not isinstance(number, int):
                raise ConfigError(source, path, f"must be an integer, got "
                                  f"{type(number).__name__} {number!r}")
            if not low <= number <= high:
                raise ConfigError(source, path, f"{number} is out of range {low}..{high}")
            fields[name] = number
        result[worker] = WorkerSizing(
            reserved_concurrency=fields.get("reservedConcurrency"), memory=fields.get("memory"),
            batch_size=fields.get("batchSize"), max_concurrency=fields.get("maxConcurrency"))
    return result


def _network(value: Any, source: str) -> Network | None:
    key = "tandem:network"
    if value is None:
        if PIPELINES:
            raise ConfigError(source, key, "missing; the pipelines need {vpcId: vpc-..., "
                              "privateSubnetIds: [subnet-..., ...]}")
        return None
    if not isinstance(value, dict):
        raise ConfigError(source, key, "must be a map with vpcId and privateSubnetIds")
    for name in value:
        if name not in ("vpcId", "privateSubnetIds"):
            raise ConfigError(source, f"{key}.{name}", "unknown key"
                              + _did_you_mean(str(name), ["vpcId", "privateSubnetIds"]))
    vpc = value.get("vpcId")
    if not isinstance(vpc, str) or not _VPC.match(vpc):
        raise ConfigError(source, f"{key}.vpcId", f"{vpc!r} is not a VPC id (vpc-...)")
    subnets = value.get("privateSubnetIds")
    if not isinstance(subnets, list) or not subnets or not all(
            isinstance(s, str) and _SUBNET.match(s) for s in subnets):
        raise ConfigError(source, f"{key}.privateSubnetIds",
                          "must be a list of subnet ids (subnet-...)")
    if len(set(subnets)) != len(subnets):
        raise ConfigError(source, f"{key}.privateSubnetIds", "lists a subnet twice")
    return Network(vpc, tuple(subnets))


def _pipelines(value: Any, source: str) -> dict[str, PipelineSettings]:
    key = "tandem:pipelines"
    if not isinstance(value, dict):
        raise ConfigError(source, key, "must be a map of pipeline name to settings")
    result = {}
    for name in PIPELINES:
        if name not in value:
            raise ConfigError(source, f"{key}.{name}", "missing; set at least imageTag")
    for name, settings in value.items():
        where = f"{key}.{name}"
        if name not in PIPELINES:
            raise ConfigError(source, where, "unknown pipeline (pipelines are declared in "
                              "code)" + _did_you_mean(str(name), list(PIPELINES)))
        if not isinstance(settings, dict):
            raise ConfigError(source, where, "must be a map of settings")
        for setting, setting_value in settings.items():
            kind = PIPELINE_KEYS.get(setting)
            path = f"{where}.{setting}"
            if kind is None:
                raise ConfigError(source, path, "unknown key"
                                  + _did_you_mean(str(setting), list(PIPELINE_KEYS)))
            if kind == "boolean" and not isinstance(setting_value, bool):
                raise ConfigError(source, path, f"must be true or false, got {setting_value!r}")
            if kind == "integer" and (isinstance(setting_value, bool)
                                      or not isinstance(setting_value, int)):
                raise ConfigError(source, path, f"must be an integer, got {setting_value!r}")
            if kind == "string" and not isinstance(setting_value, str):
                raise ConfigError(source, path, f"must be a string, got {setting_value!r}")
        tag = settings.get("imageTag")
        if not isinstance(tag, str) or not _IMAGE_TAG.match(tag):
            raise ConfigError(source, f"{where}.imageTag", f"{tag!r} is not an image tag")
        result[name] = PipelineSettings(image_tag=tag,
                                        schedule_enabled=settings.get("scheduleEnabled", False),
                                        cpu=settings.get("cpu"), memory=settings.get("memory"))
    return result


def _thresholds(value: Any, source: str) -> AlarmThresholds:
    key = "tandem:alarmThresholds"
    if value is None:
        return AlarmThresholds()
    if not isinstance(value, dict):
        raise ConfigError(source, key, "must be a map of threshold name to number")
    known = AlarmThresholds.config_keys()
    for name in value:
        if name not in known:
            raise ConfigError(source, f"{key}.{name}", "unknown key"
                              + _did_you_mean(str(name), list(known)))
    try:
        return AlarmThresholds.from_mapping(value, key)
    except ValueError as err:
        raise ConfigError(source, key, str(err)) from None


def _imports(value: Any, source: str) -> dict[str, ImportSpec]:
    key = "tandem:imports"
    if not isinstance(value, dict):
        raise ConfigError(source, key, "must be a map of logical path to import id")
    result = {}
    for path, spec in value.items():
        where = f"{key}.{path}"
        if isinstance(spec, str) and spec:
            result[str(path)] = ImportSpec(id=spec)
        elif isinstance(spec, dict) and isinstance(spec.get("id"), str) \
                and set(spec) <= {"id", "name"} \
                and isinstance(spec.get("name", ""), str):
            result[str(path)] = ImportSpec(id=spec["id"], name=spec.get("name"))
        else:
            raise ConfigError(source, where, "must be an import id or {id: ..., name: ...}")
    return result
