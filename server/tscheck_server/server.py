"""The tscheck language server: diagnostics while typing, quick fixes, hover, verification.

Analysis of a document runs off the event loop (a worker thread) on a snapshot of its text,
after a short debounce. A result is published only if the document still has the version it
was computed for, so a slow analysis never overwrites a newer one. The files around it (its
package) are indexed too (workspace.py), so a helper compiled because another file's forward
calls it is checked, with that chain. Verification (the real compiler, in the sandboxed
verifier) runs on save or after a pause, one job at a time, on its own thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gc
import logging
import os
import re
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from tscheck import config as tsconfig
from tscheck import fanout
from tscheck.engine import SYNTAX_ERROR, Result, SourceFile, check, rule_infos
from tscheck.incremental import AnalysisCache
from tscheck.index import FileSummary, summarize
from tscheck.model import Diagnostic
from tscheck.reach import Compiled
from tscheck_server import __version__, convert, hovers
from tscheck_server.carry import carry_over
from tscheck_server.settings import Settings, update
from tscheck_server.warmup import warm_up
from tscheck_server.workspace import ContextIndex

log = logging.getLogger(__name__)

SHOW_COMMAND = "tscheck.showTorchScript"
VERIFY_COMMAND = "tscheck.verifyFile"
UNTRUSTED = "the workspace is not trusted: tscheck runs no code in it"
DEFINITION = re.compile(r"^\s*(?:async\s+def|def|class)\s+(?P<name>[A-Za-z_]\w*)")


@dataclass
class Analysis:
    """One finished analysis of one version of a document."""

    version: int | None
    text: str
    lines: list[str]
    result: Result
    diagnostics: list[types.Diagnostic]
    config: tsconfig.Config
    module: str
    # Logged by the event loop (the transport is not thread safe): config problems, rule crashes.
    warnings: tuple[str, ...] = ()
    parsed: bool = True  # False: a syntax error; diagnostics carried from the last good one
    # The other files indexed with it (its package), by path: verification reuses them.
    context: Mapping[str, FileSummary] = field(default_factory=dict)
    verified: bool = False  # diagnostics reconciled with the real compiler


@dataclass
class DocumentState:
    task: asyncio.Task[None] | None = None
    verify_task: asyncio.Task[None] | None = None
    last: Analysis | None = None
    last_good: Analysis | None = None
    # Bumped on every edit and on close; a result computed for an older generation is dropped.
    generation: int = 0
    result_id: int = 0  # pull diagnostics: changes whenever what we would answer changes
    compiled: frozenset[Any] = field(default_factory=frozenset)
    # What the last analysis leaves for the next (engine's incremental cache); analyses of one
    # document may overlap in the thread pool (a cancelled task's thread runs on), hence a lock.
    cache: AnalysisCache = field(default_factory=AnalysisCache)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TscheckLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "tscheck", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
        )
        self.documents: dict[str, DocumentState] = {}
        self.settings = Settings()
        self.urls = {info.code: info.url for info in rule_infos()}
        self.index = ContextIndex()
        self.pull = False  # the client pulls diagnostics (textDocument/diagnostic)
        self.shows_progress = False  # the client shows $/progress
        self.refresh = False  # the client re-pulls on workspace/diagnostic/refresh
        # The verifier: one long-lived zygote, used from one thread at a time.
        self.verifier = concurrent.futures.ThreadPoolExecutor(1, "tscheck-verify")
        self.zygote: Any = None
        self.zygote_key: tuple[str, tuple[str, ...], str] | None = None
        self.frozen = False
        # Processes a newly opened large file's analysis may be shared among (tscheck.fanout).
        self.workers = fanout.available_workers()
        self.configs: dict[str, tuple[tuple[Any, ...], tsconfig.Config]] = {}

    # -- logging ---------------------------------------------------------------------------

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # the transport may be gone at shutdown
            log.exception("cannot send a log message")

    # -- analysis --------------------------------------------------------------------------

    def load_config(self, path: str) -> tuple[tsconfig.Config, list[str]]:
        """The configuration for `path`: the same object while pyproject.toml and the settings
        are unchanged (the engine's incremental cache reuses the compiled set only then), and
        its problems reported once, not on every keystroke."""
        folder = Path(path).parent
        try:
            found = tsconfig.find_pyproject(folder) if folder.is_dir() else None
            stat = found.stat() if found is not None else None
        except OSError:
            found, stat = None, None
        stamp = (
            str(found),
            stat.st_mtime_ns if stat else 0,
            stat.st_size if stat else 0,
            self.settings,
            self.root_path(),
        )
        known = self.configs.get(str(folder))
        if known is not None and known[0] == stamp:
            return known[1], []
        config, warnings = self._load_config(folder)
        self.configs[str(folder)] = (stamp, config)
        return config, warnings

    def root_path(self) -> str | None:
        try:
            root = self.workspace.root_path
        except RuntimeError:  # not initialized yet
            return None
        return str(root) if root else None

    def _load_config(self, folder: Path) -> tuple[tsconfig.Config, list[str]]:
        warnings: list[str] = []
        try:
            config = tsconfig.load(folder) if folder.is_dir() else tsconfig.Config()
        except tsconfig.ConfigError as exc:
            warnings.append(f"{exc}; using the default configuration")
            config = tsconfig.Config(root=str(folder))
        root = self.root_path()
        if not config.source and root:
            config = dataclasses.replace(config, root=root)
        return self.settings.apply(config), warnings

    def analyze(self, uri: str, text: str, version: int | None) -> Analysis:
        """Runs in a worker thread: config lookup, context and the engine, on a text snapshot."""
        path = convert.uri_to_path(uri)
        config, warnings = self.load_config(path)
        module = self.index.module_name(path)
        context = self.index.summaries(path, text, config)
        state = self.documents.get(uri) or DocumentState()
        with state.lock:
            result = check(
                [SourceFile(path, module, text)],
                config,
                summaries=context,
                cache=state.cache,
                workers=self.workers,
            )
        lines = convert.split_lines(text)
        diagnostics = [convert.to_lsp(d, lines, uri, self.urls) for d in result.diagnostics]
        warnings.extend(result.internal_errors)
        parsed = not any(d.code == SYNTAX_ERROR for d in result.diagnostics)
        good = state.last_good
        if not parsed and good is not None:
            diagnostics += carry_over(good.lines, lines, good.diagnostics, uri)
        return Analysis(
            version,
            text,
            lines,
            result,
            diagnostics,
            config,
            module,
            tuple(warnings),
            parsed,
            context,
        )

    def schedule(self, uri: str, delay: float) -> None:
        state = self.documents.setdefault(uri, DocumentState())
        state.generation += 1
        if state.task is not None and not state.task.done():
            state.task.cancel()
        if state.verify_task is not None and not state.verify_task.done():
            state.verify_task.cancel()  # a newer edit supersedes a verification in flight
        state.task = asyncio.ensure_future(self._run(uri, state.generation, delay))

    async def _run(self, uri: str, generation: int, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        analysis = await self.current_analysis(uri, generation)
        if analysis is None:
            return
        self.publish(uri, analysis)
        self.follow_up(uri, analysis)
        if self.settings.verifying and self.settings.verify == "onIdle":
            await asyncio.sleep(self.settings.idle_delay_s)
            self.start_verification(uri)

    def publish(self, uri: str, analysis: Analysis) -> None:
        if self.pull:
            return  # the client asks (textDocument/diagnostic)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, version=analysis.version, diagnostics=analysis.diagnostics
            )
        )

    def follow_up(self, uri: str, analysis: Analysis) -> None:
        """Other open documents whose compiled functions this edit changed (a forward that
        now calls a helper in utils.py) are analysed again."""
        by_path: dict[str, set[Any]] = {}
        for c in analysis.result.compiled:
            by_path.setdefault(c.path, set()).add(_compiled_key(c))
        for other, state in list(self.documents.items()):
            if other == uri or state.last is None:
                continue
            path = convert.uri_to_path(other)
            if path not in analysis.context:
                continue  # another package: this edit cannot change what it compiles
            if frozenset(by_path.get(path, ())) != state.compiled:
                self.reanalyze(other, self.settings.debounce_s)
        if self.pull and self.refresh:
            self.workspace_diagnostic_refresh(None)

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
        self.index.set_open(convert.uri_to_path(uri), text)
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
        if not self.frozen:
            # libcst, the rules and their tables are loaded now and live as long as we do:
            # out of the collector's sight, full collections stay short while typing.
            gc.freeze()
            self.frozen = True
        if not self._is_current(uri, generation, version):
            return None  # stale: a newer edit (or a close) superseded it
        if state.last is not None and state.last.version == version and state.last.text == text:
            return state.last  # a concurrent request analysed the same text first: one answer
        state.last = analysis
        state.result_id += 1  # a new answer for pulls (publishing the same one is not)
        if analysis.parsed:
            state.last_good = analysis
        path = convert.uri_to_path(uri)
        state.compiled = frozenset(
            _compiled_key(c) for c in analysis.result.compiled if c.path == path
        )
        return analysis

    async def requested_analysis(self, uri: str) -> Analysis | None:
        """The current analysis of an open document a request names (the request may come
        before the didOpen's analysis has run)."""
        if uri in self.workspace.text_documents:
            self.documents.setdefault(uri, DocumentState())
        return await self.current_analysis(uri)

    def close(self, uri: str) -> None:
        state = self.documents.pop(uri, None)
        if state is not None:
            state.generation += 1
            for task in (state.task, state.verify_task):
                if task is not None and not task.done():
                    task.cancel()
        self.index.set_open(convert.uri_to_path(uri), None)
        if not self.pull:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    def reanalyze(self, uri: str, delay: float = 0.0) -> None:
        """Analyse a document again though its text is the same (its config or context
        changed): the cached analysis no longer holds."""
        self.documents[uri].last = None
        self.schedule(uri, delay)

    def reanalyze_all(self) -> None:
        for uri in list(self.documents):
            self.reanalyze(uri)

    def reanalyze_affected(self, changed: dict[str, types.FileChangeType]) -> None:
        """Files changed on disk. An open document's own file is not its text (a save, which
        must not cancel the verification it starts): documents are analysed again only when a
        changed file is in their context, or a file appeared or went away."""
        for uri, state in list(self.documents.items()):
            path = convert.uri_to_path(uri)
            others = {p: t for p, t in changed.items() if p != path}
            appeared = any(t != types.FileChangeType.Changed for t in others.values())
            context = state.last.context if state.last is not None else {}
            if appeared or context.keys() & others.keys():
                self.reanalyze(uri)

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

    # -- verification ----------------------------------------------------------------------

    def start_verification(self, uri: str, *, forced: bool = False) -> None:
        state = self.documents.get(uri)
        if state is None or not self.settings.trusted:
            return
        if not (forced or self.settings.verifying):
            return
        if state.verify_task is not None and not state.verify_task.done():
            state.verify_task.cancel()
        state.verify_task = asyncio.ensure_future(self._verify(uri, state.generation))

    async def _verify(self, uri: str, generation: int) -> None:
        analysis = await self.current_analysis(uri, generation)
        if analysis is None or not analysis.parsed or analysis.verified:
            return
        roots = list(_roots(analysis, convert.uri_to_path(uri)))
        if not roots:
            return
        token = await self.begin_progress(f"Verifying {', '.join(roots)} with TorchScript…")
        loop = asyncio.get_running_loop()
        message = "cancelled"
        cancel = threading.Event()
        try:
            future = loop.run_in_executor(
                self.verifier, self.verify, uri, analysis, self.reporter(token, loop), cancel
            )
            verified, message = await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()  # the verifier thread kills the job in flight and skips the rest
            raise
        except Exception:
            message = "failed"
            self.log(
                f"tscheck: verification of {uri} failed:\n{traceback.format_exc()}",
                types.MessageType.Error,
            )
            return
        finally:
            self.end_progress(token, message)
        if verified is None:
            self.log(f"tscheck: cannot verify {uri}: {message}", types.MessageType.Warning)
            return
        if not self._is_current(uri, generation, analysis.version):
            return  # the document changed while the compiler ran: the result is stale
        state = self.documents[uri]
        state.last = verified
        state.result_id += 1
        self.publish(uri, verified)
        if self.pull and self.refresh:
            self.workspace_diagnostic_refresh(None)

    def verify(
        self,
        uri: str,
        analysis: Analysis,
        progress: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> tuple[Analysis | None, str]:
        """Runs on the verifier thread: the real compiler on the analysed text."""
        from tscheck.verify import FileToVerify, verify_project
        from tscheck.verify.client import VerifierUnavailable

        path = convert.uri_to_path(uri)
        config = analysis.config
        summaries = {**analysis.context, path: summarize(path, analysis.module, analysis.text)}
        try:
            zygote = self.zygote_for(config)
            zygote.interrupt = cancel
            try:
                diagnostics, summary = verify_project(
                    [FileToVerify(path, analysis.module, analysis.text)],
                    summaries,
                    analysis.result.diagnostics,
                    config,
                    zygote=zygote,
                    progress=lambda n, total, what: progress(f"{n}/{total}: {what}"),
                )
            finally:
                zygote.interrupt = None
        except VerifierUnavailable as exc:
            return None, f"verifier unavailable: {exc}"
        if cancel is not None and cancel.is_set():
            return None, "cancelled"
        mine: list[Diagnostic] = [d for d in diagnostics if d.path == path]
        lsp = [convert.to_lsp(d, analysis.lines, uri, self.urls) for d in mine]
        verified = dataclasses.replace(analysis, diagnostics=lsp, verified=True)
        done = (
            f"{summary.confirmed} confirmed, {summary.dropped} dropped, "
            f"{summary.compiler_only} found by the compiler only"
        )
        return verified, done

    def zygote_for(self, config: tsconfig.Config) -> Any:
        from tscheck.verify.client import Zygote

        key = (config.python, config.preload, self.settings.sandbox)
        if self.zygote is not None and self.zygote_key != key:
            self.zygote.close()
            self.zygote = None
        if self.zygote is None:
            self.zygote = Zygote(
                python=config.python or None,
                preload=config.preload,
                sandbox_mode=self.settings.sandbox,
            )
            self.zygote_key = key
        return self.zygote

    def stop_verifier(self) -> None:
        def close() -> None:
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None

        self.verifier.submit(close)
        self.verifier.shutdown(wait=False)

    async def begin_progress(self, title: str) -> str | None:
        if not self.shows_progress:
            return None
        token = f"tscheck-verify-{uuid.uuid4().hex[:8]}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception:
            return None
        self.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, cancellable=False)
        )
        return token

    def reporter(self, token: str | None, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
        def report(message: str) -> None:
            if token is not None:
                loop.call_soon_threadsafe(
                    self.work_done_progress.report,
                    token,
                    types.WorkDoneProgressReport(message=message),
                )

        return report

    def end_progress(self, token: str | None, message: str) -> None:
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # -- Show TorchScript code --------------------------------------------------------------

    def code_lenses(self, uri: str, analysis: Analysis) -> list[types.CodeLens]:
        if not self.settings.trusted:
            return []  # showing the code runs the user's code (sandboxed): not untrusted
        lenses = []
        for name, line in _roots(analysis, convert.uri_to_path(uri)).items():
            at = types.Range(
                start=types.Position(line=line - 1, character=0),
                end=types.Position(line=line - 1, character=0),
            )
            for what, title in (("code", "Show TorchScript code"), ("graph", "graph")):
                lenses.append(
                    types.CodeLens(
                        range=at,
                        command=types.Command(
                            title=title, command=SHOW_COMMAND, arguments=[uri, name, what]
                        ),
                    )
                )
        return lenses

    def show(self, uri: str, root: str, what: str, text: str, config: tsconfig.Config) -> Any:
        """Runs on the verifier thread: the scripted root's code (or graph), from the text the
        editor has now."""
        from tscheck.verify import package_root
        from tscheck.verify.client import VerifierUnavailable
        from tscheck.verify.show import show_root

        path = convert.uri_to_path(uri)
        module = self.index.module_name(path)
        factory = dict(config.factories).get(f"{config.relative(path)}:{root}")
        try:
            return show_root(
                self.zygote_for(config),
                path,
                module,
                (package_root(path, module),),
                root,
                text=text,
                what=what,
                factory=factory,
                timeout_s=config.timeout_s,
            )
        except VerifierUnavailable as exc:
            return f"verifier unavailable: {exc}"

    # -- hover -----------------------------------------------------------------------------

    def hover_text(self, analysis: Analysis, uri: str, pos: types.Position) -> str | None:
        line = analysis.lines[pos.line] if 0 <= pos.line < len(analysis.lines) else ""
        match = DEFINITION.match(line)
        if match is None:
            return None
        column = convert.from_utf16(line, pos.character)
        if not match.start("name") <= column <= match.end("name"):
            return None
        path = convert.uri_to_path(uri)
        summary = summarize(path, analysis.module, analysis.text)
        return hovers.describe(analysis.result, path, summary, match.group("name"), pos.line + 1)


def command_arguments(args: tuple[Any, ...]) -> list[Any]:
    """A command's arguments, whether pygls passed them spread or as one list."""
    return list(args[0]) if len(args) == 1 and isinstance(args[0], list) else list(args)


def write_shown(source: str, root: str, what: str, text: str) -> Path:
    """The shown code as a read-only file in a private temp folder, named after its source:
    `model.Net.torchscript.py` (Python-like highlighting) or `model.Net.graph.txt`."""
    folder = Path(tempfile.gettempdir()) / f"tscheck-torchscript-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    suffix = "torchscript.py" if what == "code" else "graph.txt"
    target = folder / f"{Path(source).stem}.{root}.{suffix}"
    if target.exists():
        target.chmod(0o600)
    target.write_text(text, encoding="utf-8")
    target.chmod(0o400)  # read-only: edits there change nothing
    return target


def _compiled_key(c: Compiled) -> tuple[str, str, tuple[Any, ...]]:
    return (c.info.qualname, c.mode, c.chain)


def _roots(analysis: Analysis, path: str) -> dict[str, int]:
    """This file's roots (top-level classes and functions scripting starts from) -> their
    1-based lines: the first link of a why-chain is the root."""
    found: dict[str, int] = {}
    for c in analysis.result.compiled:
        if c.chain and c.chain[0].path == path:
            name = c.chain[0].function
            if name and "." not in name and name not in found:
                found[name] = c.chain[0].line
    return found


def create_server() -> TscheckLanguageServer:
    server = TscheckLanguageServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: TscheckLanguageServer, params: types.InitializeParams) -> None:
        warm_up()
        # Everything imported so far lives as long as the server: out of the collector's
        # sight, the full collections the first (allocation-heavy) analysis triggers are short.
        gc.freeze()
        ls.settings, problems = update(ls.settings, params.initialization_options)
        for problem in problems:
            ls.log(f"tscheck: {problem}", types.MessageType.Warning)
        caps = params.capabilities
        text = caps.text_document
        supports_pull = text is not None and text.diagnostic is not None
        mode = ls.settings.diagnostic_mode
        ls.pull = mode == "pull" or (mode == "auto" and supports_pull)
        ls.shows_progress = bool(caps.window and caps.window.work_done_progress)
        workspace = caps.workspace
        ls.refresh = bool(
            workspace and workspace.diagnostics and workspace.diagnostics.refresh_support
        )

    @server.feature(types.INITIALIZED)
    async def initialized(ls: TscheckLanguageServer, params: types.InitializedParams) -> None:
        # Ask to hear about Python files and pyproject.toml changing on disk, where the
        # client lets servers register for that.
        watched = ls.client_capabilities.workspace
        dynamic = watched and watched.did_change_watched_files
        if dynamic and dynamic.dynamic_registration:
            watchers = [
                types.FileSystemWatcher(glob_pattern="**/*.py"),
                types.FileSystemWatcher(glob_pattern="**/pyproject.toml"),
            ]
            registration = types.Registration(
                id="tscheck-watch",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
            )
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(registrations=[registration])
                )
            except Exception as exc:
                ls.log(f"tscheck: cannot watch files: {exc}", types.MessageType.Warning)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: TscheckLanguageServer, params: None) -> None:
        ls.stop_verifier()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TscheckLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0.0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TscheckLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.settings.debounce_s)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: TscheckLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.index.invalidate()
        if ls.settings.verify in ("onSave", "onIdle"):
            ls.start_verification(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TscheckLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(
        ls: TscheckLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        ls.settings, problems = update(ls.settings, params.settings)
        for problem in problems:
            ls.log(f"tscheck: {problem}", types.MessageType.Warning)
        ls.reanalyze_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(
        ls: TscheckLanguageServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        ls.index.invalidate()
        changed = {convert.uri_to_path(c.uri): c.type for c in params.changes}
        if any(Path(path).name == "pyproject.toml" for path in changed):
            ls.reanalyze_all()  # the configuration changed
        else:
            ls.reanalyze_affected(changed)

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(
            identifier="tscheck", inter_file_dependencies=True, workspace_diagnostics=False
        ),
    )
    async def diagnostic(
        ls: TscheckLanguageServer, params: types.DocumentDiagnosticParams
    ) -> types.DocumentDiagnosticReport:
        uri = params.text_document.uri
        analysis = await ls.requested_analysis(uri)
        state = ls.documents.get(uri)
        if analysis is None or state is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        result_id = f"{analysis.version}:{state.result_id}:{int(analysis.verified)}"
        if params.previous_result_id == result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=result_id)
        return types.RelatedFullDocumentDiagnosticReport(
            items=analysis.diagnostics, result_id=result_id
        )

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
            analysis = await ls.requested_analysis(uri)
            if analysis is not None:
                fix_all = convert.fix_all_action(analysis.diagnostics, uri)
                if fix_all is not None:
                    fixes.append(fix_all)
        return [*fixes, *ignores]

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def code_lens(
        ls: TscheckLanguageServer, params: types.CodeLensParams
    ) -> list[types.CodeLens]:
        uri = params.text_document.uri
        analysis = await ls.requested_analysis(uri)
        return [] if analysis is None else ls.code_lenses(uri, analysis)

    @server.command(SHOW_COMMAND)
    async def show_torchscript(ls: TscheckLanguageServer, *args: Any) -> dict[str, Any]:
        """Arguments: uri, root name, "code" | "graph". Answers {root, what, text, verdict,
        message, uri}; the text is also opened with window/showDocument (a read-only file)
        unless the client said it shows it itself (initializationOptions showDocument: false)."""
        values = command_arguments(args)
        if len(values) < 2 or not all(isinstance(v, str) for v in values[:3]):
            return {"error": f"{SHOW_COMMAND} expects [uri, root, 'code' | 'graph']"}
        uri, root = values[0], values[1]
        what = values[2] if len(values) > 2 and values[2] in ("code", "graph") else "code"
        if not ls.settings.trusted:
            return {"error": UNTRUSTED}
        document = ls.workspace.text_documents.get(uri)
        if document is None:
            return {"error": f"{uri} is not open"}
        config, _ = ls.load_config(convert.uri_to_path(uri))
        loop = asyncio.get_running_loop()
        token = await ls.begin_progress(f"Scripting {root} with TorchScript…")
        try:
            shown = await loop.run_in_executor(
                ls.verifier, ls.show, uri, root, what, document.source, config
            )
        finally:
            ls.end_progress(token, "done")
        if isinstance(shown, str):
            return {"error": shown}
        answer = {
            "root": shown.root,
            "what": shown.what,
            "text": shown.text,
            "verdict": shown.verdict,
            "message": shown.message,
            "uri": None,
        }
        if not shown.text:
            ls.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning,
                    message=f"tscheck: {root} does not script: {shown.message}",
                )
            )
            return answer
        if ls.settings.show_document:
            target = write_shown(convert.uri_to_path(uri), root, what, shown.text)
            answer["uri"] = target.as_uri()
            try:
                await ls.window_show_document_async(
                    types.ShowDocumentParams(uri=answer["uri"], take_focus=True)
                )
            except Exception as exc:  # a client without showDocument still gets the text
                ls.log(f"tscheck: cannot open {target}: {exc}", types.MessageType.Warning)
        return answer

    @server.command(VERIFY_COMMAND)
    async def verify_file(ls: TscheckLanguageServer, *args: Any) -> dict[str, Any]:
        """Arguments: uri. Verifies the document now, whatever the `verify` setting (not in
        an untrusted workspace); the result arrives as republished diagnostics."""
        values = command_arguments(args)
        if not values or not isinstance(values[0], str):
            return {"error": f"{VERIFY_COMMAND} expects [uri]"}
        if not ls.settings.trusted:
            return {"error": UNTRUSTED}
        uri = values[0]
        if uri not in ls.workspace.text_documents:
            return {"error": f"{uri} is not open"}
        ls.documents.setdefault(uri, DocumentState())
        ls.start_verification(uri, forced=True)
        return {"started": True}

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TscheckLanguageServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        analysis = await ls.requested_analysis(uri)
        if analysis is None:
            return None
        text = ls.hover_text(analysis, uri, params.position)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))

    return server
