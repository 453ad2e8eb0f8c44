"""Precision and recall of tscheck against the real TorchScript compiler.

Ground truth (all of it produced by running torch.jit.script, save and load; the tests named
below prove every verdict again):
- the catalog (shared/torchscript/catalog.json, tests/test_catalog.py): 230 snippets, rejected
  ones positive, accepted ones negative; tscheck is rooted at each snippet's target.
- the clean corpora (tests/data/models, tests/data/zoo; tests/test_corpus.py ROOTS and
  ZOO_ROOTS): every root is a negative, tscheck rooted there. The whole folders are also checked
  with default roots: every function tscheck compiles there is a negative.
- the broken corpora (tests/data/broken, tests/data/zoo_broken; test_corpus.BROKEN and
  ZOO_MISTAKES): every mistake is a positive, tscheck rooted at its target.
- torch.nn's own modules (tests/nn_modules.py, tests/test_nn_modules.py): tscheck runs over a
  copy of the installed torch/nn/modules; each class is a positive when the compiler rejects it
  and a negative when it scripts; a finding counts for the class whose body holds it.

A positive is found (loose) when tscheck reports anything on it, and found on the line (strict)
when a report starts on a line the compiler's message names or inside the statement that holds
that line; a case whose rejection names no line of its own code counts the same both ways.
bench/README.md explains the measures and how cases are attributed to rule families.

Usage: python bench/accuracy.py [-v] [--verify [--limit N]]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "analysis"))

import nn_modules  # type: ignore[import-not-found]  # noqa: E402  (tests/: ground truth)
import test_catalog  # noqa: E402
import test_corpus  # noqa: E402
import throughput  # type: ignore[import-not-found]  # noqa: E402  (nn copy, machine)

from tscheck.model import Diagnostic  # noqa: E402
from tscheck.rules import ALL_RULES, RULES_BY_CODE  # noqa: E402

# The targets (issue 6, item 5).
RECALL_TARGET = 0.85
PRECISION_TARGET = 0.95

FAMILY_NAMES = {
    "TS0": "meta",
    "TS1": "syntax, builtins, modules",
    "TS2": "types",
    "TS3": "decorators",
    "TS4": "tracing",
    "TS5": "serialization",
    "TS9": "verification",
}
# Where a missed catalog case belongs: the family whose rules should have caught it.
GROUP_FAMILY = {"1": "TS1", "2": "TS2", "3": "TS1", "4": "TS1", "5": "TS3"}


# -- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One judged case. `spans` are the (first, last) lines of the statements that hold the
    lines the compiler names; empty for a negative or a rejection that names no line of its own
    code. `codes` are every code reported on the case, `placed` those reported inside `spans`."""

    dataset: str
    name: str
    positive: bool
    family_hint: str  # for a missed positive: the family that should have caught it
    codes: frozenset[str]
    placed: frozenset[str]
    lineless: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.codes)

    @property
    def on_line(self) -> bool:
        """Found at the compiler's line (strict); a lineless case counts any report."""
        return bool(self.codes) if self.lineless else bool(self.placed)

    def label(self) -> str:
        got = ",".join(sorted(self.codes))
        return f"{self.dataset}: {self.name}" + (f" [{got}]" if got else "")


def family_of(code: str) -> str:
    return code[:3]


def family_title(prefix: str) -> str:
    if prefix not in FAMILY_NAMES:
        return "(no family: torch.nn classes)"
    return f"{prefix}xx {FAMILY_NAMES[prefix]}"


# -- statements -------------------------------------------------------------------------------


def statement_span(tree: ast.Module, line: int) -> tuple[int, int]:
    """The innermost statement holding `line`: a simple statement's full extent, or a compound
    statement's header (decorators through the line before its body)."""
    best = (line, line)
    best_size = 1 << 30
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        first = node.lineno
        decorators = getattr(node, "decorator_list", None)
        if decorators:
            first = min(first, *(d.lineno for d in decorators))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            last = max(node.lineno, body[0].lineno - 1)
        else:
            last = node.end_lineno or node.lineno
        if first <= line <= last and last - first < best_size:
            best, best_size = (first, last), last - first
    return best


def spans_for(text: str, lines: Iterable[int]) -> tuple[tuple[int, int], ...]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return tuple((n, n) for n in lines)
    return tuple(statement_span(tree, n) for n in lines)


