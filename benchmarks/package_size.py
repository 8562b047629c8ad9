"""Lambda package size: every function the stacks deploy, its real zip, against Lambda's limits.

Each zip is built by ``platform_infra.packaging.build_lambda_package`` exactly as the stacks build
it (the builder's cache makes a repeated run cheap), then read back: zipped and unzipped size, the
largest top-level contributors, and whether it carries anything outside its runtime closure
(Pulumi, test or dev tools, bytecode caches, the AWS SDK the Lambda runtime provides).

Budgets (issue 10): unzipped under 15 MB for a function without a database driver, under 60 MB
for one with a driver (sqlalchemy + psycopg[binary] alone are about 33 MB for aarch64).
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from command_api import settings as command_api
from platform_infra.packaging import (
    RUNTIME_PROVIDED,
    UNZIPPED_LIMIT_BYTES,
    ZIP_LIMIT_BYTES,
    LambdaPackage,
    build_lambda_package,
)
from projection_balances import settings as projection_balances
from projection_transactions import settings as projection_transactions
from query_api import settings as query_api
from stream_relay import settings as stream_relay

from benchmarks.report import Table

MB: Final = 1024 * 1024
BUDGET_WITHOUT_DRIVER: Final = 15 * MB
BUDGET_WITH_DRIVER: Final = 60 * MB
TOP_CONTRIBUTORS: Final = 5

DATABASE_DRIVERS: Final = frozenset({"psycopg", "psycopg_binary", "psycopg2", "pg8000", "asyncpg"})
"""Top-level packages that make a function 'one with a database driver' for the budget."""
FORBIDDEN: Final = frozenset(
    {
        # deployment tooling
        "pulumi",
        "pulumi_aws",
        # test and dev tools
        "pytest",
        "_pytest",
        "pluggy",
        "moto",
        "hypothesis",
        "mypy",
        "mypyc",
        "ruff",
        "testcontainers",
        "platform_testing",
        # the SDK the Lambda runtime ships
        *RUNTIME_PROVIDED,
    }
)
"""Top-level names a Lambda zip must not carry (compared after normalising dist-info names)."""


@dataclass(frozen=True)
class Function:
    """One Lambda function a stack deploys: its zip's workspace member and its handler."""

    name: str
    member: str
    handler: str


FUNCTIONS: Final = (
    Function("command-api", command_api.MEMBER, command_api.HANDLER),
    Function("stream-relay", stream_relay.MEMBER, stream_relay.HANDLER),
    Function("projection-balances", projection_balances.MEMBER, projection_balances.HANDLER),
    Function(
        "projection-balances migration",
        projection_balances.MEMBER,
        projection_balances.MIGRATION_HANDLER,
    ),
    Function(
        "projection-transactions",
        projection_transactions.MEMBER,
        projection_transactions.HANDLER,
    ),
    Function(
        "projection-transactions migration",
        projection_transactions.MEMBER,
        projection_transactions.MIGRATION_HANDLER,
    ),
    Function("query-api", query_api.MEMBER, query_api.HANDLER),
)
"""The stacks' functions (each stack calls ``build_lambda_package(MEMBER)``; a projection's
migration function deploys the projection's own zip with another handler)."""
SMOKE_MEMBER: Final = stream_relay.MEMBER
"""Smoke runs build one small zip only."""

_DIST_INFO: Final = re.compile(r"^(?P<name>[^-]+)-[^-]+\.(dist-info|data)$")


@dataclass(frozen=True)
class Contents:
    """What a zip holds, read back from the zip itself."""

    zipped: int
    unzipped: int
    by_top_level: Counter[str]
    violations: tuple[str, ...]

    @property
    def has_driver(self) -> bool:
        return bool(DATABASE_DRIVERS & set(self.by_top_level))

    @property
    def budget(self) -> int:
        return BUDGET_WITH_DRIVER if self.has_driver else BUDGET_WITHOUT_DRIVER


