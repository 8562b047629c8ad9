"""The committed OpenAPI document is the one the code generates, and it describes every route
and every problem the routes can answer."""

from __future__ import annotations

import json
from pathlib import Path

from command_api import openapi
from command_api.http.problems import PROBLEMS, ProblemCode
from command_api.http.routes import OPERATIONS

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"


def test_the_committed_document_is_up_to_date() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi.render(), (
        "openapi.json is stale: run `uv run --package command-api python -m command_api.openapi`"
    )


def test_the_check_mode_tells_a_stale_file(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert openapi.main(["--check", "--output", str(target)]) == 1
    assert openapi.main(["--output", str(target)]) == 0
    assert openapi.main(["--check", "--output", str(target)]) == 0
    assert json.loads(target.read_text()) == openapi.document()


def test_every_operation_is_documented_with_its_success_and_problems() -> None:
    paths = openapi.document()["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert documented == {(op.method, op.path) for op in OPERATIONS}
    for op in OPERATIONS:
        responses = paths[op.path][op.method.lower()]["responses"]
        assert str(op.success.value) in responses
        for code in op.problems:
            answer = responses[str(PROBLEMS[code].status.value)]
            schema = answer["content"]["application/problem+json"]["schema"]
            assert code.value in schema["allOf"][1]["properties"]["code"]["enum"]


def test_the_contract_error_table_is_documented() -> None:
    document = json.dumps(openapi.document())
    for code in [
        "invalid_json",
        "payload_too_large",
        "validation_error",
        "account_not_found",
        "insufficient_funds",
        "account_closed",
        "account_not_empty",
        "concurrency_conflict",
        "version_mismatch",
        "idempotency_key_reused",
    ]:
        assert ProblemCode(code).value in document


def test_request_bodies_are_the_validating_models() -> None:
    schemas = openapi.document()["components"]["schemas"]
    assert set(schemas["OpenAccountRequest"]["required"]) == {"owner", "currency"}
    assert schemas["MoneyRequest"]["required"] == ["amount"]
    assert schemas["OpenAccountRequest"]["additionalProperties"] is False
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail", "code"}


def test_every_local_reference_resolves() -> None:
    document = openapi.document()
    references: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    references.append(value)
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(document)
    assert references
    for reference in references:
        node: object = document
        for part in reference.removeprefix("#/").split("/"):
            assert isinstance(node, dict)
            assert part in node, reference
            node = node[part]
