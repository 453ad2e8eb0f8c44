"""The one core call behind every front end: source files in, diagnostics out.

index (ast, every file) -> reach (compiled set) -> rules (libcst, compiled blocks only)
-> suppressions, selection, severities -> sorted Diagnostics.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from tscheck import fanout
from tscheck.config import DEFAULT, Config
from tscheck.incremental import AnalysisCache, FunctionCache, project_key
from tscheck.index import FileSummary, summarize
from tscheck.model import Diagnostic, Family, RuleInfo, Severity
from tscheck.parse import ParsedBlocks, Reads, source_lines
from tscheck.reach import (
    Compiled,
    Project,
    Root,
    RootSpec,
    chosen_roots,
    compiled_set,
    default_roots,
)
from tscheck.rules import ALL_RULES, RULES_BY_CODE
from tscheck.rules.base import DOCS_URL, FileContext, Finding, FunctionContext, Rule
from tscheck.rules.ts4xx_tracing import TracingRule
from tscheck.trace_reach import TRACED, traced_set
from tscheck.walk import Dispatch, dispatch_for, walk_function

SUPPRESSION = re.compile(r"#\s*tscheck:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)
SYNTAX_ERROR = "TS001"
UNKNOWN_SUPPRESSION = "TS002"
COMPILER_ONLY = "TS900"
UNVERIFIED = "TS901"
VERIFIER_FAILED = "TS902"
TRACER_WARNING = "TS429"
ENGINE_CODES = {
    SYNTAX_ERROR: "The file is not valid Python; nothing in it was checked.",
    UNKNOWN_SUPPRESSION: "A `# tscheck: ignore[...]` comment names a code that no rule has.",
    COMPILER_ONLY: "torch.jit.script rejects this, and no static rule predicted it (--verify).",
    UNVERIFIED: "A root could not be built, so the compiler could not check it (--verify).",
    VERIFIER_FAILED: "Verifying a root timed out, crashed, exited or failed to import (--verify).",
    TRACER_WARNING: "torch.jit.trace warns here (TracerWarning), and no static rule predicted it "
    "(--verify, traced roots with example inputs).",
}
ENGINE_RULES = (
    RuleInfo(
        code=SYNTAX_ERROR,
        name="syntax-error",
        summary=ENGINE_CODES[SYNTAX_ERROR],
        explanation=(
            "**What it does.** Reports a file that Python itself cannot parse, at the position "
            "the parser gives.\n\n"
            "**Why it fails.** TorchScript compiles Python source; a file Python cannot parse "
            "cannot be imported, let alone scripted. tscheck checks nothing else in it.\n\n"
            "**How to fix.** Fix the syntax error; the other files of the run are checked as usual."
        ),
        family=Family.UNSUPPORTED_CONSTRUCTS,
        severity=Severity.ERROR,
        fixable=False,
        url=DOCS_URL.format(anchor="ts001-syntax-error"),
    ),
    RuleInfo(
        code=UNKNOWN_SUPPRESSION,
        name="unknown-suppression",
        summary=ENGINE_CODES[UNKNOWN_SUPPRESSION],
        explanation=(
            "**What it does.** Warns about a `# tscheck: ignore[CODE]` comment whose CODE is "
            "not a tscheck rule.\n\n"
            "**Why it fails.** A misspelt code suppresses nothing, so the diagnostic it was "
            "meant to silence still shows (or a later one is silently expected to be hidden).\n\n"
            "**How to fix.** Use a code from `tscheck rules`, e.g. `# tscheck: ignore[TS101]`, "
            "or a bare `# tscheck: ignore` to silence every code on the line."
        ),
        family=Family.UNSUPPORTED_CONSTRUCTS,
        severity=Severity.WARNING,
        fixable=False,
        url=DOCS_URL.format(anchor="ts002-unknown-suppression"),
    ),
)


def _verifier_rule(code: str, name: str, severity: Severity, explanation: str) -> RuleInfo:
    return RuleInfo(
        code=code,
        name=name,
        summary=ENGINE_CODES[code],
        explanation=explanation,
        family=Family.UNSUPPORTED_CONSTRUCTS,
        severity=severity,
        fixable=False,
        url=DOCS_URL.format(anchor=f"{code.lower()}-{name}"),
    )


VERIFIER_RULES = (
    _verifier_rule(
        COMPILER_ONLY,
        "compiler-error",
        Severity.ERROR,
        "**What it does.** With `--verify`, reports an error of the real `torch.jit.script` "
        "(or of saving and loading the result) that no static rule predicted, at the range the "
        "compiler highlights, with its full message in the related information.\n\n"
        "**Why it fails.** The compiler is the ground truth; each failing function gives its own "
        "error because tscheck marks it ignored and scripts again (error peeling).\n\n"
        "**How to fix.** Follow the compiler's message; `tscheck explain` of a related rule often "
        "says more.",
    ),
    _verifier_rule(
        UNVERIFIED,
        "root-not-built",
        Severity.INFO,
        "**What it does.** With `--verify`, says that a root (an nn.Module class, a scripted "
        "function) could not be instantiated, so its diagnostics are static only.\n\n"
        "**Why.** tscheck tries a factory from `[tool.tscheck.factories]`, a zero-argument "
        "call, builder functions in the same file and arguments made up from the signature.\n\n"
        '**How to fix.** Add a factory: `[tool.tscheck.factories]` `"pkg/mod.py:Net" = '
        '"Net(3, num_classes=10)"`.',
    ),
    _verifier_rule(
        VERIFIER_FAILED,
        "verifier-failed",
        Severity.WARNING,
        "**What it does.** With `--verify`, says that verifying a root did not finish: the "
        "module failed to import, the code hung (timeout), crashed the child, or exited.\n\n"
        "**Why.** Verification runs your code in a sandboxed child process; the checker itself "
        "always survives.\n\n"
        "**How to fix.** Make the module importable without side effects (no work at import "
        'time, guard scripts with `if __name__ == "__main__":`), or raise `timeout`.',
    ),
    RuleInfo(
        code=TRACER_WARNING,
        name="tracer-warning",
        summary=ENGINE_CODES[TRACER_WARNING],
        explanation=(
            "**What it does.** With `--verify`, traces each traced root that has example inputs "
            "(`[tool.tscheck.examples]`) with `torch.jit.trace(..., check_trace=True)` in the "
            "sandbox, and reports every `TracerWarning` at the line of Python that caused it "
            "when no TS4xx diagnostic is there already (those are marked confirmed). A failed "
            "`check_trace` (two traces gave two graphs) or a trace that raises is reported at "
            "the root.\n\n"
            "**Why.** A TracerWarning means the trace recorded a value that depends on the "
            "example inputs as a constant: other inputs get the example's result.\n\n"
            "**How to fix.** Follow the warning; `tscheck explain TS401` (control flow) and "
            "`TS402` (tensors turned into Python values) give the fixes."
        ),
        family=Family.DYNAMIC_BEHAVIORS,
        severity=Severity.WARNING,
        fixable=False,
        url=DOCS_URL.format(anchor="ts429-tracer-warning"),
    ),
)


def rule_infos() -> tuple[RuleInfo, ...]:
    """Every code tscheck can report, sorted: the engine's own (TS001, TS002) and every rule's."""
    infos = [*ENGINE_RULES, *VERIFIER_RULES, *(type(rule).info() for rule in ALL_RULES)]
    return tuple(sorted(infos, key=lambda info: info.code))


@dataclass(frozen=True)
class SourceFile:
    path: str  # as shown to the user
    module: str  # dotted module name inside the checked tree ("" if unknown)
    text: str


@dataclass(frozen=True)
class Result:
    diagnostics: tuple[Diagnostic, ...]
    # Rule crashes: reported, never raised (one rule's bug costs only that rule's findings).
    internal_errors: tuple[str, ...] = ()
    compiled: tuple[Compiled, ...] = ()


def check(
    files: Sequence[SourceFile],
    config: Config = DEFAULT,
    *,
    context: Sequence[SourceFile] = (),
    summaries: dict[str, FileSummary] | None = None,
    cache: AnalysisCache | None = None,
    workers: int = 1,
) -> Result:
    """Check `files`; `context` files are indexed for reach but not reported on.

    `cache` (an `incremental.AnalysisCache` the caller keeps between calls, e.g. one per
    language server) makes a re-check after a small edit reuse what the edit cannot change;
    `workers` > 1 lets a file with many functions to analyse share them out among forked
    processes (see `analyze_file`). The result is the same either way."""
    summaries = dict(summaries or {})
    for f in [*files, *context]:
        if f.path not in summaries:
            module = f.module or module_name_guess(f.path)
            if cache is not None:
                summaries[f.path] = cache.summarize(f.path, module, f.text)
            else:
                summaries[f.path] = summarize(f.path, module, f.text)
    project = Project(summaries.values())
    rules = active_rules(config)
    reached = cache.compiled(project.files.values(), config) if cache is not None else None
    if reached is None:
        reached = _reach(project, config)
        if cache is not None:
            cache.keep_compiled(list(project.files.values()), config, reached)
    compiled, traced = reached
    by_path = by_file([*compiled.values(), *_for_rules(traced, rules)])
    key = project_key(summaries, config, rules) if cache is not None else ()
    diagnostics: list[Diagnostic] = []
    errors: list[str] = []
    for f in files:
        summary = summaries[f.path]
        functions = cache.findings_for(f.path, key) if cache is not None else None
        findings, crashed = analyze_file(
            project,
            summary,
            f.text,
            by_path.get(f.path, []),
            rules,
            cache=functions,
            workers=workers,
        )
        errors.extend(crashed)
        diagnostics.extend(finish(f, summary, findings, config))
    diagnostics.sort(key=lambda d: d.sort_key)
    return Result(tuple(diagnostics), tuple(errors), tuple(compiled.values()))


def plan(project: Project, config: Config = DEFAULT) -> dict[str, list[Compiled]]:
    """The compiled set under `config`'s roots and the traced set, grouped by file path."""
    compiled, traced = _reach(project, config)
    return by_file([*compiled.values(), *_for_rules(traced, active_rules(config))])


