"""The language server end to end: pytest-lsp starts `python -m tscheck_server` over stdio and
drives it like an editor would (open, edit, code actions, hover, close)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

MODEL = """\
import torch
from torch import nn


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = lambda y: y + 1
        return f(x)
"""

FLOOR = """\
import torch
from torch import nn


class Net(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = 7
        n //= 2
        return x * n
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    # A pyproject of its own, so the repository's config does not apply.
    (tmp_path / "pyproject.toml").write_text("[tool.tscheck]\n", encoding="utf-8")
    return tmp_path


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "tscheck_server"]),
)
async def client(lsp_client: LanguageClient, workspace: Path) -> AsyncIterator[None]:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            root_uri=workspace.as_uri(),
            initialization_options={"debounce": 0.05},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def published(
    client: LanguageClient, uri: str, version: int | None
) -> list[types.Diagnostic]:
    """Wait for the diagnostics of `uri` at `version` (or a clear, for version None)."""
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri != uri:
            continue
        if version is None or params.version == version:
            return list(params.diagnostics)


async def open_doc(
    client: LanguageClient, workspace: Path, text: str, name: str = "model.py"
) -> tuple[str, list[types.Diagnostic]]:
    path = workspace / name
    path.write_text(text, encoding="utf-8")
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    return uri, await published(client, uri, 1)


def change(client: LanguageClient, uri: str, version: int, rng: types.Range, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=rng, text=text)],
        )
    )


def rng(line: int, start: int, end_line: int, end: int) -> types.Range:
    return types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=end_line, character=end),
    )


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (ASCII text: UTF-16 columns are code points) from last to first."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(pos: types.Position) -> int:
        return offsets[pos.line] + pos.character

    ordered = sorted(edits, key=lambda e: offset(e.range.start), reverse=True)
    for edit in ordered:
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def actions_at(
    client: LanguageClient, uri: str, diagnostic: types.Diagnostic
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    assert result is not None
    return [a for a in result if isinstance(a, types.CodeAction)]


async def test_lambda_diagnostic_then_edit_clears_it(client: LanguageClient, workspace: Path):
    uri, diagnostics = await open_doc(client, workspace, MODEL)
    assert [d.code for d in diagnostics] == ["TS101"]
    (d,) = diagnostics
    assert d.source == "tscheck"
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.range == rng(6, 12, 6, 27)  # `lambda y: y + 1`
    assert d.code_description is not None
    assert d.code_description.href.endswith("docs/rules.md#ts101-lambda")
    related = d.related_information or []
    assert [r.message for r in related] == [
        "Net is an nn.Module subclass (a scripting root)",
        "Net.forward is the module's entry point",
    ]
    assert [r.location.range.start.line for r in related] == [4, 5]

    # Replace the lambda with a call that TorchScript accepts.
    change(client, uri, 2, rng(6, 12, 6, 27), "torch.relu")
    assert await published(client, uri, 2) == []
    assert list(client.diagnostics[uri]) == []


async def test_utf16_columns(client: LanguageClient, workspace: Path):
    # An astral character before the lambda counts as two UTF-16 code units.
    text = MODEL.replace("        f = lambda", '        s = "\U0001f600"; f = lambda')
    _, diagnostics = await open_doc(client, workspace, text)
    (d,) = [d for d in diagnostics if d.code == "TS101"]
    assert d.range.start.character == len('        s = "xx"; f = ')
    assert d.range.end.character == d.range.start.character + len("lambda y: y + 1")


async def test_floordiv_fix_and_ignore_actions(client: LanguageClient, workspace: Path):
    uri, diagnostics = await open_doc(client, workspace, FLOOR)
    (d,) = [d for d in diagnostics if d.code == "TS120"]
    actions = await actions_at(client, uri, d)
    titles = [a.title for a in actions]
    assert titles == ["tscheck (TS120): Replace with `n = n // ...`", "Ignore TS120 for this line"]
    fix, ignore = actions
    assert fix.kind == types.CodeActionKind.QuickFix
    assert fix.edit is not None and fix.edit.changes is not None
    (edit,) = fix.edit.changes[uri]
    assert edit.range == rng(7, 8, 7, 15)  # minimal: only the statement
    assert apply(FLOOR, fix.edit.changes[uri]) == FLOOR.replace("n //= 2", "n = n // 2")

    assert ignore.edit is not None and ignore.edit.changes is not None
    ignored = apply(FLOOR, ignore.edit.changes[uri])
    assert ignored == FLOOR.replace("n //= 2", "n //= 2  # tscheck: ignore[TS120]")

    # A client that drops `data` still gets the fix (from the server's last analysis).
    bare = types.Diagnostic(range=d.range, message=d.message, code=d.code, source=d.source)
    assert [a.title for a in await actions_at(client, uri, bare)] == titles

    # The suppressed text, sent as an edit, has no diagnostics left.
    (insert,) = ignore.edit.changes[uri]
    change(client, uri, 2, insert.range, insert.new_text)
    assert await published(client, uri, 2) == []


async def test_hover_on_forward_and_on_plain_function(client: LanguageClient, workspace: Path):
    text = MODEL + "\n\ndef helper(x: int) -> int:\n    return x\n"
    uri, _ = await open_doc(client, workspace, text)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=5, character=10),  # `forward`
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    value = hover.contents.value
    assert "**Net.forward**: compiled by TorchScript" in value
    assert "Net is an nn.Module subclass (a scripting root) (line 5)" in value
    assert "Net.forward is the module's entry point (line 6)" in value

    lines = text.split("\n")
    helper_line = lines.index("def helper(x: int) -> int:")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=helper_line, character=5),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "not compiled" in hover.contents.value

    # Not on a name: no hover.
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=6, character=20),
        )
    )
    assert hover is None


