"""`tscheck`: check files, fix them, list and explain rules.

No traceback ever reaches a user: every failure is one `tscheck: error: ...` line on stderr
and exit code 2 (set TSCHECK_DEBUG=1 to see tracebacks of internal errors).
Imports stay lazy: `tscheck --version` and a run answered from the cache never import libcst.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import gc
import os
import sys
import tempfile
import traceback
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tscheck import files as fs
from tscheck.config import Config, ConfigError, load
from tscheck.model import Diagnostic, RuleInfo, TextEdit, Verification

if TYPE_CHECKING:
    from tscheck.cache import Cache
    from tscheck.runner import Outcome, Runner, Source

EXIT_CLEAN = 0
EXIT_DIAGNOSTICS = 1
EXIT_ERROR = 2
MAX_FIX_ROUNDS = 10
FORMATS = ("text", "json", "sarif", "github")

EPILOG = """\
exit codes:
  0  no diagnostics (with --diff: nothing to change)
  1  diagnostics reported (with --fix: some remain; with --diff: a diff was printed)
  2  usage error, bad config, unreadable or non-UTF-8 file, or internal error
     (the other files are still checked and reported)

other commands:
  tscheck rules [--format text|json|markdown]   list every rule
  tscheck explain CODE                          a rule's explanation and examples

Config: [tool.tscheck] in the nearest pyproject.toml (select, ignore, per-file-ignores,
exclude, roots, severity). Suppress one line with `# tscheck: ignore[TS101]` or
`# tscheck: ignore`.
"""


class UsageError(Exception):
    """Bad arguments: one line, exit 2."""


# -- entry point ------------------------------------------------------------------------------


# A check builds millions of short-lived, acyclic objects (syntax trees): with the default
# threshold (700) the collector runs hundreds of times per run for nothing (about 10% of a cold
# run over torch/nn/modules). A short-lived process can afford a larger first generation.
GC_THRESHOLD = (50_000, 20, 100)


def _tune_gc() -> None:
    gc.set_threshold(*GC_THRESHOLD)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    _tune_gc()
    try:
        if args and args[0] == "rules":
            return rules_command(args[1:])
        if args and args[0] == "explain":
            return explain_command(args[1:])
        if args and args[0] == "check":
            args = args[1:]
        return check_command(args)
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    except UsageError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_ERROR
    except BrokenPipeError:  # `tscheck | head`
        _silence_stdout()
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get("TSCHECK_DEBUG"):
            traceback.print_exc()
        _error(f"internal error: {type(exc).__name__}: {exc} (TSCHECK_DEBUG=1 shows a traceback)")
        return EXIT_ERROR


def _error(message: str) -> None:
    print(f"tscheck: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"tscheck: warning: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _version() -> str:
    from tscheck.cache import version

    return version()


# -- argument parsing -------------------------------------------------------------------------


class _VersionAction(argparse.Action):
    """--version without importing anything heavy."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the version and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"tscheck {_version()}")
        parser.exit(0)


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