def top_level(entry: str) -> str:
    """The distribution-level name an archive entry belongs to: ``pydantic_core-2.x.dist-info``
    and ``psycopg_binary.libs`` count with their package, ``typing_extensions.py`` as its
    module."""
    first = entry.split("/", 1)[0]
    if match := _DIST_INFO.match(first):
        return match["name"].lower().replace("-", "_").replace(".", "_")
    for suffix in (".libs", ".py", ".pth"):
        if first.endswith(suffix):
            return first.removesuffix(suffix)
    if ".cpython-" in first or first.endswith(".so"):
        return first.split(".", 1)[0]
    return first


def violations_in(names: Iterable[str]) -> list[str]:
    """What a zip carries outside its runtime closure, one line per kind of problem."""
    names = list(names)
    problems: list[str] = []
    tops = {top_level(name) for name in names}
    forbidden = sorted(tops & FORBIDDEN)
    if forbidden:
        problems.append(f"carries {', '.join(forbidden)}")
    caches = [n for n in names if "__pycache__/" in n or n.endswith((".pyc", ".pyo"))]
    if caches:
        problems.append(f"{len(caches)} bytecode cache files (e.g. {caches[0]})")
    tests = [n for n in names if "/tests/" in n or n.startswith("tests/")]
    if tests:
        problems.append(f"{len(tests)} files under tests/ (e.g. {tests[0]})")
    return problems


def inspect(package: LambdaPackage) -> Contents:
    with zipfile.ZipFile(package.path) as archive:
        infos = archive.infolist()
    by_top: Counter[str] = Counter()
    for info in infos:
        by_top[top_level(info.filename)] += info.file_size
    return Contents(
        zipped=package.zipped_bytes,
        unzipped=sum(info.file_size for info in infos),
        by_top_level=by_top,
        violations=tuple(violations_in(info.filename for info in infos)),
    )


def _members(functions: Sequence[Function]) -> Iterator[str]:
    seen: set[str] = set()
    for function in functions:
        if function.member not in seen:
            seen.add(function.member)
            yield function.member


def _mb(size: int) -> float:
    return size / MB


def run(smoke: bool) -> Iterable[Table]:
    functions = [f for f in FUNCTIONS if not smoke or f.member == SMOKE_MEMBER]
    built = {member: build_lambda_package(member) for member in _members(functions)}
    contents = {member: inspect(package) for member, package in built.items()}

    sizes = Table(
        "Lambda package size per function (arm64, Python 3.12 wheels)",
        [
            "function",
            "zip (member)",
            "zipped MB",
            "% of 50 MB",
            "unzipped MB",
            "% of 250 MB",
            "driver",
            "budget MB",
            "budget",
            "runtime closure only",
        ],
    )
    for function in functions:
        found = contents[function.member]
        sizes.add(
            function.name,
            function.member,
            _mb(found.zipped),
            100.0 * found.zipped / ZIP_LIMIT_BYTES,
            _mb(found.unzipped),
            100.0 * found.unzipped / UNZIPPED_LIMIT_BYTES,
            "yes" if found.has_driver else "no",
            _mb(found.budget),
            "met" if found.unzipped < found.budget else "NOT met",
            "yes" if not found.violations else "; ".join(found.violations),
        )
    sizes.notes.append(
        "MB = MiB. Budgets (issue 10): unzipped under 15 MB without a database driver, under 60 MB "
        "with one; Lambda's limits are 50 MB zipped (direct upload) and 250 MB unzipped."
    )
    sizes.notes.append(
        "Runtime closure only: no pulumi, no test or dev tools (pytest, moto, hypothesis, mypy, "
        "ruff, platform_testing), no __pycache__/.pyc, no tests/ folders, no boto3/botocore/"
        "s3transfer (the Lambda runtime provides the SDK)."
    )
    if smoke:
        sizes.notes.append(f"Smoke run: only {SMOKE_MEMBER}'s zip was built.")
    yield sizes

    contributors = Table(
        f"Largest contributors per zip (top {TOP_CONTRIBUTORS} top-level packages, unzipped)",
        ["zip (member)", "package", "unzipped MB", "% of zip"],
    )
    for member, found in contents.items():
        for name, size in found.by_top_level.most_common(TOP_CONTRIBUTORS):
            contributors.add(member, name, _mb(size), 100.0 * size / found.unzipped)
    contributors.notes.append(
        "A package's dist-info and bundled shared libraries (*.libs) count with it."
    )
    yield contributors
