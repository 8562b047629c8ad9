"""Which stream records the relay wants: the event source mapping's filter, next to the decoder.

Lambda drops records that do not match before invoking the function, so idempotency items and
MODIFY/REMOVE records cost nothing in AWS. The relay still skips them itself
(``decode_stream_record`` raises ``NotAnEvent``), because the filter is an optimisation that a
misconfigured mapping or the local runner may not apply.
"""

from __future__ import annotations

from typing import Any

from platform_events.dynamodb import INSERT
from platform_events.layout import Attr, ItemKind

DYNAMODB_STRING: str = "S"


def event_filter_pattern() -> dict[str, Any]:
    """The Lambda filter pattern (before JSON encoding) that matches only new event items."""
    return {
        "eventName": [INSERT],
        "dynamodb": {"NewImage": {Attr.ITEM_KIND.value: {DYNAMODB_STRING: [ItemKind.EVENT.value]}}},
    }
