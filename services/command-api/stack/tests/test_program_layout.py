"""Pulumi runs the package folder as the program: it must find ``__main__.py`` there, and since
that folder then comes first on ``sys.path``, no module in it may shadow a real dependency."""

from __future__ import annotations

from pathlib import Path

import command_api_stack

STACK_FOLDER = Path(__file__).resolve().parents[1]
PACKAGE = Path(command_api_stack.__file__).resolve().parent


def test_pulumi_yaml_runs_the_package_folder() -> None:
    settings = (STACK_FOLDER / "Pulumi.yaml").read_text(encoding="utf-8").splitlines()
    assert f"main: {PACKAGE.name}/" in settings
    assert (PACKAGE / "__main__.py").is_file()
    assert not (STACK_FOLDER / "__main__.py").exists()


def test_no_module_of_the_package_shadows_an_import() -> None:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    imported = {"command_api", "platform_infra", "platform_events", "pulumi", "pulumi_aws"}
    assert not modules & imported
