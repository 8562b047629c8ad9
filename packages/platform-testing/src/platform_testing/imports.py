"""What a Lambda's cold start imports: the modules a fresh interpreter holds after importing a
handler module, for tests that guard the handlers' import structure (by name, not by time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

NEVER_AT_RUNTIME: Final = frozenset(
    {
        # deployment
        "pulumi",
        "pulumi_aws",
        "platform_infra",
        # tests and emulators
        "pytest",
        "_pytest",
        "hypothesis",
        "moto",
        "testcontainers",
        "platform_testing",
        # the X-Ray SDK: loaded only when a function's tracing is on
        "aws_xray_sdk",
    }
)
"""Top-level packages no handler may import: none of them belongs in a Lambda's cold start."""

LAMBDA_ONLY_VARIABLES: Final = ("AWS_LAMBDA_FUNCTION_NAME",)
"""Set by Lambda; some handlers wire themselves at import when they see it, which needs their
whole environment. Importing without it shows the import alone."""

_CHILD: Final = (
    "import gc, importlib, json, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(json.dumps({'modules': sorted(sys.modules), 'collecting': gc.isenabled(),"
    " 'frozen': gc.get_freeze_count()}))\n"
)


@dataclass(frozen=True)
class AfterImport:
    """A fresh interpreter's state once it imported a module."""

    modules: frozenset[str]
    """Every module in ``sys.modules``."""
    collecting: bool
    """Whether the garbage collector is on (a handler pauses it while it loads, then resumes)."""
    frozen: int
    """Objects moved out of the collector's reach by ``gc.freeze()``."""

    @property
    def packages(self) -> frozenset[str]:
        return top_level(self.modules)


def after_import(module: str, environ: Mapping[str, str] | None = None) -> AfterImport:
    """Import ``module`` in a fresh interpreter and say what it left behind."""
    env = dict(os.environ if environ is None else environ)
    for name in LAMBDA_ONLY_VARIABLES:
        env.pop(name, None)
    finished = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", _CHILD, module],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if finished.returncode != 0:
        msg = f"importing {module} failed:\n{finished.stderr}"
        raise AssertionError(msg)
    state = json.loads(finished.stdout)
    modules = frozenset(state["modules"])
    if module not in modules:
        msg = f"{module} is not among the modules its import left behind"
        raise AssertionError(msg)
    return AfterImport(modules, bool(state["collecting"]), int(state["frozen"]))


def top_level(modules: Iterable[str]) -> frozenset[str]:
    """The top-level packages of dotted module names."""
    return frozenset(name.partition(".")[0] for name in modules)


def handler_module(handler: str) -> str:
    """``package.module.function`` (a Lambda handler setting) -> ``package.module``."""
    module, _, function = handler.rpartition(".")
    if not module or not function:
        msg = f"not a handler setting (module.function): {handler!r}"
        raise ValueError(msg)
    return module


REPLAY_MACHINERY: Final = frozenset(
    {"platform_replay.definition", "platform_replay.progress", "platform_replay.cli"}
)
"""The state machine's definition and the progress reader: the replay's, not a projection
function's (it applies control messages, ``platform_replay.control``, only)."""


def assert_projection_function_imports(package: str, handler: str, migration_handler: str) -> None:
    """What every projection service's two functions may load at a cold start: their own package,
    no tooling, tests, tracing or replay machinery; the projection function not the migration
    entry point; the collector back on with the import's objects frozen."""
    for name in (handler, migration_handler):
        state = after_import(handler_module(name))
        assert package in state.packages, name
        assert state.packages.isdisjoint(NEVER_AT_RUNTIME), name
        assert state.modules.isdisjoint(REPLAY_MACHINERY), name
        assert state.collecting, f"{name}: the garbage collector is still paused"
        assert state.frozen > 0, f"{name}: nothing the import made was frozen"
        if name == handler:
            assert "platform_projections.migration_entry" not in state.modules
            assert "argparse" not in state.modules