Reached = tuple[dict[tuple[str, str], Compiled], list[Compiled]]


def _reach(project: Project, config: Config) -> Reached:
    """The compiled set and the traced set, the traced one computed once: the default roots
    leave out what only traces run."""
    traced = _traced(project, config)
    return compiled_set(project, _roots(project, config, traced)), traced


def _traced(project: Project, config: Config) -> list[Compiled]:
    """What `torch.jit.trace` runs (`trace_reach`): from its call sites and `traced` in config."""
    sites = any(s.kind == "trace" for f in project.files.values() for s in f.jit_sites)
    if not sites and not config.traced:
        return []
    return traced_set(project, traced_in_config(project, config))


def _for_rules(traced: list[Compiled], rules: Sequence[Rule]) -> list[Compiled]:
    """The traced functions, where a tracing rule (TS4xx) is active to look at them."""
    return traced if any(isinstance(rule, TracingRule) for rule in rules) else []


def traced_functions(project: Project, config: Config, rules: Sequence[Rule]) -> list[Compiled]:
    """What `torch.jit.trace` runs, when `rules` hold a tracing rule (TS4xx): they run on
    these functions, and only on these."""
    return _for_rules(_traced(project, config), rules)


def traced_in_config(project: Project, config: Config) -> list[Root]:
    """`traced = ["path.py:Name"]` of the config, as project files and names."""
    return [
        Root(candidate, name)
        for spec in config.traced
        for path, _, name in [spec.rpartition(":")]
        for candidate in project.files
        if _same_file(candidate, path, config.root)
    ]


