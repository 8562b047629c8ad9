from __future__ import annotations

import json
import subprocess
import sys

import pytest

import account_events  # registers the sample domain's types
from platform_events.schema import json_schemas, main


def test_every_registered_payload_and_the_envelope_are_exported() -> None:
    document = json_schemas()
    assert set(document["events"]) >= {f"{name}.v1" for name in account_events.ACCOUNT_EVENT_TYPES}
    deposited = document["events"]["MoneyDeposited.v1"]
    assert deposited["properties"]["amount"]["type"] == "string"
    assert deposited["x-aggregate-type"] == "Account"
    assert set(document["envelope"]["properties"]) == {
        "event_id",
        "event_type",
        "schema_version",
        "stream_id",
        "aggregate_type",
        "version",
        "occurred_at",
        "correlation_id",
        "causation_id",
        "payload",
        "metadata",
    }


def test_the_command_line_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--import", "account_events"]) == 0
    assert "AccountOpened.v1" in json.loads(capsys.readouterr().out)["events"]


@pytest.mark.subprocess
def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "platform_events.schema", "--import", "account_events"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "MoneyWithdrawn.v1" in json.loads(result.stdout)["events"]
