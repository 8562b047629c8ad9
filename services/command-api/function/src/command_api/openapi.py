"""The OpenAPI 3.1 document of the command API, generated from the operation table and the
pydantic models that validate requests and shape answers.

    uv run --package command-api python -m command_api.openapi           # rewrite openapi.json
    uv run --package command-api python -m command_api.openapi --check   # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from command_api.executor import IDEMPOTENT_REPLAYED
from command_api.http.models import CommandResult, MoneyRequest, OpenAccountRequest
from command_api.http.preconditions import IF_MATCH
from command_api.http.problems import PROBLEM_JSON, PROBLEMS, Problem, ProblemCode, problem
from command_api.http.replies import APPLICATION_JSON
from command_api.http.requests import (
    CORRELATION_ID,
    HEADER_ID_CHARACTERS,
    IDEMPOTENCY_KEY,
    MAX_HEADER_ID_LENGTH,
)
from command_api.http.routes import ACCOUNT_ID_PARAM, OPERATIONS, Operation

DOCUMENT_PATH: Final = Path(__file__).resolve().parents[2] / "openapi.json"
"""``services/command-api/function/openapi.json`` in the workspace."""
TITLE: Final = "command-api"
API_VERSION: Final = "1.0.0"
_SCHEMAS: Final = "#/components/schemas/"
_PARAMETERS: Final = "#/components/parameters/"
_HEADERS: Final = "#/components/headers/"


def document() -> dict[str, Any]:
    """The whole document, as JSON-compatible data."""
    inputs: list[type[BaseModel]] = [OpenAccountRequest, MoneyRequest]
    outputs: list[type[BaseModel]] = [CommandResult, Problem]
    _, definitions = models_json_schema(
        [(model, "validation") for model in inputs]
        + [(model, "serialization") for model in outputs],
        ref_template=_SCHEMAS + "{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": API_VERSION,
            "description": (
                "Commands on bank accounts; each accepted command records events in the event "
                "store. Every error is application/problem+json with a machine-readable `code`. "
                f"Bodies over 16 KiB are refused. `{IDEMPOTENCY_KEY}` makes a command safe to "
                f"retry; `{IF_MATCH}` guards it with the account's version (its ETag)."
            ),
        },
        "paths": _paths(),
        "components": {
            "schemas": definitions["$defs"],
            "parameters": _parameters(),
            "headers": _headers(),
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4 (IAM authorization, the default)",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
                "jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "when the stack is deployed with a JWT authorizer instead",
                },
            },
        },
        "security": [{"sigv4": []}, {"jwt": []}],
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return paths


def _operation(operation: Operation) -> dict[str, Any]:
    parameters = [{"$ref": f"{_PARAMETERS}{name}"} for name in ("IdempotencyKey", "CorrelationId")]
    if operation.takes_account_id:
        parameters = [
            {"$ref": f"{_PARAMETERS}AccountId"},
            {"$ref": f"{_PARAMETERS}IfMatch"},
            *parameters,
        ]
    spec: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "parameters": parameters,
    }
    if operation.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {
                APPLICATION_JSON: {"schema": {"$ref": f"{_SCHEMAS}{operation.body.__name__}"}}
            },
        }
    success_headers = {
        "ETag": {"$ref": f"{_HEADERS}ETag"},
        IDEMPOTENT_REPLAYED: {"$ref": f"{_HEADERS}IdempotentReplayed"},
        CORRELATION_ID: {"$ref": f"{_HEADERS}CorrelationId"},
    }
    if operation.method == "POST" and not operation.takes_account_id:
        success_headers["Location"] = {"$ref": f"{_HEADERS}Location"}
    responses: dict[str, Any] = {
        str(operation.success.value): {
            "description": "the command was accepted; its events are recorded",
            "headers": success_headers,
            "content": {APPLICATION_JSON: {"schema": {"$ref": f"{_SCHEMAS}CommandResult"}}},
        }
    }
    for status, codes in _by_status(operation.problems).items():
        responses[str(status)] = _problem_response(codes)
    spec["responses"] = dict(sorted(responses.items()))
    return spec


def _by_status(codes: Sequence[ProblemCode]) -> dict[int, list[ProblemCode]]:
    grouped: dict[int, list[ProblemCode]] = {}
    for code in codes:
        grouped.setdefault(PROBLEMS[code].status.value, []).append(code)
    return grouped


def _problem_response(codes: Sequence[ProblemCode]) -> dict[str, Any]:
    return {
        "description": "; ".join(f"`{code.value}`: {PROBLEMS[code].title}" for code in codes),
        "content": {
            PROBLEM_JSON: {
                "schema": {
                    "allOf": [
                        {"$ref": f"{_SCHEMAS}Problem"},
                        {"properties": {"code": {"enum": [code.value for code in codes]}}},
                    ]
                },
                "examples": {
                    code.value: {"value": problem(code, "…").model_dump(mode="json")}
                    for code in codes
                },
            }
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        "AccountId": {
            "name": ACCOUNT_ID_PARAM,
            "in": "path",
            "required": True,
            "description": "lower-case canonical UUID; anything else is 404 account_not_found",
            "schema": {"type": "string", "format": "uuid"},
        },
        "IdempotencyKey": {
            "name": IDEMPOTENCY_KEY,
            "in": "header",
            "required": False,
            "description": (
                "the same key with the same request answers the first answer again (header "
                f"{IDEMPOTENT_REPLAYED}: true) and records nothing new; with another request it "
                "is 422 idempotency_key_reused. Keys belong to their caller (the IAM principal "
                "that signed the request, a role's sessions being one principal, or a JWT's "
                "issuer and subject): another caller's same key is another key, never answered "
                "with this caller's answer nor refused with 422"
            ),
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_HEADER_ID_LENGTH,
                "pattern": f"^{HEADER_ID_CHARACTERS}+$",
            },
        },
        "IfMatch": {
            "name": IF_MATCH,
            "in": "header",
            "required": False,
            "description": (
                '`*` or entity-tags like `"3"` (the account\'s version); 412 version_mismatch '
                "when none matches, 422 validation_error when the header is malformed"
            ),
            "schema": {"type": "string", "examples": ['"3"']},
        },
        "CorrelationId": {
            "name": CORRELATION_ID,
            "in": "header",
            "required": False,
            "description": "recorded on the events; defaults to API Gateway's request id",
            "schema": {
                "type": "string",
                "maxLength": MAX_HEADER_ID_LENGTH,
                "pattern": f"^{HEADER_ID_CHARACTERS}*$",
            },
        },
    }


def _headers() -> dict[str, Any]:
    return {
        "ETag": {
            "description": 'the account\'s version after the command, as `"<version>"`',
            "schema": {"type": "string"},
        },
        "Location": {
            "description": "the new account, `/accounts/{account_id}`",
            "schema": {"type": "string"},
        },
        "IdempotentReplayed": {
            "description": "`true` when this is the stored first answer of the Idempotency-Key",
            "schema": {"type": "string", "enum": ["true"]},
        },
        "CorrelationId": {
            "description": "the correlation id recorded on the events",
            "schema": {"type": "string"},
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m command_api.openapi", description=__doc__)
    parser.add_argument("--output", type=Path, default=DOCUMENT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            sys.stderr.write(f"{args.output} is stale: run python -m command_api.openapi\n")
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
