"""The OpenAPI document, generated from the routes: ``python -m query_api.openapi`` rewrites the
committed ``openapi.json`` next to pyproject.toml; ``--check`` exits 1 if it is stale."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from sqlalchemy import create_engine

from query_api.api import build_app
from query_api.cursors import CursorSigner

TITLE: Final = "query-api"
VERSION: Final = "1.0.0"
DESCRIPTION: Final = (
    "Read side of the CQRS platform: accounts as the balances read model last saw them, and"
    " each account's deposits and withdrawals as the transactions read model recorded them. Every"
    " answer carries the account's `version` (and an `ETag`), so a client that just sent a"
    " command can tell whether the read model has caught up. Errors are"
    " `application/problem+json` with a machine-readable `code`. Behind API Gateway the routes"
    " need IAM (SigV4) authorization, or a JWT where the stack configures an issuer."
)
SCHEMA_REF: Final = "#/components/schemas/"
DOCUMENT: Final = Path(__file__).resolve().parents[2] / "openapi.json"


def openapi_document() -> str:
    """The document as committed: stable key order, two-space indents, a final newline."""
    # Routes only: no connection is ever opened and no cursor is ever signed here.
    app = build_app(create_engine("sqlite://"), CursorSigner(b"openapi-document-only"))
    schema = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    _drop_unreferenced_schemas(schema)
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _drop_unreferenced_schemas(document: dict[str, Any]) -> None:
    """Powertools always adds its own validation-error schemas; this API answers problems
    instead, so they would only document what never happens."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [document["paths"]]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith(SCHEMA_REF):
                name = reference.removeprefix(SCHEMA_REF)
                if name not in used:
                    used.add(name)
                    pending.append(schemas.get(name, {}))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    for name in set(schemas) - used:
        del schemas[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m query_api.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DOCUMENT, help="default: %(default)s")
    arguments = parser.parse_args(argv)
    document = openapi_document()
    path: Path = arguments.output
    if arguments.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != document:
            sys.stderr.write(f"{path} is stale: run python -m query_api.openapi\n")
            return 1
        return 0
    path.write_text(document, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
