"""The VS Code extension builds: npm ci, typecheck, lint, unit tests, bundle, package (.vsix).

Skips when node or npm is missing. With a warm npm cache this takes well under a minute.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parent.parent / "vscode-extension"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are needed to build the VS Code extension",
)


def npm(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        ["npm", *args],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed() -> Path:
    npm("ci", "--prefer-offline", "--no-audit", "--no-fund")
    return EXTENSION


def test_extension_typechecks_under_strict_typescript(installed: Path) -> None:
    npm("run", "typecheck")


def test_extension_lints_clean(installed: Path) -> None:
    npm("run", "lint")


def test_extension_unit_tests_pass(installed: Path) -> None:
    out = npm("test")
    assert "# fail 0" in out
    assert "# pass " in out


def test_extension_packages_into_a_vsix_with_the_bundled_client(installed: Path) -> None:
    vsix = installed / "tscheck.vsix"
    vsix.unlink(missing_ok=True)
    npm("run", "package")
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("extension/package.json"))
        bundle = archive.read("extension/dist/extension.js").decode()
    expected = {"package.json", "dist/extension.js", "images/icon.png"}
    assert {f"extension/{name}" for name in expected} <= names
    assert not any(name.startswith("extension/node_modules/") for name in names)  # bundled
    assert "tscheck_server" in bundle  # the client starts python -m tscheck_server
    assert manifest["main"] == "./dist/extension.js"
    assert manifest["capabilities"]["untrustedWorkspaces"]["supported"] == "limited"
    assert manifest["capabilities"]["virtualWorkspaces"]["supported"] is False
    assert manifest["categories"] == ["Linters"]
    commands = {c["command"] for c in manifest["contributes"]["commands"]}
    assert commands == {
        "tscheck.restart",
        "tscheck.verifyCurrentFile",
        "tscheck.showTorchScriptCode",
        "tscheck.showOutput",
    }