def check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tscheck",
        usage="tscheck [check] [PATHS ...] [options]\n"
        "       tscheck rules [--format text|json|markdown]\n"
        "       tscheck explain CODE",
        description="Find the code that torch.jit.script will reject, in the functions "
        "TorchScript actually compiles, with the chain that explains why each is compiled.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATHS", help="files and folders to check (default: .)"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument(
        "--select",
        type=_codes,
        action="extend",
        metavar="CODES",
        help="only these codes or prefixes, comma-separated (TS1,TS301); overrides config",
    )
    parser.add_argument(
        "--ignore",
        type=_codes,
        action="extend",
        metavar="CODES",
        help="skip these codes or prefixes, comma-separated; overrides config",
    )
    parser.add_argument(
        "--fix", action="store_true", help="apply safe fixes in place, then report what remains"
    )
    parser.add_argument(
        "--diff", action="store_true", help="print the fixes as a unified diff; write nothing"
    )
    parser.add_argument(
        "--root",
        action="append",
        metavar="FILE:CLASS",
        help="check only what torch.jit.script(CLASS(...)) compiles (repeatable); "
        "overrides config roots",
    )
    parser.add_argument(
        "--statistics", action="store_true", help="print the number of diagnostics per code"
    )
    parser.add_argument(
        "--stdin-filename",
        metavar="PATH",
        help="read the source from stdin and report it as PATH (for editors)",
    )
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    parser.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply excludes to files named on the command line too (pre-commit)",
    )
    parser.add_argument(
        "--no-default-path",
        action="store_true",
        help="with no PATHS check nothing instead of '.' (pre-commit with no files)",
    )
    parser.add_argument(
        "--jobs", type=int, default=0, metavar="N", help="worker processes (default: one per core)"
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="also run the real torch.jit.script on every root, in a sandboxed subprocess of "
        "--python, and reconcile: confirmed diagnostics are marked, refuted ones dropped, "
        "compiler-only errors reported as TS900 (runs your code: use on trusted code only)",
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="the interpreter (with torch) that --verify runs your code in (default: this one)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    parser.add_argument("--version", action=_VersionAction)
    return parser


# -- check ------------------------------------------------------------------------------------


@dataclass
class Options:
    paths: list[str]
    format: str
    select: list[str] | None
    ignore: list[str] | None
    fix: bool
    diff: bool
    root: list[str] | None
    statistics: bool
    stdin_filename: str | None
    no_cache: bool
    force_exclude: bool
    no_default_path: bool
    jobs: int
    quiet: bool
    verify: bool
    python: str | None


@dataclass
class Group:
    """Files under one config (one pyproject.toml)."""

    config: Config
    paths: list[str] = field(default_factory=list)


@dataclass
class Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files: int = 0
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    fixed: int = 0
    fixed_files: int = 0
    diffs: list[str] = field(default_factory=list)
    stdin_output: str | None = None
    verification: Verification | None = None


def check_command(argv: Sequence[str]) -> int:
    ns = check_parser().parse_args(argv)
    opts = Options(**vars(ns))
    if opts.stdin_filename is not None and opts.paths:
        raise UsageError("--stdin-filename reads one file from stdin; do not pass PATHS too")
    if opts.statistics and opts.format in ("sarif", "github"):
        raise UsageError("--statistics prints text or json; not with --format " + opts.format)
    if opts.jobs < 0:
        raise UsageError("--jobs must be 0 (one per core) or more")
    for spec in opts.root or ():
        _parse_root(spec)  # a bad --root is a usage error before any work
    if opts.stdin_filename is None and not opts.paths:
        if opts.no_default_path:
            return EXIT_CLEAN
        opts.paths = ["."]
    report = Report()
    if opts.stdin_filename is not None:
        _check_stdin(opts, report)
    else:
        for group in _groups(opts, report.errors):
            _check_group(opts, group, report)
    return _emit(opts, report)


def _parse_root(spec: str) -> str:
    try:
        path, name = fs.root_path(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not os.path.isfile(path):
        raise UsageError(f"--root {spec}: no such file {fs.display(path)}")
    return f"{path}:{name}"


def _groups(opts: Options, errors: list[str]) -> list[Group]:
    """Paths grouped by the config that applies to them; a bad config skips its paths."""
    by_folder: dict[str, Config | None] = {}
    groups: dict[str, Group] = {}
    for raw in opts.paths:
        path = os.path.abspath(raw)
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        if folder not in by_folder:
            by_folder[folder] = _load_config(folder, errors)
        config = by_folder[folder]
        if config is None:
            continue
        if not config.source:  # no pyproject.toml: one group, rooted where tscheck runs
            config = replace(config, root=os.getcwd())
        groups.setdefault(config.source, Group(_override(config, opts))).paths.append(raw)
    return list(groups.values())


def _load_config(folder: str, errors: list[str]) -> Config | None:
    try:
        return load(Path(folder))
    except ConfigError as exc:
        message = str(exc)
        if message not in errors:
            errors.append(message)
        return None


def _override(config: Config, opts: Options) -> Config:
    if opts.select is not None:
        config = replace(config, select=tuple(opts.select))
    if opts.ignore is not None:
        config = replace(config, ignore=tuple(opts.ignore))
    if opts.root:
        config = replace(config, roots=tuple(_parse_root(spec) for spec in opts.root))
    return config


def _runner(opts: Options, config: Config) -> tuple[Runner, Cache | None]:
    from tscheck.cache import Cache
    from tscheck.runner import Runner

    # Without a pyproject.toml the root is the working directory (as for ruff's cache).
    cache = None if opts.no_cache else Cache(config.root)
    return Runner(config, cache, opts.jobs), cache


def _check_group(opts: Options, group: Group, report: Report) -> None:
    from tscheck.runner import Source

    config = group.config
    found = fs.discover(group.paths, config, force_exclude=opts.force_exclude)
    report.errors.extend(found.errors)
    modules = fs.Modules()
    sources: list[Source] = []
    boms: dict[str, bool] = {}
    for path in found.files:
        try:
            read = fs.read_source(path)
        except fs.ReadError as exc:
            report.errors.append(str(exc))
            continue
        boms[path] = read.bom
        sources.append(Source(path, modules.name(path), read.text))
    if not sources:
        return
    context = _context(sources, config, modules, skip=set())
    _run_and_fix(opts, config, sources, context, boms, report)


def _check_stdin(opts: Options, report: Report) -> None:
    from tscheck.runner import Source

    assert opts.stdin_filename is not None
    path = os.path.abspath(opts.stdin_filename)
    config = _load_config(os.path.dirname(path), report.errors)
    if config is None:
        return
    if not config.source:
        config = replace(config, root=os.getcwd())
    config = _override(config, opts)
    data = sys.stdin.buffer.read()
    try:
        read = fs.decode(data, path)
    except fs.ReadError as exc:
        report.errors.append(str(exc))
        return
    modules = fs.Modules()
    source = Source(path, modules.name(path), read.text)
    context = _context([source], config, modules, skip={path})
    _run_and_fix(opts, config, [source], context, {path: read.bom}, report, stdin=True)


def _context(
    sources: Sequence[Source], config: Config, modules: fs.Modules, skip: set[str]
) -> list[Source]:
    """Sources for the files reach must see but that are not reported on."""
    from tscheck.runner import Source

    checked = {s.path: s.text for s in sources}
    found = [(p, t) for p, t in fs.context_files(checked, config, modules) if p not in skip]
    known = set(checked) | {p for p, _ in found}
    for spec in config.roots:  # a root's file is indexed even when it is not checked
        root_file = _root_file(config, spec)
        if root_file not in known and root_file not in skip:
            known.add(root_file)
            try:
                found.append((root_file, fs.read_source(root_file).text))
            except fs.ReadError:
                continue  # _check_roots says what is wrong with it
    return [Source(p, modules.name(p), t) for p, t in found]


# -- the check / fix loop ---------------------------------------------------------------------


def _run_and_fix(
    opts: Options,
    config: Config,
    srcs: list[Source],
    ctx: list[Source],
    boms: dict[str, bool],
    report: Report,
    *,
    stdin: bool = False,
) -> None:
    from tscheck.runner import rule_catalog

    runner, cache = _runner(opts, config)
    _check_selectors(opts, rule_catalog(cache) if opts.select or opts.ignore else ())
    originals = {s.path: s.text for s in srcs}
    outcome = runner.run(srcs, ctx)
    _check_roots(config, outcome, report)
    if opts.fix or opts.diff:
        current = dict(originals)
        outcome = _fix_loop(runner, srcs, ctx, current, outcome, report)
        changed = [p for p in originals if current[p] != originals[p]]
        report.fixed_files += len(changed)
        if stdin and opts.fix and not opts.diff:
            report.stdin_output = current[srcs[0].path]
        elif opts.diff:
            report.diffs.extend(_diff(p, originals[p], current[p]) for p in changed)
        else:
            for path in changed:
                _write(path, current[path], boms.get(path, False), report)
    report.files += len(srcs)
    diagnostics = list(outcome.diagnostics)
    if opts.verify or config.verify:
        diagnostics = _verify(opts, config, srcs, outcome, diagnostics, report, stdin=stdin)
    report.diagnostics.extend(diagnostics)
    report.errors.extend(outcome.internal_errors)
    if opts.format != "text" or opts.statistics:
        report.rules.update({r.code: r for r in rule_catalog(cache)})
    if cache is not None:
        cache.save()


def _verify(
    opts: Options,
    config: Config,
    srcs: list[Source],
    outcome: Outcome,
    diagnostics: list[Diagnostic],
    report: Report,
    *,
    stdin: bool,
) -> list[Diagnostic]:
    """The real compiler's answer, reconciled with the static diagnostics."""
    from tscheck.verify import FileToVerify, verify_project
    from tscheck.verify.client import VerifierUnavailable

    if opts.python:
        config = replace(config, python=opts.python)
    files = [FileToVerify(s.path, s.module, s.text if stdin else None) for s in srcs]
    show = (not opts.quiet and sys.stderr.isatty()) or os.environ.get("TSCHECK_PROGRESS") == "1"

    def progress(number: int, total: int, what: str) -> None:
        if show:
            print(f"tscheck: verifying {number}/{total}: {what}", file=sys.stderr, flush=True)

    try:
        verified, summary = verify_project(
            files, outcome.summaries, diagnostics, config, progress=progress
        )
    except VerifierUnavailable as exc:
        report.errors.append(f"--verify: {exc}")
        return diagnostics
    report.verification = summary
    return verified


def _check_selectors(opts: Options, rules: Sequence[RuleInfo]) -> None:
    """A misspelt --select would silently select nothing: refuse it."""
    for option, selectors in (("--select", opts.select), ("--ignore", opts.ignore)):
        for selector in selectors or ():
            if selector != "ALL" and not any(r.code.startswith(selector) for r in rules):
                raise UsageError(
                    f"{option} {selector}: no rule code starts with it (see `tscheck rules`)"
                )


def _root_file(config: Config, spec: str) -> str:
    """A root's file: --root paths are absolute already, config ones relative to its folder."""
    path = spec.rpartition(":")[0]
    return os.path.normpath(os.path.join(config.root, path))


def _check_roots(config: Config, outcome: Outcome, report: Report) -> None:
    """A --root (or config root) naming nothing would silently check nothing: say so."""
    for spec in config.roots:
        path, name = _root_file(config, spec), spec.rpartition(":")[2]
        head = name.split(".")[0]
        matches = [s for p, s in outcome.summaries.items() if fs.same_path(p, path)]
        if not os.path.isfile(path):
            report.errors.append(f"root {spec}: no such file {fs.display(path)}")
        elif not matches:
            report.errors.append(f"root {spec}: {fs.display(path)} is not among the checked files")
        elif not any(s.cls(head) or s.function(head) for s in matches):
            report.errors.append(
                f"root {fs.display(path)}:{name}: no class or function {head!r} in that file"
            )


def _fix_loop(
    runner: Runner,
    sources: list[Source],
    context: list[Source],
    current: dict[str, str],
    outcome: Outcome,
    report: Report,
) -> Outcome:
    """Apply safe fixes and re-check until nothing changes (or MAX_FIX_ROUNDS)."""
    from tscheck.fix import apply_edits, safe_fixes
    from tscheck.runner import Source

    frozen: set[str] = set()  # files whose fixes misbehaved: left as they were
    for _ in range(MAX_FIX_ROUNDS):
        by_path: dict[str, list[Diagnostic]] = defaultdict(list)
        for d in outcome.diagnostics:
            by_path[d.path].append(d)
        progress = False
        for path, diags in by_path.items():
            if path in frozen:
                continue
            fixes = safe_fixes(diags)
            if not fixes:
                continue
            text = current[path]
            newline = _newline(text)
            edits = [_with_newline(e, newline) for f in fixes for e in f.edits]
            try:
                new = apply_edits(text, edits)
            except ValueError:
                frozen.add(path)
                continue
            if new == text or not _still_parses(text, new):
                if new != text:
                    codes = ", ".join(sorted({d.code for d in diags if d.fixes}))
                    report.errors.append(
                        f"{fs.display(path)}: a fix for {codes} would break the file; not applied"
                    )
                frozen.add(path)
                continue
            current[path] = new
            report.fixed += len(fixes)
            progress = True
        if not progress:
            return outcome
        outcome = runner.run([Source(s.path, s.module, current[s.path]) for s in sources], context)
    _warn(f"fixes did not settle after {MAX_FIX_ROUNDS} rounds; run tscheck --fix again")
    return outcome


def _newline(text: str) -> str:
    """The file's newline, so that inserted lines match it."""
    index = text.find("\n")
    if index > 0 and text[index - 1] == "\r":
        return "\r\n"
    if index < 0 and "\r" in text:
        return "\r"
    return "\n"


def _with_newline(edit: TextEdit, newline: str) -> TextEdit:
    if newline == "\n" or "\n" not in edit.new_text:
        return edit
    return TextEdit(edit.range, edit.new_text.replace("\r\n", "\n").replace("\n", newline))


def _still_parses(before: str, after: str) -> bool:
    try:
        ast.parse(after)
    except (SyntaxError, ValueError):
        try:
            ast.parse(before)
        except (SyntaxError, ValueError):
            return True  # it was broken before; not the fix's doing
        return False
    return True


def _write(path: str, text: str, bom: bool, report: Report) -> None:
    """Atomically: a temp file in the same folder, same mode, then rename over the original."""
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    folder = os.path.dirname(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
        fd, tmp = tempfile.mkstemp(prefix=".tscheck-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        report.errors.append(f"{fs.display(path)}: cannot write the fix: {exc.strerror or exc}")


def _diff(path: str, before: str, after: str) -> str:
    shown = fs.display(path)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{shown}",
        tofile=f"b/{shown}",
    )
    out = []
    for line in lines:
        out.append(line)
        if not line.endswith(("\n", "\r")):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


# -- output -----------------------------------------------------------------------------------


def _shown(d: Diagnostic) -> Diagnostic:
    """Absolute paths (tscheck's own) -> paths relative to the working directory."""
    chain = tuple(replace(link, path=fs.display(link.path)) for link in d.chain)
    related = tuple(replace(link, path=fs.display(link.path)) for link in d.related)
    return replace(d, path=fs.display(d.path), chain=chain, related=related)


def _shown_error(message: str) -> str:
    try:
        cwd = os.getcwd().rstrip(os.sep) + os.sep
    except OSError:
        return message
    return message.replace(cwd, "")


def _emit(opts: Options, report: Report) -> int:
    out = sys.stdout
    diagnostics = sorted((_shown(d) for d in report.diagnostics), key=lambda d: d.sort_key)
    errors = [_shown_error(e) for e in report.errors]
    for message in errors:
        _error(message)
    if report.stdin_output is not None:
        out.write(report.stdin_output)
        out.flush()
        out = sys.stderr  # the fixed source owns stdout
    if opts.diff:
        out.write("".join(report.diffs))
        if not opts.quiet:
            count = f"{report.fixed} fix{'es' if report.fixed != 1 else ''}"
            where = f"{report.fixed_files} file{'s' if report.fixed_files != 1 else ''}"
            print(
                f"Would apply {count} in {where}." if report.diffs else "No fixes to apply.",
                file=sys.stderr,
            )
        if errors:
            return EXIT_ERROR
        return EXIT_DIAGNOSTICS if report.diffs else EXIT_CLEAN
    if opts.fix and report.fixed and not opts.quiet:
        where = f"{report.fixed_files} file{'s' if report.fixed_files != 1 else ''}"
        stream = sys.stderr if opts.format != "text" else out
        print(
            f"Fixed {report.fixed} diagnostic{'s' if report.fixed != 1 else ''} in {where}.",
            file=stream,
        )
    if report.files == 0 and not errors and not opts.quiet:
        _warn("no Python files found under the given paths")
    _write_report(out, opts, report, diagnostics, errors)
    if errors:
        return EXIT_ERROR
    return EXIT_DIAGNOSTICS if diagnostics else EXIT_CLEAN


def _write_report(
    out: TextIO,
    opts: Options,
    report: Report,
    diagnostics: list[Diagnostic],
    errors: list[str],
) -> None:
    from tscheck import report as f

    if opts.statistics:
        rows = f.statistics(diagnostics, report.rules)
        if opts.format == "json":
            import json

            out.write(json.dumps(rows, indent=2) + "\n")
        else:
            out.write(f.statistics_text(rows))
            if not opts.quiet:
                out.write(f.summary_line(diagnostics) + "\n")
        return
    if opts.format == "text":
        body = f.text(diagnostics, show_fixes_hint=not opts.fix)
        if opts.quiet:
            body = "".join(line + "\n" for line in body.splitlines()[:-1])
        out.write(body)
    elif opts.format == "json":
        out.write(
            f.json_report(
                diagnostics,
                report.rules,
                version=_version(),
                files=report.files,
                errors=errors,
                verification=report.verification,
            )
        )
    elif opts.format == "sarif":
        out.write(f.sarif(diagnostics, report.rules, version=_version(), errors=errors))
    else:
        out.write(f.github(diagnostics))


# -- rules / explain --------------------------------------------------------------------------


def _all_rules() -> list[RuleInfo]:
    from tscheck.engine import rule_infos

    return list(rule_infos())


def rules_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="tscheck rules", description="List every rule.")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    ns = parser.parse_args(argv)
    from tscheck import report as f

    rules = _all_rules()
    render: Callable[[list[RuleInfo]], str] = {
        "text": f.rules_table,
        "json": f.rules_json,
        "markdown": f.rules_markdown,
    }[ns.format]
    sys.stdout.write(render(rules))
    return EXIT_CLEAN


def explain_command(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tscheck explain", description="Explain a rule, with examples."
    )
    parser.add_argument("code", metavar="CODE", help="a rule code (TS101) or name (lambda)")
    ns = parser.parse_args(argv)
    from tscheck import report as f

    wanted = ns.code.strip()
    for info in _all_rules():
        if wanted.upper() == info.code or wanted == info.name:
            sys.stdout.write(f.explain(info))
            return EXIT_CLEAN
    raise UsageError(f"unknown rule {wanted!r}; `tscheck rules` lists them")
