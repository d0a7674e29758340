"""The adapter interface: what tandem knows about one AWS resource type.

An adapter translates between the Plan's shape (Pulumi input names, camelCase, as the engine
sees them) and the AWS API, for five jobs:

- ``outputs``: synthesize what AWS computes (ARN, URL, id) for the offline plan;
- ``import_id``: the id ``pulumi import`` expects for this type;
- ``read``: the live resource, in the Plan's input shape, or None when it does not exist;
- ``list``: physical ids of live resources whose names start with a stack's prefix;
- ``create``: make the resource from the Plan's inputs (used on the local emulator).

Adapters never import boto3 themselves: callers pass a ``boto3.Session``, so the offline plan
path stays free of boto3's import cost.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AwsEnv:
    """Account, region and partition that ARNs are built from."""

    account_id: str
    region: str
    partition: str = "aws"


@dataclass
class Created:
    """What ``create`` made (or found): the Pulumi id and the outputs, as AWS reports them."""

    id: str
    outputs: dict[str, Any]
    existed: bool = False
    #: Written again because its current state could not be read (see EMULATOR_LIMITS).
    rewritten: bool = False


@dataclass
class ResourceRef:
    """What an adapter needs of a Plan entry: type, names, inputs and resolved outputs."""

    type: str
    path: str
    physical_name: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    #: Where relative paths in the inputs (archives) are resolved.
    project_dir: Path = Path(".")


class ResourceAdapter(ABC):
    """Base class of every adapter; one subclass per Pulumi resource type."""

    #: Pulumi type token, e.g. ``aws:sqs/queue:Queue``.
    type_token: str = ""
    #: boto3 client name of the service.
    service: str = ""
    #: Input property that holds the physical name (None when AWS assigns the id).
    name_input: str | None = None
    #: Key into ``components.naming.AWS_NAME_LIMITS`` for the name-length check.
    name_kind: str | None = None
    #: Whether the Plan must carry an explicit physical name for this type.
    requires_name: bool = True
    #: Inputs that drift does not compare, with the reason (shown in JSON as notCompared).
    uncompared: dict[str, str] = {}
    #: Inputs whose change makes the provider replace the resource, with the provider's
    #: default when the program leaves them unset. A live difference here blocks an import.
    replace_on_change: dict[str, Any] = {}

    def physical_name(self, inputs: dict[str, Any]) -> str | None:
        """The physical name the inputs declare."""
        return inputs.get(self.name_input) if self.name_input else None

    @abstractmethod
    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        """``(id, outputs)`` as the provider would report them after create."""

    def import_id(self, ref: ResourceRef, env: AwsEnv) -> str:
        """The id ``pulumi import`` takes for this resource (default: the Pulumi id)."""
        return ref.id or self.outputs(ref.inputs, env)[0]

    @abstractmethod
    def create(self, session: Any, ref: ResourceRef) -> Created:
        """Create the resource from ``ref.inputs``; return the existing one when present."""

    @abstractmethod
    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        """The live resource as a state dict (Plan input names plus outputs such as ``arn``,
        ``url`` and ``id``), or None when it does not exist. AWS errors propagate.
        ``prefetched`` is what :meth:`prefetch` returned for a batch holding ``ref``."""

    @abstractmethod
    def list(self, session: Any, prefix: str) -> list[str]:
        """Import ids of live resources of this type whose names start with ``prefix``."""

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> Any:
        """One batch read for several resources of this type (a list call that already
        returns what ``read`` needs), passed to each ``read``. None: no batch read."""
        return None

    @staticmethod
    def client(session: Any, service: str) -> Any:
        """The session's client for ``service`` (adaptive retries, see infra.session)."""
        return session.client(service)


def deterministic_uuid(*parts: str) -> str:
    """A stable UUID for ids AWS assigns at random (event source mappings), so plans are
    reproducible run to run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def short_hash(text: str, length: int = 16) -> str:
    """A stable hex digest, for synthesized ids such as IAM unique ids."""
    return hashlib.sha256(text.encode()).hexdigest()[:length].upper()


def error_code(err: Exception) -> str:
    """The AWS error code of a botocore ClientError (empty for anything else)."""
    response = getattr(err, "response", None) or {}
    return (response.get("Error") or {}).get("Code", "")
