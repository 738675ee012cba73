"""Shared test fixtures: a working folder with a profile written from a dict."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FILEBRIDGE_LEDGER", raising=False)
    for d in ("profiles", "inbox"):
        (tmp_path / d).mkdir()
    return tmp_path


def write_profile(folder: Path, data: dict, name: str = "p.yaml") -> Path:
    path = folder / "profiles" / name
    path.parent.mkdir(exist_ok=True)
    y = YAML()
    with open(path, "w", encoding="utf-8") as f:
        y.dump(data, f)
    return path


@pytest.fixture
def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FILEBRIDGE_LEDGER", None)
    return env


from pgserver import ledger_url, pg_server  # noqa: E402,F401  (a real PostgreSQL server)
from shops.fixtures import module_shop, parametrize_shops, shop  # noqa: E402,F401  (SHOP = …)
from sshd import sshd  # noqa: E402,F401  (session fixture: a real OpenSSH sshd)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_shops(metafunc)
