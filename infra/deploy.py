"""Deploy a Plan into an AWS endpoint (the local emulator), in dependency order.

Each resource is created from the Plan's inputs by its adapter. The Plan's inputs carry the
outputs that were synthesized offline (ARNs, URLs, ids); as each resource is created, its real
outputs replace the synthesized ones in every later resource's inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from infra.aws import ADAPTERS
from infra.aws.base import Created, ResourceRef
from infra.errors import TandemError
from infra.plan import Plan, PlanEntry
from infra.resolve import Substitution, dependency_waves

DEFAULT_CONCURRENCY = 8


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


def deploy(plan: Plan, session: Any,
           on_resource: Callable[[Deployed], None] | None = None,
           concurrency: int = DEFAULT_CONCURRENCY) -> list[Deployed]:
    """Create every resource of ``plan`` that does not exist yet; report each one.

    Resources of one dependency wave are created in parallel (``concurrency`` threads); the
    next wave starts once the real outputs of this one are known.
    """
    substitution = Substitution()
    results = []
    statuses: dict[str, str] = {}

    def create(entry: PlanEntry) -> Created:
        adapter = ADAPTERS[entry.type]
        inputs = substitution.apply(entry.inputs)
        ref = ResourceRef(type=entry.type, path=entry.path,
                          physical_name=adapter.physical_name(inputs), inputs=inputs,
                          outputs=substitution.apply(entry.outputs),
                          project_dir=plan.project_dir)
        try:
            return adapter.create(session, ref)
        except Exception as err:  # botocore errors: name the resource, keep AWS's message
            raise DeployError(f"{entry.path} ({entry.type}): {err}") from None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for wave in dependency_waves(plan):
            for entry, created in zip(wave, pool.map(create, wave), strict=True):
                substitution.learn(entry.id, created.id)
                for key, synthesized in entry.outputs.items():
                    substitution.learn(synthesized, created.outputs.get(key))
                status = "exists" if created.existed else "created"
                if created.rewritten and not any(statuses.get(d) == "created"
                                                 for d in entry.dependencies):
                    # Unreadable here and set again over resources that already existed.
                    status = "rewritten"
                statuses[entry.path] = status
                result = Deployed(entry.path, entry.type, created.id, status,
                                  created.outputs)
                results.append(result)
                if on_resource:
                    on_resource(result)
    return results
