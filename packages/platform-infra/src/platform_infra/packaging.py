"""Build the Lambda zip of a workspace member: its runtime closure only, byte-for-byte stable.

``build_lambda_package("stream-relay")`` does, from the workspace root:

1. ``uv export --package stream-relay --no-dev --frozen --no-emit-workspace --prune boto3 ...``:
   the member's third-party closure pinned by ``uv.lock``, with hashes, minus the AWS SDK that the
   Lambda runtime ships (``RUNTIME_PROVIDED``; see docs/deploy.md for why) and whatever only the
   SDK needed.
2. ``uv pip install --target DIR --no-deps --require-hashes --only-binary :all:
   --python-platform aarch64-manylinux_2_34 --python-version 3.12``: wheels for the Lambda
   runtime, whatever machine builds.
3. ``uv build --package X --wheel`` for the member and each workspace member it depends on, then
   the same install of those wheels: our own code goes in non-editable, exactly as released.
4. Strips what never runs (``__pycache__``, console scripts, nested ``tests`` folders, install
   receipts) and writes a deterministic zip: sorted entries, fixed timestamps and permissions.

The zip is cached under ``<workspace>/.local/lambda-packages`` by a hash of everything that goes
into it (the export, the sources of the workspace members, the target), so a repeated
``pulumi preview`` of an unchanged service neither rebuilds nor redeploys.

No Pulumi import here: the builder is usable from scripts and benchmarks too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LAMBDA_PYTHON_VERSION: Final = "3.12"
LAMBDA_PLATFORM: Final = "aarch64-manylinux_2_34"
"""The python3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34); naming it exactly accepts every
wheel that runs there, including manylinux_2_28 ones that a manylinux2014 target would refuse."""

RUNTIME_PROVIDED: Final = ("boto3", "botocore", "s3transfer")
"""Pruned from every zip by default: the Lambda Python runtime ships the SDK (docs/deploy.md)."""

ZIP_LIMIT_BYTES: Final = 50 * 1024 * 1024
"""Largest zip Lambda accepts as a direct upload."""
UNZIPPED_LIMIT_BYTES: Final = 250 * 1024 * 1024
"""Largest unzipped deployment package (all layers included) Lambda accepts."""

_FORMAT_VERSION: Final = "2"
"""Bumped whenever the builder changes what it puts in a zip, so cached zips are rebuilt."""
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_OUTSIDE_THE_WHEEL: Final = frozenset({"tests", "dist", "build"})
_RECEIPTS: Final = frozenset(
    {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json"}
)


class PackagingError(RuntimeError):
    """A package could not be built (uv failed, or the result breaks a Lambda limit)."""


@dataclass(frozen=True)
class BuildTarget:
    """The interpreter and platform the zip's wheels are chosen for."""

    python_version: str
    platform: str | None
    """A ``uv pip install --python-platform`` value; ``None`` builds for this machine."""

    @classmethod
    def lambda_arm64(cls, python_version: str = LAMBDA_PYTHON_VERSION) -> BuildTarget:
        return cls(python_version=python_version, platform=LAMBDA_PLATFORM)

    @classmethod
    def host(cls) -> BuildTarget:
        """This interpreter on this machine: for tests that import the unzipped package."""
        return cls(python_version=f"{sys.version_info[0]}.{sys.version_info[1]}", platform=None)

    @property
    def lambda_runtime(self) -> str:
        """The Lambda runtime identifier matching this target (``python3.12``)."""
        return f"python{self.python_version}"

    @property
    def lambda_architecture(self) -> str | None:
        """``arm64`` or ``x86_64``; ``None`` for a host build, which is not meant for Lambda."""
        if self.platform is None:
            return None
        return "arm64" if self.platform.startswith("aarch64") else "x86_64"


