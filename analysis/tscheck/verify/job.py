"""One verification job, run inside the worker's forked child: `run(request) -> dict` (PROTOCOL.md).

Loads the user's module (from disk, or from the editor's unsaved text through linecache), builds
each root, scripts it with the real compiler, saves and loads it, optionally moves it to CUDA and
compares eager with scripted outputs on example inputs.

Standard library and torch only: this file runs in the user's interpreter, where tscheck itself
may not be installed. It is meant to run once per fresh process: a failed compile poisons torch's
caches and edits are never seen by a warm one (catalog.md F5).
"""

from __future__ import annotations

import ast
import collections.abc
import errno
import importlib
import importlib.util
import inspect
import io
import linecache
import math
import os
import re
import site
import socket
import sys
import sysconfig
import traceback
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

with warnings.catch_warnings():
    # torch's own import-time warnings must not stop the job under -W error.
    warnings.simplefilter("ignore")
    import torch

JsonDict = dict[str, Any]

# torch.jit.ignore and torch.jit.load carry no annotations; typed aliases keep strict mypy useful.
jit_ignore: Callable[[Any], Any] = torch.jit.ignore
jit_load: Callable[[Any], Any] = torch.jit.load

# Errnos that mean the sandbox (or the OS) refused: no network, no permission, read-only files.
BLOCKED_ERRNOS = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.EAFNOSUPPORT,
    }
)


# ---------------------------------------------------------------------------------------------
# The loaded source: definitions found with `ast` in the very text that was executed.


class Definition(NamedTuple):
    qualname: str  # Python's __qualname__ convention: "Net.forward", "f.<locals>.g"
    name: str
    is_class: bool
    start: int  # first line, decorators included (a range may start there)
    line: int  # the line of the `def`/`class` keyword
    column: int  # 0-based code point column of the keyword
    end: int
    node: ast.AST