async def test_close_clears_diagnostics(client: LanguageClient, workspace: Path):
    uri, diagnostics = await open_doc(client, workspace, MODEL)
    assert diagnostics
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert await published(client, uri, None) == []
    assert list(client.diagnostics[uri]) == []


async def test_syntax_error_while_typing_and_rapid_edits(client: LanguageClient, workspace: Path):
    uri, before = await open_doc(client, workspace, MODEL)
    # Half-typed `if` at the end of forward: one TS001, and the last good analysis of the
    # lines the edit left alone stays (the lambda's TS101, where it was, without its fix).
    change(client, uri, 2, rng(7, 19, 7, 19), "\n        if x")
    diagnostics = await published(client, uri, 2)
    assert [d.code for d in diagnostics] == ["TS001", "TS101"]
    assert all(d.source == "tscheck" for d in diagnostics)
    carried = diagnostics[1]
    assert carried.range == before[0].range and carried.message == before[0].message
    assert carried.data == {"fixes": []}

    # Several edits in a row: only the newest version's diagnostics are published.
    change(client, uri, 3, rng(8, 12, 8, 12), " is")
    change(client, uri, 4, rng(8, 15, 8, 15), " None")
    change(client, uri, 5, rng(8, 20, 8, 20), ":\n            pass")
    versions = []
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        versions.append(params.version)
        if params.version == 5:
            break
    assert versions == [5]
    diagnostics = list(params.diagnostics)
    assert [d.code for d in diagnostics] == ["TS101"]
    assert not [m for m in client.log_messages if m.type == types.MessageType.Error]


async def test_bad_pyproject_is_logged_and_defaults_apply(client: LanguageClient, workspace: Path):
    (workspace / "pyproject.toml").write_text("[tool.tscheck\n", encoding="utf-8")
    _, diagnostics = await open_doc(client, workspace, MODEL)
    assert [d.code for d in diagnostics] == ["TS101"]
    warnings = [m.message for m in client.log_messages if m.type == types.MessageType.Warning]
    assert any("invalid TOML" in m for m in warnings), warnings


def test_crash_in_analysis_is_logged_not_raised():
    """In process: an exception inside the analysis becomes a window/logMessage error, and the
    document simply gets no new diagnostics."""
    import asyncio

    from tscheck_server.server import DocumentState, create_server

    server = create_server()
    params = types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri="file:///tmp")
    for _ in server.protocol.lsp_initialize(params):
        pass
    uri = "file:///tmp/crash.py"
    server.workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="python", version=1, text="x = 1\n")
    )
    server.documents[uri] = DocumentState()
    messages: list[types.LogMessageParams] = []

    def boom(*args: object) -> None:
        raise RuntimeError("boom")

    server.window_log_message = messages.append  # type: ignore[method-assign]
    server.analyze = boom  # type: ignore[method-assign,assignment]
    assert asyncio.run(server.current_analysis(uri)) is None
    (message,) = messages
    assert message.type == types.MessageType.Error
    assert "RuntimeError: boom" in message.message


def test_convert_columns_and_ignore_comment_merging():
    from tscheck_server import convert

    line = 'x = "\U0001f600é"; y'
    assert convert.to_utf16(line, 6) == 7  # the emoji is two UTF-16 units
    assert convert.from_utf16(line, 7) == 6
    assert convert.from_utf16(line, convert.to_utf16(line, len(line))) == len(line)

    lines = ["    n //= 2  # tscheck: ignore[TS101]", "    m //= 2  # tscheck: ignore[TS120]"]
    diagnostic = types.Diagnostic(
        range=rng(0, 4, 0, 11), message="", code="TS120", source="tscheck"
    )
    action = convert.ignore_action(diagnostic, "file:///m.py", lines)
    assert action is not None and action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes["file:///m.py"]
    assert edit.new_text == ", TS120"
    assert edit.range.start == edit.range.end == types.Position(line=0, character=36)
    # Already ignored on that line: no action.
    diagnostic.range = rng(1, 4, 1, 11)
    assert convert.ignore_action(diagnostic, "file:///m.py", lines) is None


async def test_fix_all_applies_every_safe_fix(client: LanguageClient, workspace: Path):
    text = FLOOR.replace("        n //= 2\n", "        n //= 2\n        n //= 3\n")
    uri, diagnostics = await open_doc(client, workspace, text)
    assert [d.code for d in diagnostics] == ["TS120", "TS120"]
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=rng(0, 0, 0, 0),
            context=types.CodeActionContext(diagnostics=[], only=["source.fixAll"]),
        )
    )
    assert result is not None
    (action,) = result
    assert isinstance(action, types.CodeAction)
    assert action.kind == "source.fixAll.tscheck"
    assert action.edit is not None and action.edit.changes is not None
    fixed = apply(text, action.edit.changes[uri])
    assert fixed == text.replace("n //= 2", "n = n // 2").replace("n //= 3", "n = n // 3")
