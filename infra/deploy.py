"""Deploy a Plan into an AWS endpoint (the local emulator), in dependency order.

Each resource is created from the Plan's inputs by its adapter. The Plan's inputs carry the
outputs that were synthesized offline (ARNs, URLs, ids); as each resource is created, its real
outputs replace the synthesized ones in every later resource's inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.aws import ADAPTERS
from infra.aws.base import ResourceRef
from infra.errors import TandemError
from infra.plan import Plan, PlanEntry


class DeployError(TandemError):
    """A resource could not be created; the message names it and the AWS error."""


@dataclass
class Deployed:
    """One resource after ``deploy``: created now, or found existing."""

    path: str
    type: str
    physical_id: str
    #: "created", "exists", or "rewritten": set again because the endpoint cannot report it
    status: str
    outputs: dict[str, Any]


def deploy_order(plan: Plan) -> list[PlanEntry]:
    """Custom resources, every one after all it depends on (a dependency on a component means
    on all resources under it). Ties keep the Plan's order, so the result is deterministic."""
    resources = plan.resources
    under: dict[str, list[str]] = {}
    for entry in resources:
        parts = entry.path.split("/")
        for depth in range(1, len(parts)):
            under.setdefault("/".join(parts[:depth]), []).append(entry.path)
    needs = {e.path: {d for dep in e.dependencies for d in (under.get(dep) or [dep])
                      if d != e.path} for e in resources}
    known = {e.path for e in resources}
    order, done = [], set()
    pending = list(resources)
    while pending:
        ready = [e for e in pending if (needs[e.path] & known) <= done]
        if not ready:
            raise DeployError("dependency cycle between: "
                              + ", ".join(e.path for e in pending))
        for entry in ready:
            order.append(entry)
            done.add(entry.path)
        pending = [e for e in pending if e.path not in done]
    return order


class _Substitution:
    """Replaces synthesized output values with real ones inside nested inputs, in one pass."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._pattern: re.Pattern | None = None

    def learn(self, synthesized: Any, real: Any) -> None:
        if isinstance(synthesized, str) and isinstance(real, str) and synthesized \
                and synthesized != real:
            self.values[synthesized] = real
            self._pattern = None

    def apply(self, value: Any) -> Any:
        if not self.values:
            return value
        if self._pattern is None:
            keys = sorted(self.values, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, keys)))
        return self._apply(value)

    def _apply(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._pattern.sub(lambda m: self.values[m.group(0)], value)
        if isinstance(value, dict):
            return {k: self._apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._apply(v) for v in value]
        return value


def deploy(plan: Plan, session: Any,
           on_resource: Callable[[Deployed], None] | None = None) -> list[Deployed]:
    """Create every resource of ``plan`` that does not exist yet; report each one."""
    substitution = _Substitution()
    results = []
    statuses: dict[str, str] = {}
    for entry in deploy_order(plan):
        adapter = ADAPTERS[entry.type]
        inputs = substitution.apply(entry.inputs)
        ref = ResourceRef(type=entry.type, path=entry.path,
                          physical_name=adapter.physical_name(inputs), inputs=inputs,
                          outputs=substitution.apply(entry.outputs),
                          project_dir=plan.project_dir)
        try:
            created = adapter.create(session, ref)
        except Exception as err:  # botocore errors: name the resource, keep AWS's message
            raise DeployError(f"{entry.path} ({entry.type}): {err}") from None
        substitution.learn(entry.id, created.id)
        for key, synthesized in entry.outputs.items():
            substitution.learn(synthesized, created.outputs.get(key))
        status = "exists" if created.existed else "created"
        if created.rewritten and not any(statuses.get(d) == "created"
                                         for d in entry.dependencies):
            # Unreadable here and set again over resources that already existed.
            status = "rewritten"
        statuses[entry.path] = status
        result = Deployed(entry.path, entry.type, created.id, status, created.outputs)
        results.append(result)
        if on_resource:
            on_resource(result)
    return results
