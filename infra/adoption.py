"""Adopting existing resources: the program side of ``tandem:imports``.

:func:`adopt` registers a stack transformation. Every custom resource whose logical path (as
``tandem plan`` prints it) is in the stack's ``tandem:imports`` gets ``import_=<id>`` and
``protect=True``; with ``{id, name}``, its physical name becomes the live name, so Pulumi adopts
the resource instead of replacing it with a renamed one. Nothing in the components changes.
"""

from __future__ import annotations

import re

import pulumi

from infra.aws import ADAPTERS
from infra.config import ImportSpec


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def adopt(imports: dict[str, ImportSpec]) -> None:
    """Register the transformation for ``imports`` (logical path -> ImportSpec)."""
    if not imports:
        return
    paths: dict[int, str] = {}

    def transform(args: pulumi.ResourceTransformationArgs):
        parent = args.opts.parent if args.opts else None
        prefix = paths.get(id(parent)) if parent is not None else None
        path = f"{prefix}/{args.name}" if prefix else args.name
        paths[id(args.resource)] = path
        spec = imports.get(path)
        if spec is None or not isinstance(args.resource, pulumi.CustomResource):
            return None
        props = dict(args.props)
        if spec.name:
            adapter = ADAPTERS.get(args.type_)
            if adapter is None or not adapter.name_input:
                raise ValueError(f"tandem:imports.{path}: {args.type_} has no name to adopt; "
                                 "give only the import id")
            props[_snake(adapter.name_input)] = spec.name
        opts = pulumi.ResourceOptions.merge(
            args.opts, pulumi.ResourceOptions(import_=spec.id, protect=True))
        return pulumi.ResourceTransformationResult(props, opts)

    pulumi.runtime.register_stack_transformation(transform)
