"""Every benchmark still runs: ``python -m benchmarks NAME --smoke`` (tiny sizes) exits 0 and
prints its tables. A benchmark checks the work it measures (e.g. the read model each path
produced), so a smoke run that exits 0 also did the right work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKSPACE = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 120

# One entry per benchmark name (benchmarks/__main__.py); those needing PostgreSQL carry the
# postgres mark, and get the test server's admin URL as TEST_DATABASE_URL.
SMOKE_BENCHMARKS = [
    pytest.param("projection", marks=pytest.mark.postgres),
    pytest.param("replay", marks=pytest.mark.postgres),
    "package-size",
    "latency",
    pytest.param("cold-start", marks=pytest.mark.postgres),
]


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize("name", SMOKE_BENCHMARKS)
def test_the_benchmark_runs_at_smoke_size(name: str, request: pytest.FixtureRequest) -> None:
    environment = dict(os.environ)
    if request.node.get_closest_marker("postgres"):
        environment["TEST_DATABASE_URL"] = request.getfixturevalue("postgres_server_url")
    # The workspace root as working directory: ``-m benchmarks`` finds the root-level package.
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", name, "--smoke"],
        cwd=WORKSPACE,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "(smoke sizes: not figures)" in result.stdout
    tables = [line for line in result.stdout.splitlines() if line.startswith("### ")]
    assert tables, result.stdout
