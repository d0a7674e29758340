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


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def drift_text(report: Any) -> str:
    """Drift grouped by status, differences indented under their resource."""
    counts = report.counts()
    lines = [f"Drift of stack {report.stack} against {report.endpoint or 'AWS'} "
             f"(account {report.account_id}, {report.region})"]
    for status in ("missing", "drifted", "unmanaged", "unreadable", "in_sync"):
        group = [r for r in report.resources if r.status == status]
        if not group:
            continue
        lines += ["", f"{status} ({len(group)})"]
        for r in group:
            lines.append(f"  {r.path or '-'}  {r.type}  {r.physical_id or ''}".rstrip())
            for d in r.differences:
                lines.append(f"      {d.property}: expected {_short(d.expected)}, "
                             f"actual {_short(d.actual)}")
            for prop, reason in r.not_verifiable.items():
                lines.append(f"      {prop}: not verifiable on this endpoint ({reason})")
            if r.error:
                lines.append(f"      error: {r.error}")
    lines += ["", ", ".join(f"{counts[s]} {s}" for s in counts)
              + f"; {report.api_calls} API calls in {report.seconds:.2f} s"]
    return "\n".join(lines)


def drift_markdown(report: Any) -> str:
    """Drift as a markdown report (issues, pull-request comments)."""
    counts = report.counts()
    lines = [f"### tandem drift: `{report.stack}`", "",
             ", ".join(f"{counts[s]} {s}" for s in counts), "",
             "| status | logical path | type | physical id | detail |",
             "| --- | --- | --- | --- | --- |"]
    for r in sorted(report.resources, key=lambda r: r.status == "in_sync"):
        detail = "; ".join([f"`{d.property}`: expected `{_short(d.expected, 60)}`, actual "
                            f"`{_short(d.actual, 60)}`" for d in r.differences]
                           + [f"`{p}`: not verifiable on this endpoint"
                              for p in r.not_verifiable]
                           + ([r.error] if r.error else []))
        lines.append(f"| {r.status} | `{r.path or '-'}` | `{r.type}` | "
                     f"`{r.physical_id or ''}` | {detail} |")
    return "\n".join(lines)


def render_drift(report: Any, fmt: str) -> str:
    """``tandem drift`` output in the chosen format."""
    if fmt == "json":
        return to_json(report.to_dict())
    if fmt == "markdown":
        return drift_markdown(report)
    return drift_text(report)


def import_text(report: Any) -> str:
    """Import findings: one line a resource, differences and candidates beneath."""
    counts = report.counts()
    lines = [f"Import for stack {report.stack} from {report.endpoint or 'AWS'} "
             f"(account {report.account_id}, {report.region})", ""]
    labels = {"found": "found", "will_be_created": "will be created",
              "already_imported": "already imported", "unreadable": "unreadable"}
    for f in report.findings:
        where = f"  id {f.import_id}" if f.import_id else ""
        name = f"  (live name {f.adopted_name})" if f.adopted_name else ""
        block = "  BLOCKING: would replace" if f.blocking else ""
        lines.append(f"  {labels[f.status]:<16} {f.path}  {f.type}{where}{name}{block}")
        for d in f.differences:
            mark = " (forces replacement)" if d.property in f.blocking else ""
            lines.append(f"      {d.property}{mark}: code {_short(d.expected)}, "
                         f"live {_short(d.actual)}")
        for prop, reason in f.not_verifiable.items():
            lines.append(f"      {prop}: not verifiable on this endpoint ({reason})")
        for candidate in f.candidates:
            lines.append(f"      candidate: --name {f.path}={candidate}")
        if f.error:
            lines.append(f"      error: {f.error}")
    lines += ["", ", ".join(f"{counts[s]} {s.replace('_', ' ')}" for s in counts)]
    if counts["found"]:
        lines.append("The differences above are what the first `pulumi up` after the import "
                     "will change.")
    return "\n".join(lines)


def import_markdown(report: Any) -> str:
    """Import findings as a markdown table."""
    counts = report.counts()
    lines = [f"### tandem import: `{report.stack}`", "",
             ", ".join(f"{counts[s]} {s.replace('_', ' ')}" for s in counts), "",
             "| status | logical path | type | import id | differences |",
             "| --- | --- | --- | --- | --- |"]
    for f in report.findings:
        detail = "; ".join(f"`{d.property}`" + (" **blocking**" if d.property in f.blocking
                                                else "") for d in f.differences)
        lines.append(f"| {f.status} | `{f.path}` | `{f.type}` | `{f.import_id or ''}` | "
                     f"{detail} |")
    return "\n".join(lines)


def render_import(report: Any, fmt: str) -> str:
    """``tandem import`` output in the chosen format."""
    if fmt == "json":
        return to_json(report.to_dict())
    if fmt == "markdown":
        return import_markdown(report)
    return import_text(report)


def _cell(value: Any) -> str:
    return _short(value, 60).replace("|", "\\|") if value is not None else "—"


