"""The language server across files, with pull diagnostics, settings, watched files and the real
verifier on save: pytest-lsp drives `python -m tscheck_server` over stdio, as an editor would."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "tscheck_server"])

UTILS = """\
import torch


def scale(x: torch.Tensor) -> torch.Tensor:
    f = lambda y: y * 2
    return f(x)


def unused_helper(x):
    return (lambda y: y)(x)
"""

MODEL = """\
import torch
from torch import nn

from .utils import scale


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale(x)

    @torch.jit.ignore
    def debug(self, x: torch.Tensor) -> None:
        print(x)
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.tscheck]\n", encoding="utf-8")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "utils.py").write_text(UTILS, encoding="utf-8")
    (package / "model.py").write_text(MODEL, encoding="utf-8")
    return tmp_path


def capabilities(*, pull: bool = False) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(
            did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
                dynamic_registration=True
            ),
            diagnostics=types.DiagnosticWorkspaceClientCapabilities(refresh_support=True),
        ),
        text_document=types.TextDocumentClientCapabilities(
            diagnostic=types.DiagnosticClientCapabilities() if pull else None
        ),
    )


async def start(
    client: LanguageClient, workspace: Path, options: dict[str, Any], *, pull: bool = False
) -> list[types.Registration]:
    registrations: list[types.Registration] = []

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        registrations.extend(params.registrations)

    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(pull=pull),
            root_uri=workspace.as_uri(),
            initialization_options=options,
        )
    )
    return registrations


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, workspace: Path) -> AsyncIterator[None]:
    lsp_client.registrations = await start(lsp_client, workspace, {"debounce": 0.02})  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def pulling(lsp_client: LanguageClient, workspace: Path) -> AsyncIterator[None]:
    await start(lsp_client, workspace, {"debounce": 0.02}, pull=True)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def verifying(lsp_client: LanguageClient, workspace: Path) -> AsyncIterator[None]:
    await start(lsp_client, workspace, {"debounce": 0.02, "verify": "onSave"})
    yield
    await lsp_client.shutdown_session()


async def published(client: LanguageClient, uri: str, version: int | None = None) -> list[Any]:
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and (version is None or params.version == version):
            return list(params.diagnostics)


def open_file(client: LanguageClient, path: Path, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=path.read_text()
            )
        )
    )
    return uri


def replace_all(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_helper_compiled_from_another_file_has_the_chain(
    client: LanguageClient, workspace: Path
) -> None:
    """utils.py alone shows nothing to check; with the package around it, `scale` is compiled
    because model.py's forward calls it, and the diagnostic says so."""
    utils = workspace / "pkg" / "utils.py"
    uri = open_file(client, utils)
    diagnostics = await published(client, uri, 1)
    assert [(d.code, d.range.start.line) for d in diagnostics] == [("TS101", 4)]
    chain = [info.message for info in diagnostics[0].related_information or []]
    places = [info.location.uri for info in diagnostics[0].related_information or []]
    assert any("Net.forward" in m for m in chain), chain
    assert (workspace / "pkg" / "model.py").as_uri() in places

    # Open model.py and stop calling scale: utils.py is analysed again, and is clean.
    model = workspace / "pkg" / "model.py"
    model_uri = open_file(client, model)
    await published(client, model_uri, 1)
    replace_all(client, model_uri, 2, MODEL.replace("return scale(x)", "return x"))
    assert await published(client, uri) == []
    # Call it again (unsaved text counts): the diagnostic comes back.
    replace_all(client, model_uri, 3, MODEL)
    again = await published(client, uri)
    assert [(d.code, d.range.start.line) for d in again] == [("TS101", 4)]


async def test_pull_diagnostics(pulling: LanguageClient, workspace: Path) -> None:
    """A client that pulls gets no pushes; the report is full, then unchanged by result id."""
    client = pulling
    uri = open_file(client, workspace / "pkg" / "utils.py")
    params = types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
    report = await client.text_document_diagnostic_async(params)
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    assert [d.code for d in report.items] == ["TS101"]
    assert report.result_id
    params.previous_result_id = report.result_id
    again = await client.text_document_diagnostic_async(params)
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    replace_all(client, uri, 2, UTILS.replace("f = lambda y: y * 2\n    return f(x)", "return x"))
    after = await client.text_document_diagnostic_async(params)
    assert isinstance(after, types.RelatedFullDocumentDiagnosticReport) and not after.items
    assert uri not in client.diagnostics  # nothing was pushed


async def test_settings_and_watched_pyproject(client: LanguageClient, workspace: Path) -> None:
    uri = open_file(client, workspace / "pkg" / "utils.py")
    assert [d.code for d in await published(client, uri, 1)] == ["TS101"]
    registrations = client.registrations  # type: ignore[attr-defined]
    for _ in range(100):  # sent after `initialized`, in its own time
        if registrations:
            break
        await asyncio.sleep(0.02)
    assert [r.method for r in registrations] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]

    # Client settings override pyproject.toml; a bad value is reported and ignored.
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"tscheck": {"severity": {"TS101": "warning"}, "verify": "sometimes"}}
        )
    )
    (warned,) = await published(client, uri)
    assert warned.severity == types.DiagnosticSeverity.Warning
    assert any("'verify'" in m.message for m in client.log_messages)

    # pyproject.toml changes on disk: the watched-files event reloads it.
    (workspace / "pyproject.toml").write_text('[tool.tscheck]\nignore = ["TS101"]\n')
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(workspace / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed
                )
            ]
        )
    )
    assert await published(client, uri) == []


