"""Swagger UI at /docs, loaded by a real headless browser, lists the command API's operations."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest

pytestmark = [pytest.mark.subprocess, pytest.mark.slow]

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)


@pytest.mark.skipif(
    BROWSER is None,
    reason="NO BROWSER: install Debian's chromium (apt-get install chromium) to run this test",
)
def test_swagger_ui_renders_the_operations(runner: Any, tmp_path: Any) -> None:
    runner.start()
    assert BROWSER is not None
    rendered = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            # This machine has no route out: keep Chromium from trying.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{runner.url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for path in ("/accounts/{account_id}/deposits", "/accounts/{account_id}/withdrawals"):
        assert path in rendered, f"{path} not rendered by Swagger UI"
    assert "command-api" in rendered
