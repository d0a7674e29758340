"""Rewrite a stack file in place: keep comments, key order and every other key; write
atomically (a temporary file in the same directory, then a rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from infra.config import ConfigError

IMPORTS_KEY = "tandem:imports"


def _round_trip():
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip mode: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long id (queue URLs, ARNs) onto a second line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def record_imports(stack_file: Path, entries: dict[str, Any]) -> None:
    """Merge ``entries`` (logical path -> id or {id, name}) into ``tandem:imports``."""
    from ruamel.yaml.comments import CommentedMap

    yaml = _round_trip()
    document = yaml.load(stack_file.read_text())
    if document is None or not isinstance(document.get("config"), dict):
        raise ConfigError(stack_file.name, "config", "no config map to record imports in")
    config = document["config"]
    current = config.get(IMPORTS_KEY) or {}
    merged = CommentedMap()  # block style, even when the file had `{}`
    for path, value in {**current, **entries}.items():
        if isinstance(value, dict):
            item = CommentedMap()
            item["id"] = value["id"]
            if value.get("name"):
                item["name"] = value["name"]
            value = item
        merged[path] = value
    config[IMPORTS_KEY] = merged
    write_atomically(stack_file, lambda handle: yaml.dump(document, handle))


def write_atomically(path: Path, write) -> None:
    """Write through ``write(handle)`` into a temporary file, then rename it over ``path``."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            write(handle)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
