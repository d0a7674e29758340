"""AWS adapters, one module per service; :data:`ADAPTERS` maps a Pulumi type token to its
adapter. A resource type without an adapter cannot be planned.

Every module of this package that defines ``ADAPTERS`` (a tuple of adapter instances) is
registered, so a new service is one new module.
"""

from __future__ import annotations

import importlib
import pkgutil

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef

_SUPPORT_MODULES = {"base", "archive", "limits"}


def _discover() -> dict[str, ResourceAdapter]:
    adapters: dict[str, ResourceAdapter] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name in _SUPPORT_MODULES:
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for adapter in getattr(module, "ADAPTERS", ()):
            if adapter.type_token in adapters:
                raise RuntimeError(f"two adapters for {adapter.type_token}")
            adapters[adapter.type_token] = adapter
    return adapters


ADAPTERS: dict[str, ResourceAdapter] = _discover()

__all__ = ["ADAPTERS", "AwsEnv", "Created", "ResourceAdapter", "ResourceRef"]
