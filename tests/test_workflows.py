"""The GitHub Actions workflows (issue 9, docs/ci.md), checked offline.

- every workflow validates against GitHub's workflow schema (check-jsonschema's builtin
  ``vendor.github-workflows``, vendored in the package: no network), and a broken copy fails;
- every ``tandem ...`` command line in a ``run:`` script parses with tandem's own parser;
- every stack a workflow names has a ``Pulumi.<stack>.yaml``;
- every job has a least-privilege ``permissions`` block, every action is pinned to a version;
- the parser of ``pulumi preview --json`` in drift.yml and the offline comment script of
  preview.yml do what they say, run here on sample input and on the real project.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from infra.cli import build_parser
from infra.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOW_DIR.glob("*.yml"))
BIN = Path(sys.executable).parent
CHECK_JSONSCHEMA = BIN / "check-jsonschema"
SCHEMAS = ("vendor.github-workflows", "custom.github-workflows-require-timeout")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
SHELL_OPERATOR = re.compile(r"[();<>|&]+")
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
COMMENT_MARKER = "<!-- tandem-preview -->"


def load(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def jobs(workflow: dict) -> dict[str, dict]:
    return workflow.get("jobs") or {}


def matrix_combinations(job: dict) -> list[dict]:
    """The matrix legs of a job (one empty leg without a matrix); expressions in values stay."""
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    if not isinstance(matrix, dict):
        return [{}]
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")
            and isinstance(v, list)}
    legs = [dict(zip(axes, values, strict=True))
            for values in itertools.product(*axes.values())] if axes else []
    legs += [dict(entry) for entry in matrix.get("include") or []]
    return legs or [{}]


def substitute_matrix(text: str, leg: dict) -> str:
    """``text`` with each ``${{ matrix.KEY }}`` replaced by the leg's value."""
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("matrix.") and name[len("matrix."):] in leg:
            return str(leg[name[len("matrix."):]])
        return match.group(0)
    return EXPRESSION.sub(replace, text)


def run_scripts() -> list[tuple[str, str, dict, dict, str]]:
    """(workflow file, job id, step, matrix leg, script with the leg's values) of every run:."""
    found = []
    for path in WORKFLOWS:
        for job_id, job in jobs(load(path)).items():
            for step in job.get("steps") or []:
                if "run" not in step:
                    continue
                for leg in matrix_combinations(job):
                    found.append((path.name, job_id, step, leg,
                                  substitute_matrix(step["run"], leg)))
    return found


def logical_lines(script: str) -> list[str]:
    """Shell lines with backslash continuations joined and here-document bodies dropped."""
    lines, terminator = [], None
    for line in re.sub(r"\\\n", " ", script).splitlines():
        if terminator is not None:
            if line.strip() == terminator:
                terminator = None
            continue
        lines.append(line)
        heredoc = HEREDOC.search(line)
        if heredoc:
            terminator = heredoc.group(2)
    return lines


def tandem_command_lines(script: str) -> list[list[str]]:
    """The argument vectors of every ``tandem`` (or ``.venv/bin/tandem``) call in a script."""
    commands = []
    for line in logical_lines(script):
        if "tandem" not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            # a path to the executable anywhere (`run_md TITLE .venv/bin/tandem ...`); a bare
            # `tandem` only where a command starts (not `for part in pulumi tandem; do`)
            at_command = index == 0 or bool(SHELL_OPERATOR.fullmatch(tokens[index - 1]))
            if not (token.endswith("/tandem") or (token == "tandem" and at_command)):
                continue
            argv = []
            for arg in tokens[index + 1:]:
                if SHELL_OPERATOR.fullmatch(arg):
                    if argv and argv[-1].isdigit() and arg.startswith((">", "<")):
                        argv.pop()  # a file descriptor: `2> file`
                    break
                argv.append(arg)
            commands.append(argv)
    return commands


def tandem_commands() -> list[tuple[str, str, list[str]]]:
    return [(workflow, job_id, argv)
            for workflow, job_id, _step, _leg, script in run_scripts()
            for argv in tandem_command_lines(script)]


TANDEM_COMMANDS = tandem_commands()