def by_file(compiled: Iterable[Compiled]) -> dict[str, list[Compiled]]:
    out: dict[str, list[Compiled]] = defaultdict(list)
    for c in compiled:
        out[c.path].append(c)
    return out


def check_source(
    path: str,
    text: str,
    config: Config = DEFAULT,
    module: str = "",
    cache: AnalysisCache | None = None,
) -> Result:
    """One file on its own (stdin, editors, tests)."""
    return check([SourceFile(path, module, text)], config, cache=cache)


def module_name_guess(path: str) -> str:
    """A stand-in module name for a file outside any known package: its stem."""
    stem = re.sub(r"\W", "_", path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py"))
    return stem or "module"


def active_rules(config: Config) -> list[Rule]:
    return [rule for rule in ALL_RULES if config.enabled(rule.code)]


def roots(project: Project, config: Config) -> Iterable[RootSpec]:
    """The scripting roots under `config`: its `roots`, else every default root."""
    return _roots(project, config, _traced(project, config))


def _roots(project: Project, config: Config, traced: list[Compiled]) -> Iterable[RootSpec]:
    if not config.roots:
        return _untraced(project, default_roots(project), traced)
    chosen = []
    for spec in config.roots:
        path, _, name = spec.rpartition(":")
        for candidate in project.files:
            if _same_file(candidate, path, config.root):
                chosen.append(Root(candidate, name))
    return chosen_roots(project, chosen)


def _untraced(
    project: Project, roots: Iterable[RootSpec], traced_functions: list[Compiled]
) -> list[RootSpec]:
    """Default roots, less the nn.Modules the project traces and never scripts (a traced
    module, and the submodules whose forward its trace runs): a trace runs their Python as
    Python (the TS4xx rules look at it), so scripting rules would be noise. Reached from a
    scripted root (a traced class used as a submodule there), they are still checked."""
    roots = list(roots)
    if not traced_functions:
        return roots
    traced = {
        (c.path, c.owner.qualname)
        for c in traced_functions
        if c.owner is not None and c.info.name == "forward"
    }
    scripted: set[tuple[str, str]] = set()
    for f in project.files.values():
        for site in f.jit_sites:
            found = project.lookup(site.target) if site.kind == "script" else None
            if found is not None:
                scripted.add((found[0].path, found[1].qualname))
    return [
        (summary, obj, why)
        for summary, obj, why in roots
        if (summary.path, obj.qualname) not in traced or (summary.path, obj.qualname) in scripted
    ]


def _same_file(candidate: str, spec_path: str, root: str) -> bool:
    from pathlib import Path

    a = Path(candidate)
    b = Path(spec_path)
    if not b.is_absolute():
        b = Path(root) / b
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# -- one file ---------------------------------------------------------------------------------


def analyze_file(
    project: Project,
    summary: FileSummary,
    text: str,
    compiled: Sequence[Compiled],
    rules: Sequence[Rule],
    *,
    cache: FunctionCache | None = None,
    workers: int = 1,
) -> tuple[list[Finding], list[str]]:
    """Run rules over one file's compiled functions; returns findings and rule crashes.

    With `cache`, a function whose findings are known for the same entry and the same text
    read (see `incremental`) is not analysed again; the text its rules read is recorded.
    With `workers` > 1, many functions to analyse at once (a large file just opened) are
    shared out among forked processes (`fanout`); the result is the same."""
    if summary.syntax_error is not None:
        return [], []
    if not compiled:
        # A file that compiles nothing may still save, load or trace models (an export
        # script): the rules that read those call sites run there too.
        call_site_rules = [rule for rule in rules if rule.call_sites]
        if not call_site_rules or not _mentions_call_sites(text):
            return [], []
        rules = call_site_rules
    blocks = ParsedBlocks(text)
    ordered = sorted(compiled, key=lambda c: c.info.line)
    done: dict[int, _Done] = {}
    pending: list[int] = []
    for i, c in enumerate(ordered):
        # A traced function is analysed afresh: the cache keeps one entry per function, and a
        # function both compiled and traced would evict its compiled entry every time.
        cached = cache is not None and c.mode != TRACED
        known = cache.get(c, blocks) if cached and cache is not None else None
        if known is None:
            pending.append(i)
        else:
            done[i] = _Done(known.findings, known.errors, None)
    context = _FileWork(project, summary, blocks, rules, record=cache is not None)
    chunks = [pending]
    if workers > 1 and len(pending) >= FAN_OUT_MIN:
        weights = [ordered[i].info.end_line - ordered[i].info.line + 1 for i in pending]
        chunks = fanout.split(pending, weights, workers)
    results = fanout.run(chunks, lambda ids: context.analyze([ordered[i] for i in ids]))
    for chunk, chunk_results in zip(chunks, results, strict=True):
        done.update(zip(chunk, chunk_results, strict=False))  # shorter after a parse failure
    findings: list[Finding] = []
    errors: list[str] = []
    for i, c in enumerate(ordered):
        result = done.get(i)
        if result is None or result.unparsable:
            # libcst rejects a block that ast accepted: as in one pass, nothing after it
            errors.extend(result.errors if result is not None else ())
            return findings, errors
        findings.extend(result.findings)
        errors.extend(result.errors)
        if cache is not None and result.reads is not None and c.mode != TRACED:
            cache.put(c, result.reads, result.findings, result.errors)
    if cache is not None:
        cache.done()
    for rule in rules:
        if not _overrides(rule, "check_file"):
            continue
        fctx = FileContext(project=project, summary=summary, blocks=blocks, findings=findings)
        fctx.rule_code = rule.code
        try:
            rule.check_file(fctx)
        except Exception as exc:
            errors.append(_crash(rule.code, summary.path, 1, exc))
    return findings, errors


def _mentions_call_sites(text: str) -> bool:
    """Whether a file may call torch.jit.save / load / script / trace or torch.save at all."""
    return "jit" in text or "torch.save" in text or ".save(" in text


# A file with fewer compiled functions to analyse is done faster in one process than forking.
FAN_OUT_MIN = 24


@dataclass(frozen=True)
class _Done:
    """One function's findings, rule crashes and (for the cache) the text its rules read."""

    findings: tuple[Finding, ...]
    errors: tuple[str, ...]
    reads: Reads | None
    unparsable: bool = False


@dataclass(frozen=True)
class _FileWork:
    project: Project
    summary: FileSummary
    blocks: ParsedBlocks
    rules: Sequence[Rule]
    record: bool  # record what each function's rules read (for the incremental cache)

    def analyze(self, functions: Sequence[Compiled]) -> list[_Done]:
        """The rules on `functions`, in order; stops (shorter list) if libcst cannot parse."""
        out: list[_Done] = []
        blocks = self.blocks
        # Tracing rules see traced functions only; the others, compiled functions only.
        scripting = [rule for rule in self.rules if not isinstance(rule, TracingRule)]
        tracing: list[Rule] = [rule for rule in self.rules if isinstance(rule, TracingRule)]
        dispatch = dispatch_for(scripting)
        hooked = {
            hook: [rule for rule in scripting if _overrides(rule, hook)]
            for hook in ("check_function", "check_signature")
        }
        traced_hooked = {
            hook: [rule for rule in tracing if _overrides(rule, hook)] for hook in hooked
        }
        traced_dispatch = dispatch_for(tracing)
        for c in functions:
            findings: list[Finding] = []
            errors: list[str] = []
            blocks.reads = Reads() if self.record else None
            try:
                try:
                    module, start = blocks.module_for_line(c.info.line)
                except cst.ParserSyntaxError as exc:  # ast accepted it but libcst did not
                    errors.append(
                        f"{self.summary.path}: libcst cannot parse this file: {exc.message}"
                    )
                    out.append(_Done((), tuple(errors), None, unparsable=True))
                    return out
                _analyze_function(
                    c,
                    self.summary,
                    self.project,
                    module,
                    start,
                    blocks,
                    findings,
                    errors,
                    traced_hooked if c.mode == TRACED else hooked,
                    traced_dispatch if c.mode == TRACED else dispatch,
                )
            finally:
                reads, blocks.reads = blocks.reads, None
            out.append(_Done(tuple(findings), tuple(errors), reads))
        return out


def _analyze_function(
    c: Compiled,
    summary: FileSummary,
    project: Project,
    module: cst.Module,
    start: int,
    blocks: ParsedBlocks,
    findings: list[Finding],
    errors: list[str],
    hooked: dict[str, list[Rule]],
    dispatch: Dispatch,
) -> None:
    """The rules on one compiled function: its hooks (`hooked`: the rules that define each),
    then one walk for every visitor."""
    node = find_def(module, c.info.qualname, c.info.ordinal)
    if node is None:
        errors.append(f"{summary.path}:{c.info.line}: cannot locate {c.info.qualname}")
        return
    ctx = FunctionContext(
        project=project,
        summary=summary,
        compiled=c,
        node=node,
        module=module,
        start_line=start,
        blocks=blocks,
        findings=findings,
    )
    hook = "check_signature" if c.mode == "signature" else "check_function"
    for rule in hooked[hook]:
        ctx.rule_code = rule.code
        try:
            getattr(rule, hook)(ctx)
        except Exception as exc:  # a rule's bug must not cost the other rules
            errors.append(_crash(rule.code, summary.path, c.info.line, exc))
    if c.mode != "signature":  # "compiled", or "traced" (trace_reach)
        errors.extend(walk_function(node, ctx, dispatch))


def _overrides(rule: Rule, hook: str) -> bool:
    return getattr(type(rule), hook) is not getattr(Rule, hook)


def _crash(code: str, path: str, line: int, exc: BaseException) -> str:
    return f"{path}:{line}: rule {code} crashed: {type(exc).__name__}: {exc}"


def find_def(module: cst.Module, qualname: str, ordinal: int = 0) -> cst.FunctionDef | None:
    """The libcst def for `qualname` in a block; `ordinal` picks among repeated names
    (a property's setter, overloads), counted in source order as the index does."""
    candidates: list[cst.FunctionDef] = []
    parts = qualname.split(".")

    def search(body: Sequence[cst.CSTNode], depth: int) -> None:
        for stmt in body:
            if isinstance(stmt, cst.If):
                search(stmt.body.body, depth)
                if stmt.orelse is not None:
                    search([stmt.orelse], depth)
                continue
            if isinstance(stmt, cst.Else):
                search(stmt.body.body, depth)
                continue
            if isinstance(stmt, cst.Try):
                search(stmt.body.body, depth)
                continue
            if depth == len(parts) - 1:
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value == parts[depth]:
                    candidates.append(stmt)
            elif isinstance(stmt, cst.ClassDef) and stmt.name.value == parts[depth]:
                body_node = stmt.body
                if isinstance(body_node, cst.IndentedBlock):
                    search(body_node.body, depth + 1)

    search(module.body, 0)
    if not candidates:
        return None
    return candidates[min(ordinal, len(candidates) - 1)]


# -- findings -> diagnostics ------------------------------------------------------------------


def finish(
    f: SourceFile, summary: FileSummary, findings: Sequence[Finding], config: Config
) -> list[Diagnostic]:
    """Syntax errors, suppressions, selection and severities."""
    from tscheck.model import Range

    if summary.syntax_error is not None:
        err = summary.syntax_error
        if not config.enabled(SYNTAX_ERROR, f.path):
            return []
        return [
            Diagnostic(
                path=f.path,
                range=Range.of(err.line, err.column, err.line, err.column + 1),
                code=SYNTAX_ERROR,
                message=f"{err.message}; this file was not checked",
            )
        ]
    lines = source_lines(f.text) if findings or "tscheck" in f.text else []
    suppressed, columns = _suppressions(f.text, lines)
    out: list[Diagnostic] = []
    seen: set[tuple[str, int, int, str]] = set()
    for finding in findings:
        line = finding.range.start.line
        codes = suppressed.get(line)
        if codes is not None and (not codes or finding.code in codes):
            continue
        if not config.enabled(finding.code, f.path):
            continue
        key = (finding.code, line, finding.range.start.column, finding.message)
        if key in seen:  # a base-class method reached from two subclasses
            continue
        seen.add(key)
        rule = RULES_BY_CODE[finding.code]
        out.append(
            Diagnostic(
                path=f.path,
                range=finding.range,
                code=finding.code,
                message=finding.message,
                severity=config.severity_of(finding.code, rule.severity),
                chain=finding.chain,
                fixes=finding.fixes,
                related=finding.related,
            )
        )
    out.extend(_unknown_suppressions(f.path, lines, suppressed, columns, config))
    return out


def _suppressions(
    text: str, lines: Sequence[str]
) -> tuple[dict[int, frozenset[str]], dict[int, int]]:
    """line -> codes suppressed there (empty set = every code), and line -> the column where
    the suppression comment's match starts. Only real comments count: a line that looks like
    one inside a string is not a suppression (tokenize tells, and runs only when some line
    matches, which is rare)."""
    out: dict[int, frozenset[str]] = {}
    columns: dict[int, int] = {}
    candidates = {
        number
        for number, line in enumerate(lines, start=1)
        if "tscheck" in line and SUPPRESSION.search(line)
    }
    if not candidates:
        return out, columns
    for number, column, comment in _comments(text, candidates, lines):
        match = SUPPRESSION.search(comment)
        if match is None:
            continue
        codes = match.group("codes")
        out[number] = frozenset(c.strip().upper() for c in (codes or "").split(",") if c.strip())
        columns[number] = column + match.start()
    return out, columns


def _comments(
    text: str, candidates: set[int], lines: Sequence[str]
) -> Iterator[tuple[int, int, str]]:
    """(line, column, text) of each comment on a candidate line."""
    import io
    import tokenize

    try:
        found = [
            (tok.start[0], tok.start[1], tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(text, newline="").readline)
            if tok.type == tokenize.COMMENT and tok.start[0] in candidates
        ]
    except (tokenize.TokenError, SyntaxError):  # ast parsed it; be lenient all the same
        found = []
        for number in sorted(candidates):
            line = lines[number - 1]
            match = SUPPRESSION.search(line)
            if match is not None:
                found.append((number, match.start(), line[match.start() :]))
    yield from found


def _unknown_suppressions(
    path: str,
    lines: Sequence[str],
    suppressed: dict[int, frozenset[str]],
    columns: dict[int, int],
    config: Config,
) -> list[Diagnostic]:
    from tscheck.model import Range

    if not config.enabled(UNKNOWN_SUPPRESSION, path):
        return []
    out = []
    for line, codes in suppressed.items():
        for code in sorted(codes):
            if code in RULES_BY_CODE or code in ENGINE_CODES:
                continue
            text = lines[line - 1]
            col = text.find(code, columns.get(line, 0))
            out.append(
                Diagnostic(
                    path=path,
                    range=Range.of(line, max(col, 0), line, max(col, 0) + len(code)),
                    code=UNKNOWN_SUPPRESSION,
                    message=f"Unknown rule code {code} in a tscheck suppression comment",
                    severity=Severity.WARNING,
                )
            )
    return out


def replace_path(d: Diagnostic, path: str) -> Diagnostic:
    return dataclasses.replace(d, path=path)
