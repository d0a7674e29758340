"""Drift: compare live AWS with the Plan, for managed and unmanaged resources.

Statuses: ``in_sync``; ``drifted`` (property, expected, actual); ``missing`` (declared, not
live); ``unmanaged`` (live under the stack's prefix, not declared); ``unreadable`` (an AWS
error such as AccessDenied; the scan goes on). Reads run in dependency waves, so the live ARNs,
URLs and ids of earlier resources replace the synthesized ones before later resources are
compared; within a wave they run on a bounded thread pool, batched per type where AWS allows.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from infra.aws import ADAPTERS
from infra.aws.base import ResourceRef
from infra.aws.limits import emulator_limit
from infra.compare import Difference, differences
from infra.plan import Plan, PlanEntry
from infra.resolve import Substitution, dependency_waves

DEFAULT_CONCURRENCY = 8
STATUSES = ("drifted", "missing", "unmanaged", "unreadable", "in_sync")


@dataclass
class ResourceDrift:
    """The verdict on one resource."""

    path: str | None
    type: str
    physical_id: str | None
    status: str
    differences: list[Difference] = field(default_factory=list)
    not_verifiable: dict[str, str] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.type, "physicalId": self.physical_id,
                "status": self.status,
                "differences": [{"property": d.property, "expected": d.expected,
                                 "actual": d.actual} for d in self.differences],
                "notVerifiable": [{"property": p, "reason": r}
                                  for p, r in self.not_verifiable.items()],
                "notCompared": sorted(self.not_compared), "error": self.error}


@dataclass
class DriftReport:
    """Every verdict of one scan, with its cost."""

    stack: str
    endpoint: str | None
    account_id: str
    region: str
    resources: list[ResourceDrift]
    api_calls: int
    seconds: float

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.resources) for s in STATUSES}

    @property
    def exit_code(self) -> int:
        """1 when anything was unreadable, 2 on drift, 0 in sync."""
        counts = self.counts()
        if counts["unreadable"]:
            return 1
        return 2 if counts["drifted"] + counts["missing"] + counts["unmanaged"] else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``tandem drift --format json`` (schema in the README)."""
        return {"schema": 1, "stack": self.stack, "endpoint": self.endpoint,
                "accountId": self.account_id, "region": self.region,
                "summary": self.counts(), "api_calls": self.api_calls,
                "seconds": round(self.seconds, 3),
                "resources": [r.to_dict() for r in self.resources]}


def _describe_error(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    error = response.get("Error") or {}
    if error:
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(err).__name__}: {err}"


def _read_wave(session: Any, refs: list[ResourceRef], pool: ThreadPoolExecutor) -> list[Any]:
    """Read one wave: one batch prefetch per type (where the adapter has one), then one
    read per resource on the pool. Each result is a state, None (missing) or the exception."""
    by_type: dict[str, list[ResourceRef]] = {}
    for ref in refs:
        by_type.setdefault(ref.type, []).append(ref)
    prefetches = {type_: pool.submit(ADAPTERS[type_].prefetch, session, group)
                  for type_, group in by_type.items()}

    def read_one(ref: ResourceRef) -> Any:
        try:
            return ADAPTERS[ref.type].read(session, ref, prefetches[ref.type].result())
        except Exception as err:  # reported as unreadable; the scan goes on
            return err

    return list(pool.map(read_one, refs))


def _verdict(entry: PlanEntry, ref: ResourceRef, live: Any, endpoint: str | None,
             unresolved: dict[str, str]) -> ResourceDrift:
    adapter = ADAPTERS[entry.type]
    physical = ref.physical_name or entry.id
    if isinstance(live, Exception):
        return ResourceDrift(entry.path, entry.type, physical, "unreadable",
                             error=_describe_error(live))
    if live is None:
        return ResourceDrift(entry.path, entry.type, physical, "missing")
    not_verifiable = {}
    for prop in ref.inputs:
        reason = emulator_limit(entry.type, prop, endpoint)
        if reason and prop not in live:
            not_verifiable[prop] = reason
    skip = set(adapter.uncompared) | set(not_verifiable)
    found = []
    for difference in differences(ref.inputs, live, skip):
        # A value built from a resource that is missing or unreadable cannot be judged here;
        # that resource is reported on its own.
        text = json.dumps(difference.expected, default=str)
        source = next((path for value, path in unresolved.items() if value in text), None)
        if source:
            not_verifiable[difference.property] = f"depends on {source}, which is not live"
        else:
            found.append(difference)
    not_compared = {p: r for p, r in adapter.uncompared.items() if p in ref.inputs}
    return ResourceDrift(entry.path, entry.type, live.get("id") or physical,
                         "drifted" if found else "in_sync", found, not_verifiable,
                         not_compared)


def check_drift(plan: Plan, session: Any, prefix: str,
                concurrency: int = DEFAULT_CONCURRENCY) -> DriftReport:
    """Compare every planned resource with live state, and list what lives under ``prefix``
    without being planned."""
    started = time.monotonic()
    calls_before = session.api_calls
    session.memo.clear()
    endpoint = session.endpoint_url
    substitution = Substitution()
    verdicts: list[ResourceDrift] = []
    live_ids: set[str] = set()
    unresolved: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        listings = {type_: pool.submit(adapter.list, session, prefix)
                    for type_, adapter in ADAPTERS.items()}
        for wave in dependency_waves(plan):
            refs = []
            for entry in wave:
                inputs = substitution.apply(entry.inputs)
                refs.append(ResourceRef(entry.type, entry.path,
                                        ADAPTERS[entry.type].physical_name(inputs), inputs,
                                        substitution.apply(entry.outputs), entry.id,
                                        plan.project_dir))
            for entry, ref, live in zip(wave, refs, _read_wave(session, refs, pool),
                                        strict=True):
                verdicts.append(_verdict(entry, ref, live, endpoint, unresolved))
                if isinstance(live, Exception):
                    # Unreadable, but declared: never report it as unmanaged too.
                    live_ids.update(str(v) for v in (ref.physical_name, entry.id) if v)
                if not isinstance(live, dict):
                    unresolved.update({v: entry.path for v in entry.outputs.values()
                                       if isinstance(v, str) and len(v) > 8
                                       and v not in entry.inputs.values()})
                    if entry.id:
                        unresolved[entry.id] = entry.path
                else:
                    live_ids.add(str(live.get("id")))
                    substitution.learn(entry.id, live.get("id"))
                    for key, synthesized in entry.outputs.items():
                        substitution.learn(synthesized, live.get(key))
        for type_, future in listings.items():
            try:
                listed = future.result()
            except Exception as err:
                verdicts.append(ResourceDrift(None, type_, None, "unreadable",
                                              error=f"listing: {_describe_error(err)}"))
                continue
            verdicts += [ResourceDrift(None, type_, physical_id, "unmanaged")
                         for physical_id in sorted(set(listed))
                         if physical_id not in live_ids
                         and physical_id.rsplit("/", 1)[-1] not in live_ids]
    return DriftReport(plan.stack, endpoint, plan.account_id, plan.region, verdicts,
                       session.api_calls - calls_before, time.monotonic() - started)
