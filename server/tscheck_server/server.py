"""The tscheck language server: diagnostics while typing, quick fixes, hover on defs.

Analysis of a document runs off the event loop (a worker thread) on a snapshot of its text,
after a short debounce. A result is published only if the document still has the version it
was computed for, so a slow analysis never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from tscheck import config as tsconfig
from tscheck import files as fs
from tscheck.engine import Result, check_source, rule_infos
from tscheck_server import __version__, convert

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE_S = 0.2
DEFINITION = re.compile(r"^\s*(?:async\s+def|def|class)\s+(?P<name>[A-Za-z_]\w*)")


@dataclass
class Analysis:
    """One finished analysis of one version of a document."""

    version: int | None
    text: str
    lines: list[str]
    result: Result
    diagnostics: list[types.Diagnostic]
    # Logged by the event loop (the transport is not thread safe): config problems, rule crashes.
    warnings: tuple[str, ...] = ()


@dataclass
class DocumentState:
    task: asyncio.Task[None] | None = None
    last: Analysis | None = None
    # Bumped on every edit and on close; a result computed for an older generation is dropped.
    generation: int = 0


@dataclass
class Settings:
    debounce_s: float = DEFAULT_DEBOUNCE_S


class TscheckLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "tscheck", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
        )
        self.documents: dict[str, DocumentState] = {}
        self.settings = Settings()
        self.urls = {info.code: info.url for info in rule_infos()}

    # -- logging ---------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # the transport may be gone at shutdown
            log.exception("cannot send a log message")

    # -- analysis --------------------------------------------------------------------------

    def analyze(self, uri: str, text: str, version: int | None) -> Analysis:
        """Runs in a worker thread: config lookup and the engine, on a text snapshot."""
        path = convert.uri_to_path(uri)
        folder = Path(path).parent
        warnings: list[str] = []
        try:
            config = tsconfig.load(folder) if folder.is_dir() else tsconfig.Config()
        except tsconfig.ConfigError as exc:
            warnings.append(f"{exc}; using the default configuration")
            config = tsconfig.Config(root=str(folder))
        if not config.source and self.workspace.root_path:
            config = dataclasses.replace(config, root=self.workspace.root_path)
        module = fs.Modules().name(path)
        result = check_source(path, text, config, module)
        lines = convert.split_lines(text)
        diagnostics = [convert.to_lsp(d, lines, uri, self.urls) for d in result.diagnostics]
        warnings.extend(result.internal_errors)
        return Analysis(version, text, lines, result, diagnostics, tuple(warnings))

    def schedule(self, uri: str, delay: float) -> None:
        state = self.documents.setdefault(uri, DocumentState())
        state.generation += 1
        if state.task is not None and not state.task.done():
            state.task.cancel()
        state.task = asyncio.ensure_future(self._run(uri, state.generation, delay))

    async def _run(self, uri: str, generation: int, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        analysis = await self.current_analysis(uri, generation)
        if analysis is None:
            return
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, version=analysis.version, diagnostics=analysis.diagnostics
            )
        )

    def _is_current(self, uri: str, generation: int | None, version: int | None) -> bool:
        state = self.documents.get(uri)
        if state is None:
            return False
        if generation is not None and state.generation != generation:
            return False
        document = self.workspace.text_documents.get(uri)
        return document is not None and document.version == version

    async def current_analysis(self, uri: str, generation: int | None = None) -> Analysis | None:
        """The analysis of the document as it is now (cached when up to date), or None when
        the document changed or closed meanwhile, or the analysis crashed (logged)."""
        state = self.documents.get(uri)
        document = self.workspace.text_documents.get(uri)
        if state is None or document is None:
            return None
        version, text = document.version, document.source
        if state.last is not None and state.last.version == version and state.last.text == text:
            return state.last
        loop = asyncio.get_running_loop()
        try:
            analysis = await loop.run_in_executor(None, self.analyze, uri, text, version)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log(
                f"tscheck: analysis of {uri} failed:\n{traceback.format_exc()}",
                types.MessageType.Error,
            )
            return None
        for warning in analysis.warnings:
            self.log(f"tscheck: {warning}", types.MessageType.Warning)
        if not self._is_current(uri, generation, version):
            return None  # stale: a newer edit (or a close) superseded it
        state.last = analysis
        return analysis

    def close(self, uri: str) -> None:
        state = self.documents.pop(uri, None)
        if state is not None:
            state.generation += 1
            if state.task is not None and not state.task.done():
                state.task.cancel()
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    def with_data(self, uri: str, sent: types.Diagnostic) -> types.Diagnostic:
        """`sent` as published, with its fixes: a client that drops `data` gets them back from
        the last analysis (same code and range), without analysing again."""
        if sent.data is not None:
            return sent
        state = self.documents.get(uri)
        for published in state.last.diagnostics if state and state.last else ():
            if published.code == sent.code and published.range == sent.range:
                return published
        return sent

    # -- hover -----------------------------------------------------------------------------

    def hover_text(self, analysis: Analysis, uri: str, pos: types.Position) -> str | None:
        line = analysis.lines[pos.line] if 0 <= pos.line < len(analysis.lines) else ""
        match = DEFINITION.match(line)
        if match is None:
            return None
        column = convert.from_utf16(line, pos.character)
        if not match.start("name") <= column <= match.end("name"):
            return None
        name = match.group("name")
        number = pos.line + 1
        path = convert.uri_to_path(uri)
        compiled = [c for c in analysis.result.compiled if c.path == path]
        if line.lstrip().startswith("class"):
            methods = sorted(
                {c.info.name for c in compiled if c.owner is not None and c.owner.line == number}
            )
            if not methods:
                return f"**{name}**: not compiled by TorchScript (tscheck found no root using it)"
            listed = ", ".join(f"`{m}`" for m in methods)
            return f"**{name}**: TorchScript compiles {len(methods)} of its methods: {listed}"
        here = [c for c in compiled if c.info.line == number]
        if not here:
            return (
                f"**{name}**: not compiled by TorchScript (not reachable from a scripting root, "
                "or marked `@torch.jit.ignore` / `@torch.jit.unused`)"
            )
        parts = []
        seen: set[tuple[str, str]] = set()
        for c in here:
            key = (c.info.qualname, c.mode)
            if key in seen:
                continue
            seen.add(key)
            what = "compiled" if c.mode == "compiled" else f"{c.mode} only (typed, not compiled)"
            parts.append(
                "\n".join(
                    [
                        f"**{c.info.qualname}**: {what} by TorchScript",
                        "",
                        "Why:",
                        "",
                        *convert.describe_chain(c.chain, path),
                    ]
                )
            )
        return "\n\n---\n\n".join(parts)


def create_server() -> TscheckLanguageServer:
    server = TscheckLanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: TscheckLanguageServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict):
            debounce = options.get("debounce")
            if isinstance(debounce, (int, float)) and debounce >= 0:
                ls.settings.debounce_s = float(debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TscheckLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0.0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TscheckLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.settings.debounce_s)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TscheckLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, convert.FIX_ALL]),
    )
    async def code_action(
        ls: TscheckLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        uri = params.text_document.uri
        document = ls.workspace.get_text_document(uri)
        lines = convert.split_lines(document.source)
        only = params.context.only
        fixes: list[types.CodeAction] = []
        ignores: list[types.CodeAction] = []
        ignored: set[tuple[int, str]] = set()
        if convert.wanted(types.CodeActionKind.QuickFix, only):
            for sent in params.context.diagnostics:
                if sent.source != convert.SOURCE:
                    continue
                if not convert.overlaps(sent.range, params.range):
                    continue
                diagnostic = ls.with_data(uri, sent)
                fixes.extend(convert.fix_actions(diagnostic, uri))
                key = (diagnostic.range.start.line, str(diagnostic.code))
                if key not in ignored:
                    ignored.add(key)
                    action = convert.ignore_action(diagnostic, uri, lines)
                    if action is not None:
                        ignores.append(action)
        if only and convert.wanted(convert.FIX_ALL, only):
            if uri in ls.workspace.text_documents:
                ls.documents.setdefault(uri, DocumentState())
            analysis = await ls.current_analysis(uri)
            if analysis is not None:
                fix_all = convert.fix_all_action(analysis.diagnostics, uri)
                if fix_all is not None:
                    fixes.append(fix_all)
        return [*fixes, *ignores]

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TscheckLanguageServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        if uri in ls.workspace.text_documents:
            ls.documents.setdefault(uri, DocumentState())
        analysis = await ls.current_analysis(uri)
        if analysis is None:
            return None
        text = ls.hover_text(analysis, uri, params.position)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    return server