def option(argv: list[str], *names: str) -> str | None:
    for index, arg in enumerate(argv[:-1]):
        if arg in names:
            return argv[index + 1]
    for arg in argv:
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def run_check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    if not CHECK_JSONSCHEMA.exists():
        pytest.fail(f"{CHECK_JSONSCHEMA} is missing: install the dev extra "
                    "(pip install -e '.[dev]', which brings check-jsonschema)")
    return subprocess.run([str(CHECK_JSONSCHEMA), "--builtin-schema", schema,
                           *map(str, files)], capture_output=True, text=True, timeout=120)


def test_the_workflows_exist():
    names = {path.name for path in WORKFLOWS}
    assert {"preview.yml", "deploy.yml", "drift.yml"} <= names
    assert not list(WORKFLOW_DIR.glob("*.yaml")), "use the .yml extension (make lint globs it)"


# --- (1) and (2): the schema ---------------------------------------------------------------

@pytest.mark.parametrize("schema", SCHEMAS)
def test_every_workflow_validates_against_the_schema(schema):
    result = run_check_jsonschema(schema, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


BREAKAGES = {
    # a misspelled key, a wrong type, a value outside an enum, an unknown event
    "misspelled runs-on": ("    runs-on: ubuntu-latest\n", "    run-on: ubuntu-latest\n"),
    "timeout as a word": ("    timeout-minutes: 20\n", "    timeout-minutes: [twenty]\n"),
    "permission level": ("      pull-requests: write\n", "      pull-requests: writ\n"),
    "unknown event": ("  pull_request:\n", "  pull_requests:\n"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_workflow_fails_the_check(tmp_path, breakage):
    old, new = BREAKAGES[breakage]
    text = (WORKFLOW_DIR / "preview.yml").read_text(encoding="utf-8")
    assert old in text, f"preview.yml no longer has {old!r}; pick another breakage"
    broken = tmp_path / "preview.yml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run_check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert "preview.yml" in result.stdout + result.stderr


# --- (3): tandem command lines --------------------------------------------------------------

@pytest.mark.parametrize(
    ("workflow", "job_id", "argv"), TANDEM_COMMANDS,
    ids=[f"{w}:{j}: tandem {' '.join(a)}" for w, j, a in TANDEM_COMMANDS])
def test_tandem_command_line_parses(workflow, job_id, argv):
    assert not any("${{" in arg or "$" in arg for arg in argv), (
        f"{workflow} ({job_id}): tandem {' '.join(argv)}: an unresolved expression or "
        "variable; name the stack literally or through ${{ matrix.stack }}")
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        pytest.fail(f"{workflow} ({job_id}): tandem {shlex.join(argv)}: {err}")
    assert args.command == argv[0]


def test_the_workflows_run_the_tandem_commands_the_issue_asks_for():
    seen = {(workflow, argv[0], option(argv, "--stack", "-s"), option(argv, "--format"),
             option(argv, "--worker")) for workflow, _job, argv in TANDEM_COMMANDS if argv}
    for expected in [("preview.yml", "plan", "staging", "markdown", None),
                     ("preview.yml", "plan", "prod", "markdown", None),
                     ("preview.yml", "parity", None, "markdown", None),
                     ("deploy.yml", "drift", "staging", "markdown", None),
                     ("deploy.yml", "validate", "staging", None, "profile"),
                     ("drift.yml", "drift", "staging", "markdown", None),
                     ("drift.yml", "drift", "prod", "markdown", None)]:
        assert expected in seen, f"missing: {expected}; found {sorted(seen, key=str)}"


def test_the_command_line_extraction_handles_shell_syntax():
    script = ("set +e\n"
              ".venv/bin/tandem drift --stack ${{ matrix.stack }} --format markdown \\\n"
              "  > out.md 2> err.txt\n"
              "run_md \"tandem plan: prod\" .venv/bin/tandem plan --stack prod 2>err\n"
              "tandem parity --format markdown | tee -a \"$GITHUB_STEP_SUMMARY\"\n"
              "echo '## tandem preview' # tandem check --stack nowhere\n"
              "for part in pulumi tandem; do echo $part; done\n"
              "python - <<'PY'\nprint('tandem plan --stack heredoc')\nPY\n")
    assert tandem_command_lines(substitute_matrix(script, {"stack": "prod"})) == [
        ["drift", "--stack", "prod", "--format", "markdown"],
        ["plan", "--stack", "prod"],
        ["parity", "--format", "markdown"],
    ]


# --- (4): stacks ----------------------------------------------------------------------------

def expand_shell_variables(word: str, env: dict[str, str]) -> str:
    """``"$STACK"`` -> the value of STACK in ``env`` (unknown variables stay as they are)."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)),
                  word.strip("\"'"))


def stacks_named() -> dict[str, set[str]]:
    """Every stack a workflow names, with where: tandem options, matrix values, the
    `stack-name` of pulumi/actions, and `pulumi ... --stack` in run scripts."""
    named: dict[str, set[str]] = {}

    def add(stack: str | None, where: str) -> None:
        if stack is not None:
            named.setdefault(stack, set()).add(where)

    for workflow, job_id, argv in TANDEM_COMMANDS:
        for name in ("--stack", "-s", "--base", "--target"):
            add(option(argv, name), f"{workflow}:{job_id}: tandem {' '.join(argv)}")
    for path in WORKFLOWS:
        workflow = load(path)
        for job_id, job in jobs(workflow).items():
            legs = matrix_combinations(job)
            for leg in legs:
                add(leg.get("stack"), f"{path.name}:{job_id}: matrix")
            for step in job.get("steps") or []:
                stack_name = (step.get("with") or {}).get("stack-name")
                for leg in legs if stack_name else []:
                    add(substitute_matrix(str(stack_name), leg), f"{path.name}:{job_id}: uses")
                if "run" not in step:
                    continue
                for leg in legs:
                    env = {**(workflow.get("env") or {}), **(job.get("env") or {}),
                           **(step.get("env") or {})}
                    env = {k: substitute_matrix(str(v), leg) for k, v in env.items()}
                    script = substitute_matrix(step["run"], leg)
                    for line in logical_lines(script):
                        words = line.split()
                        if "pulumi" not in words:
                            continue
                        for index, word in enumerate(words[:-1]):
                            if word in ("--stack", "-s"):
                                value = expand_shell_variables(words[index + 1], env)
                                add(value, f"{path.name}:{job_id}: {line.strip()}")
    return named


def test_every_stack_named_has_a_stack_file():
    named = stacks_named()
    assert {"staging", "prod"} <= set(named), named
    for stack, where in sorted(named.items()):
        assert "$" not in stack, f"unresolved stack name {stack!r} in {sorted(where)}"
        assert (ROOT / f"Pulumi.{stack}.yaml").is_file(), (
            f"no Pulumi.{stack}.yaml for the stack named in {sorted(where)}")


# --- (5): permissions and pins --------------------------------------------------------------

PINNED = re.compile(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})")
WRITE_SCOPES_AND_WHO_NEEDS_THEM = {
    "id-token": "aws-actions/configure-aws-credentials",
    "pull-requests": "comment",
    "issues": "issue",
}


def all_uses(job: dict) -> list[str]:
    uses = [job["uses"]] if "uses" in job else []
    return uses + [step["uses"] for step in job.get("steps") or [] if "uses" in step]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_permissions_per_job(path):
    workflow = load(path)
    top = workflow.get("permissions")
    assert top is not None, f"{path.name}: no top-level permissions (default is broad)"
    assert top == {} or (isinstance(top, dict) and set(top.values()) <= {"read", "none"}), (
        f"{path.name}: top-level permissions must be {{}} or read-only, not {top!r}")
    for job_id, job in jobs(workflow).items():
        permissions = job.get("permissions")
        assert isinstance(permissions, dict), f"{path.name}:{job_id}: no permissions block"
        text = json.dumps(job)
        for scope, level in permissions.items():
            assert level in ("read", "write", "none"), f"{path.name}:{job_id}: {scope}"
            if level != "write":
                continue
            need = WRITE_SCOPES_AND_WHO_NEEDS_THEM.get(scope)
            assert need is not None, f"{path.name}:{job_id}: why {scope}: write?"
            uses_it = {
                "id-token": need in text,
                "pull-requests": "createComment" in text or "comment-on-pr" in text,
                "issues": "issues.create" in text,
            }[scope]
            assert uses_it, f"{path.name}:{job_id}: {scope}: write but nothing uses it"
        if "aws-actions/configure-aws-credentials" in text:
            assert permissions.get("id-token") == "write", f"{path.name}:{job_id}: OIDC"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_version(path):
    for job_id, job in jobs(load(path)).items():
        for uses in all_uses(job):
            if uses.startswith("./"):
                continue
            assert not uses.startswith("docker://") or "@sha256:" in uses, uses
            assert PINNED.fullmatch(uses), (
                f"{path.name}:{job_id}: {uses} is not pinned to a version (@vN[.N.N] or a "
                "40-hex commit)")


# --- what the workflows promise: forks, secrets, deploy order -------------------------------

def test_run_scripts_never_expand_untrusted_event_data():
    for workflow, job_id, step, _leg, _script in run_scripts():
        for expression in EXPRESSION.findall(step["run"]):
            assert not re.search(r"github\.(event|head_ref)", expression), (
                f"{workflow}:{job_id}: ${{{{ {expression} }}}} in a run script; pass it "
                "through env: instead (script injection)")


def test_the_offline_preview_needs_no_secret_and_no_cloud():
    offline = jobs(load(WORKFLOW_DIR / "preview.yml"))["offline"]
    text = json.dumps(offline)
    assert "secrets." not in text and "vars." not in text
    assert "id-token" not in offline["permissions"]
    assert "if" not in offline, "the offline job must run for every pull request, forks too"
    assert [s["run"] for s in offline["steps"] if "run" in s][0] == "make test"


def test_the_cloud_previews_run_only_with_credentials():
    pulumi = jobs(load(WORKFLOW_DIR / "preview.yml"))["pulumi"]
    assert "github.repository" in pulumi["if"] and "vars.AWS_ROLE_ARN_" in pulumi["if"]
    preview = next(s for s in pulumi["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert preview["with"]["command"] == "preview"
    assert {k: preview["with"][k] for k in ("comment-on-pr", "diff", "refresh")} == {
        "comment-on-pr": True, "diff": True, "refresh": True}
    assert "steps.gate.outputs.ready" in preview["if"]


def test_deploys_go_staging_then_prod_behind_review_and_never_overlap():
    deploy = jobs(load(WORKFLOW_DIR / "deploy.yml"))
    staging, prod = deploy["staging"], deploy["prod"]
    assert load(WORKFLOW_DIR / "deploy.yml")["on"]["push"]["branches"] == ["main"]
    assert prod["needs"] in ("staging", ["staging"])
    assert prod["environment"] in ("prod", {"name": "prod"})
    groups = set()
    for job in (staging, prod):
        assert job["concurrency"]["cancel-in-progress"] is False
        groups.add(job["concurrency"]["group"])
    assert len(groups) == 2, "one concurrency group per stack"
    steps = staging["steps"]
    up = next(i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "up")
    after_up = " ".join(s.get("run", "") for s in steps[up + 1:])
    assert "tandem drift --stack staging" in after_up
    assert "tandem validate --stack staging --worker profile" in after_up


def test_one_comment_and_one_issue_updated_in_place():
    for name in ("preview.yml", "preview-comment.yml"):
        scripts = [s["with"]["script"] for job in jobs(load(WORKFLOW_DIR / name)).values()
                   for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@")]
        assert scripts, name
        for script in scripts:
            assert COMMENT_MARKER in script and "updateComment" in script, name
            assert script.index("listComments") < script.index("createComment"), name
    drift = jobs(load(WORKFLOW_DIR / "drift.yml"))["report"]
    script = next(s["with"]["script"] for s in drift["steps"] if "script" in s.get("with", {}))
    assert "labels: LABEL" in script and "state: 'open'" in script
    assert script.index("listForRepo") < script.index("issues.create(")
    assert "issues.update({ owner, repo, issue_number: existing.number, body })" in script


# --- the scripts themselves -----------------------------------------------------------------

@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_run_scripts_are_valid_bash(path):
    for job_id, job in jobs(load(path)).items():
        for step in job.get("steps") or []:
            if "run" in step:
                script = EXPRESSION.sub("EXPR", step["run"])
                result = subprocess.run(["bash", "-n"], input=script, capture_output=True,
                                        text=True, timeout=30)
                assert result.returncode == 0, f"{path.name}:{job_id}: {result.stderr}"


def drift_parser_script() -> str:
    detect = jobs(load(WORKFLOW_DIR / "drift.yml"))["detect"]
    run = next(s["run"] for s in detect["steps"] if s.get("id") == "pulumi-preview")
    match = re.search(r"<<'PY'[^\n]*\n(.*?)\nPY\n", run, re.S)
    assert match, "drift.yml: the pulumi-preview step lost its <<'PY' parser"
    return match.group(1)


def step(op: str, name: str) -> dict:
    return {"op": op, "urn": f"urn:pulumi:prod::tandem::aws:sqs/queue:Queue::{name}"}


@pytest.mark.parametrize(("document", "exit_code", "status", "changes"), [
    ({"steps": [step("same", "a"), step("same", "b")]}, 0, "in_sync", 0),
    ({"steps": [step("refresh", "a"), step("same", "a"), step("read", "b")]}, 0, "in_sync", 0),
    # drift: the exit code says failure (255, or 7 in newer CLIs); the steps say why
    ({"steps": [step("refresh", "a"), step("update", "a"), step("same", "b")]}, 255, "drift", 1),
    ({"steps": [step("same", "a"), step("create", "c"), step("delete", "d")]}, 7, "drift", 2),
    # changes with exit 0 still count: the JSON decides, not the exit code
    ({"steps": [step("replace", "a")]}, 0, "drift", 1),
    # errors: no JSON, no steps, or a failure without any change
    (None, 255, "error", 0),
    ({"steps": [], "diagnostics": [{"severity": "error", "message": "no credentials"}]}, 255,
     "error", 0),
    ({"steps": [step("same", "a")]}, 255, "error", 0),
])
def test_drift_parses_the_pulumi_preview_json(tmp_path, document, exit_code, status, changes):
    preview = tmp_path / "preview.json"
    preview.write_text("" if document is None else json.dumps(document), encoding="utf-8")
    markdown = tmp_path / "preview.md"
    result = subprocess.run([sys.executable, "-", str(preview), str(exit_code), str(markdown)],
                            input=drift_parser_script(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    outputs = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert outputs == {"status": status, "changes": str(changes)}
    report = markdown.read_text(encoding="utf-8")
    assert f"{changes} of " in report
    if status == "error" and document and document.get("diagnostics"):
        assert "> no credentials" in report


def test_the_offline_comment_script_on_this_project(tmp_path):
    """Runs preview.yml's comment step for real (tandem from this venv) in a scratch copy."""
    offline = jobs(load(WORKFLOW_DIR / "preview.yml"))["offline"]
    script = next(s["run"] for s in offline["steps"] if s.get("id") == "tandem")
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "__main__.py"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "HEAD_SHA": "0123456789abcdef",
           "PR_NUMBER": "42"}
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
         script.replace(".venv/bin/", f"{BIN}/")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    comment = (tmp_path / "preview" / "comment.md").read_text(encoding="utf-8")
    assert comment.startswith(COMMENT_MARKER + "\n## tandem preview (offline)\n")
    assert "Commit `0123456789ab`." in comment
    for heading in ("### tandem parity: `staging` vs `prod`", "### tandem check: `staging`",
                    "### tandem check: `prod`", "### tandem plan: `staging`",
                    "### tandem plan: `prod`"):
        assert heading in comment
    assert comment.count("<details>") == comment.count("</details>") == 2
    assert "| `profile/profile-queue` | `aws:sqs/queue:Queue` | `acme-prod-profile-queue` |" \
        in comment
    assert summary.read_text(encoding="utf-8") == comment
    assert (tmp_path / "preview" / "pr-number").read_text().strip() == "42"
    # a finding (parity divergent, check violations) fails the step after the comment is written
    assert (result.returncode != 0) == ("exited " in comment), result.stderr
