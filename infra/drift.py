"""Drift: compare live AWS with the Plan, for managed and unmanaged resources.

Statuses: ``in_sync``; ``drifted`` (property, expected, actual); ``missing`` (declared, not
live); ``unmanaged`` (live under the stack's prefix, not declared); ``unreadable`` (an AWS
error such as AccessDenied; the scan goes on). Reads run in dependency waves, so the live ARNs,
URLs and ids of earlier resources replace the synthesized ones before later resources are
compared; within a wave they run on a bounded thread pool, batched per type where AWS allows.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
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


def describe_error(err: Exception) -> str:
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


_NAME_CHARS = "A-Za-z0-9_.-"


def _mentions(text: str, value: str) -> bool:
    """Whether ``value`` appears in ``text`` as a whole token (so the name ``acme-prod`` is
    not found inside ``acme-prod-analysis-queue``)."""
    if value not in text:
        return False
    pattern = f"(?<![{_NAME_CHARS}]){re.escape(value)}(?![{_NAME_CHARS}])"
    return re.search(pattern, text) is not None


def judge(read: LiveRead, endpoint: str | None, unresolved: dict[str, str]) -> ResourceDrift:
    """The verdict on one read: only the properties the program sets are compared; emulator
    limits and values built from unresolved resources are not verifiable, never drift."""
    entry, ref, live = read.entry, read.ref, read.live
    adapter = ADAPTERS[entry.type]
    physical = ref.physical_name or entry.id
    if isinstance(live, Exception):
        return ResourceDrift(entry.path, entry.type, physical, "unreadable",
                             error=describe_error(live))
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
        source = next((path for value, path in unresolved.items()
                       if _mentions(text, value)), None)
        if source:
            not_verifiable[difference.property] = f"depends on {source}, which is not live"
        else:
            found.append(difference)
    not_compared = {p: r for p, r in adapter.uncompared.items() if p in ref.inputs}
    return ResourceDrift(entry.path, entry.type, live.get("id") or physical,
                         "drifted" if found else "in_sync", found, not_verifiable,
                         not_compared)


@dataclass
class LiveRead:
    """One planned resource next to what the endpoint holds for it."""

    entry: PlanEntry
    ref: ResourceRef
    live: Any  # a state dict, None (missing) or the exception (unreadable)


def walk_live(plan: Plan, session: Any, pool: ThreadPoolExecutor,
              names: dict[str, str] | None = None) -> Iterator[tuple[LiveRead, dict[str, str]]]:
    """Read every planned resource, wave by wave, swapping synthesized outputs for live ones.

    ``names`` maps logical paths to live physical names to look up instead of the planned
    ones. Yields each read with the synthesized values that could not be resolved so far
    (outputs of missing or unreadable resources, mapped to their path).
    """
    names = names or {}
    substitution = Substitution()
    unresolved: dict[str, str] = {}
    for wave in dependency_waves(plan):
        refs = []
        for entry in wave:
            adapter = ADAPTERS[entry.type]
            inputs = substitution.apply(entry.inputs)
            if entry.path in names and adapter.name_input:
                inputs = {**inputs, adapter.name_input: names[entry.path]}
            refs.append(ResourceRef(entry.type, entry.path, adapter.physical_name(inputs),
                                    inputs, substitution.apply(entry.outputs), entry.id,
                                    plan.project_dir))
        for entry, ref, live in zip(wave, refs, _read_wave(session, refs, pool), strict=True):
            yield LiveRead(entry, ref, live), unresolved
            if isinstance(live, dict):
                substitution.learn(entry.id, live.get("id"))
                for key, synthesized in entry.outputs.items():
                    substitution.learn(synthesized, live.get(key))
            else:
                # What identifies this resource (ids, ARNs, URLs), not shared tokens such
                # as an account id that some outputs (an SNS topic's owner) repeat.
                unresolved.update({v: entry.path for v in entry.outputs.values()
                                   if isinstance(v, str) and len(v) > 8 and not v.isdigit()
                                   and v not in entry.inputs.values()})
                if entry.id:
                    unresolved[entry.id] = entry.path


def check_drift(plan: Plan, session: Any, prefix: str,
                concurrency: int = DEFAULT_CONCURRENCY) -> DriftReport:
    """Compare every planned resource with live state, and list what lives under ``prefix``
    without being planned."""
    started = time.monotonic()
    calls_before = session.api_calls
    session.memo.clear()
    endpoint = session.endpoint_url
    verdicts: list[ResourceDrift] = []
    live_ids: set[str] = set()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        listings = {type_: pool.submit(adapter.list, session, prefix)
                    for type_, adapter in ADAPTERS.items()}
        for read, unresolved in walk_live(plan, session, pool):
            verdicts.append(judge(read, endpoint, unresolved))
            if isinstance(read.live, dict):
                live_ids.add(str(read.live.get("id")))
            elif isinstance(read.live, Exception):
                # Unreadable, but declared: never report it as unmanaged too.
                live_ids.update(str(v) for v in (read.ref.physical_name, read.entry.id) if v)
        for type_, future in listings.items():
            try:
                listed = future.result()
            except Exception as err:
                verdicts.append(ResourceDrift(None, type_, None, "unreadable",
                                              error=f"listing: {describe_error(err)}"))
                continue
            verdicts += [ResourceDrift(None, type_, physical_id, "unmanaged")
                         for physical_id in sorted(set(listed))
                         if physical_id not in live_ids
                         and physical_id.rsplit("/", 1)[-1] not in live_ids]
    return DriftReport(plan.stack, endpoint, plan.account_id, plan.region, verdicts,
                       session.api_calls - calls_before, time.monotonic() - started)