class SourceIndex:
    """Definitions of one module's text, to name the function that holds a compiler error."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.definitions: list[Definition] = []
        try:
            tree: ast.AST | None = ast.parse(text)
        except (SyntaxError, ValueError):
            tree = None
        if tree is not None:
            self._collect(tree, "")

    def _collect(self, node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = prefix + child.name
                starts = [child.lineno] + [d.lineno for d in child.decorator_list]
                self.definitions.append(
                    Definition(
                        qualname=qualname,
                        name=child.name,
                        is_class=isinstance(child, ast.ClassDef),
                        start=min(starts),
                        line=child.lineno,
                        column=self.code_points(child.lineno, child.col_offset),
                        end=child.end_lineno or child.lineno,
                        node=child,
                    )
                )
                nested = "." if isinstance(child, ast.ClassDef) else ".<locals>."
                self._collect(child, qualname + nested)
            elif not isinstance(child, ast.expr):
                # Statements under if/try/with keep their enclosing prefix; expressions hold no
                # defs (skipping them keeps a large file's walk short).
                self._collect(child, prefix)

    def code_points(self, line: int, byte_column: int) -> int:
        """`ast` columns are UTF-8 byte offsets; the protocol counts code points."""
        if not 1 <= line <= len(self.lines):
            return byte_column
        return utf8_prefix_length(self.lines[line - 1], byte_column)

    def function_at(self, line: int) -> str | None:
        """Qualname of the innermost def that contains `line` (the one starting last)."""
        best: Definition | None = None
        for definition in self.definitions:
            if definition.is_class or not definition.start <= line <= definition.end:
                continue
            if best is None or definition.start >= best.start:
                best = definition
        return best.qualname if best else None

    def find(self, name: str, near_line: int | None) -> Definition | None:
        """The def or class called `name`; prefer a method of the class whose code calls it."""
        candidates = [d for d in self.definitions if d.name == name]
        if not candidates:
            return None
        caller = self.function_at(near_line) if near_line else None
        if caller and "." in caller:
            owner = caller.rsplit(".", 1)[0]
            for candidate in candidates:
                if candidate.qualname == f"{owner}.{name}":
                    return candidate
        for candidate in candidates:
            if candidate.qualname == name:
                return candidate
        return candidates[0]

    def builders_of(self, class_name: str) -> list[str]:
        """Top-level functions that look like they return a `class_name` instance."""
        names = []
        for definition in self.definitions:
            node = definition.node
            if "." in definition.qualname or not isinstance(node, ast.FunctionDef):
                continue
            if names_class(node.returns, class_name) or returns_instance(node, class_name):
                names.append(node.name)
        return names


def names_class(annotation: ast.expr | None, class_name: str) -> bool:
    if isinstance(annotation, ast.Name):
        return annotation.id == class_name
    if isinstance(annotation, ast.Attribute):
        return annotation.attr == class_name
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.rsplit(".", 1)[-1] == class_name
    return False


def returns_instance(function: ast.FunctionDef, class_name: str) -> bool:
    """`return Net(...)`, or `model = Net(...)` ... `return model`."""
    built: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and is_call_to(node.value, class_name):
            built.update(t.id for t in node.targets if isinstance(t, ast.Name))
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and node.value is not None:
            if is_call_to(node.value, class_name):
                return True
            if isinstance(node.value, ast.Name) and node.value.id in built:
                return True
    return False


def is_call_to(node: ast.expr, class_name: str) -> bool:
    return isinstance(node, ast.Call) and names_class(node.func, class_name)


def utf8_prefix_length(text: str, byte_count: int) -> int:
    """Code points in the first `byte_count` UTF-8 bytes of `text`."""
    return len(text.encode("utf-8")[:byte_count].decode("utf-8", "ignore"))


# ---------------------------------------------------------------------------------------------
# Loading the module.


def source_lines(text: str) -> list[str]:
    """Lines as linecache stores them: split on newlines only (not str.splitlines' form feeds
    and separators, which Python's tokenizer does not count), each ending in a newline."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + "\n")
    return lines


def read_source(file: str, text: str | None) -> str:
    if text is not None:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    with open(file, "rb") as handle:
        # decode_source honours a coding cookie and translates newlines, as the import system does.
        return importlib.util.decode_source(handle.read())


def load_module(file: str, name: str, text: str) -> types.ModuleType:
    """Execute `text` as module `name` (file `file`), parents imported first so that relative
    imports resolve. The text goes into linecache under the real path, so every
    `inspect.getsource` TorchScript makes sees exactly what was executed."""
    # mtime None: linecache.checkcache never replaces the entry with the file on disk (F3).
    linecache.cache[file] = (len(text), None, source_lines(text), file)
    parent_name, _, child_name = name.rpartition(".")
    parent = importlib.import_module(parent_name) if parent_name else None
    if parent is None:
        name = unshadowed(name, file)
    is_package = os.path.basename(file) == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        name,
        file,
        submodule_search_locations=[os.path.dirname(file)] if is_package else None,
    )
    if spec is None:
        raise ImportError(f"cannot make a module spec for {file}", name=name, path=file)
    module = importlib.util.module_from_spec(spec)
    # Registered before executing, like the import system: the module may import itself or a
    # sibling that imports it back.
    sys.modules[name] = module
    try:
        # Compiled from the text, not through the loader: no .pyc is read or written (F5).
        code = compile(text, file, "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if parent is not None:
        setattr(parent, child_name, module)
    return module


def out_of_memory(exc: Exception) -> None:
    """Re-raise running out of memory as MemoryError: it is the sandbox's data limit, which the
    worker reports as a crash (PROTOCOL.md), not a compile or run error of one root. torch's
    allocator says so with a RuntimeError, also inside TorchScript interpreter errors."""
    if isinstance(exc, MemoryError):
        raise exc
    lines = [line.strip() for line in str(exc).split("\n") if "can't allocate memory" in line]
    if lines:
        raise MemoryError(lines[0]) from exc


def unshadowed(name: str, file: str) -> str:
    """A top-level user file named like a module already imported here (`inspect.py`,
    `copy.py`) must not replace it in sys.modules: torch would then find the user's module
    where it expects the standard library (a user `inspect.py` broke every compile). A
    normal run would not shadow it either: the imported module wins. Top-level modules have
    no relative imports, so another name costs nothing. The same file preloaded is replaced."""
    taken = sys.modules.get(name)
    if taken is None or same_file(getattr(taken, "__file__", None), file):
        return name
    return f"_tscheck_user_{name}"


def is_blocked(exc: BaseException) -> bool:
    """A refusal by the sandbox: no network, no permission. Wrapped causes count too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (PermissionError, socket.gaierror)):
            return True
        if isinstance(current, OSError) and current.errno in BLOCKED_ERRNOS:
            return True
        reason = getattr(current, "reason", None)  # urllib.error.URLError wraps the OSError
        if isinstance(reason, BaseException) and is_blocked(reason):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe_import_error(exc: Exception, file: str) -> JsonDict:
    line: int | None = None
    where: str | None = None
    if isinstance(exc, SyntaxError) and exc.lineno:
        line, where = exc.lineno, exc.filename or file
    else:
        # The innermost frame in the user's file tells which line of the module raised.
        for frame in traceback.extract_tb(exc.__traceback__):
            if same_file(frame.filename, file):
                line, where = frame.lineno, file
    return {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "blocked": is_blocked(exc),
        "file": where,
        "line": line,
    }


def same_file(left: str | None, right: str | None) -> bool:
    if not left or not right:
        return False
    return os.path.normcase(os.path.realpath(left)) == os.path.normcase(os.path.realpath(right))


def resolve(namespace: Any, dotted: str) -> Any:
    value = namespace
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


# ---------------------------------------------------------------------------------------------
# Peeling: mark functions @torch.jit.ignore before scripting.


def mark_ignored(module: types.ModuleType, qualname: str) -> str | None:
    """Mark `qualname` ignored; returns why it could not be, or None."""
    owner_path, _, attribute = qualname.rpartition(".")
    try:
        owner = resolve(module, owner_path) if owner_path else module
    except AttributeError:
        return f"cannot mark {qualname!r} ignored: {owner_path!r} not found in the module"
    if isinstance(owner, type):
        return ignore_in_class(owner, attribute, qualname)
    function = getattr(owner, attribute, None)
    if not callable(function) or isinstance(function, type):
        return f"cannot mark {qualname!r} ignored: not a function"
    # Replaced in the namespace: TorchScript resolves a callee's global name at compile time,
    # and torch.jit.ignore tags the function object itself, so other references see it too.
    setattr(owner, attribute, jit_ignore(function))
    return None


def ignore_in_class(owner: type, attribute: str, qualname: str) -> str | None:
    raw = inspect.getattr_static(owner, attribute, None)
    if raw is None:
        return f"cannot mark {qualname!r} ignored: no {attribute!r} in class {owner.__name__}"
    if isinstance(raw, property):
        # TorchScript compiles every property; only this list switches one off.
        unused = list(getattr(owner, "__jit_unused_properties__", []))
        owner.__jit_unused_properties__ = [*unused, attribute]  # type: ignore[attr-defined]
    elif isinstance(raw, (staticmethod, classmethod)):
        # The modifier must sit on the function the compiler unwraps, not on the wrapper.
        setattr(owner, attribute, type(raw)(jit_ignore(raw.__func__)))
    elif callable(raw):
        setattr(owner, attribute, jit_ignore(raw))
    else:
        return f"cannot mark {qualname!r} ignored: not a method"
    return None


def reset_jit_state() -> None:
    """Forget compiled classes. After a failed compile, scripting a class again in the same
    process fails with `Can't redefine method` (F5), so a later root that shares a submodule
    with a failed one would get a bogus error. This is what torch's own tests do between cases."""
    torch._C._jit_clear_class_registry()
    torch.jit._recursive.concrete_type_store = torch.jit._recursive.ConcreteTypeStore()
    torch.jit._state._clear_class_state()


# ---------------------------------------------------------------------------------------------
# Compiler messages: `File "<path>", line N`, context lines, `~~~~ <--- HERE` (catalog.md F3).

FRAME_LINE = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?\s*$')
TILDE_LINE = re.compile(r"^\s*~+(?: <--- HERE)?\s*$")


class Frame(NamedTuple):
    file: str
    line: int
    column: int | None
    end_line: int | None
    end_column: int | None


def parse_frames(message: str) -> list[Frame]:
    """Every `File ..., line N` block of a compiler message, with its highlighted range."""
    rows = message.split("\n")
    starts = [i for i, row in enumerate(rows) if FRAME_LINE.match(row)]
    frames = []
    for number, start in enumerate(starts):
        match = FRAME_LINE.match(rows[start])
        assert match is not None
        stop = starts[number + 1] if number + 1 < len(starts) else len(rows)
        frames.append(frame_from(match["file"], int(match["line"]), rows[start + 1 : stop]))
    return frames


def frame_from(file: str, line: int, block: list[str]) -> Frame:
    """`line` is where the range starts: the row above the first tilde row. Multi-line ranges
    put a tilde row under every non-empty line (blank ones get none) and `<--- HERE` on the
    last; zero-width ranges have no tilde row at all. Tilde offsets count UTF-8 bytes."""
    first = next((i for i, row in enumerate(block) if i and TILDE_LINE.match(row)), None)
    if first is None:
        return Frame(file, line, None, None, None)
    source = block[first - 1]
    column = utf8_prefix_length(source, block[first].index("~"))
    end_line, end_column = line, utf8_prefix_length(source, block[first].rindex("~") + 1)
    current = line
    for row in block[first:]:
        if TILDE_LINE.match(row):
            end_line, end_column = current, utf8_prefix_length(source, row.rindex("~") + 1)
            if "<--- HERE" in row:
                break
        else:
            current, source = current + 1, row
    return Frame(file, line, column, end_line, end_column)


INTERPRETER_FAILED = "The following operation failed in the TorchScript interpreter."


def first_line(message: str, fallback: str) -> str:
    """The first non-empty line; for the interpreter's generic run-time header, the last one
    instead: the original Python exception (`RuntimeError: ...`, catalog.md F3)."""
    rows = [row.strip() for row in message.split("\n") if row.strip()]
    if not rows:
        return fallback
    return rows[-1] if rows[0] == INTERPRETER_FAILED else rows[0]


EXPORT_CALL = re.compile(r"Could not export Python function call '([^']+)'")


# ---------------------------------------------------------------------------------------------
# The job.


class Context:
    """What every root of one job shares. A plain class, like the NamedTuples above: dataclasses
    look their module up in sys.modules, and the worker loads this file under a private name."""

    def __init__(
        self,
        module: types.ModuleType,
        file: str,
        text: str,
        device: str,
        note: str | None,
        examples: Mapping[str, str],
        problems: list[str],
        import_warnings: list[JsonDict],
        show: str | None = None,
    ) -> None:
        self.module = module
        self.file = file
        self.index = SourceIndex(text)
        self.device = device
        self.note = note
        self.examples = examples
        self.problems = problems  # ignore marks that could not be applied
        self.import_warnings = import_warnings
        self.poisoned = False  # a compile failed: reset torch's class registry before the next root
        self.show = show  # "code" | "graph": each result carries `shown` (None: no such field)

    def namespace(self) -> dict[str, Any]:
        """The module's globals, for factory and example expressions (torch always at hand)."""
        names = dict(vars(self.module))
        names.setdefault("torch", torch)
        return names

    def describe(self, exc: BaseException, stage: str, *, innermost: bool = False) -> JsonDict:
        """The protocol's error object. Compile errors point at their FIRST frame (callees add
        `is being compiled since it was called from` frames after it); run-time tracebacks are
        most-recent-call-last, so there the last frame in the user's file is the site."""
        message = str(exc)
        frames = parse_frames(message)
        frame: Frame | None = frames[0] if frames else None
        if frame is not None and not innermost and not self.users(frame):
            # It failed inside torch's own code (`ModuleList.append`, `self.parameters()`),
            # compiled because the user's code called it: the first user frame is the cause.
            frame = next((f for f in frames if self.users(f)), frame)
        if innermost and frames:
            own = [f for f in frames if same_file(f.file, self.file)]
            frame = (own or frames)[-1]
        if frame is None and stage == "eager":
            frame = self.python_frame(exc)
        error: JsonDict = {
            "type": type(exc).__name__,
            "message": message,
            "first_line": first_line(message, type(exc).__name__),
            "file": frame.file if frame else None,
            "line": frame.line if frame else None,
            "column": frame.column if frame else None,
            "end_line": frame.end_line if frame else None,
            "end_column": frame.end_column if frame else None,
            "function": None,
            "stage": stage,
        }
        if frame and same_file(frame.file, self.file):
            error["function"] = self.index.function_at(frame.line)
        return error

    def users(self, frame: Frame) -> bool:
        """Whether `frame` is in the user's code: the job's file, or any file outside the
        standard library and installed packages."""
        if same_file(frame.file, self.file):
            return True
        return not within(os.path.realpath(frame.file), installed_roots())

    def python_frame(self, exc: BaseException) -> Frame | None:
        """Eager errors: the innermost traceback frame in the user's file."""
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if same_file(f.filename, self.file)
        ]
        if not frames or frames[-1].lineno is None:
            return None
        return Frame(self.file, frames[-1].lineno, None, None, None)

    def describe_save(self, exc: BaseException, stage: str) -> JsonDict:
        """`Could not export Python function call 'helper'`: point at helper's def (the ignored
        function that blocks export) rather than at the call site the compiler marks."""
        error = self.describe(exc, stage)
        match = EXPORT_CALL.search(str(exc))
        if not match:
            return error
        call_line = error["line"] if same_file(error["file"], self.file) else None
        definition = self.index.find(match[1], call_line)
        if definition is None:
            return error
        end = self.index.lines[definition.line - 1].find(definition.name, definition.column)
        error.update(
            file=self.file,
            line=definition.line,
            column=definition.column,
            end_line=definition.line,
            end_column=end + len(definition.name) if end >= 0 else None,
            function=definition.qualname,
        )
        return error


