"""Shared fixtures: the repository as a Pulumi project, plans of the shipped stacks, and
scratch copies of the project whose stack files a test may edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infra.plan import Plan, build_plan

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("staging", "prod")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def plans() -> dict[str, Plan]:
    """The offline plan of each shipped stack, recorded once per session."""
    return {stack: build_plan(ROOT, stack) for stack in STACKS}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project files (program entry point and stack files) in a temp dir."""
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path
