"""Pulumi archives in the Plan, and the zip files Lambda takes."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

#: Marker key of an archive value in the Plan's inputs.
ARCHIVE_KEY = "__archive"

# A fixed timestamp keeps the zip (and so its hash) identical across checkouts.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def archive_value(path: str | Path, project_dir: Path) -> dict[str, str]:
    """The Plan's form of a ``FileArchive``: the directory relative to the project, and a hash
    of its contents, so that plans compare equal across machines and code changes show."""
    absolute = Path(path).resolve()
    try:
        shown = absolute.relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        shown = absolute.as_posix()
    return {ARCHIVE_KEY: "file", "path": shown,
            "sha256": hashlib.sha256(zip_directory(absolute)).hexdigest()}


def is_archive(value: Any) -> bool:
    """Whether a Plan input value is an archive."""
    return isinstance(value, dict) and ARCHIVE_KEY in value


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of every file under ``directory`` (caches left out)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                full = Path(root) / name
                info = zipfile.ZipInfo(full.relative_to(directory).as_posix(), _ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                archive.writestr(info, full.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def archive_bytes(value: dict[str, str], project_dir: Path) -> bytes:
    """The zip Lambda receives for a Plan archive value."""
    path = Path(value["path"])
    if not path.is_absolute():
        path = project_dir / path
    if not path.is_dir():
        raise FileNotFoundError(f"archive directory {path} does not exist")
    return zip_directory(path)
