"""The bodies of the ``tandem`` commands: each takes parsed arguments, prints, returns a code."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from infra.config import StackConfig
from infra.errors import UsageError
from infra.plan import build_plan
from infra.render import render_plan, to_json


def plan_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem plan``: validate the stack file, record the program, render the Plan."""
    cfg = StackConfig.from_files(project_dir, args.stack)  # file-specific errors first
    plan = build_plan(project_dir, args.stack)
    check_import_paths(cfg, plan)
    print(render_plan(plan, args.format))
    return 0


def check_import_paths(cfg: StackConfig, plan) -> None:
    """Every ``tandem:imports`` key must be the logical path of a planned resource."""
    import difflib

    from infra.config import ConfigError

    paths = [e.path for e in plan.resources]
    for path in cfg.imports:
        if path not in paths:
            close = difflib.get_close_matches(path, paths, n=1)
            raise ConfigError(cfg.source, f"tandem:imports.{path}",
                              "no resource at this logical path (see tandem plan)"
                              + (f"; did you mean '{close[0]}'?" if close else ""))


def parity_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem parity``: compare two stacks' plans; 0 equal, 2 divergent."""
    from infra.parity import compare_plans
    from infra.render import render_parity

    configs = {stack: StackConfig.from_files(project_dir, stack)
               for stack in (args.base, args.target)}
    plans = {stack: build_plan(project_dir, stack) for stack in (args.base, args.target)}
    for stack in plans:
        check_import_paths(configs[stack], plans[stack])
    report = compare_plans(plans[args.base], configs[args.base], plans[args.target],
                           configs[args.target])
    print(render_parity(report, args.format))
    return report.exit_code


def check_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem check``: the guardrail rules (same as the CrossGuard pack) on the plan."""
    from infra.checks import check_plan
    from infra.render import render_check
    from policy.rules import RULES

    cfg = StackConfig.from_files(project_dir, args.stack)
    plan = build_plan(project_dir, args.stack)
    check_import_paths(cfg, plan)
    violations = check_plan(plan)
    print(render_check(args.stack, [r.name for r in RULES], violations, args.format))
    return 2 if violations else 0


def import_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem import``: find live resources to adopt; optionally record them."""
    import json

    from infra.importer import find_imports, import_entries, pulumi_import_document
    from infra.render import render_import
    from infra.stackfile import record_imports, write_atomically

    cfg = StackConfig.from_files(project_dir, args.stack)
    names = {}
    for item in args.name or []:
        path, sep, live = item.partition("=")
        if not sep or not path or not live:
            raise UsageError(f"tandem import: --name takes LOGICAL_PATH=LIVE_NAME, got '{item}'")
        names[path] = live
    session, env = _live_session(cfg, args)
    plan = build_plan(project_dir, args.stack, env)
    check_import_paths(cfg, plan)
    report = find_imports(plan, session, names, discover=args.discover)
    if report.exit_code == 2 and (args.write or args.pulumi_json):
        print(render_import(report, args.format))
        print("error: nothing written: an import above would replace a resource",
              file=sys.stderr)
        return 2
    if args.write:
        entries = import_entries(report)
        record_imports(project_dir / f"Pulumi.{args.stack}.yaml", entries)
    if args.pulumi_json:
        document = pulumi_import_document(plan, report)
        target = Path(args.pulumi_json)
        write_atomically(target, lambda handle: json.dump(document, handle, indent=2))
    print(render_import(report, args.format))
    if args.write:
        print(f"recorded {len(import_entries(report))} import(s) in Pulumi.{args.stack}.yaml",
              file=sys.stderr)
    return report.exit_code


def drift_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem drift``: compare live AWS (or an endpoint) with the plan; 0, 2 or 1."""
    from infra.drift import check_drift
    from infra.render import render_drift

    cfg = StackConfig.from_files(project_dir, args.stack)
    session, env = _live_session(cfg, args)
    plan = build_plan(project_dir, args.stack, env)
    report = check_drift(plan, session, cfg.prefix, args.concurrency)
    print(render_drift(report, args.format))
    return report.exit_code


def _live_session(cfg: StackConfig, args: argparse.Namespace):
    """A session for the stack, with account and region from STS. Against AWS itself, the
    credentials must belong to the stack's account."""
    from infra.session import EndpointError, open_session, resolve_env

    session = open_session(getattr(args, "endpoint_url", None), region=cfg.region,
                           profile=cfg.aws_profile)
    env = resolve_env(session)
    if not session.endpoint_url and env.account_id not in cfg.allowed_account_ids:
        raise EndpointError(f"credentials are for account {env.account_id}, but stack "
                            f"{args.stack} allows only {', '.join(cfg.allowed_account_ids)} "
                            "(aws:allowedAccountIds); switch AWS_PROFILE")
    return session, env