def placed_codes(
    diagnostics: Iterable[Diagnostic], spans: Sequence[tuple[int, int]], path: str | None = None
) -> frozenset[str]:
    return frozenset(
        d.code
        for d in diagnostics
        if (path is None or Path(d.path).name == path)
        and any(a <= d.range.start.line <= b for a, b in spans)
    )


# -- the catalog ------------------------------------------------------------------------------


def catalog_lines(case: dict[str, Any]) -> list[int]:
    """The lines of the snippet file (header included) the compiler's message names."""
    header = int(test_catalog.HEADER_LINES)
    lines = []
    if case.get("highlight_line_offset") is not None:
        lines.append(int(case["highlight_line_offset"]) + header)
    for link in case.get("call_chain") or []:
        if link.get("snippet_line") is not None and "<snippets>" in str(link.get("file", "")):
            lines.append(int(link["snippet_line"]) + header)
    return sorted(set(lines))


def catalog_cases() -> list[Case]:
    cases = []
    for name, case in sorted(test_catalog.CASES.items()):
        result = test_catalog.analyze(case)
        lines = catalog_lines(case) if case["rejected"] else []
        code = test_catalog.CATALOG["header"] + case["snippet"]
        spans = spans_for(code, lines)
        cases.append(
            Case(
                "catalog",
                name,
                bool(case["rejected"]),
                GROUP_FAMILY.get(case["group"][:1], "?"),
                frozenset(d.code for d in result.diagnostics),
                placed_codes(result.diagnostics, spans),
                lineless=bool(case["rejected"]) and not lines,
            )
        )
    return cases


# -- the corpora ------------------------------------------------------------------------------


def clean_root_cases() -> list[Case]:
    cases = []
    for folder, root in test_corpus.CLEAN_CASES:
        result = test_corpus.check_folder(folder, f"{root.file}:{root.name}")
        codes = frozenset(d.code for d in result.diagnostics)
        where = "; ".join(
            f"{Path(d.path).name}:{d.range.start.line} {d.code}" for d in result.diagnostics
        )
        name = f"{root.id}" + (f" ({where})" if where else "")
        cases.append(Case(f"clean {folder.name}", name, False, "", codes, frozenset()))
    return cases


def clean_function_cases() -> list[Case]:
    """Default roots over each clean folder: every compiled function is a negative; a finding
    outside every compiled function is one more false positive."""
    cases = []
    for folder, _ in test_corpus.CLEAN_SETS:
        result = test_corpus.check_folder(folder)
        placed: set[int] = set()
        spans = sorted(
            {(c.path, c.info.first_line, c.info.end_line, c.info.qualname) for c in result.compiled}
        )
        for path, first, last, qualname in spans:
            inside = [
                i
                for i, d in enumerate(result.diagnostics)
                if d.path == path and first <= d.range.start.line <= last
            ]
            placed.update(inside)
            codes = frozenset(result.diagnostics[i].code for i in inside)
            name = f"{Path(path).name}:{qualname}"
            cases.append(Case(f"{folder.name} functions", name, False, "", codes, frozenset()))
        for i, d in enumerate(result.diagnostics):
            if i not in placed:
                name = f"{Path(d.path).name}:{d.range.start.line} {d.message}"
                cases.append(
                    Case(
                        f"{folder.name} functions",
                        name,
                        False,
                        "",
                        frozenset({d.code}),
                        frozenset(),
                    )
                )
    return cases


def broken_cases() -> list[Case]:
    cases = []
    texts: dict[Path, str] = {}
    for folder, mistake in test_corpus.BROKEN_CASES:
        path = folder / mistake.file
        text = texts.setdefault(path, path.read_text(encoding="utf-8"))
        root = re.match(r"[A-Za-z_]\w*", mistake.target)
        assert root is not None, mistake.target
        result = test_corpus.check_folder(folder, f"{mistake.file}:{root.group(0)}")
        spans = spans_for(text, mistake.lines)
        cases.append(
            Case(
                folder.name,
                f"{mistake.id} {mistake.what} (want {mistake.code})",
                True,
                family_of(mistake.code),
                frozenset(d.code for d in result.diagnostics),
                placed_codes(result.diagnostics, spans, mistake.file),
            )
        )
    return cases


# -- torch.nn ---------------------------------------------------------------------------------


@dataclass
class NNRow:
    classes: int = 0
    scripting: int = 0
    rejected: int = 0
    skipped: int = 0
    findings_in_scripting: list[str] = field(default_factory=list)  # false positives
    findings_in_rejected: list[str] = field(default_factory=list)  # true positives
    findings_elsewhere: list[str] = field(default_factory=list)  # skipped classes, module level