def run(request: Mapping[str, Any]) -> JsonDict:
    """Serve one `script` request; returns the `import_error`, `results` and `imported` of the
    response."""
    file = os.path.abspath(request["file"])
    name = request.get("module") or os.path.splitext(os.path.basename(file))[0]
    project = [os.path.abspath(p) for p in request.get("sys_path") or []]
    sys.path[:0] = project
    loaded_before = set(sys.modules)
    try:
        text = read_source(file, request.get("text"))
        with warnings.catch_warnings(record=True) as caught:
            # The user's import-time warnings are recorded rather than raised (-W error must
            # not make the import fail); the ones from the user's own file are reported.
            warnings.simplefilter("always")
            module = load_module(file, name, text)
    except Exception as exc:
        # Exception, not BaseException: SystemExit (and KeyboardInterrupt) propagate on
        # purpose, so the worker reports an "exited" verdict instead of a fake import error.
        out_of_memory(exc)
        return {"import_error": describe_import_error(exc, file), "results": [], "imported": []}
    imported = installed_imports(loaded_before, [*project, os.path.dirname(file)])
    if warmed_classes_changed():
        reset_jit_state()  # the user's import patched a class the zygote compiled: recompile
    device, note = pick_device(str(request.get("device") or "cpu"))
    problems = [mark_ignored(module, qualname) for qualname in request.get("ignore") or []]
    context = Context(
        module=module,
        file=file,
        text=text,
        device=device,
        note=note,
        examples=request.get("examples") or {},
        problems=[problem for problem in problems if problem],
        import_warnings=[w for w in summarize(caught) if same_file(w["file"], file)],
        show=request.get("show"),
    )
    results = [verify_root(context, root) for root in request.get("roots") or []]
    if request.get("trace"):
        results.extend(trace_roots(context, request["trace"]))
    return {"import_error": None, "results": results, "imported": imported}