def parity_text(report: Any) -> str:
    """Parity: every difference, allowed or divergent, and resources in one stack only."""
    lines = [f"Parity of {report.base} (base) and {report.target} (target)", ""]
    for d in report.differences:
        mark = "allowed  " if d.allowed else "DIVERGENT"
        why = f"  ({d.reason})" if d.reason else ""
        lines.append(f"  {mark} {d.path}  {d.property}: {report.base} {_short(d.base, 60)}"
                     f", {report.target} {_short(d.target, 60)}{why}")
    for entry in report.only_in_base:
        lines.append(f"  DIVERGENT {entry.path}  ({entry.type}) only in {report.base}")
    for entry in report.only_in_target:
        lines.append(f"  DIVERGENT {entry.path}  ({entry.type}) only in {report.target}")
    summary = report.to_dict()["summary"]
    lines += ["", f"{summary['allowed']} allowed, {summary['divergent']} divergent, "
              f"{summary['onlyInBase']} only in {report.base}, {summary['onlyInTarget']} only "
              f"in {report.target}: " + ("in tandem" if report.exit_code == 0 else "DIVERGENT")]
    return "\n".join(lines)


def parity_markdown(report: Any) -> str:
    """Parity as a pull-request comment."""
    verdict = "in tandem" if report.exit_code == 0 else "**divergent**"
    lines = [f"### tandem parity: `{report.base}` vs `{report.target}`: {verdict}", "",
             f"| | logical path | property | {report.base} | {report.target} | reason |",
             "| --- | --- | --- | --- | --- | --- |"]
    for d in report.differences:
        lines.append(f"| {'allowed' if d.allowed else '**divergent**'} | `{d.path}` | "
                     f"`{d.property}` | {_cell(d.base)} | {_cell(d.target)} | "
                     f"{d.reason or ''} |")
    for stack, entries in ((report.base, report.only_in_base),
                           (report.target, report.only_in_target)):
        for entry in entries:
            lines.append(f"| **divergent** | `{entry.path}` | (resource) | "
                         f"{'present' if stack == report.base else '—'} | "
                         f"{'present' if stack == report.target else '—'} | only in {stack} |")
    return "\n".join(lines)


def render_parity(report: Any, fmt: str) -> str:
    """``tandem parity`` output in the chosen format."""
    if fmt == "json":
        return to_json(report.to_dict())
    if fmt == "markdown":
        return parity_markdown(report)
    return parity_text(report)


def render_check(stack: str, rules: list[str], violations: list, fmt: str) -> str:
    """``tandem check`` output: the violations, or a clean bill."""
    if fmt == "json":
        return to_json({"schema": 1, "stack": stack, "rules": rules,
                        "violations": [{"rule": v.rule, "resource": v.resource.name,
                                        "type": v.resource.type, "urn": v.resource.urn,
                                        "message": v.message} for v in violations]})
    if fmt == "markdown":
        lines = [f"### tandem check: `{stack}`", "",
                 f"{len(rules)} rules, {len(violations)} violations", ""]
        if violations:
            lines += ["| rule | resource | message |", "| --- | --- | --- |"]
            lines += [f"| `{v.rule}` | `{v.resource.name}` | {v.message} |" for v in violations]
        return "\n".join(lines)
    lines = [f"Guardrails for stack {stack}: {len(rules)} rules"]
    lines += [f"  VIOLATION {v.rule}: {v.message}" for v in violations]
    lines.append(f"{len(violations)} violations" if violations else "all rules pass")
    return "\n".join(lines)


def render_validation(report: Any, fmt: str) -> str:
    """``tandem validate`` output."""
    if fmt == "json":
        return to_json(report.to_dict())
    rows = [(s.messages, "passed" if s.passed else "FAILED", f"{s.seconds:.2f}",
             f"{s.rate:.1f}", s.detail) for s in report.steps]
    verdict = "passed" if report.passed else "FAILED"
    if fmt == "markdown":
        lines = [f"### tandem validate: `{report.worker}` in `{report.stack}`: {verdict}", ""]
        if report.preflight:
            lines.append(f"Preflight failed: {report.preflight}")
        lines += ["| messages | result | seconds | messages/s | detail |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {m} | {r} | {s} | {rate} | {d} |" for m, r, s, rate, d in rows]
        return "\n".join(lines)
    lines = [f"Validation of worker {report.worker} in stack {report.stack} "
             f"(queue {report.queue}, DLQ {report.dlq})"]
    if report.preflight:
        lines.append(f"  preflight FAILED: {report.preflight}")
    lines += [f"  {m:>4} messages  {r:<6}  {s:>7} s  {rate:>7} msg/s  {d}".rstrip()
              for m, r, s, rate, d in rows]
    lines.append(verdict)
    return "\n".join(lines)


def render_rollout(report: Any, fmt: str) -> str:
    """``tandem rollout`` output."""
    if fmt == "json":
        return to_json(report.to_dict())
    steps = " -> ".join(f"{s['percent']}%" + (f" (alarm {s['alarm']})" if s.get("alarm")
                                               else "") for s in report.steps)
    text = (f"Rollout of {report.function}:{report.alias} in {report.stack}: version "
            f"{report.from_version} -> {report.to_version}: {steps or 'no steps'}; "
            f"{report.outcome.replace('_', ' ')}")
    if fmt == "markdown":
        return f"### tandem rollout: `{report.function}`\n\n{text}"
    return text