def enclosing_classes(text: str) -> list[tuple[int, int, str]]:
    tree = ast.parse(text)
    return [
        (n.lineno, n.end_lineno or n.lineno, n.name)
        for n in ast.walk(tree)
        if isinstance(n, ast.ClassDef)
    ]


@dataclass
class NNRun:
    """tscheck running over a copy of torch/nn/modules, started before the in-process work."""

    folder: tempfile.TemporaryDirectory[str]
    proc: subprocess.Popen[str]


def start_nn() -> NNRun:
    """Start the CLI (as a user runs it) over a fresh copy of the installed torch/nn/modules."""
    folder = tempfile.TemporaryDirectory(prefix="tscheck-nn-")
    throughput.make_tree(Path(folder.name), flat=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tscheck", "torch/nn/modules", "--no-cache", "--format", "json"],
        cwd=folder.name,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return NNRun(folder, proc)


def nn_cases(run: NNRun) -> tuple[list[Case], NNRow]:
    """One case per class that was scripted; findings attributed to the class holding them."""
    row = NNRow()
    with run.folder as tmp:
        stdout, stderr = run.proc.communicate()
        if run.proc.returncode not in (0, 1):
            sys.exit(
                f"accuracy: tscheck on torch/nn/modules exited {run.proc.returncode}:\n{stderr}"
            )
        found = json.loads(stdout)["diagnostics"]
        by_class: dict[str, list[str]] = defaultdict(list)
        classes_of: dict[str, list[tuple[int, int, str]]] = {}
        for d in found:
            path = Path(tmp) / d["path"]
            stem = path.stem
            if stem not in classes_of:
                classes_of[stem] = enclosing_classes(path.read_text(encoding="utf-8"))
            line = d["range"]["start"]["line"]
            holders = [c for c in classes_of[stem] if c[0] <= line <= c[1]]
            name = min(holders, key=lambda c: c[1] - c[0])[2] if holders else ""
            text = f"{stem}.py:{line} {d['code']}"
            entry = nn_modules.BY_NAME.get(name)
            if entry is None or entry.skip is not None or entry.module != stem:
                row.findings_elsewhere.append(f"{text} ({name or 'module level'})")
            else:
                by_class[entry.id].append(d["code"])
                bucket = row.findings_in_rejected if entry.rejected else row.findings_in_scripting
                bucket.append(f"{text} in {name}")
    cases = []
    for c in nn_modules.NN_CLASSES:
        row.classes += 1
        if c.skip is not None:
            row.skipped += 1
            continue
        if c.rejected is None:
            row.scripting += 1
        else:
            row.rejected += 1
        codes = frozenset(by_class.get(c.id, []))
        cases.append(
            Case("torch.nn", c.id, c.rejected is not None, "?", codes, codes, lineless=True)
        )
    return cases, row


# -- scores -----------------------------------------------------------------------------------


@dataclass
class Score:
    name: str
    tp: int = 0  # positives found on the compiler's line (strict)
    loose: int = 0  # positives with any report
    fn: int = 0  # positives with no report on the compiler's line
    fp: int = 0  # negatives with a report
    tn: int = 0
    lineless: int = 0  # positives whose rejection names no line of their code

    @property
    def positives(self) -> int:
        return self.tp + self.fn

    @property
    def negatives(self) -> int:
        return self.fp + self.tn

    @property
    def recall(self) -> float | None:
        return self.tp / self.positives if self.positives else None

    @property
    def loose_recall(self) -> float | None:
        return self.loose / self.positives if self.positives else None

    @property
    def precision(self) -> float | None:
        """Of the cases tscheck flags, the share the compiler rejects."""
        flagged = self.loose + self.fp
        return self.loose / flagged if flagged else None

    @property
    def fp_rate(self) -> float | None:
        return self.fp / self.negatives if self.negatives else None


def score(name: str, cases: Iterable[Case]) -> Score:
    s = Score(name)
    for c in cases:
        if c.positive:
            s.tp += c.on_line
            s.fn += not c.on_line
            s.loose += c.flagged
            s.lineless += c.lineless
        else:
            s.fp += c.flagged
            s.tn += not c.flagged
    return s


@dataclass
class FamilyScore:
    tp: int = 0  # positives this family reported on the compiler's line
    misplaced: int = 0  # positives this family reported, but not on the compiler's line
    fp: int = 0  # negatives this family reported on
    fn: int = 0  # positives nobody found on the line, which this family should have caught

    @property
    def precision(self) -> float | None:
        flagged = self.tp + self.misplaced + self.fp
        return (self.tp + self.misplaced) / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


def family_scores(
    cases: Iterable[Case], key: Callable[[str], str], attribute_misses: bool
) -> dict[str, FamilyScore]:
    """Per family: a reported code credits its family; a miss goes to the case's hint."""
    table: dict[str, FamilyScore] = defaultdict(FamilyScore)
    for c in cases:
        reported = {key(code) for code in c.codes}
        placed = {key(code) for code in (c.codes if c.lineless else c.placed)}
        if c.positive:
            for fam in placed:
                table[fam].tp += 1
            for fam in reported - placed:
                table[fam].misplaced += 1
            if not c.on_line and attribute_misses:
                table[c.family_hint].fn += 1
        else:
            for fam in reported:
                table[fam].fp += 1
    return table


def rule_family(code: str) -> str:
    rule = RULES_BY_CODE.get(code)
    return rule.family.value if rule is not None else "(no rule)"


# -- verification -----------------------------------------------------------------------------


@dataclass
class VerifyRow:
    cases: int = 0
    reported: int = 0
    static: int = 0  # of the reported, those that static analysis alone had flagged
    missed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    limited: bool = False
    error: str = ""


def toml_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def write_project(folder: Path, roots: dict[str, str | None], examples: dict[str, str]) -> None:
    """pyproject.toml with one root per case, its factory and example arguments."""
    lines = ["[tool.tscheck]", "roots = ["]
    lines += [f"    {toml_string(key)}," for key in roots]
    lines += ["]", "", "[tool.tscheck.factories]"]
    lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in roots.items() if v]
    lines += ["", "[tool.tscheck.examples]"]
    lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in examples.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_verify(folder: Path, what: Sequence[str]) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tscheck",
            *what,
            "--verify",
            "--no-cache",
            "--format",
            "json",
            "-q",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"tscheck --verify exited {proc.returncode}: {proc.stderr[-2000:]}")
    diagnostics: list[dict[str, Any]] = json.loads(proc.stdout)["diagnostics"]
    return diagnostics


