"""Compare the Plan's inputs with live state by meaning, not by spelling.

- JSON documents (policies, redrive policies) are parsed; statement order, a single string
  versus a one-element list, and whitespace do not matter.
- Numbers and booleans given as strings (SQS attributes) equal their typed values.
- Empty maps, empty lists and absent values are the same (tags, environments).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: IAM policy keys whose value may be one string or a list of strings.
_LIST_KEYS = frozenset({"Action", "NotAction", "Resource", "NotResource"})


@dataclass(frozen=True)
class Difference:
    """One property where live differs from the code."""

    property: str
    expected: Any
    actual: Any


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def normalize(value: Any) -> Any:
    """The comparable form of a Plan or live value."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in "{[":
            try:
                return normalize(json.loads(text))
            except ValueError:
                return value
        if text in ("true", "false"):
            return text == "true"
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in text else number
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() else value
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            item = normalize(item)
            if key in _LIST_KEYS and not isinstance(item, list) and item is not None:
                item = [item]
            if key in _LIST_KEYS and isinstance(item, list):
                item = sorted(item, key=_canonical)
            if key == "Statement" and isinstance(item, dict):
                item = [item]
            if key == "Statement" and isinstance(item, list):
                item = sorted(item, key=_canonical)
            if item is not None:
                result[key] = item
        return result or None
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value] or None
    return value


def differences(expected: dict[str, Any], live: dict[str, Any],
                skip: set[str] | frozenset[str] = frozenset()) -> list[Difference]:
    """Every property the code sets (not None, not in ``skip``) whose live value differs."""
    found = []
    for prop, want in expected.items():
        if want is None or prop in skip:
            continue
        have = live.get(prop)
        if normalize(want) != normalize(have):
            found.append(Difference(prop, want, have))
    return found
