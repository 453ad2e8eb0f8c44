"""The real `pre-commit try-repo` against this checkout, in a temporary git repository.

pre-commit clones the checkout at HEAD (plus a shadow commit of uncommitted changes to tracked
files), builds a virtualenv and pip-installs tscheck into it: this needs PyPI, and about ten
seconds per fresh install (the install is cached per commit in one PRE_COMMIT_HOME per session).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed"
)

BAD = """\
import torch
from torch import nn


class M(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (lambda y: y)(x)
"""

GOOD = """\
import torch
from torch import nn


class M(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1
"""


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repo(root: Path, files: dict[str, str]) -> Path:
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    return root


def try_repo(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("TSCHECK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "tscheck", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_hook_fails_on_a_bad_file(tmp_path: Path, pre_commit_home: Path) -> None:
    repo = make_repo(tmp_path, {"model.py": BAD, "good.py": GOOD})
    proc = try_repo(repo, pre_commit_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "model.py:7:17: TS101" in proc.stdout
    assert "compiled via M.forward" in proc.stdout
    assert "good.py" not in proc.stdout


def test_hook_passes_on_a_good_file(tmp_path: Path, pre_commit_home: Path) -> None:
    repo = make_repo(tmp_path, {"model.py": GOOD})
    proc = try_repo(repo, pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_hook_passes_with_no_python_files(tmp_path: Path, pre_commit_home: Path) -> None:
    repo = make_repo(tmp_path, {"README.md": "# nothing to check\n"})
    proc = try_repo(repo, pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Skipped" in proc.stdout or "Passed" in proc.stdout


def test_hook_definition() -> None:
    """The hook as pre-commit reads it: static, Python and stub files, no default path."""
    import yaml

    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "tscheck"
    assert hook["language"] == "python"
    assert hook["types_or"] == ["python", "pyi"]
    assert hook["entry"].split()[0] == "tscheck"
    assert "--no-default-path" in hook["entry"]
    assert hook.get("pass_filenames", True) is True