def validate_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem validate``: 1, 6, 20 messages through a live worker; 0 passed, 2 failed."""
    from rich.console import Console

    from infra.render import render_validation
    from infra.validate import validate_worker

    cfg = StackConfig.from_files(project_dir, args.stack)
    session, env = _live_session(cfg, args)
    plan = build_plan(project_dir, args.stack, env)
    console = Console(stderr=True)

    def progress(phase: str, index: int, count: int) -> None:
        if args.format != "json":
            verb = "sending" if phase == "send" else "drained"
            console.print(f"step {index + 1}/{len(args.steps)}: {verb} {count} message(s)")

    with console.status(f"validating {args.worker}", spinner="dots") if (
            console.is_terminal and args.format != "json") else _nothing():
        report = validate_worker(plan, session, args.worker, args.steps, args.timeout,
                                 progress)
    print(render_validation(report, args.format))
    return report.exit_code


def rollout_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem rollout``: shift the alias step by step; 0 done, 2 rolled back."""
    from rich.console import Console

    from infra.render import render_rollout
    from infra.rollout import rollout

    cfg = StackConfig.from_files(project_dir, args.stack)
    session, env = _live_session(cfg, args)
    plan = build_plan(project_dir, args.stack, env)
    console = Console(stderr=True)

    def event(kind: str, data: dict) -> None:
        if args.format == "json":
            return
        if kind == "step":
            console.print(f"{data['percent']}% of traffic on the new version; watching "
                          f"{data['alarms']} alarm(s) for {args.bake:g} s")
        elif kind == "rolled_back":
            console.print(f"[red]alarm {data['alarm']} fired: back to version "
                          f"{data['version']}[/red]")
        else:
            console.print(f"{kind}: version {data.get('version')}")

    report = rollout(plan, session, args.function, args.to_version, args.steps, args.bake,
                     args.poll, args.dry_run, event)
    print(render_rollout(report, args.format))
    return report.exit_code


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def local_up_command(project_dir: Path, args: argparse.Namespace) -> int:
    """``tandem local up``: deploy the stack into the embedded or a running emulator."""
    from infra.deploy import Deployed, deploy
    from infra.local import Emulator
    from infra.session import open_session, resolve_env

    cfg = StackConfig.from_files(project_dir, args.stack)
    emulator = None
    endpoint = args.endpoint_url
    if not endpoint:
        emulator = Emulator(args.port).start()
        endpoint = emulator.endpoint_url
    try:
        session = open_session(endpoint, region=cfg.region, profile=cfg.aws_profile)
        env = resolve_env(session)
        plan = build_plan(project_dir, args.stack, env)
        results = _deploy_with_progress(plan, session, deploy, args.format)
        _print_deployment(args, endpoint, env, results, Deployed)
        if args.keep and emulator is not None:
            _wait_for_interrupt(endpoint, plan)
    finally:
        if emulator is not None:
            emulator.stop()
    return 0


def _deploy_with_progress(plan, session, deploy, fmt: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    total = len(plan.resources)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[current]}"), console=console,
                  disable=fmt == "json" or not console.is_terminal) as progress:
        task = progress.add_task(f"deploying {plan.stack}", total=total, current="")
        return deploy(plan, session, on_resource=lambda r: progress.update(
            task, advance=1, current=f"{r.status} {r.path}"))


def _print_deployment(args, endpoint: str, env, results, deployed_type) -> None:
    created = sum(r.status == "created" for r in results)
    rewritten = sum(r.status == "rewritten" for r in results)
    existing = len(results) - created - rewritten
    if args.format == "json":
        print(to_json({
            "stack": args.stack, "endpoint": endpoint, "accountId": env.account_id,
            "region": env.region, "created": created, "existing": existing,
            "rewritten": rewritten,
            "resources": [{"path": r.path, "type": r.type, "physicalId": r.physical_id,
                           "status": r.status} for r in results]}))
        return
    summary = (f"stack {args.stack}: {created} created, {existing} already existing, "
               + (f"{rewritten} rewritten (unreadable on this endpoint), " if rewritten else "")
               + f"at {endpoint} (account {env.account_id}, {env.region})")
    if args.format == "markdown":
        lines = [f"### tandem local up: `{args.stack}`", "", summary, "",
                 "| logical path | type | physical id | status |", "| --- | --- | --- | --- |"]
        lines += [f"| `{r.path}` | `{r.type}` | `{r.physical_id}` | {r.status} |"
                  for r in results]
        print("\n".join(lines))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tandem local up: {args.stack}", title_justify="left")
    for column in ("logical path", "type", "physical id", "status"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(r.path, r.type, r.physical_id, r.status)
    console = Console(width=max(160, Console().width))
    console.print(table)
    console.print(summary)


def _wait_for_interrupt(endpoint: str, plan) -> None:
    queue = next((e.physical_name for e in plan.resources
                  if e.type == "aws:sqs/queue:Queue"), "QUEUE")
    try:  # Ctrl-C is how --keep ends, whenever it comes
        print(f"\nEmulator running at {endpoint}  (Ctrl-C to stop)\nTry:\n"
              f"  aws --endpoint-url {endpoint} sqs list-queues\n"
              f"  aws --endpoint-url {endpoint} sqs send-message --queue-url "
              f"{endpoint}/{plan.account_id}/{queue} --message-body '{{}}'\n"
              f"  aws --endpoint-url {endpoint} lambda list-functions", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the emulator", file=sys.stderr)
