"""Shared fixtures: the `mgiv` CLI binary built from the same checkout (the Python results are
checked against its JSON for the same inputs)."""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _binary():
    env = os.environ.get("MGIV_BIN")
    if env:
        return env
    for p in (ROOT / "target" / "debug" / "mgiv", ROOT / "target" / "release" / "mgiv"):
        if p.exists():
            return str(p)
    raise RuntimeError("the mgiv CLI is not built: run `cargo build -p mgiv-cli` (or set MGIV_BIN)")


@pytest.fixture(scope="session")
def cli():
    exe = _binary()

    def run(*args, ok=(0,)):
        out = subprocess.run([exe, *args], capture_output=True, text=True)
        assert out.returncode in ok, out.stderr
        return json.loads(out.stdout)

    return run