def trace_roots(context: Context, specs: list[Mapping[str, Any]]) -> list[JsonDict]:
    """The request's `trace` entries (tracing hazards): traced with check_trace by the
    sibling trace_child.py, loaded by path like this file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trace_child.py")
    spec = importlib.util.spec_from_file_location("_tscheck_verify_trace_child", path)
    if spec is None or spec.loader is None:
        return [
            {
                "root": s.get("name"),
                "kind": "trace",
                "verdict": "unverified",
                "reason": "trace_child.py missing",
            }
            for s in specs
        ]
    tracer = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tracer
    spec.loader.exec_module(tracer)
    out: list[JsonDict] = []
    for entry in specs:
        if context.poisoned:
            reset_jit_state()
            context.poisoned = False
        out.append(tracer.trace_root(context, entry, build))
    return out


def pick_device(requested: str) -> tuple[str, str | None]:
    if not requested.startswith("cuda"):
        return "cpu", None
    if torch.cuda.is_available():
        return requested, None
    return "cpu", "CUDA requested but torch.cuda.is_available() is False here: verified on the CPU"


def summarize(caught: list[warnings.WarningMessage]) -> list[JsonDict]:
    """Distinct warnings in order (with "always", the compiler repeats its deprecation for
    every recursively scripted function)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for record in caught:
        key = (record.category.__name__, str(record.message))
        if key not in seen:
            seen.add(key)
            out.append({"category": key[0], "message": key[1], "file": record.filename})
    return out


def verify_root(context: Context, root: Mapping[str, Any] | str) -> JsonDict:
    spec = {"name": root, "factory": None} if isinstance(root, str) else root
    result: JsonDict = {
        "root": spec["name"],
        "verdict": "ok",
        "built_with": None,
        "reason": None,
        "error": None,
        "warnings": [],
        "device": context.device,
        "note": context.note,
        "compare": None,
    }
    if context.show is not None:
        result["shown"] = None  # stays None unless the root scripts
    if context.poisoned:
        reset_jit_state()
        context.poisoned = False
    with warnings.catch_warnings(record=True) as caught:
        # "always" first in the filter list: torch.jit.script's DeprecationWarning is recorded,
        # never raised, even under -W error (F6).
        warnings.simplefilter("always")
        try:
            check_root(context, spec, result)
        except Exception as exc:
            # User code's exceptions are caught where they happen; this is a bug of ours. The
            # other roots still get their results, and this one is never reported as clean.
            out_of_memory(exc)
            result.update(verdict="unverified", reason=f"tscheck failed: {brief(exc)}")
    notes = [{"category": "tscheck", "message": p} for p in context.problems]
    recorded = context.import_warnings + summarize(caught)
    result["warnings"] = notes + [{k: v for k, v in w.items() if k != "file"} for w in recorded]
    return result