@dataclass(frozen=True)
class LambdaPackage:
    """A built zip and what Lambda needs to know about it."""

    member: str
    path: Path
    sha256: str
    """Hex SHA-256 of the zip."""
    target: BuildTarget
    unzipped_bytes: int

    @property
    def source_code_hash(self) -> str:
        """Base64 SHA-256 of the zip: what Lambda reports as ``CodeSha256``."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    @property
    def zipped_bytes(self) -> int:
        return self.path.stat().st_size


def build_lambda_package(
    member: str,
    *,
    target: BuildTarget | None = None,
    extras: Sequence[str] = (),
    exclude: Sequence[str] = RUNTIME_PROVIDED,
    workspace_root: Path | None = None,
    cache_dir: Path | None = None,
) -> LambdaPackage:
    """Build (or take from the cache) the Lambda zip of workspace member ``member``.

    ``extras`` are the member's optional dependency groups to include; ``exclude`` names packages
    pruned with every dependency only they need (default: the AWS SDK the runtime provides).
    """
    target = target or BuildTarget.lambda_arm64()
    root = workspace_root or find_workspace_root(Path.cwd())
    uv = shutil.which("uv")
    if uv is None:
        raise PackagingError("uv is not on PATH")
    cache = cache_dir or root / ".local" / "lambda-packages"
    export = [uv, "export", "--package", member, "--no-dev", "--frozen", "--no-header"]
    export += ["--no-annotate", "--format", "requirements.txt"]
    export += [f"--extra={extra}" for extra in extras]
    export += [f"--prune={name}" for name in sorted(exclude)]
    requirements = _run([*export, "--no-emit-workspace"], root)
    members = _workspace_members(_run([*export, "--no-hashes", "--no-editable"], root), root)

    key = hashlib.sha256()
    for part in (_FORMAT_VERSION, repr(target), requirements):
        key.update(part.encode() + b"\0")
    for directory in members:
        key.update(directory.relative_to(root).as_posix().encode() + b"\0")
        key.update(_tree_digest(directory).encode() + b"\0")
    zip_path = cache / f"{member}-{key.hexdigest()[:24]}.zip"

    if not zip_path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{member}-", dir=cache) as scratch:
            work = Path(scratch)
            site = work / "site"
            site.mkdir()
            install = [uv, "pip", "install", "--target", str(site), "--no-deps", "--quiet"]
            install += ["--python", sys.executable, "--python-version", target.python_version]
            install += ["--only-binary", ":all:", "--link-mode", "copy"]
            if target.platform is not None:
                install += ["--python-platform", target.platform]
            if requirements.strip():
                requirements_file = work / "requirements.txt"
                requirements_file.write_text(requirements)
                _run([*install, "--require-hashes", "-r", str(requirements_file)], root)
            wheels = work / "wheels"
            for name in _member_names(members):
                _run([uv, "build", "--package", name, "--wheel", "--out-dir", str(wheels)], root)
            _run([*install, *sorted(str(wheel) for wheel in wheels.glob("*.whl"))], root)
            _strip(site)
            unzipped = sum(path.stat().st_size for path in _files(site))
            if unzipped > UNZIPPED_LIMIT_BYTES:
                raise PackagingError(f"{member} unzips to {unzipped} bytes, over Lambda's limit")
            partial = work / "package.zip"
            _write_zip(site, partial)
            if partial.stat().st_size > ZIP_LIMIT_BYTES:
                raise PackagingError(f"{member}'s zip is over Lambda's direct upload limit")
            os.replace(partial, zip_path)

    return LambdaPackage(
        member=member,
        path=zip_path,
        sha256=_file_sha256(zip_path),
        target=target,
        unzipped_bytes=_unzipped_size(zip_path),
    )


def find_workspace_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` whose pyproject.toml declares the uv workspace."""
    for folder in (start.resolve(), *start.resolve().parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            config = tomllib.loads(pyproject.read_text())
            if "workspace" in config.get("tool", {}).get("uv", {}):
                return folder
    raise PackagingError(f"no uv workspace at or above {start}")


def _run(command: Sequence[str], cwd: Path) -> str:
    result = subprocess.run(  # noqa: S603 - our own uv, arguments from code, no shell
        list(command), cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PackagingError(f"{' '.join(command[:3])} failed:\n{result.stderr.strip()}")
    return result.stdout


def _workspace_members(export: str, root: Path) -> list[Path]:
    """The local (workspace) projects listed by a ``--no-editable`` export."""
    folders = []
    for line in export.splitlines():
        requirement = line.split(";", 1)[0].strip()
        if requirement.startswith(("./", "/")) or requirement == ".":
            folders.append((root / requirement).resolve())
    return sorted(folders)


def _member_names(folders: Iterable[Path]) -> list[str]:
    return [
        tomllib.loads((folder / "pyproject.toml").read_text())["project"]["name"]
        for folder in folders
    ]


def _tree_digest(folder: Path) -> str:
    """A hash of a member's sources: every file but tests, caches and build output."""
    digest = hashlib.sha256()
    for path in sorted(_files(folder)):
        relative = path.relative_to(folder)
        folders = relative.parts[:-1]
        if (
            (folders and folders[0] in _OUTSIDE_THE_WHEEL)
            # stripped from the zip wherever they are (see _strip), so they cannot change it
            or {"tests", "__pycache__"}.intersection(folders)
            or any(part.startswith(".") for part in relative.parts)
            or path.suffix == ".pyc"
        ):
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(_file_sha256(path).encode() + b"\0")
    return digest.hexdigest()


def _strip(site: Path) -> None:
    """Remove what a Lambda never runs: bytecode, console scripts, tests, install receipts."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for hidden in site.glob(".*"):  # uv's install lock, never imported
        if hidden.is_file():
            hidden.unlink()
    for folder in sorted(site.rglob("*"), reverse=True):
        if not folder.is_dir():
            continue
        depth = len(folder.relative_to(site).parts)
        if folder.name == "__pycache__" or (folder.name == "tests" and depth > 1):
            shutil.rmtree(folder)
    for path in list(_files(site)):
        if path.suffix in {".pyc", ".pyo"} or (
            path.parent.name.endswith(".dist-info") and path.name in _RECEIPTS
        ):
            path.unlink()


def _write_zip(site: Path, destination: Path) -> None:
    """Sorted entries, a fixed timestamp and normalised permissions: same files, same bytes."""
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for path in sorted(_files(site), key=lambda p: p.relative_to(site).as_posix()):
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), date_time=_ZIP_EPOCH)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            executable = path.stat().st_mode & 0o100
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, path.read_bytes(), compresslevel=9)


def _files(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())
