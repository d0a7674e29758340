"""The ``tandem`` command (contract in DESIGN.md): parse, dispatch, map errors to exit codes.

Exit codes: 0 ok, 1 error (usage errors included), 2 a finding (drift, divergence, ...).
User errors print one line to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.errors import TandemError, UsageError
from infra.render import FORMATS

EXIT_OK, EXIT_ERROR, EXIT_FINDING = 0, 1, 2
EXIT_INTERRUPTED = 130  # the shell's code for a Ctrl-C


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 1 (the contract), not 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _int_list(text: str) -> tuple[int, ...]:
    """``1,6,20`` -> (1, 6, 20); positive integers only."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of "
                                         "integers") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}': every value must be above 0")
    return values


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` that holds ``Pulumi.yaml``."""
    start = (start or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        if (directory / "Pulumi.yaml").is_file():
            return directory
    raise UsageError(f"no Pulumi.yaml in {start} or above; run tandem from the project "
                     "or pass --project-dir")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``tandem`` command."""
    parser = _Parser(prog="tandem", description="Keep a staging and a prod Pulumi stack "
                     "in tandem: offline plan and local emulator.")
    parser.add_argument("--project-dir", type=Path, default=None,
                        help="directory holding Pulumi.yaml (default: found from the cwd)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sub: argparse.ArgumentParser, stack: bool = True) -> None:
        if stack:
            sub.add_argument("--stack", "-s", required=True, help="stack name, e.g. staging")
        sub.add_argument("--format", choices=FORMATS, default="text", help="output format")

    plan = commands.add_parser("plan", help="offline preview of every resource a stack declares")
    common(plan)

    parity = commands.add_parser("parity", help="prove two stacks differ only where allowed")
    parity.add_argument("--base", default="staging", help="base stack (default staging)")
    parity.add_argument("--target", default="prod", help="target stack (default prod)")
    common(parity, stack=False)

    check = commands.add_parser("check", help="guardrail rules (the CrossGuard pack's) on "
                                "the offline plan")
    common(check)

    drift = commands.add_parser("drift", help="compare live AWS with the plan: missing, "
                                "drifted and unmanaged resources")
    common(drift)
    drift.add_argument("--endpoint-url", default=None,
                       help="an AWS-compatible endpoint (default: AWS_ENDPOINT_URL, or AWS)")
    drift.add_argument("--concurrency", type=int, default=8,
                       help="parallel AWS reads (default 8)")

    adopt = commands.add_parser("import", help="find live resources the stack declares but "
                                "has not imported; record them")
    common(adopt)
    adopt.add_argument("--endpoint-url", default=None,
                       help="an AWS-compatible endpoint (default: AWS_ENDPOINT_URL, or AWS)")
    adopt.add_argument("--write", action="store_true",
                       help="record the found ids in Pulumi.<stack>.yaml (tandem:imports)")
    adopt.add_argument("--pulumi-json", metavar="FILE", default=None,
                       help="write a `pulumi import --file` document")
    adopt.add_argument("--name", action="append", metavar="LOGICAL_PATH=LIVE_NAME",
                       help="look this resource up under another live name (repeatable)")
    adopt.add_argument("--discover", action="store_true",
                       help="for resources not found, list live ones of the same type that "
                            "look alike")

    validate = commands.add_parser("validate", help="progressive end-to-end check of a "
                                   "worker: 1, 6, 20 messages; the DLQ must stay empty")
    common(validate)
    validate.add_argument("--worker", required=True, help="worker name, e.g. profile")
    validate.add_argument("--steps", type=_int_list, default=(1, 6, 20),
                          help="messages per step (default 1,6,20)")
    validate.add_argument("--timeout", type=float, default=120.0,
                          help="seconds a step may take to drain (default 120)")
    validate.add_argument("--endpoint-url", default=None,
                          help="an AWS-compatible endpoint (default: AWS_ENDPOINT_URL, or AWS)")

    rollout = commands.add_parser("rollout", help="shift an API function's alias 10% -> 50% "
                                  "-> 100%%, rolling back on alarm")
    common(rollout)
    rollout.add_argument("--function", required=True,
                         help="the API function (component name, e.g. api, or function name)")
    rollout.add_argument("--to-version", default=None,
                         help="version to roll out (default: publish the current code)")
    rollout.add_argument("--steps", type=_int_list, default=(10, 50, 100),
                         help="traffic percentages (default 10,50,100)")
    rollout.add_argument("--bake", type=float, default=300.0,
                         help="seconds to watch the alarms after each step (default 300)")
    rollout.add_argument("--poll", type=float, default=15.0,
                         help="seconds between alarm checks (default 15)")
    rollout.add_argument("--dry-run", action="store_true",
                         help="show the steps without changing anything")
    rollout.add_argument("--endpoint-url", default=None,
                         help="an AWS-compatible endpoint (default: AWS_ENDPOINT_URL, or AWS)")

    local = commands.add_parser("local", help="the local AWS emulator")
    local_commands = local.add_subparsers(dest="local_command", required=True,
                                          parser_class=_Parser)
    up = local_commands.add_parser("up", help="deploy a stack into the emulator (idempotent)")
    common(up)
    up.add_argument("--endpoint-url", default=None,
                    help="deploy into this running emulator instead of starting one")
    up.add_argument("--port", type=int, default=0,
                    help="port of the embedded emulator (default: a free one)")
    up.add_argument("--keep", action="store_true",
                    help="keep the embedded emulator running until Ctrl-C")
    return parser


#: Subcommand -> the function of infra.commands that runs it.
COMMANDS = {
    "plan": "plan_command", "parity": "parity_command", "check": "check_command",
    "drift": "drift_command", "import": "import_command", "validate": "validate_command",
    "rollout": "rollout_command", "local": "local_up_command",
}


def run(argv: list[str]) -> int:
    """Run one command; return its exit code."""
    try:
        args = build_parser().parse_args(argv)
        project_dir = (args.project_dir.resolve() if args.project_dir
                       else find_project_dir())
        # The command bodies (and the Pulumi SDK they load) only once the line parsed.
        from infra import commands

        return getattr(commands, COMMANDS[args.command])(project_dir, args)
    except UsageError as err:
        print(str(err), file=sys.stderr)
        return EXIT_ERROR
    except TandemError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("tandem: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
