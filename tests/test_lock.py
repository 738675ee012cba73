"""requirements.lock pins every dependency the project declares, and the README's two
commands (scripts/demo.sh, scripts/test.sh, which CI runs) install through it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_declared_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    declared |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"requirements.lock: not an exact pin: {line!r}"
            pins[_name(name)] = version
    assert declared <= set(pins), f"not in requirements.lock: {sorted(declared - set(pins))}"


def test_install_scripts_use_the_lock() -> None:
    for script in ("scripts/demo.sh", "scripts/test.sh"):
        installs = [line for line in (REPO / script).read_text().splitlines()
                    if "pip install" in line]
        assert installs and all("-c requirements.lock" in line for line in installs), script
    assert "scripts/test.sh" in (REPO / ".ci/run").read_text()
