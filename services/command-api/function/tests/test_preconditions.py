"""If-Match as RFC 9110 has it: "*" or entity-tags, strong comparison, malformed is an error."""

from __future__ import annotations

import pytest
from command_api.http.preconditions import MalformedIfMatch, etag, parse_if_match


def test_the_etag_of_a_version_is_the_quoted_number() -> None:
    assert etag(3) == '"3"'


@pytest.mark.parametrize(
    ("header", "version", "matches"),
    [
        ('"3"', 3, True),
        ('"3"', 4, False),
        (' "3" ', 3, True),
        ('"2", "3"', 3, True),
        ('"2","4"', 3, False),
        ('"1", , "3"', 3, True),
        ("*", 7, True),
        (" * ", 1, True),
        ('W/"3"', 3, False),  # weak tags never match under strong comparison
        ('"03"', 3, False),  # tags are opaque strings
        ('"abc"', 3, False),
        ('""', 3, False),
    ],
)
def test_if_match_compares_entity_tags(header: str, version: int, matches: bool) -> None:
    assert parse_if_match(header).matches(version) is matches


@pytest.mark.parametrize(
    "header", ["3", '"3', '3"', "", "  ", ",", '"3" "4"', '"3";', '*, "3"', 'w/"3"', '"a b"']
)
def test_a_header_outside_the_grammar_is_malformed(header: str) -> None:
    with pytest.raises(MalformedIfMatch):
        parse_if_match(header)