def check_root(context: Context, spec: Mapping[str, Any], result: JsonDict) -> None:
    name = str(spec["name"])
    try:
        target = resolve(context.module, name)
    except AttributeError:
        result.update(
            verdict="unverified", reason=f"no {name!r} in module {context.module.__name__}"
        )
        return
    built = build(context, name, target, spec.get("factory"))
    if isinstance(built, Unbuilt):
        result.update(verdict="unverified", reason=built.reason)
        return
    result["built_with"] = built.built_with
    try:
        scripted = torch.jit.script(built.value)
    except Exception as exc:  # FrontendError is not a RuntimeError; OSError, TypeError, ...
        out_of_memory(exc)
        context.poisoned = True
        result.update(verdict="compile_error", error=context.describe(exc, "script"))
        return
    if context.show is not None:
        # Before saving: lighten() swaps the tensors out for a moment (the code shows none).
        result["shown"] = shown_text(scripted, context.show)
    if not isinstance(scripted, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        return  # a TorchScript class: compiled, but nothing to save or run
    loaded = save_and_load(context, scripted, result, weights=name in context.examples)
    if loaded is None:
        return
    runnable = to_device(context, loaded, result)
    if runnable is not None and name in context.examples:
        compare_outputs(context, built.value, runnable, context.examples[name], result)


def save_and_load(context: Context, scripted: Any, result: JsonDict, *, weights: bool) -> Any:
    """`torch.jit.save` to memory and `torch.jit.load` back. Plain tensors are first swapped
    for empty ones: whether the code exports does not depend on them, and a ResNet-18's 47 MB
    took 0.3 s of a 0.55 s job. When examples need the weights, copies of the real ones go
    into the loaded module (copies taken before any forward: what a real load would give).
    A save hook may read the weights (`__getstate__`), so a failed light round trip is redone
    with the real tensors: the verdict never rests on the shortcut."""
    swapped = lighten(scripted)
    if swapped:
        loaded, _ = round_trip(scripted)
        if not put_back(scripted, swapped, copy=False):
            # A bug here, not in the user's code: never go on with a module missing its weights.
            raise RuntimeError("tscheck: could not restore the tensors swapped out for saving")
        if loaded is not None and (not weights or put_back(loaded, swapped, copy=True)):
            return loaded
    loaded, failure = round_trip(scripted)
    if failure is not None:
        exc, stage = failure
        result.update(verdict="save_error", error=context.describe_save(exc, stage))
    return loaded


def round_trip(scripted: Any) -> tuple[Any, tuple[Exception, str] | None]:
    buffer = io.BytesIO()
    try:
        torch.jit.save(scripted, buffer)
    except Exception as exc:
        out_of_memory(exc)
        return None, (exc, "save")
    buffer.seek(0)
    try:
        return jit_load(buffer), None
    except Exception as exc:
        out_of_memory(exc)
        return None, (exc, "load")


Swapped = list[tuple[str, str, torch.Tensor]]  # (submodule path, attribute, real tensor)


def lighten(scripted: Any) -> Swapped:
    """Swap every plain dense parameter and buffer of a ScriptModule for an empty tensor of the
    same dtype; returns what to put back. Sparse, quantized and subclass tensors stay: their
    serialization is part of what the round trip checks. Every path is visited, duplicates
    included, so that shared submodules and tied weights are all put back."""
    if not isinstance(scripted, torch.jit.ScriptModule):
        return []
    swapped: Swapped = []
    placeholders: dict[int, torch.Tensor] = {}  # id(empty tensor we set) -> the real one
    for path, module in scripted.named_modules(remove_duplicate=False):
        tensors = [
            *module.named_parameters(recurse=False, remove_duplicate=False),
            *module.named_buffers(recurse=False, remove_duplicate=False),
        ]
        for name, tensor in tensors:
            if id(tensor) in placeholders:  # a shared module seen again
                swapped.append((path, name, placeholders[id(tensor)]))
                continue
            plain = type(tensor) in (torch.Tensor, torch.nn.Parameter)
            if not plain or tensor.layout != torch.strided or tensor.is_quantized:
                continue
            empty = shaped_like(tensor, torch.empty(0, dtype=tensor.dtype, device=tensor.device))
            # Through `_c`: a ScriptModule's parameters and buffers are typed slots.
            module._c.setattr(name, empty)
            placeholders[id(empty)] = tensor
            swapped.append((path, name, tensor))
    return swapped


def put_back(root: Any, swapped: Swapped, *, copy: bool) -> bool:
    """Put the real tensors (or copies) into `root` or a module loaded from it; False if its
    structure does not match after all."""
    try:
        for path, name, tensor in swapped:
            module = resolve(root, path) if path else root  # ScriptModules lack get_submodule
            value = shaped_like(tensor, tensor.detach().clone()) if copy else tensor
            module._c.setattr(name, value)
    except Exception as exc:
        out_of_memory(exc)
        return False
    return True


def shaped_like(original: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """`data`, as a Parameter (with the same requires_grad) when `original` is one."""
    if isinstance(original, torch.nn.Parameter):
        return torch.nn.Parameter(data, requires_grad=original.requires_grad)
    return data


def to_device(context: Context, loaded: Any, result: JsonDict) -> Any:
    if context.device == "cpu" or not isinstance(loaded, torch.nn.Module):
        return loaded
    try:
        return loaded.to(context.device)
    except Exception as exc:
        out_of_memory(exc)
        result.update(verdict="run_error", error=context.describe(exc, "device"))
        return None


# ---------------------------------------------------------------------------------------------
# Showing what the compiler made of a root (request field `show`): its code or its graph.

SHOW_LIMIT = 1_000_000  # characters: one root of a huge model must not flood the editor
SHOW_PATHS = 3  # submodule paths a header names; the rest are counted
TORCH_NAME = re.compile(r"__torch__(?:\.\w+)+")

Section = tuple[str, str]  # (header title, text)


def shown_text(scripted: Any, what: str) -> str:
    """`show(scripted, what)`, capped. Never raises: the root scripted, and its verdict must not
    change because its code could not be printed; the reason is shown instead."""
    try:
        text = show(scripted, what)
    except Exception as exc:
        out_of_memory(exc)
        text = f"# tscheck could not show the TorchScript {what}: {brief(exc)}\n"
    return capped(text, SHOW_LIMIT)


def capped(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a line end, with a note saying how much is missing."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit) + 1 or limit
    return text[:cut] + f"# ... truncated by tscheck: {len(text) - cut} more characters\n"


def show(scripted: Any, what: str) -> str:
    """Readable text of a scripted root, one `# --- title ---` header per section.

    "code": the TorchScript code of every compiled method of the root (forward first: its text
    is exactly `scripted.code`), then of each submodule whose forward was compiled (identical
    code under one header naming every path), then of the user's functions and TorchScript
    classes that code calls (torch's own are left out: the user did not write them). "graph":
    the graph of each method of the root (for a function: of the function), inlined where torch
    can, so that callees show too."""
    if what not in ("code", "graph"):
        raise ValueError(f"show must be 'code' or 'graph', not {what!r}")
    sections = graph_sections(scripted) if what == "graph" else code_sections(scripted)
    if not sections:
        return "# tscheck: the compiler made nothing to show for this root\n"
    return "\n".join(f"# --- {title} ---\n{with_newline(body)}" for title, body in sections)


def with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def code_sections(scripted: Any) -> list[Section]:
    skip: set[str] = set()  # module types: their code is shown with the module, not as classes
    if isinstance(scripted, torch.jit.ScriptModule):
        skip = {sub._c._type().qualified_name() for _, sub in scripted.named_modules()}
        sections = method_sections(scripted, str(scripted.original_name), "code")
        sections += submodule_sections(scripted)
    elif isinstance(scripted, torch.jit.ScriptFunction):
        title = f"{short_name(scripted.qualified_name)} (TorchScript)"
        sections = [(title, function_text(scripted, "code"))]
    else:  # a TorchScript class: torch.jit.script returned the Python class itself
        name = torch._jit_internal._qualified_name(scripted)
        sections = class_sections(name, "code")
        skip.add(name)
    return sections + called_sections([body for _, body in sections], skip)


def method_sections(module: Any, title: str, what: str) -> list[Section]:
    """Every method compiled on one ScriptModule, forward first."""
    names = sorted(module._c._method_names(), key=lambda name: name != "forward")
    sections = []
    for name in names:
        method = module._c._get_method(name)
        label = "TorchScript" if what == "code" else "TorchScript graph"
        sections.append((f"{title}.{name} ({label})", function_text(method, what)))
    return sections


def function_text(function: Any, what: str) -> str:
    if what == "code":
        return str(function.code)
    return str(getattr(function, "inlined_graph", None) or function.graph)


def submodule_sections(scripted: Any) -> list[Section]:
    """Submodules with a compiled forward (containers such as ModuleList have none), in
    named_modules order; those of one type with identical code are shown once."""
    groups: dict[tuple[str, str], tuple[list[str], list[Section]]] = {}
    for path, sub in scripted.named_modules():
        if not path or not sub._c._has_method("forward"):
            continue
        kind = str(sub.original_name)
        sections = method_sections(sub, kind, "code")
        key = (kind, "\n".join(body for _, body in sections))
        groups.setdefault(key, ([], sections))[0].append(path)
    out: list[Section] = []
    for paths, sections in groups.values():
        where = ", ".join(paths[:SHOW_PATHS])
        if len(paths) > SHOW_PATHS:
            where += f" and {len(paths) - SHOW_PATHS} more"
        out += [(f"{where}: {title}", body) for title, body in sections]
    return out


def called_sections(bodies: list[str], skip: set[str]) -> list[Section]:
    """The functions and TorchScript classes the code names (`__torch__.pkg.mod.helper(...)`),
    and theirs in turn, found in the compilation unit torch.jit.script compiled them into."""
    pending = [name for body in bodies for name in TORCH_NAME.findall(body)]
    seen = set(skip)
    sections: list[Section] = []
    while pending:
        name = pending.pop(0)
        if name in seen or name.startswith("__torch__.torch."):
            continue
        seen.add(name)
        found = named_sections(name, seen)
        sections += found
        pending += [called for _, body in found for called in TORCH_NAME.findall(body)]
    return sections


def named_sections(name: str, seen: set[str]) -> list[Section]:
    """A class (or a member of one: `Pair.__new__`) shows all its methods; a function itself."""
    unit: Any = torch.jit._state._python_cu
    owner = name.rpartition(".")[0]
    if unit.get_class(name) is not None:
        return class_sections(name, "code")
    if owner and owner not in seen and unit.get_class(owner) is not None:
        seen.add(owner)
        return class_sections(owner, "code")
    function = unit.find_function(name)
    if function is None:
        return []
    return [(f"{short_name(name)} (TorchScript)", str(function.code))]


def class_sections(name: str, what: str) -> list[Section]:
    unit: Any = torch.jit._state._python_cu
    found = unit.get_class(name)
    if found is None:
        return []
    label = "TorchScript" if what == "code" else "TorchScript graph"
    sections = []
    for method in found.method_names():
        function = unit.find_function(f"{name}.{method}")
        if function is not None:
            title = f"{short_name(name)}.{method} ({label})"
            sections.append((title, function_text(function, what)))
    return sections


def graph_sections(scripted: Any) -> list[Section]:
    if isinstance(scripted, torch.jit.ScriptModule):
        return method_sections(scripted, str(scripted.original_name), "graph")
    if isinstance(scripted, torch.jit.ScriptFunction):
        title = f"{short_name(scripted.qualified_name)} (TorchScript graph)"
        return [(title, function_text(scripted, "graph"))]
    return class_sections(torch._jit_internal._qualified_name(scripted), "graph")


def short_name(qualified: str) -> str:
    """`__torch__.pkg.mod.helper` -> `pkg.mod.helper`: the prefix only says it is TorchScript's."""
    return qualified.removeprefix("__torch__.")


# ---------------------------------------------------------------------------------------------
# What the zygote may do ahead of jobs: import what earlier jobs imported from installed packages,
# and compile torch's own layers once. Neither touches user code, which every job loads afresh.


def installed_imports(before: set[str], project: list[str]) -> list[str]:
    """Top-level modules this job's import of the user's file brought in from the standard library
    or installed site-packages (never from the project, whose files change between jobs; not
    editable installs either, which live in a source tree). Empty when the import initialised
    CUDA: such a package must never be imported by the zygote."""
    if cuda_initialized():
        return []
    installed = installed_roots()
    project = [os.path.realpath(folder) for folder in project]
    names = []
    for name in sorted(set(sys.modules) - before):
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if "." in name or name.startswith("_tscheck") or not isinstance(origin, str):
            continue
        path = os.path.realpath(origin)
        if within(path, installed) and not within(path, project):
            names.append(name)
    return names


def installed_roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    try:
        roots += site.getsitepackages()
    except AttributeError:  # virtualenv's old site.py
        pass
    return [os.path.realpath(root) for root in roots if root]


def within(path: str, folders: list[str]) -> bool:
    """Whether `path` lies under one of `folders` (all resolved already: no I/O per module)."""
    return any(path.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def cuda_initialized() -> bool:
    module = sys.modules.get("torch.cuda")
    return bool(getattr(module, "_initialized", False))


# Classes compiled by warm_up, with the identity of every function they define: a job whose
# import replaced one (a monkeypatched forward) must not get the zygote's compiled version.
WARMED: dict[type, dict[str, int]] = {}


def warm_ups() -> list[tuple[str, Callable[[], None]]]:
    """Steps the zygote runs while idle, each a few hundred milliseconds at most: the compiler's
    lazy start-up, and the torch layers and functions most models script (torch.nn.functional's
    interpolate and multi_head_attention_forward alone take 0.1-0.2 s to compile). Tiny shapes,
    so no kernel starts a thread pool in the zygote; CUDA is never touched."""
    nn = torch.nn

    def layers() -> Any:
        return nn.Sequential(
            nn.Conv1d(1, 1, 1),
            nn.Conv2d(1, 1, 1),
            nn.BatchNorm2d(1),
            nn.ReLU(),
            nn.MaxPool2d(1),
            nn.AdaptiveAvgPool2d(1),
            nn.Dropout(),
            nn.Flatten(),
            nn.Linear(1, 1),
            nn.LayerNorm(1),
            nn.GELU(),
        )

    return [
        ("sources", cache_torch_sources),
        ("layers", lambda: warm(layers())),
        ("attention", lambda: warm(nn.MultiheadAttention(2, 1))),
        ("interpolate", lambda: warm(nn.Upsample(scale_factor=2.0))),
    ]


SourceLines = tuple[list[str], int, "str | None"]
SOURCE_USERS = (
    "torch._sources",
    "torch._jit_internal",
    "torch.jit.frontend",
    "torch.jit.annotations",
)


def cache_torch_sources() -> None:
    """Remember the source lines of torch's own functions and classes: the compiler looks them
    up (inspect.getsourcelines, which tokenizes) for every method of every new module type, a
    fifth of scripting a ResNet. Only objects whose __module__ is torch's are cached; the
    user's are looked up afresh every time, as without tscheck. Installed where torch's modules
    name the function; a torch without it is left alone."""
    sources = sys.modules.get("torch._sources")
    original = getattr(sources, "get_source_lines_and_file", None)
    if original is None or getattr(original, "tscheck_cached", False):
        return
    cache: dict[Any, SourceLines] = {}

    def lookup(obj: Any, error_msg: str | None = None) -> SourceLines:
        key = getattr(obj, "__func__", obj)  # a bound method's source is its function's
        module = getattr(key, "__module__", None)
        if not isinstance(module, str) or not (module == "torch" or module.startswith("torch.")):
            return original(obj, error_msg)  # type: ignore[no-any-return]
        try:
            found = cache.get(key)
        except TypeError:  # unhashable
            return original(obj, error_msg)  # type: ignore[no-any-return]
        if found is None:
            found = cache[key] = original(obj, error_msg)
        lines, line, filename = found
        return list(lines), line, filename  # a copy: callers may edit the list

    lookup.tscheck_cached = True  # type: ignore[attr-defined]
    for name in SOURCE_USERS:
        user = sys.modules.get(name)
        if user is not None and getattr(user, "get_source_lines_and_file", None) is original:
            user.get_source_lines_and_file = lookup  # type: ignore[attr-defined]


def warm(module: torch.nn.Module) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(module)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        jit_load(buffer)
    for sub in module.modules():
        WARMED[type(sub)] = functions_of(type(sub))


def functions_of(cls: type) -> dict[str, int]:
    """Identity of every attribute defined along the class's MRO (a patched method anywhere)."""
    return {
        f"{klass.__module__}.{klass.__qualname__}.{name}": id(value)
        for klass in cls.__mro__
        if klass is not object
        for name, value in vars(klass).items()
    }


def warmed_classes_changed() -> bool:
    return any(functions_of(cls) != functions for cls, functions in WARMED.items())


# ---------------------------------------------------------------------------------------------
# Instantiation: factory, zero arguments, builder functions, synthesised arguments.


class Built(NamedTuple):
    value: Any  # what torch.jit.script receives
    built_with: str | None


class Unbuilt(NamedTuple):
    reason: str


def build(context: Context, name: str, target: Any, factory: str | None) -> Built | Unbuilt:
    if factory:
        return from_factory(context, factory)
    if not (isinstance(target, type) and issubclass(target, torch.nn.Module)):
        # Functions, TorchScript classes and module instances are scripted as they are.
        return Built(target, name if isinstance(target, torch.nn.Module) else None)
    reasons: list[str] = []
    for attempt in (zero_args, from_builders, synthesised):
        built = attempt(context, target, reasons)
        if built is not None:
            return built
    hint = f"set a factory for {name} in [tool.tscheck.factories]"
    return Unbuilt(f"could not build {name}: " + "; ".join(reasons) + f" ({hint})")


def from_factory(context: Context, factory: str) -> Built | Unbuilt:
    """An expression in the module's namespace, or an importable `package.module:callable`;
    a class or function it yields is called without arguments."""
    expression = factory.strip()
    try:
        if re.fullmatch(r"[\w.]+:[\w.]+", expression):
            module_name, _, attribute = expression.partition(":")
            value = resolve(importlib.import_module(module_name), attribute)
        else:
            value = eval(expression, context.namespace())
        if callable(value) and not isinstance(value, torch.nn.Module):
            value, expression = value(), f"{expression}()"
    except Exception as exc:
        out_of_memory(exc)
        return Unbuilt(f"factory {factory!r} raised {brief(exc)}")
    return Built(value, expression)


def zero_args(context: Context, cls: type, reasons: list[str]) -> Built | None:
    required = required_parameters(cls)
    if required:
        reasons.append(f"{cls.__name__}() needs {', '.join(required)}")
        return None
    return attempt_build(f"{cls.__name__}()", cls, reasons)


def from_builders(context: Context, cls: type, reasons: list[str]) -> Built | None:
    for function_name in context.index.builders_of(cls.__name__):
        function = getattr(context.module, function_name, None)
        if not callable(function) or required_parameters(function):
            continue
        built = attempt_build(f"{function_name}()", function, reasons)
        if built is not None and isinstance(built.value, cls):
            return built
        if built is not None:
            reasons.append(f"{function_name}() returned {type(built.value).__name__}")
    return None


def synthesised(context: Context, cls: type, reasons: list[str]) -> Built | None:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError) as exc:
        reasons.append(f"no signature for {cls.__name__}: {exc}")
        return None
    hints = type_hints(cls)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    shown: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.default is not parameter.empty or parameter.kind in VARIADIC:
            continue
        annotation = hints.get(parameter.name, parameter.annotation)
        ok, value = synthesise(parameter.name, annotation)
        if not ok:
            reasons.append(f"cannot synthesise {cls.__name__}({parameter.name}=...): {value}")
            return None
        if parameter.kind is parameter.POSITIONAL_ONLY:
            args.append(value)
            shown.append(repr(value))
        else:
            kwargs[parameter.name] = value
            shown.append(f"{parameter.name}={value!r}")
    return attempt_build(
        f"{cls.__name__}({', '.join(shown)})", lambda: cls(*args, **kwargs), reasons
    )


VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def required_parameters(function: Callable[..., Any]) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []  # unknown: just try the call
    return [p.name for p in parameters if p.default is p.empty and p.kind not in VARIADIC]


def attempt_build(text: str, make: Callable[[], Any], reasons: list[str]) -> Built | None:
    try:
        return Built(make(), text)
    except Exception as exc:  # SystemExit propagates: the worker reports "exited"
        out_of_memory(exc)
        reasons.append(f"{text} raised {brief(exc)}")
        return None


def brief(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {first_line(str(exc), '')}".rstrip(": ")
    if is_blocked(exc):
        text += " (blocked by the sandbox)"
    return text


def type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    except Exception:
        return {}  # unresolvable string annotations: names and raw strings still help


# Small values that keep common layer arithmetic valid: dims divisible by heads and groups.
DIM = 16
NAMED_VALUES: tuple[tuple[frozenset[str], Any], ...] = (
    (frozenset({"num_heads", "nhead", "n_heads", "heads", "n_head", "num_attention_heads"}), 2),
    (frozenset({"num_classes", "n_classes", "classes", "num_labels", "out_classes"}), 4),
    (frozenset({"kernel_size", "kernel", "ksize", "k"}), 3),
    (frozenset({"stride", "dilation", "groups", "top_k"}), 1),
    (frozenset({"padding", "pad"}), 1),
    (frozenset({"num_layers", "n_layers", "depth", "layers", "depths", "num_blocks"}), 1),
    (frozenset({"n_blocks", "blocks", "n_layer", "num_hidden_layers"}), 1),
    (frozenset({"dropout", "drop", "p", "drop_rate", "dropout_rate", "attn_drop"}), 0.0),
    (frozenset({"proj_drop", "drop_path", "drop_path_rate", "attention_dropout"}), 0.0),
    (frozenset({"eps", "epsilon", "layer_norm_eps"}), 1e-5),
    (frozenset({"momentum"}), 0.1),
    (frozenset({"vocab_size", "num_embeddings", "n_vocab", "num_tokens", "vocab"}), 32),
    (frozenset({"max_len", "max_seq_len", "seq_len", "max_length", "block_size"}), DIM),
    (frozenset({"context_length", "max_position_embeddings", "num_positions"}), DIM),
    (frozenset({"patch_size"}), 4),
    (frozenset({"img_size", "image_size", "resolution", "input_resolution"}), 32),
    (frozenset({"reduction", "ratio", "reduction_ratio", "expansion", "mlp_ratio"}), 4),
    (frozenset({"num_groups"}), 2),
    (frozenset({"num_experts"}), 2),
    (frozenset({"bias", "affine", "batch_first"}), True),
    (frozenset({"activation", "act", "nonlinearity"}), "relu"),
)
DIM_WORDS = ("channel", "chans", "dim", "feature", "hidden", "width", "embed", "size", "planes")


def value_for_name(name: str) -> Any:
    lowered = name.lower()
    for names, value in NAMED_VALUES:
        if lowered in names:
            return value
    if "head" in lowered:
        return 2
    if any(word in lowered for word in DIM_WORDS) or lowered in {"d_model", "c_in", "c_out"}:
        return DIM
    return None


UNIONS = (typing.Union, types.UnionType)


def synthesise(name: str, annotation: Any) -> tuple[bool, Any]:
    """(True, value) for a required __init__ parameter, or (False, why not)."""
    if isinstance(annotation, str):
        annotation = {"int": int, "float": float, "bool": bool, "str": str}.get(
            annotation.strip(), None if annotation.startswith("Optional[") else annotation
        )
        if annotation is None:
            return True, None
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None) or (origin in UNIONS and type(None) in arguments):
        return True, None  # Optional[X] and X | None: the module must cope with None
    if origin is typing.Literal:
        return True, arguments[0]
    if origin in (tuple, list, collections.abc.Sequence):
        element = arguments[0] if arguments else int
        ok, value = synthesise(name, element)
        if not ok:
            return False, value
        count = len(arguments) if origin is tuple and Ellipsis not in arguments else 2
        return True, (tuple if origin is tuple else list)([value] * max(count, 1))
    guess = value_for_name(name)
    if annotation in (int, float):
        fallback = 8 if annotation is int else 0.1
        return True, annotation(guess) if isinstance(guess, (int, float)) else fallback
    if annotation is bool:
        return True, guess if isinstance(guess, bool) else False
    if annotation is str:
        return True, guess if isinstance(guess, str) else name
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True, 8 if guess is None else guess
    return False, f"no value for type {getattr(annotation, '__name__', annotation)!s}"


# ---------------------------------------------------------------------------------------------
# Examples: eager vs scripted.


def compare_outputs(
    context: Context, eager: Any, scripted: Any, expression: str, result: JsonDict
) -> None:
    """Same inputs (same seed before building them and before each call: forwards may draw
    random numbers), both in eval mode (dropout), on the requested device."""
    if isinstance(eager, torch.nn.Module):
        eager.eval()
        if context.device != "cpu":
            try:
                eager = eager.to(context.device)
            except Exception as exc:
                out_of_memory(exc)
                result.update(verdict="run_error", error=context.describe(exc, "device"))
                return
    if isinstance(scripted, torch.nn.Module):
        scripted.eval()
    outputs = []
    for stage, function in (("eager", eager), ("run", scripted)):
        try:
            torch.manual_seed(0)
            args, kwargs = example_inputs(context, expression)
        except Exception as exc:
            out_of_memory(exc)
            result.update(verdict="run_error", error=context.describe(exc, "example"))
            return
        try:
            torch.manual_seed(0)
            outputs.append(function(*args, **kwargs))
        except Exception as exc:
            out_of_memory(exc)
            error = context.describe(exc, stage, innermost=True)
            result.update(verdict="run_error", error=error)
            return
    detail = difference(outputs[0], outputs[1], "output")
    result["compare"] = {"equal": detail is None, "detail": detail or "outputs match"}
    if detail is not None:
        result["verdict"] = "mismatch"


def example_inputs(context: Context, expression: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A tuple is positional arguments, a dict keyword arguments, anything else one argument."""
    value = eval(expression, context.namespace())
    value = on_device(value, context.device)
    if isinstance(value, dict):
        return (), value
    return (value if isinstance(value, tuple) else (value,)), {}


def on_device(value: Any, device: str) -> Any:
    if device == "cpu":
        return value
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(on_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: on_device(v, device) for k, v in value.items()}
    return value


def difference(eager: Any, scripted: Any, path: str) -> str | None:
    """The first difference between two outputs (nested tuples/lists/dicts), or None."""
    if isinstance(eager, torch.Tensor) or isinstance(scripted, torch.Tensor):
        return tensor_difference(eager, scripted, path)
    if isinstance(eager, (list, tuple)) and isinstance(scripted, (list, tuple)):
        if len(eager) != len(scripted):
            return f"{path}: eager has {len(eager)} items, scripted {len(scripted)}"
        return first_of(
            difference(a, b, f"{path}[{i}]")
            for i, (a, b) in enumerate(zip(eager, scripted, strict=True))
        )
    if isinstance(eager, Mapping) and isinstance(scripted, Mapping):
        if set(eager) != set(scripted):
            keys = sorted(map(repr, eager)), sorted(map(repr, scripted))
            return f"{path}: eager keys {keys[0]}, scripted keys {keys[1]}"
        return first_of(difference(eager[k], scripted[k], f"{path}[{k!r}]") for k in eager)
    if isinstance(eager, float) and isinstance(scripted, (int, float)):
        if math.isclose(eager, scripted, rel_tol=1.3e-6, abs_tol=1e-5) or (
            math.isnan(eager) and math.isnan(scripted)
        ):
            return None
    elif type(eager) is type(scripted) and eager == scripted:
        return None
    return f"{path}: eager {shorten(repr(eager))}, scripted {shorten(repr(scripted))}"


def tensor_difference(eager: Any, scripted: Any, path: str) -> str | None:
    if not (isinstance(eager, torch.Tensor) and isinstance(scripted, torch.Tensor)):
        return f"{path}: eager {type(eager).__name__}, scripted {type(scripted).__name__}"
    for what in ("shape", "dtype", "device", "requires_grad"):
        left, right = getattr(eager, what), getattr(scripted, what)
        if left != right:
            text = f"{path}.{what}: eager {left}, scripted {right}"
            if what == "requires_grad":
                text += " (TorchScript drops decorators such as @torch.no_grad())"
            return text
    return value_difference(eager.detach(), scripted.detach(), path)


# torch.testing.assert_close's default (rtol, atol) per dtype. assert_close itself is not used:
# its first call imports torch.distributed.tensor, 0.7 s of a job that otherwise takes 0.06 s.
TOLERANCES = {
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
    torch.complex64: (1.3e-6, 1e-5),
    torch.complex128: (1e-7, 1e-7),
}


def value_difference(eager: torch.Tensor, scripted: torch.Tensor, path: str) -> str | None:
    """Same shape and dtype: compare values (NaN equals NaN); describe the first mismatch."""
    if eager.dtype in TOLERANCES:
        rtol, atol = TOLERANCES[eager.dtype]
        close = torch.isclose(scripted, eager, rtol=rtol, atol=atol, equal_nan=True)
    else:
        close = scripted == eager
    mismatched = int((~close).sum())
    if not mismatched:
        return None
    flat = (~close).flatten().nonzero()[0, 0]
    index = tuple(int(i) for i in torch.unravel_index(flat, eager.shape)) if eager.dim() else ()
    where = f"{path}[{', '.join(map(str, index))}]" if index else path
    return (
        f"{path}: values differ in {mismatched} of {eager.numel()} elements; first at {where}: "
        f"eager {eager[index].item()!r}, scripted {scripted[index].item()!r}"
    )


def first_of(items: Iterator[str | None]) -> str | None:
    return next((item for item in items if item is not None), None)


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
