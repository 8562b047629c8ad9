"""Who is deploying what: the project, stack, service and owner every name and tag comes from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import pulumi

from platform_infra.naming import ResourceKind, resource_name

DEFAULT_PROJECT: Final = "cqrs"
"""The product every stack belongs to: the first part of every name and the ``project`` tag."""
DEFAULT_OWNER: Final = "platform-team"

PROJECT_CONFIG_KEY: Final = "project"
OWNER_CONFIG_KEY: Final = "owner"

# AWS tag values: letters, digits, spaces and _ . : / = + - @, at most 256 characters.
_TAG_VALUE: Final = re.compile(r"[\w .:/=+\-@]{1,256}")


@dataclass(frozen=True)
class StackContext:
    """The identity of one deployed stack of one service."""

    project: str
    stack: str
    service: str
    owner: str

    def __post_init__(self) -> None:
        for label, value in self.tags.items():
            if not _TAG_VALUE.fullmatch(value) or value.lower().startswith("aws:"):
                raise ValueError(f"{label} {value!r} cannot be an AWS tag value")

    def name(self, resource: str, kind: ResourceKind = ResourceKind.GENERIC) -> str:
        """The physical name of ``resource`` (see ``platform_infra.naming.resource_name``)."""
        return resource_name(self.project, self.stack, self.service, resource, kind)

    @property
    def tags(self) -> dict[str, str]:
        """The standard tags: ``project``, ``stack``, ``service`` and ``owner``."""
        return {
            "project": self.project,
            "stack": self.stack,
            "service": self.service,
            "owner": self.owner,
        }

    @classmethod
    def from_pulumi(cls, service: str) -> StackContext:
        """The context of the running Pulumi program.

        The stack is Pulumi's stack name; ``project`` and ``owner`` come from the current Pulumi
        project's config (``pulumi config set project cqrs``), defaulting to ``DEFAULT_PROJECT``
        and ``DEFAULT_OWNER``.
        """
        config = pulumi.Config()
        return cls(
            project=config.get(PROJECT_CONFIG_KEY) or DEFAULT_PROJECT,
            stack=pulumi.get_stack(),
            service=service,
            owner=config.get(OWNER_CONFIG_KEY) or DEFAULT_OWNER,
        )
