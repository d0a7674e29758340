"""`make demo`: bring staging and prod up in one local AWS emulator, then summarise.

Runs the same `tandem` commands a user would, against one embedded moto server on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.cli import run  # noqa: E402
from infra.local import Emulator  # noqa: E402

STACKS = ("staging", "prod")


def tandem(*argv: str) -> tuple[int, str]:
    """Run one tandem command in-process; echo it and return (exit code, stdout)."""
    print(f"\n$ tandem {' '.join(argv)}", flush=True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run(["--project-dir", str(ROOT), *argv])
    return code, out.getvalue()


def main() -> int:
    summary = []
    with Emulator() as emulator:
        print(f"local AWS emulator (moto) at {emulator.endpoint_url}")
        for stack in STACKS:
            code, text = tandem("local", "up", "--stack", stack,
                                "--endpoint-url", emulator.endpoint_url)
            print(text, end="")
            if code != 0:
                return code
            _, report = tandem("local", "up", "--stack", stack,
                               "--endpoint-url", emulator.endpoint_url, "--format", "json")
            result = json.loads(report)
            print(f"(second run: {result['created']} created, {result['existing']} existing "
                  f"- idempotent)")
            code, text = tandem("drift", "--stack", stack, "--endpoint-url",
                                emulator.endpoint_url)
            print(text, end="")
            summary.append(("deploy", stack, f"{len(result['resources'])} resources; drift "
                            + ("in sync" if code == 0 else f"found (exit {code})")))
        code, text = tandem("validate", "--stack", "staging", "--worker", "profile",
                            "--endpoint-url", emulator.endpoint_url)
        print(text, end="")
        summary.append(("validate", "staging/profile", "passed" if code == 0 else
                        f"FAILED (exit {code})"))
    code, text = tandem("parity", "--base", "staging", "--target", "prod")
    print(text, end="")
    summary.append(("parity", "staging vs prod", "in tandem" if code == 0 else
                    f"DIVERGENT (exit {code})"))
    print("\nSummary")
    for step, what, result in summary:
        print(f"  {step:<9} {what:<16} {result}")
    print("  both stacks ran in one local emulator (moto on 127.0.0.1); it has been stopped.")
    return 0 if all(r.startswith(("in ", "passed")) or "in sync" in r
                    for _, _, r in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
