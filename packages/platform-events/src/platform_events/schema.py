"""JSON Schema export of the envelope and every registered payload, for other teams' codegen.

python -m platform_events.schema --import account_events > events.schema.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from platform_events.envelope import EventEnvelope
from platform_events.registry import EventRegistry, default_registry


def json_schemas(registry: EventRegistry | None = None) -> dict[str, Any]:
    """One document: the envelope's schema and each registered payload version's schema."""
    registry = registry or default_registry
    events: dict[str, Any] = {}
    for info in registry.registrations():
        schema = info.model.model_json_schema(mode="serialization")
        schema["x-event-type"] = info.event_type
        schema["x-schema-version"] = info.schema_version
        schema["x-aggregate-type"] = info.aggregate_type
        events[f"{info.event_type}.v{info.schema_version}"] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "envelope": EventEnvelope.model_json_schema(mode="serialization"),
        "events": events,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="platform-events-schema",
        description="Print the JSON Schema of the event envelope and of every registered payload.",
    )
    parser.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first so its event types register (repeatable), e.g. account_events",
    )
    args = parser.parse_args(argv)
    for module in args.modules:
        importlib.import_module(module)
    json.dump(json_schemas(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
