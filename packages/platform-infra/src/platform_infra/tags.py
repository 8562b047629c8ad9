"""Standard tags on every taggable AWS resource of a stack, from one call.

A stack calls ``register_standard_tags(context)`` once, before creating resources. Every AWS
resource created afterwards whose arguments have a ``tags`` map gets ``project``, ``stack``,
``service`` and ``owner``; tags a resource sets itself win over the standard ones.

This uses the in-process stack transformation rather than the engine-side transforms API: the
transformation runs inside the program both under ``pulumi up`` and under
``pulumi.runtime.set_mocks``, so the mock tests exercise exactly the code that deploys (the mock
monitor does not run engine-side transforms).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from platform_infra.context import StackContext

_AWS_TYPE_PREFIX = "aws:"


def register_standard_tags(context: StackContext) -> None:
    """Tag every AWS resource created from now on in this stack with ``context.tags``."""
    pulumi.runtime.register_stack_transformation(tagging_transformation(context.tags))


def tagging_transformation(tags: Mapping[str, str]) -> pulumi.ResourceTransformation:
    """A transformation adding ``tags`` under any tags a resource sets itself."""
    standard = dict(tags)

    def transform(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith(_AWS_TYPE_PREFIX) or "tags" not in args.props:
            return None
        own = args.props["tags"]
        merged: Any
        if own is None:
            merged = dict(standard)
        elif isinstance(own, Mapping):
            merged = {**standard, **own}
        elif isinstance(own, pulumi.Output):
            merged = own.apply(lambda value: {**standard, **(value or {})})
        else:
            # A list of tag blocks (e.g. autoscaling groups) is not a map we can merge into.
            return None
        return pulumi.ResourceTransformationResult(
            props={**args.props, "tags": merged}, opts=args.opts
        )

    return transform
