"""``If-Match`` as RFC 9110 defines it, with the account's version as its entity-tag.

A command's ETag is ``"<version>"``. ``If-Match`` holds ``*`` or a list of entity-tags and
matches when one of them is strongly equal to the current tag (a weak tag ``W/"3"`` never
matches). A header that does not follow that grammar is a malformed field, answered 422
``validation_error`` naming ``If-Match``; a well-formed tag that is not the current one is 412.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

IF_MATCH: Final = "If-Match"
_ELEMENT: Final = re.compile(r'[ \t]*(?:(W/)?"([\x21\x23-\x7e\x80-\xff]*)")[ \t]*(,|$)')
_EMPTY_ELEMENT: Final = re.compile(r"[ \t]*,")


def etag(version: int) -> str:
    return f'"{version}"'


class MalformedIfMatch(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class IfMatch:
    any_version: bool
    strong_tags: frozenset[str]

    def matches(self, version: int) -> bool:
        return self.any_version or str(version) in self.strong_tags


def parse_if_match(header: str) -> IfMatch:
    if header.strip(" \t") == "*":
        return IfMatch(any_version=True, strong_tags=frozenset())
    tags: set[str] = set()
    seen = 0
    position = 0
    while position < len(header):
        empty = _EMPTY_ELEMENT.match(header, position)
        if empty:  # the list rule allows empty elements: "a, , b"
            position = empty.end()
            continue
        element = _ELEMENT.match(header, position)
        if element is None:
            if not header[position:].strip(" \t"):
                break
            msg = 'must be * or a list of entity-tags such as "3"'
            raise MalformedIfMatch(msg)
        seen += 1
        weak, opaque, _ = element.groups()
        if not weak:
            tags.add(opaque)
        position = element.end()
    if not seen:
        msg = 'must be * or a list of entity-tags such as "3"'
        raise MalformedIfMatch(msg)
    return IfMatch(any_version=False, strong_tags=frozenset(tags))
