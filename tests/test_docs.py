"""The generated references must match the code."""

import json
import subprocess
import sys
from pathlib import Path

import filebridge
from filebridge.docs import reference
from filebridge.profile import json_schema

ROOT = Path(__file__).resolve().parents[1]


def test_profile_reference_is_current():
    committed = (ROOT / "docs" / "profiles.md").read_text(encoding="utf-8")
    assert committed == reference(), (
        "docs/profiles.md is stale: run `filebridge schema --markdown > docs/profiles.md`")


def test_json_schema_lists_every_registered_format():
    from filebridge.registry import load_plugins
    schema = json.dumps(json_schema())
    for kind in ("reader", "sink"):
        for name in load_plugins().names(kind):
            assert f'"const": "{name}"' in schema or f'"{name}"' in schema


def test_schema_command_prints_valid_json():
    r = subprocess.run([sys.executable, "-m", "filebridge", "schema"], capture_output=True,
                       text=True, check=True)
    assert json.loads(r.stdout)["title"] == "Profile"


def test_public_surface_is_pinned():
    assert filebridge.__all__ == ["__version__"]