def verify_row(limit: int | None) -> VerifyRow:
    """Every compiler-rejected catalog case and broken-corpus mistake, with --verify."""
    row = VerifyRow()
    rejected = [(n, c) for n, c in sorted(test_catalog.CASES.items()) if c["rejected"]]
    if limit is not None and limit < len(rejected):
        rejected, row.limited = rejected[:limit], True
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tscheck-verify-") as tmp:
        root = Path(tmp)
        catalog = root / "catalog"
        catalog.mkdir()
        roots: dict[str, str | None] = {}
        examples: dict[str, str] = {}
        files: dict[str, str] = {}
        for name, case in rejected:
            file = f"case_{name}.py"
            # As the static run sees it: with the runner's script call where the target is
            # not a def (a lambda, math.sqrt, a class), so call-site rules see it too.
            code, target = test_catalog.runner_code(case)
            (catalog / file).write_text(code)
            head = re.match(r"[A-Za-z_]\w*", target)
            assert head is not None, target
            key = f"catalog/{file}:{head.group(0)}"
            if head.group(0) not in defined_names(code):
                # A lambda, an exec'd function, math.sqrt: nothing to root at; only the
                # call-site rules on the appended script call can report it.
                files[f"catalog/{file}"] = f"catalog: {name}"
                continue
            roots[key] = target if "(" in target else None
            if case.get("call") and not case.get("method"):
                examples[key] = case["call"]
            files[f"catalog/{file}"] = f"catalog: {name}"
        for folder, mistakes in test_corpus.BROKEN_SETS:
            copy = root / folder.name
            copy.mkdir()
            for source in folder.glob("*.py"):
                (copy / source.name).write_text(source.read_text(encoding="utf-8"))
            for m in mistakes:
                head = re.match(r"[A-Za-z_]\w*", m.target)
                assert head is not None, m.target
                roots[f"{folder.name}/{m.file}:{head.group(0)}"] = m.target
                files.setdefault(f"{folder.name}/{m.file}", "")
        write_project(root, roots, examples)
        try:
            found = run_verify(root, ["."])
        except RuntimeError as exc:
            row.error = str(exc)
            return row
        reported: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for d in found:
            reported[Path(d["path"]).as_posix()].append(d)
        # Catalog: one case per file; broken: one case per mistake (its root's class body).
        for name, _ in rejected:
            rel = f"catalog/case_{name}.py"
            row.cases += 1
            got = reported.get(rel, [])
            count_verified(row, got, f"catalog: {name}")
        for folder, mistakes in test_corpus.BROKEN_SETS:
            for m in mistakes:
                rel = f"{folder.name}/{m.file}"
                text = (folder / m.file).read_text(encoding="utf-8")
                head = re.match(r"[A-Za-z_]\w*", m.target)
                assert head is not None
                body = [c for c in enclosing_classes(text) if c[2] == head.group(0)]
                first, last = (body[0][0], body[0][1]) if body else (1, 1 << 30)
                # In the root's class, on the mistake's statement (a call site outside the
                # class, say), or a compiler-only error with no position that names the root.
                named = f"torch.jit.script({head.group(0)})"
                spans = spans_for(text, m.lines)
                got = [
                    d
                    for d in reported.get(rel, [])
                    if first <= d["range"]["start"]["line"] <= last
                    or any(a <= d["range"]["start"]["line"] <= b for a, b in spans)
                    or d["message"].startswith(named)
                ]
                row.cases += 1
                count_verified(row, got, f"{folder.name}: {m.id} {m.what}")
    row.seconds = time.perf_counter() - start
    return row