async def test_hover_says_why_not_compiled(client: LanguageClient, workspace: Path) -> None:
    uri = open_file(client, workspace / "pkg" / "model.py")
    await published(client, uri, 1)
    debug = MODEL.splitlines().index("    def debug(self, x: torch.Tensor) -> None:")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=debug, character=9),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "not compiled" in hover.contents.value and "@torch.jit.ignore" in hover.contents.value

    utils_uri = open_file(client, workspace / "pkg" / "utils.py")
    await published(client, utils_uri, 1)
    unused = UTILS.splitlines().index("def unused_helper(x):")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=utils_uri),
            position=types.Position(line=unused, character=6),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "no scripting root reaches it" in hover.contents.value


BROKEN = """\
import torch
from torch import nn


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = lambda y: y + 1
        return f(x)

    @torch.jit.export
    def other(self, x: torch.Tensor) -> torch.Tensor:
        return x + "a"
"""


async def test_verification_on_save(verifying: LanguageClient, workspace: Path) -> None:
    """On save the real compiler runs (sandboxed): the static TS101 is confirmed, the type error
    no static rule knows becomes TS900, and the work shows as $/progress."""
    client = verifying
    path = workspace / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    uri = open_file(client, path)
    assert [d.code for d in await published(client, uri, 1)] == ["TS101"]
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    verified = await published(client, uri, 1)
    assert [(d.code, d.range.start.line) for d in verified] == [("TS101", 6), ("TS900", 11)]
    lambda_, compiler = verified
    assert lambda_.message.endswith("(confirmed by torch.jit.script)")
    assert lambda_.data["verification"] == "confirmed"
    assert "torch.jit.script(Net) fails" in compiler.message
    (reports,) = client.progress_reports.values()
    kinds = [type(r).__name__ for r in reports]
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd", kinds
    assert "Verifying Net" in reports[0].title
    assert "1 confirmed" in (reports[-1].message or "")


async def test_show_torchscript_code(client: LanguageClient, workspace: Path) -> None:
    """A code lens on each root runs the real compiler (sandboxed) on the editor's text and
    opens the scripted code read-only; a root that does not script says why."""
    clean = UTILS.replace("f = lambda y: y * 2\n    return f(x)", "return x * 2")
    (workspace / "pkg" / "utils.py").write_text(clean, encoding="utf-8")
    model = workspace / "pkg" / "model.py"
    uri = open_file(client, model)
    await published(client, uri, 1)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    titled = {(lens.command.title, lens.range.start.line) for lens in lenses if lens.command}
    net = MODEL.splitlines().index("class Net(nn.Module):")
    assert titled == {("Show TorchScript code", net), ("graph", net)}
    (code_lens,) = [lens for lens in lenses if lens.command and lens.command.title != "graph"]
    assert code_lens.command is not None
    # Unsaved text is what gets scripted: forward now triples its input before scale().
    replace_all(client, uri, 2, MODEL.replace("return scale(x)", "return scale(x * 3)"))
    await published(client, uri, 2)
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=code_lens.command.command, arguments=code_lens.command.arguments
        )
    )
    assert result["verdict"] == "ok", result
    assert "def forward(self" in result["text"] and "torch.mul(x, 3)" in result["text"]
    (shown,) = client.shown_documents
    assert shown.uri == result["uri"]
    opened = Path(shown.uri.removeprefix("file://"))
    assert opened.read_text() == result["text"]
    assert not opened.stat().st_mode & 0o222  # read-only

    broken = MODEL.replace("return scale(x)", "return (lambda y: y)(x)")
    replace_all(client, uri, 3, broken)
    await published(client, uri, 3)
    failed = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command=code_lens.command.command, arguments=[uri, "Net", "code"]
        )
    )
    assert failed["verdict"] == "compile_error" and failed["text"] == "", failed
    assert "lambda" in failed["message"].lower()


