"""Import: find the live resources a stack declares but has not adopted yet.

For every planned resource without an import id, the live resource is looked up by its
physical name (or by an explicit live name), and the result says:

- the import id, in Pulumi's format for the type (the adapter's Pulumi id);
- every property where live differs from the code, i.e. what the first ``pulumi up`` after the
  import would change;
- which of those would make the provider replace the resource: those block the import;
- resources not found are "will be created".

Nothing is changed in AWS. ``record_imports`` writes the ids into the stack file;
``pulumi_import_document`` writes a ``pulumi import --file`` document.
"""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from infra.aws import ADAPTERS
from infra.aws.base import ResourceRef
from infra.compare import Difference, normalize
from infra.drift import DEFAULT_CONCURRENCY, describe_error, judge, walk_live
from infra.errors import TandemError
from infra.plan import Plan

IMPORT_STATUSES = ("found", "will_be_created", "already_imported", "unreadable")


class ImportRequestError(TandemError):
    """Bad import request (an unknown path in --name, a type that cannot be renamed)."""


@dataclass
class ImportFinding:
    """What ``tandem import`` found for one planned resource."""

    path: str
    type: str
    physical_name: str | None
    status: str
    live_name: str | None = None
    import_id: str | None = None
    differences: list[Difference] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)
    not_verifiable: dict[str, str] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def adopted_name(self) -> str | None:
        """The live name when it differs from the planned one (recorded as ``name:``)."""
        if self.live_name and self.live_name != self.physical_name:
            return self.live_name
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.type, "physicalName": self.physical_name,
                "liveName": self.live_name, "status": self.status,
                "importId": self.import_id,
                "differences": [{"property": d.property, "expected": d.expected,
                                 "actual": d.actual, "blocking": d.property in self.blocking}
                                for d in self.differences],
                "blocking": self.blocking,
                "notVerifiable": [{"property": p, "reason": r}
                                  for p, r in self.not_verifiable.items()],
                "candidates": self.candidates, "error": self.error}