def defined_names(code: str) -> set[str]:
    """The classes and functions a snippet defines at top level."""
    tree = ast.parse(code)
    return {
        n.name
        for n in tree.body
        if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    }


def count_verified(row: VerifyRow, got: list[dict[str, Any]], label: str) -> None:
    if got:
        row.reported += 1
        row.static += any(not d["code"].startswith("TS9") for d in got)
    else:
        row.missed.append(label)


# -- output -----------------------------------------------------------------------------------


def pct(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.1%}"


def dataset_table(scores: Sequence[Score]) -> str:
    head = (
        f"{'data set':<33} {'pos':>4} {'neg':>4} {'line':>5} {'any':>5} {'FN':>4} {'FP':>4}"
        f" {'recall':>7} {'loose':>7} {'precis.':>7} {'FP rate':>7}"
    )
    lines = [head, "-" * len(head)]
    for s in scores:
        lines.append(
            f"{s.name:<33} {s.positives:>4} {s.negatives:>4} {s.tp:>5} {s.loose:>5} {s.fn:>4}"
            f" {s.fp:>4} {pct(s.recall):>7} {pct(s.loose_recall):>7} {pct(s.precision):>7}"
            f" {pct(s.fp_rate):>7}"
        )
    return "\n".join(lines)


def family_table(
    title: str, table: dict[str, FamilyScore], names: Callable[[str], str], recall: bool = True
) -> str:
    head = f"{title:<34} {'line':>5} {'elsewh':>6} {'FP':>4} {'FN':>4} {'precis.':>7} {'recall':>7}"
    lines = [head, "-" * len(head)]
    for key in sorted(table):
        f = table[key]
        lines.append(
            f"{names(key):<34} {f.tp:>5} {f.misplaced:>6} {f.fp:>4} {f.fn:>4}"
            f" {pct(f.precision):>7} {pct(f.recall if recall else None):>7}"
        )
    return "\n".join(lines)


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def versions() -> str:
    m = throughput.machine()
    return (
        f"machine: {m['cpu']}, {m['usable_cores']} usable cores, load {m['load_average_1m']};"
        f" Python {m['python']}; torch {throughput.torch_version()}; {len(ALL_RULES)} rules"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss and FP")
    parser.add_argument(
        "--verify", action="store_true", help="also run tscheck --verify on every rejected case"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="with --verify: only the first N catalog cases"
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    nn_run = start_nn()  # a subprocess: runs while this process does the rest
    catalog = catalog_cases()
    clean_roots = clean_root_cases()
    clean_functions = clean_function_cases()
    broken = broken_cases()
    nn, nn_row = nn_cases(nn_run)
    elapsed = time.perf_counter() - start

    by_set: dict[str, list[Case]] = defaultdict(list)
    for c in [*catalog, *clean_roots, *broken, *nn]:
        by_set[c.dataset].append(c)
    rejected_with_code = [c for c in [*catalog, *broken] if c.positive]
    overall = [*catalog, *clean_roots, *broken, *nn]
    scores = [score(name, cases) for name, cases in by_set.items()]
    scores.append(score("clean, every function", clean_functions))
    recall_all = score("RECALL (catalog + broken)", rejected_with_code)
    all_score = score("ALL (catalog, clean, broken, nn)", overall)
    scores += [recall_all, all_score]

    print("tscheck accuracy against the real compiler (static analysis only)")
    print(versions() + "\n")
    print(dataset_table(scores))
    print(
        "\nline   = positives reported on a line the compiler names, or inside its statement"
        " (recall)\nany    = positives with any report (loose recall)"
        "\nprecis. = of the cases tscheck flags, the share the compiler rejects"
        "\nFP rate = of the cases the compiler accepts, the share tscheck flags"
        f"\n{recall_all.lineless} catalog/broken rejections name no line of their own code;"
        " they count as found on the line when anything is reported."
    )

    prefix_table = family_scores(overall, family_of, attribute_misses=True)
    print("\n" + family_table("family (code prefix)", prefix_table, family_title))
    enum_table = family_scores(overall, rule_family, attribute_misses=False)
    print("\n" + family_table("family (Family enum)", enum_table, str, recall=False))
    print(
        "\nA positive credits the family of every code reported on it (line: at the compiler's"
        "\nline; elsewh: only elsewhere); a miss (FN) goes to the family its catalog group or"
        "\nexpected code names (Family enum rows: misses are not attributed, so no recall)."
        "\nFP: negatives that family reported on."
    )

    print(
        f"\ntorch.nn (tscheck over a copy of torch/nn/modules): {nn_row.classes}"
        f" classes, {nn_row.scripting} script, {nn_row.rejected} rejected, {nn_row.skipped}"
        f" skipped; findings in scripting classes (FP): {len(nn_row.findings_in_scripting)};"
        f" in rejected classes (TP): {len(nn_row.findings_in_rejected)}; in skipped classes or"
        f" module level: {len(nn_row.findings_elsewhere)}"
    )
    for item in nn_row.findings_in_scripting + nn_row.findings_elsewhere:
        print(f"  FALSE POSITIVE? {item}")
    if args.verbose:
        for item in nn_row.findings_in_rejected:
            print(f"  {item}")

    fps = [c for c in [*overall, *clean_functions] if not c.positive and c.flagged]
    if fps:
        print("\nfalse positives (the compiler accepts these):")
        for c in fps:
            print(f"  {c.label()}")
    misses = [c for c in rejected_with_code if not c.on_line]
    if args.verbose:
        print("\nrejections not reported on the compiler's line ([codes reported elsewhere]):")
        for c in misses:
            print(f"  {c.label()}")
        missed_nn = [c for c in nn if c.positive and not c.flagged]
        print("\ntorch.nn classes the compiler rejects and tscheck does not flag:")
        for c in missed_nn:
            print(f"  {c.name}")
    else:
        print(f"\n(-v lists the {len(misses)} rejections not found on their line)")

    nn_fp = len(nn_row.findings_in_scripting)
    targets = [
        (
            f"static recall on the compiler's line >= {RECALL_TARGET:.0%}",
            f"{pct(recall_all.recall).strip()} (loose {pct(recall_all.loose_recall).strip()})",
            (recall_all.recall or 0.0) >= RECALL_TARGET,
        ),
        ("no false positives on torch.nn's modules", f"{nn_fp} FP", nn_fp == 0),
        (
            f"static precision overall >= {PRECISION_TARGET:.0%}",
            pct(all_score.precision).strip(),
            (all_score.precision or 0.0) >= PRECISION_TARGET,
        ),
    ]
    status = 0
    if args.verify:
        print("\nverifying (tscheck --verify over every rejected catalog case and mistake) ...")
        row = verify_row(args.limit)
        if row.error:
            print(f"  could not verify: {row.error}")
        else:
            limited = (
                f" (--limit {args.limit}: the first {args.limit} catalog cases)"
                if row.limited
                else ""
            )
            print(
                f"--verify: {row.reported}/{row.cases} compiler-rejected cases reported"
                f" ({row.static} with a static code, the rest only TS9xx) in {row.seconds:.1f} s"
                f"{limited}"
            )
            for item in row.missed:
                print(f"  not reported: {item}")
        targets.append(
            (
                "--verify reports every compiler-rejected case",
                f"{row.reported}/{row.cases}",
                not row.error and row.reported == row.cases,
            )
        )
    print("\ntargets (issue 6):")
    for what, value, met in targets:
        print(f"  {what:<48} {value:<24} {verdict(met)}")
    print(f"\nstatic run: {elapsed:.1f} s ({platform.python_implementation()})")
    return status


if __name__ == "__main__":
    sys.exit(main())