@pytest_lsp.fixture(config=SERVER)
async def untrusted(lsp_client: LanguageClient, workspace: Path) -> AsyncIterator[None]:
    await start(lsp_client, workspace, {"debounce": 0.02, "verify": "onSave", "trusted": False})
    yield
    await lsp_client.shutdown_session()


async def test_untrusted_workspace_runs_no_code(untrusted: LanguageClient, workspace: Path) -> None:
    """Static analysis only: no verification on save, no code lens, the command refuses."""
    client = untrusted
    path = workspace / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    uri = open_file(client, path)
    assert [d.code for d in await published(client, uri, 1)] == ["TS101"]
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert not lenses
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    refused = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tscheck.showTorchScript", arguments=[uri, "Net"])
    )
    assert "not trusted" in refused["error"]
    await asyncio.sleep(1.0)  # a verification would have published by now
    assert not client.progress_reports
    assert [d.code for d in client.diagnostics[uri]] == ["TS101"]


async def test_verify_file_command(client: LanguageClient, workspace: Path) -> None:
    """With verification off, the command verifies the document once, on demand."""
    path = workspace / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    uri = open_file(client, path)
    assert [d.code for d in await published(client, uri, 1)] == ["TS101"]
    started = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="tscheck.verifyFile", arguments=[uri])
    )
    assert started == {"started": True}
    verified = await published(client, uri, 1)
    assert [d.code for d in verified] == ["TS101", "TS900"]


async def test_saving_is_not_a_change_that_cancels_verification(
    verifying: LanguageClient, workspace: Path
) -> None:
    """VS Code follows a save with didChangeWatchedFiles for the saved file (the server asked
    to watch *.py): that must not cancel the verification the save started."""
    client = verifying
    path = workspace / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    uri = open_file(client, path)
    assert [d.code for d in await published(client, uri, 1)] == ["TS101"]
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri, type=types.FileChangeType.Changed)]
        )
    )
    while True:
        diagnostics = await published(client, uri, 1)
        if len(diagnostics) > 1:
            break
    assert [d.code for d in diagnostics] == ["TS101", "TS900"]
    (reports,) = client.progress_reports.values()
    assert reports[-1].message != "cancelled"


async def test_an_edit_cancels_the_verification_in_flight(
    verifying: LanguageClient, workspace: Path
) -> None:
    """User code that takes its time at import (here 60 s) must not hold the verifier once
    the text changed: the job in flight is killed, and the next save is verified at once."""
    client = verifying
    path = workspace / "slow.py"
    path.write_text("import time\ntime.sleep(60)\n" + BROKEN, encoding="utf-8")
    uri = open_file(client, path)
    await published(client, uri, 1)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    while not client.progress_reports:  # the verification began
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)  # the job imports the file: it sleeps
    started = asyncio.get_running_loop().time()
    path.write_text(BROKEN, encoding="utf-8")
    replace_all(client, uri, 2, BROKEN)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )

    async def verified() -> list[Any]:
        while True:
            diagnostics = await published(client, uri, 2)
            if len(diagnostics) > 1:
                return diagnostics

    diagnostics = await asyncio.wait_for(verified(), 30)
    assert [d.code for d in diagnostics] == ["TS101", "TS900"]
    assert asyncio.get_running_loop().time() - started < 30
    first = next(iter(client.progress_reports.values()))
    assert first[-1].message == "cancelled", first
