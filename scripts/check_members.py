"""Sync each workspace member alone into a clean environment and import every module it ships.

A module importing something its member does not declare (a "phantom" dependency that only works
because another member installed it into the shared environment) fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_ALL = """
import importlib, pkgutil, sys
failed = []
for top in sys.argv[1:]:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(getattr(package, "__path__", []), prefix=top + "."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running, not importing, is what a __main__ module is for
        try:
            importlib.import_module(info.name)
        except Exception as error:  # report every failure, not just the first
            failed.append(f"{info.name}: {type(error).__name__}: {error}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def members() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["uv"]["workspace"]["members"]
    found = {p for pat in patterns for p in ROOT.glob(pat) if (p / "pyproject.toml").exists()}
    return sorted(found)


def import_names(member: Path) -> list[str]:
    config = tomllib.loads((member / "pyproject.toml").read_text())
    packages = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return [Path(p).name for p in packages]


def check(member: Path) -> tuple[str, bool, str]:
    config = tomllib.loads((member / "pyproject.toml").read_text())
    name = config["project"]["name"]
    extras = list(config["project"].get("optional-dependencies", {}))
    with tempfile.TemporaryDirectory(prefix=f"member-{name}-") as env_dir:
        env = {**os.environ, "UV_PROJECT_ENVIRONMENT": env_dir}
        sync = ["uv", "sync", "--frozen", "--no-dev", "--package", name, "--quiet"]
        sync += [f"--extra={e}" for e in extras]
        result = subprocess.run(
            sync, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            return name, False, result.stderr
        python = str(Path(env_dir) / "bin" / "python")
        result = subprocess.run(
            [python, "-I", "-c", IMPORT_ALL, *import_names(member)],
            cwd=tempfile.gettempdir(),
            env={k: v for k, v in env.items() if k != "PYTHONPATH"},
            capture_output=True,
            text=True,
            check=False,
        )
        return name, result.returncode == 0, result.stdout + result.stderr


def main() -> int:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, members()))
    for name, ok, output in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
        if not ok:
            print("     " + output.strip().replace("\n", "\n     "))
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
