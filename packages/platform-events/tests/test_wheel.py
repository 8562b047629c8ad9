"""The built wheel installs in a fresh virtualenv with only its declared dependencies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

ROUND_TRIP = """
import sys
from datetime import datetime, timezone
from uuid import uuid4
import platform_events
from platform_events import EventEnvelope, decode_message_body, sns_batch_entry
assert "boto3" not in sys.modules, "importing platform_events must not import boto3"
envelope = EventEnvelope(
    event_id=uuid4(), event_type="MoneyDeposited", schema_version=1, stream_id="a",
    aggregate_type="Account", version=1, occurred_at=datetime.now(timezone.utc),
    correlation_id="c", payload={"amount": "12.50"},
)
assert decode_message_body(sns_batch_entry(envelope, "0")["Message"]) == envelope
print("round-trip ok")
"""


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_wheel_round_trips_an_envelope_in_a_clean_virtualenv(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is on PATH wherever the workspace is synced"
    dist = tmp_path / "dist"
    subprocess.run(
        [uv, "build", "--package", "platform-events", "--wheel", "--out-dir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("platform_events-*.whl")
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), str(wheel)], check=True, capture_output=True
    )
    installed = subprocess.run(
        [uv, "pip", "freeze", "--python", str(python)], check=True, capture_output=True, text=True
    ).stdout
    names = {line.split("==")[0].lower() for line in installed.splitlines() if line}
    assert "boto3" not in names  # only the declared core dependencies
    result = subprocess.run(
        [str(python), "-I", "-c", ROUND_TRIP], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "round-trip ok"
    assert list(venv.glob("lib/python*/site-packages/platform_events/py.typed"))
