"""Modules imported when first used, not when filebridge starts: a run that reads
a CSV into a file needs neither requests nor paramiko nor openpyxl, and each costs
tens of milliseconds to import (``filebridge --help`` and a small run stay fast).

    requests = lazy("requests")     # then requests.Session(), requests.RequestException
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Lazy:
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


def lazy(name: str) -> Any:
    """A stand-in for module ``name``, imported on the first attribute read."""
    import sys

    module = sys.modules.get(name)
    return module if isinstance(module, ModuleType) else _Lazy(name)
