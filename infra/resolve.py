"""Dependency order of a Plan, and the swap of synthesized outputs for live ones.

The offline plan synthesizes what AWS computes (ARNs, URLs, ids). Against a live endpoint those
can differ (an emulator's queue URLs, a mapping's UUID), so deploy and drift walk the Plan in
dependency order and replace each synthesized value with the live one before it is used.
"""

from __future__ import annotations

import re
from typing import Any

from infra.plan import Plan, PlanEntry, PlanError


def dependency_waves(plan: Plan) -> list[list[PlanEntry]]:
    """Custom resources in waves: each wave depends only on earlier waves (a dependency on a
    component means on all resources under it). Within a wave, the Plan's order."""
    resources = plan.resources
    under: dict[str, list[str]] = {}
    for entry in resources:
        parts = entry.path.split("/")
        for depth in range(1, len(parts)):
            under.setdefault("/".join(parts[:depth]), []).append(entry.path)
    needs = {e.path: {d for dep in e.dependencies for d in (under.get(dep) or [dep])
                      if d != e.path} for e in resources}
    known = {e.path for e in resources}
    waves, done = [], set()
    pending = list(resources)
    while pending:
        ready = [e for e in pending if (needs[e.path] & known) <= done]
        if not ready:
            raise PlanError("dependency cycle between: " + ", ".join(e.path for e in pending))
        waves.append(ready)
        done.update(e.path for e in ready)
        pending = [e for e in pending if e.path not in done]
    return waves


class Substitution:
    """Replaces synthesized output values with real ones inside nested inputs, in one pass."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._pattern: re.Pattern | None = None

    #: Shorter values ("1", "Enabled") are not distinctive enough to replace inside strings.
    MIN_LENGTH = 8

    def learn(self, synthesized: Any, real: Any) -> None:
        if isinstance(synthesized, str) and isinstance(real, str) \
                and len(synthesized) >= self.MIN_LENGTH and synthesized != real:
            self.values[synthesized] = real
            self._pattern = None

    def apply(self, value: Any) -> Any:
        if not self.values:
            return value
        if self._pattern is None:
            keys = sorted(self.values, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, keys)))
        return self._apply(value)

    def _apply(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._pattern.sub(lambda m: self.values[m.group(0)], value)
        if isinstance(value, dict):
            return {k: self._apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._apply(v) for v in value]
        return value
