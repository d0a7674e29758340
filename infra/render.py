"""Rendering of command results as text, markdown or JSON."""

from __future__ import annotations

import json
from typing import Any

from infra.plan import Plan

FORMATS = ("text", "json", "markdown")


def to_json(document: Any) -> str:
    """Stable, indented JSON."""
    return json.dumps(document, indent=2, default=str)


def _flags(protect: bool, import_id: str | None) -> str:
    flags = []
    if protect:
        flags.append("protected")
    if import_id:
        flags.append(f"import {import_id}")
    return ", ".join(flags)


def plan_text(plan: Plan) -> str:
    """A tree like ``pulumi preview``: one line a resource, indented under its parent."""
    lines = [f"Plan of stack {plan.stack} (project {plan.project}, account {plan.account_id}, "
             f"region {plan.region})", ""]
    width = max((len(e.path.split("/")) * 2 + len(e.name) for e in plan.entries), default=10)
    type_width = max((len(e.type) for e in plan.entries), default=10)
    for entry in plan.entries:
        depth = entry.path.count("/")
        name = "  " * depth + entry.name
        physical = entry.physical_name or (entry.id if entry.custom else "") or ""
        flags = _flags(entry.protect, entry.import_id)
        line = f" + {name:<{width}}  {entry.type:<{type_width}}  {physical}"
        lines.append(line + (f"  [{flags}]" if flags else ""))
    counts = plan.counts_by_type()
    lines += ["", f"Resources: {sum(counts.values())} to create"]
    lines += [f"  {count:>3}  {type_}" for type_, count in counts.items()]
    return "\n".join(lines)


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment: a table of resources and the counts by type."""
    counts = plan.counts_by_type()
    lines = [f"### tandem plan: `{plan.stack}`", "",
             f"{sum(counts.values())} resources in account `{plan.account_id}`, "
             f"region `{plan.region}`.", "",
             "| logical path | type | physical name | flags |",
             "| --- | --- | --- | --- |"]
    for entry in plan.resources:
        lines.append(f"| `{entry.path}` | `{entry.type}` | `{entry.physical_name or entry.id}` "
                     f"| {_flags(entry.protect, entry.import_id)} |")
    lines += ["", "| type | count |", "| --- | --- |"]
    lines += [f"| `{type_}` | {count} |" for type_, count in counts.items()]
    return "\n".join(lines)


def render_plan(plan: Plan, fmt: str) -> str:
    """``tandem plan`` output in the chosen format."""
    if fmt == "json":
        return to_json(plan.to_dict())
    if fmt == "markdown":
        return plan_markdown(plan)
    return plan_text(plan)
