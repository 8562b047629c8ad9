"""The committed OpenAPI document is the one the code generates."""

from __future__ import annotations

import json
import subprocess
import sys

from query_api.openapi import DOCUMENT, main, openapi_document


def test_the_committed_document_is_current():
    assert DOCUMENT.read_text(encoding="utf-8") == openapi_document(), (
        "openapi.json is stale: run `uv run --package query-api python -m query_api.openapi`"
    )


def test_the_document_describes_the_contracts_queries():
    document = json.loads(openapi_document())

    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/accounts",
        "/accounts/{account_id}",
        "/accounts/{account_id}/transactions",
    }
    listing = document["paths"]["/accounts"]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} >= {
        "owner",
        "status",
        "limit",
        "cursor",
    }
    assert set(listing["responses"]) == {"200", "304", "422", "503"}
    account = document["components"]["schemas"]["Account"]
    assert set(account["properties"]) == {
        "account_id",
        "owner",
        "currency",
        "balance",
        "status",
        "version",
        "updated_at",
    }
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}


def test_the_document_describes_the_transactions_query():
    document = json.loads(openapi_document())

    listing = document["paths"]["/accounts/{account_id}/transactions"]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} >= {
        "account_id",
        "limit",
        "cursor",
    }
    assert set(listing["responses"]) == {"200", "304", "404", "422", "503"}
    transaction = document["components"]["schemas"]["Transaction"]
    assert set(transaction["properties"]) == {
        "event_id",
        "type",
        "amount",
        "balance_after",
        "reference",
        "occurred_at",
        "version",
    }
    assert transaction["properties"]["type"]["enum"] == ["deposit", "withdrawal"]
    page = document["components"]["schemas"]["TransactionPage"]
    assert set(page["properties"]) == {"items", "next_cursor"}


def test_the_check_command_fails_on_a_stale_file_and_rewriting_fixes_it(tmp_path):
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")

    assert main(["--check", "--output", str(stale)]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--check", "--output", str(stale)]) == 0


def test_the_module_runs_as_a_command(tmp_path):
    target = tmp_path / "openapi.json"

    subprocess.run([sys.executable, "-m", "query_api.openapi", "--output", str(target)], check=True)

    assert target.read_text(encoding="utf-8") == openapi_document()
