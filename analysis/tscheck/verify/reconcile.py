"""Static diagnostics + the compiler's verdicts -> final diagnostics.

- A static diagnostic on the line of a compiler error (same file) is **confirmed**: it is
  marked, and the compiler's own message goes into its related information.
- A static diagnostic inside a function that the compiler compiled without complaint (its root
  scripted, saved and loaded once the failing functions were ignored, and this function was not
  one of them) is **dropped**: the compiler disagrees, and the compiler is right. Except for
  rules whose failure shows only when the code runs (`Rule.refuted_by_clean_compile`).
- A compiler error that no static diagnostic predicted becomes **TS900**, at the compiler's range.
- Everything else (roots not built, timeouts, a function that failed earlier on another line) is
  kept as it was: not verified either way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence

from tscheck.engine import COMPILER_ONLY, UNVERIFIED, VERIFIER_FAILED
from tscheck.model import (
    ChainLink,
    CompilerError,
    Diagnostic,
    Range,
    RootVerdict,
    Severity,
    Verification,
)
from tscheck.reach import Compiled
from tscheck.rules import RULES_BY_CODE
from tscheck.verify.save_codes import SAVE_CODES, confirms, failure_code


def reconcile(
    static: Sequence[Diagnostic],
    compiled: Iterable[Compiled],
    verdicts: Sequence[RootVerdict],
    display: dict[str, str] | None = None,
) -> tuple[list[Diagnostic], Verification]:
    """`display` maps absolute paths to the paths diagnostics use (as the user wrote them)."""
    display = display or {}
    absolute = {shown: real for real, shown in display.items()}
    functions = _functions_by_file(compiled)
    # A root whose compile failed where no user function holds the line (inside torch's own
    # code, with no frame of the user's) stopped at an error nobody could peel: what it would
    # have compiled next is unknown, so it refutes nothing.
    clean_roots = {
        v.qualified: v
        for v in verdicts
        if v.verdict in ("ok", "errors")
        and all(e.function for e in v.errors if e.stage == "script")
    }
    failed_functions = {
        (os.path.abspath(e.file), e.function) for v in verdicts for e in v.errors if e.function
    }
    # Roots whose round trip failed: it stops at the first Python call it cannot export, so
    # a save diagnostic naming another one is neither confirmed nor refuted.
    unsaved = {v.qualified for v in verdicts for e in v.errors if e.stage in ("save", "load")}
    errors = [(v, e) for v in verdicts for e in v.errors]
    used: set[int] = set()
    out: list[Diagnostic] = []
    confirmed = dropped = 0
    for d in static:
        path = os.path.abspath(absolute.get(d.path, d.path))
        match = _matching_error(d, path, errors)
        if match is not None:
            used.add(id(match[1]))
            out.append(_confirm(d, match[1]))
            confirmed += 1
            continue
        fn = _enclosing(functions.get(path, ()), d.range.start.line)
        if fn is not None and (path, fn.info.qualname) not in failed_functions:
            if d.code in SAVE_CODES and fn.roots & unsaved:
                out.append(d)
                continue
            if _compiled_cleanly(fn, clean_roots) and _refutable(d.code):
                dropped += 1
                continue
        out.append(d)
    compiler_only = 0
    for verdict, error in errors:
        if id(error) in used:
            continue
        external = (
            error.stage == "script"
            and bool(error.file)
            and os.path.abspath(error.file) not in functions
        )
        out.append(_compiler_only(verdict, error, display, external=external))
        compiler_only += 1
    out.extend(_unverified(verdicts, display))
    out.sort(key=lambda d: d.sort_key)
    summary = Verification(
        roots=tuple(verdicts), confirmed=confirmed, dropped=dropped, compiler_only=compiler_only
    )
    return out, summary


def _functions_by_file(compiled: Iterable[Compiled]) -> dict[str, list[Compiled]]:
    out: dict[str, list[Compiled]] = {}
    for c in compiled:
        out.setdefault(os.path.abspath(c.path), []).append(c)
    return out


def _enclosing(candidates: Sequence[Compiled], line: int) -> Compiled | None:
    """The innermost compiled function whose lines hold `line`."""
    best: Compiled | None = None
    for c in candidates:
        if c.info.first_line <= line <= c.info.end_line:
            if best is None or c.info.line > best.info.line:
                best = c
    return best


def _matching_error(
    d: Diagnostic, path: str, errors: Sequence[tuple[RootVerdict, CompilerError]]
) -> tuple[RootVerdict, CompilerError] | None:
    for verdict, error in errors:
        if error.stage != "script":
            if confirms(d, error, same_file=os.path.abspath(verdict.path) == path):
                return verdict, error
            continue
        if not error.file or error.line is None or os.path.abspath(error.file) != path:
            continue
        if d.range.start.line <= error.line <= d.range.end.line:
            return verdict, error
    return None


def _refutable(code: str) -> bool:
    """Whether a clean script / save / load proves a diagnostic of `code` wrong."""
    rule = RULES_BY_CODE.get(code)
    return rule is None or rule.refuted_by_clean_compile


def _compiled_cleanly(fn: Compiled, clean_roots: dict[str, RootVerdict]) -> bool:
    """Every root reaching `fn` was verified, and scripted with `fn` compiled (not ignored)."""
    if not fn.roots or any(root not in clean_roots for root in fn.roots):
        return False
    return all(fn.info.qualname not in clean_roots[root].ignored for root in fn.roots)


def _confirm(d: Diagnostic, error: CompilerError) -> Diagnostic:
    step = "torch.jit.script" if error.stage == "script" else f"torch.jit.{error.stage}"
    link = ChainLink(f"{step}: {error.first_line}", error.file, error.line or 0)
    return dataclasses.replace(d, verification="confirmed", related=(*d.related, link))


def _compiler_only(
    verdict: RootVerdict, error: CompilerError, display: dict[str, str], *, external: bool = False
) -> Diagnostic:
    """TS900 at the compiler's range; at the root's definition when the compiler gave none,
    or only one in code outside the project (torch's own), which the message then names."""
    if external or not error.file:
        file, line, column, end_line, end_column = verdict.path, verdict.line, 0, verdict.line, 0
    else:
        file = error.file
        line = error.line or 1
        column = error.column or 0
        end_line = error.end_line or line
        end_column = error.end_column if error.end_column is not None else column + 1
    if external:
        where = f" (in {error.file}:{error.line}, reached from {verdict.name})"
    else:
        where = "" if error.file else " (the compiler gave no source position)"
    stage = "" if error.stage == "script" else f" at {error.stage}"
    related = [ChainLink(error.message.strip()[:2000], error.file or file, error.line or line)]
    code = failure_code(error)
    known = ""
    if code is not None and code in RULES_BY_CODE:
        # A failure a static rule describes, from a cause it could not see: name the rule,
        # so `tscheck explain` gives the fix.
        rule = RULES_BY_CODE[code]
        known = f" [{code} {rule.name}: {rule.summary}]"
        related.append(ChainLink(f"the failure {code} ({rule.name}) describes", file, line))
    return Diagnostic(
        path=display.get(os.path.abspath(file), file),
        range=Range.of(line, column, end_line, end_column),
        code=COMPILER_ONLY,
        message=f"torch.jit.script({verdict.name}) fails{stage}: {error.first_line}{where}{known}",
        severity=Severity.ERROR,
        related=tuple(related),
        verification="compiler",
    )


def _unverified(verdicts: Sequence[RootVerdict], display: dict[str, str]) -> list[Diagnostic]:
    out = []
    for v in verdicts:
        if v.verdict in ("ok", "errors"):
            continue
        code = UNVERIFIED if v.verdict == "unverified" else VERIFIER_FAILED
        what = {
            "unverified": "could not be built to verify it",
            "import_error": "its module failed to import in the verifier",
            "timeout": "the verifier timed out",
            "crashed": "the verifier's child crashed",
            "exited": "the code exited the verifier's child",
        }.get(v.verdict, "the verifier failed")
        out.append(
            Diagnostic(
                path=display.get(os.path.abspath(v.path), v.path),
                range=Range.of(v.line, 0, v.line, 0),
                code=code,
                message=f"{v.name}: {what}: {v.reason}" if v.reason else f"{v.name}: {what}",
                severity=Severity.WARNING if code == VERIFIER_FAILED else Severity.INFO,
            )
        )
    return out
