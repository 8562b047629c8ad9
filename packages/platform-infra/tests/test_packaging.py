"""Lambda zips hold the runtime closure only, are byte-for-byte reproducible, and import alone."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from platform_infra import packaging
from platform_infra.packaging import (
    BuildTarget,
    LambdaPackage,
    PackagingError,
    build_lambda_package,
    find_workspace_root,
)

WORKSPACE = Path(__file__).resolve().parents[3]

IMPORT_ALONE = """
import sys
folder = sys.argv[1]
sys.path.insert(0, folder)
import platform_events, platform_events.layout, platform_events.envelope, pydantic
for module in (platform_events, pydantic):
    assert module.__file__.startswith(folder), module.__file__
assert "boto3" not in sys.modules
print(platform_events.layout.event_store_key_schema()["KeySchema"][0]["AttributeName"])
"""


def names_in(package: LambdaPackage) -> list[str]:
    with zipfile.ZipFile(package.path) as archive:
        return archive.namelist()


@pytest.mark.subprocess
@pytest.mark.slow
def test_a_host_build_imports_with_nothing_but_the_unzipped_folder_on_the_path(
    tmp_path: Path,
) -> None:
    package = build_lambda_package(
        "platform-events",
        target=BuildTarget.host(),
        workspace_root=WORKSPACE,
        cache_dir=tmp_path / "cache",
    )
    unzipped = tmp_path / "unzipped"
    unzipped.mkdir()
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(unzipped)
    # -I: no environment variables, no user site, no script folder; -S: no site-packages.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_ALONE, str(unzipped)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stream_id"


@pytest.mark.subprocess
@pytest.mark.slow
def test_a_lambda_build_has_arm64_wheels_and_leaves_the_aws_sdk_to_the_runtime(
    tmp_path: Path,
) -> None:
    package = build_lambda_package(
        "platform-events", extras=["dynamodb"], workspace_root=WORKSPACE, cache_dir=tmp_path
    )
    names = names_in(package)
    top_level = {name.split("/")[0] for name in names}
    assert not {"boto3", "botocore", "s3transfer", "jmespath", "dateutil"} & top_level
    assert {"platform_events", "pydantic", "pydantic_core"} <= top_level
    assert any(
        name.startswith("pydantic_core/") and name.endswith(".cpython-312-aarch64-linux-gnu.so")
        for name in names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("bin/") or n.endswith(".dist-info/RECORD")]
    assert package.target.lambda_runtime == "python3.12"
    assert package.target.lambda_architecture == "arm64"
    assert package.unzipped_bytes < 15 * 1024 * 1024


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_same_sources_build_the_same_bytes_and_a_second_build_is_a_cache_hit(
    tmp_path: Path,
) -> None:
    first = build_lambda_package(
        "platform-events",
        target=BuildTarget.host(),
        workspace_root=WORKSPACE,
        cache_dir=tmp_path / "a",
    )
    second = build_lambda_package(
        "platform-events",
        target=BuildTarget.host(),
        workspace_root=WORKSPACE,
        cache_dir=tmp_path / "b",
    )
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()
    built_at = second.path.stat().st_mtime_ns
    again = build_lambda_package(
        "platform-events",
        target=BuildTarget.host(),
        workspace_root=WORKSPACE,
        cache_dir=tmp_path / "b",
    )
    assert again.path == second.path
    assert again.path.stat().st_mtime_ns == built_at


def test_an_unknown_member_is_a_packaging_error(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="uv export"):
        build_lambda_package("no-such-member", workspace_root=WORKSPACE, cache_dir=tmp_path)


def test_the_zip_is_sorted_with_fixed_times_and_normalised_permissions(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "b.py").write_text("B = 1\n")
    (site / "pkg" / "a.py").write_text("A = 1\n")
    tool = site / "pkg" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    (site / "pkg" / "a.py").chmod(0o600)
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    packaging._write_zip(site, first)
    os.utime(site / "pkg" / "a.py", (0, 0))
    packaging._write_zip(site, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ["pkg/a.py", "pkg/b.py", "pkg/tool"]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert modes == {"pkg/a.py": 0o100644, "pkg/b.py": 0o100644, "pkg/tool": 0o100755}


def test_stripping_removes_what_never_runs_and_keeps_licences_and_metadata(tmp_path: Path) -> None:
    site = tmp_path / "site"
    files = [
        "pkg/__init__.py",
        "pkg/__pycache__/__init__.cpython-312.pyc",
        "pkg/tests/test_pkg.py",
        "pkg/stale.pyc",
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.dist-info/INSTALLER",
        "pkg-1.0.dist-info/uv_cache.json",
        "pkg-1.0.dist-info/licenses/LICENSE",
        "bin/pkg-cli",
        ".lock",
        "tests/keep_top_level_module_named_tests.py",
    ]
    for name in files:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("x")
    packaging._strip(site)
    left = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert left == [
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/licenses/LICENSE",
        "pkg/__init__.py",
        "tests/keep_top_level_module_named_tests.py",
    ]


def test_the_source_code_hash_is_the_base64_sha256_lambda_reports(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"zip bytes")
    digest = hashlib.sha256(b"zip bytes")
    package = LambdaPackage(
        member="x",
        path=path,
        sha256=digest.hexdigest(),
        target=BuildTarget.lambda_arm64(),
        unzipped_bytes=9,
    )
    assert package.source_code_hash == base64.b64encode(digest.digest()).decode()
    assert package.zipped_bytes == 9


def test_the_workspace_root_is_found_from_any_member_folder(tmp_path: Path) -> None:
    assert find_workspace_root(WORKSPACE / "infra") == WORKSPACE
    assert find_workspace_root(Path(__file__).parent) == WORKSPACE
    with pytest.raises(PackagingError, match="no uv workspace"):
        find_workspace_root(tmp_path)


def test_sources_outside_the_wheel_do_not_change_the_cache_key(tmp_path: Path) -> None:
    member = tmp_path / "member"
    (member / "src" / "pkg").mkdir(parents=True)
    (member / "pyproject.toml").write_text("[project]\nname = 'member'\n")
    (member / "src" / "pkg" / "__init__.py").write_text("X = 1\n")
    before = packaging._tree_digest(member)
    for junk in ("tests/test_x.py", "src/pkg/__pycache__/x.pyc", ".venv/lib/x.py", "dist/x.whl"):
        (member / junk).parent.mkdir(parents=True, exist_ok=True)
        (member / junk).write_text("junk")
    assert packaging._tree_digest(member) == before
    (member / "src" / "pkg" / "__init__.py").write_text("X = 2\n")
    assert packaging._tree_digest(member) != before


IMPORT_HANDLER = """
import importlib, sys
folder, module_name = sys.argv[1], sys.argv[2]
sys.path.insert(0, folder)
module = importlib.import_module(module_name)
assert module.__file__.startswith(folder), module.__file__
assert callable(module.lambda_handler)
foreign = [name for name, loaded in sys.modules.items()
           if getattr(loaded, "__file__", None) and "site-packages" in loaded.__file__
           and not loaded.__file__.startswith(folder)]
assert not foreign, foreign
assert "pulumi" not in sys.modules
print(module_name)
"""


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize(
    ("member", "handler_module"),
    [
        ("command-api", "command_api.handler"),
        ("stream-relay", "stream_relay.handler"),
        ("projection-balances", "projection_balances.handler"),
        ("projection-transactions", "projection_transactions.handler"),
        ("query-api", "query_api.handler"),
    ],
)
def test_each_function_zip_imports_its_handler_with_nothing_else_on_the_path(
    tmp_path: Path, member: str, handler_module: str
) -> None:
    # The host has no Lambda runtime to provide the AWS SDK, so this build carries it.
    package = build_lambda_package(
        member,
        target=BuildTarget.host(),
        exclude=(),
        workspace_root=WORKSPACE,
        cache_dir=tmp_path / "cache",
    )
    unzipped = tmp_path / "unzipped"
    unzipped.mkdir()
    with zipfile.ZipFile(package.path) as archive:
        archive.extractall(unzipped)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_HANDLER, str(unzipped), handler_module],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == handler_module