@dataclass
class ImportReport:
    """Every finding of one ``tandem import`` run."""

    stack: str
    endpoint: str | None
    account_id: str
    region: str
    findings: list[ImportFinding]

    def counts(self) -> dict[str, int]:
        counts = {s: sum(f.status == s for f in self.findings) for s in IMPORT_STATUSES}
        counts["blocking"] = sum(bool(f.blocking) for f in self.findings)
        return counts

    @property
    def exit_code(self) -> int:
        """2 when an import would replace something, 1 when something was unreadable."""
        counts = self.counts()
        if counts["blocking"]:
            return 2
        return 1 if counts["unreadable"] else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``tandem import --format json`` (schema in the README)."""
        return {"schema": 1, "stack": self.stack, "endpoint": self.endpoint,
                "accountId": self.account_id, "region": self.region,
                "summary": self.counts(),
                "resources": [f.to_dict() for f in self.findings]}


def check_names(plan: Plan, names: dict[str, str]) -> None:
    """Reject ``--name`` paths that the plan does not hold or whose type has no name."""
    paths = {e.path: e for e in plan.resources}
    for path in names:
        entry = paths.get(path)
        if entry is None:
            close = difflib.get_close_matches(path, list(paths), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ImportRequestError(f"--name {path}=...: no resource at this logical path{hint}")
        if not ADAPTERS[entry.type].name_input:
            raise ImportRequestError(f"--name {path}=...: {entry.type} is found through the "
                               "resources it links, not by name")


def _blocking(ref: ResourceRef, live: dict[str, Any]) -> list[Difference]:
    found = []
    for prop, default in ADAPTERS[ref.type].replace_on_change.items():
        want = ref.inputs.get(prop, default)
        have = live.get(prop, default)
        if want is not None and normalize(want) != normalize(have):
            found.append(Difference(prop, want, have))
    return found


def _candidates(session: Any, entry_type: str, planned: str, taken: set[str]) -> list[str]:
    """Live names of the same type that look like ``planned`` (discovery pass)."""
    listed = ADAPTERS[entry_type].list(session, "")
    names = {str(item).rsplit("/", 1)[-1].split(":layer:")[-1] for item in listed}
    scored = sorted(((difflib.SequenceMatcher(None, planned, name).ratio(), name)
                     for name in names - taken), reverse=True)
    return [name for score, name in scored[:3] if score >= 0.4]


def find_imports(plan: Plan, session: Any, names: dict[str, str] | None = None,
                 discover: bool = False,
                 concurrency: int = DEFAULT_CONCURRENCY) -> ImportReport:
    """Look up every planned, not yet imported resource in the live account."""
    names = dict(names or {})
    check_names(plan, names)
    endpoint = session.endpoint_url
    session.memo.clear()
    findings: list[ImportFinding] = []
    planned_names = {e.physical_name for e in plan.resources if e.physical_name}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for read, unresolved in walk_live(plan, session, pool, names):
            entry, ref, live = read.entry, read.ref, read.live
            planned = entry.physical_name
            if entry.import_id:
                findings.append(ImportFinding(entry.path, entry.type, planned,
                                              "already_imported", import_id=entry.import_id,
                                              live_name=ref.physical_name))
                continue
            if isinstance(live, Exception):
                findings.append(ImportFinding(entry.path, entry.type, planned, "unreadable",
                                              error=describe_error(live)))
                continue
            if live is None:
                finding = ImportFinding(entry.path, entry.type, planned, "will_be_created",
                                        live_name=None)
                if discover and ADAPTERS[entry.type].name_input and planned:
                    finding.candidates = _candidates(session, entry.type, planned,
                                                     planned_names)
                findings.append(finding)
                continue
            verdict = judge(read, endpoint, unresolved)
            blocking = _blocking(ref, live)
            differences = verdict.differences + [
                d for d in blocking if d.property not in {x.property for x in
                                                          verdict.differences}]
            adapter = ADAPTERS[entry.type]
            findings.append(ImportFinding(
                entry.path, entry.type, planned, "found",
                live_name=ref.physical_name if adapter.name_input else None,
                import_id=adapter.import_id(ResourceRef(
                    entry.type, entry.path, ref.physical_name, ref.inputs, live,
                    str(live.get("id"))), None),
                differences=differences, blocking=[d.property for d in blocking],
                not_verifiable=verdict.not_verifiable))
    return ImportReport(plan.stack, endpoint, plan.account_id, plan.region, findings)


def import_entries(report: ImportReport) -> dict[str, Any]:
    """The ``tandem:imports`` entries for what was found: an id, or ``{id, name}`` when the
    live name is off the convention."""
    entries: dict[str, Any] = {}
    for finding in report.findings:
        if finding.status != "found" or not finding.import_id:
            continue
        if finding.adopted_name:
            entries[finding.path] = {"id": finding.import_id, "name": finding.adopted_name}
        else:
            entries[finding.path] = finding.import_id
    return entries


def pulumi_import_document(plan: Plan, report: ImportReport) -> dict[str, Any]:
    """A ``pulumi import --file`` document for what was found.

    Component parents are declared as ``component: true`` resources in the same file (Pulumi
    3.94 and later create them, so no parent URN is needed in ``nameTable``); each imported
    resource names its parent by the component's name.
    """
    found = [f for f in report.findings if f.status == "found" and f.import_id]
    entries = {e.path: e for e in plan.entries}
    resources: list[dict[str, Any]] = []
    declared: set[str] = set()

    def declare_parent(path: str | None) -> str | None:
        if path is None:
            return None
        parent = entries[path]
        if path not in declared:
            grandparent = declare_parent(parent.parent)
            component = {"type": parent.type, "name": parent.name,
                         "logicalName": parent.name, "component": True}
            if grandparent:
                component["parent"] = grandparent
            resources.append(component)
            declared.add(path)
        return parent.name

    for finding in found:
        entry = entries[finding.path]
        resource = {"type": entry.type, "name": entry.name, "logicalName": entry.name,
                    "id": finding.import_id}
        parent = declare_parent(entry.parent)
        if parent:
            resource["parent"] = parent
        resources.append(resource)
    names = [r["name"] for r in resources]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ImportRequestError(f"logical names {', '.join(duplicates)} are not unique; a "
                           "pulumi import file needs unique names")
    return {"nameTable": {}, "resources": resources}
