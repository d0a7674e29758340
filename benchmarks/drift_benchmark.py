"""Benchmark `tandem drift` against a naive scan, on a separate-process moto server.

Declares N QueueWorkers (8 AWS resources each) in a generated Pulumi program, deploys them
with tandem's own deploy into `moto_server` on 127.0.0.1, then measures:

- tandem drift: API calls per resource and seconds (batched list calls, 8 threads), on a
  first run (one-time costs: a client per service, the emulator starting each service's
  backend) and on a second run (steady state, the figure reported as tandem_drift);
- a naive scan of the same resources: one describe call per resource, one after another
  (plus the GetQueueUrl a queue needs first), reading the same properties.

Usage: .venv/bin/python benchmarks/drift_benchmark.py [--workers 63]   (63 x 8 = 504)
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.deploy import deploy  # noqa: E402
from infra.drift import check_drift  # noqa: E402
from infra.local import configure_emulator  # noqa: E402
from infra.plan import build_plan  # noqa: E402
from infra.session import open_session, resolve_env  # noqa: E402

PROGRAM = '''
from components.worker import QueueWorker, QueueWorkerArgs
for i in range({workers}):
    QueueWorker(f"w{{i:03d}}", QueueWorkerArgs(app="bench", env="load", code_dir={code!r}))
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto_server(port: int) -> subprocess.Popen:
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("moto_server did not start")


def write_program(directory: Path, workers: int) -> None:
    (directory / "Pulumi.yaml").write_text("name: bench\nruntime: python\n")
    (directory / "Pulumi.load.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  aws:allowedAccountIds: ["123456789012"]\n')
    (directory / "__main__.py").write_text(PROGRAM.format(
        workers=workers, code=str(ROOT / "infra" / "handlers" / "profile")))


def naive_scan(session, plan) -> tuple[int, float]:
    """One describe call per resource, sequentially; returns (calls, seconds)."""
    calls = 0
    started = time.monotonic()
    sqs, iam = session.client("sqs"), session.client("iam")
    logs, lam = session.client("logs"), session.client("lambda")
    urls = {}
    for entry in plan.resources:
        inputs = entry.inputs
        if entry.type == "aws:sqs/queue:Queue":
            url = sqs.get_queue_url(QueueName=entry.physical_name)["QueueUrl"]
            urls[entry.outputs["url"]] = url
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            calls += 2
        elif entry.type == "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy":
            sqs.get_queue_attributes(QueueUrl=urls.get(inputs["queueUrl"], inputs["queueUrl"]),
                                     AttributeNames=["All"])
            calls += 1
        elif entry.type == "aws:iam/role:Role":
            iam.get_role(RoleName=entry.physical_name)
            calls += 1
        elif entry.type == "aws:iam/rolePolicy:RolePolicy":
            iam.get_role_policy(RoleName=inputs["role"], PolicyName=entry.physical_name)
            calls += 1
        elif entry.type == "aws:cloudwatch/logGroup:LogGroup":
            logs.describe_log_groups(logGroupNamePrefix=entry.physical_name)
            calls += 1
        elif entry.type == "aws:lambda/function:Function":
            lam.get_function(FunctionName=entry.physical_name)
            calls += 1
        elif entry.type == "aws:lambda/eventSourceMapping:EventSourceMapping":
            lam.list_event_source_mappings(EventSourceArn=inputs["eventSourceArn"],
                                           FunctionName=inputs["functionName"])
            calls += 1
    return calls, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=63)
    args = parser.parse_args()
    port = free_port()
    server = start_moto_server(port)
    workdir = Path(tempfile.mkdtemp(prefix="tandem-bench-"))
    try:
        endpoint = f"http://127.0.0.1:{port}"
        configure_emulator(endpoint)
        session = open_session(endpoint, region="us-east-1")
        env = resolve_env(session)
        write_program(workdir, args.workers)
        started = time.monotonic()
        plan = build_plan(workdir, "load", env)
        plan_seconds = time.monotonic() - started
        started = time.monotonic()
        deploy(plan, session)
        deploy_seconds = time.monotonic() - started
        count = len(plan.resources)
        # First run: pays the one-time costs (a boto3 client per service, the emulator
        # starting the backends of every listed service). Second run: the steady state.
        cold = check_drift(plan, open_session(endpoint, region="us-east-1"), "bench-load-")
        report = check_drift(plan, session, "bench-load-")
        naive_calls, naive_seconds = naive_scan(session, plan)
        result = {
            "resources": count, "plan_seconds": round(plan_seconds, 2),
            "deploy_seconds": round(deploy_seconds, 2),
            "tandem_drift_first_run_seconds": round(cold.seconds, 2),
            "tandem_drift": {"api_calls": report.api_calls,
                             "calls_per_resource": round(report.api_calls / count, 2),
                             "seconds": round(report.seconds, 2),
                             "summary": report.counts()},
            "naive_scan": {"api_calls": naive_calls,
                           "calls_per_resource": round(naive_calls / count, 2),
                           "seconds": round(naive_seconds, 2)},
        }
        print(json.dumps(result, indent=2))
        return 0 if report.exit_code == 0 else 1
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
