"""Shared fixtures: the repository as a Pulumi project, plans of the shipped stacks, and
scratch copies of the project whose stack files a test may edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.local import Emulator
from infra.plan import Plan, build_plan

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("staging", "prod")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def emulator():
    """A local emulator (moto on 127.0.0.1) for one test module, started empty."""
    with Emulator() as running:
        yield running


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """The offline plan of each shipped stack, recorded once per session."""
    return {stack: build_plan(ROOT, stack) for stack in STACKS}


#: Programs that declare part of the reference platform, with the shipped stack files: the
#: emulator tests that deploy per test use them to stay fast (the full stacks are deployed
#: by their own tests). Each calls the same ``infra.platform`` builders as the real program.
SLICES = {
    "workers": (
        "from infra import platform\n"
        "from infra.config import StackConfig\n"
        "from infra.adoption import adopt\n"
        "cfg = StackConfig.from_pulumi()\n"
        "adopt(cfg.imports)\n"
        "platform.build_workers(cfg, platform.build_layer(cfg))\n"),
    "api": (
        "from infra import platform\n"
        "from infra.config import StackConfig\n"
        "cfg = StackConfig.from_pulumi()\n"
        "workers = platform.build_workers(cfg, platform.build_layer(cfg))\n"
        "api = platform.build_api(cfg, workers['analysis'])\n"
        "platform.build_monitoring(cfg, {}, [api], [])\n"),
}
STACK_FILES = ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml")


def copy_project(target: Path, program: str | None = None) -> Path:
    """The project's Pulumi files in ``target``, with the real entry point or ``program``."""
    for name in STACK_FILES:
        shutil.copy(ROOT / name, target / name)
    if program is None:
        shutil.copy(ROOT / "__main__.py", target / "__main__.py")
    else:
        (target / "__main__.py").write_text(program)
    return target


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project files (program entry point and stack files) in a temp dir."""
    return copy_project(tmp_path)


@pytest.fixture
def workers_project(tmp_path: Path) -> Path:
    """A project declaring only the shared layer and the workers."""
    return copy_project(tmp_path, SLICES["workers"])


@pytest.fixture(scope="module")
def workers_slice(tmp_path_factory) -> Path:
    """The workers-only project, shared by a module's tests (read-only)."""
    return copy_project(tmp_path_factory.mktemp("workers"), SLICES["workers"])


@pytest.fixture(scope="module")
def api_slice(tmp_path_factory) -> Path:
    """Workers, the API function and the API's alarms, shared by a module's tests."""
    return copy_project(tmp_path_factory.mktemp("api"), SLICES["api"])
