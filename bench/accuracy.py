"""Precision and recall of tscheck against the real TorchScript compiler.

Ground truth (all of it produced by running torch.jit.script, save and load):
- the catalog (shared/torchscript/catalog.json): 230 snippets; ACCEPTED ones are negatives,
  rejected ones positives. A case counts as flagged when tscheck reports anything on it,
  rooted at its target (as tests/test_catalog.py does).
- the clean corpus (tests/data/models): real models the compiler accepts; every root in
  tests/test_corpus.py ROOTS is a negative, flagged when tscheck rooted there reports anything.
  The whole folder is also checked with default roots: every function tscheck compiles there is
  a negative, flagged when a diagnostic falls inside it.
- the broken corpus (tests/data/broken): every expected mistake in tests/test_corpus.py BROKEN
  is a positive, found when tscheck (default roots, whole folder) reports on its line with its
  code ("code" column) or with any code ("line" column).

This script only runs tscheck; tests/test_corpus.py and tests/test_rules.py prove the ground
truth against the compiler. Usage: python bench/accuracy.py [-v]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "analysis"))

import test_catalog  # noqa: E402  (tests/ holds the shared ground-truth helpers)
import test_corpus  # noqa: E402


@dataclass
class Score:
    """Confusion counts for one data set, with the names behind the errors."""

    name: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    false_positives: list[str] = field(default_factory=list)
    false_negatives: list[str] = field(default_factory=list)

    def add(self, positive: bool, flagged: bool, label: str) -> None:
        if positive and flagged:
            self.tp += 1
        elif positive:
            self.fn += 1
            self.false_negatives.append(label)
        elif flagged:
            self.fp += 1
            self.false_positives.append(label)
        else:
            self.tn += 1

    @property
    def precision(self) -> float | None:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else None

    @property
    def false_alarm_rate(self) -> float | None:
        negatives = self.fp + self.tn
        return self.fp / negatives if negatives else None

    @property
    def recall(self) -> float | None:
        positives = self.tp + self.fn
        return self.tp / positives if positives else None

    def merged(self, other: Score, name: str) -> Score:
        return Score(
            name,
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.tn + other.tn,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )


def catalog_score() -> tuple[Score, Counter[str], Counter[str]]:
    """Every catalog case; also recall per catalog group (found, total)."""
    score = Score("catalog")
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for name, case in sorted(test_catalog.CASES.items()):
        result = test_catalog.analyze(case)
        flagged = bool(result.diagnostics)
        codes = ",".join(sorted({d.code for d in result.diagnostics}))
        label = f"{name} [{codes}]" if codes else name
        score.add(case["rejected"], flagged, label)
        if case["rejected"]:
            total[case["group"]] += 1
            found[case["group"]] += flagged
    return score, found, total


def clean_score() -> tuple[Score, Score]:
    """Per root (rooted check) and per diagnostic of the whole-folder check."""
    per_root = Score("clean corpus, per root")
    for root in test_corpus.ROOTS:
        result = test_corpus.check_folder(test_corpus.MODELS, f"{root.file}:{root.name}")
        label = f"{root.id}: " + "; ".join(
            f"{Path(d.path).name}:{d.range.start.line} {d.code}" for d in result.diagnostics
        )
        per_root.add(False, bool(result.diagnostics), label)
    # Default roots over the whole folder: every function tscheck considers compiled is a
    # negative, flagged when a diagnostic falls inside it; a diagnostic outside every compiled
    # function (module level) counts as one more false positive.
    folder = Score("clean corpus, per function")
    result = test_corpus.check_folder(test_corpus.MODELS)
    spans = {(c.path, c.info.first_line, c.info.end_line, c.info.qualname) for c in result.compiled}
    placed: set[int] = set()
    for path, first, last, qualname in sorted(spans):
        inside = [
            i
            for i, d in enumerate(result.diagnostics)
            if d.path == path and first <= d.range.start.line <= last
        ]
        placed.update(inside)
        details = "; ".join(
            f"{result.diagnostics[i].range.start.line} {result.diagnostics[i].code}" for i in inside
        )
        folder.add(False, bool(inside), f"{Path(path).name}:{qualname}: {details}")
    for i, d in enumerate(result.diagnostics):
        if i not in placed:
            folder.add(
                False, True, f"{Path(d.path).name}:{d.range.start.line} {d.code} {d.message}"
            )
    return per_root, folder


def broken_score() -> tuple[Score, Score, list[str]]:
    """Expected mistakes found by (line, code) and by line only; and unexpected diagnostics."""
    result = test_corpus.check_folder(test_corpus.BROKEN_DIR)
    reported: dict[tuple[str, int], set[str]] = {}
    for d in result.diagnostics:
        reported.setdefault((Path(d.path).name, d.range.start.line), set()).add(d.code)
    by_code = Score("broken corpus, line+code")
    by_line = Score("broken corpus, line only")
    for mistake in test_corpus.BROKEN:
        codes = reported.get((mistake.file, mistake.line), set())
        label = f"{mistake.id} {mistake.code} ({mistake.what})" + (
            f" got {','.join(sorted(codes))}" if codes else ""
        )
        by_code.add(True, any(c.startswith(mistake.code) for c in codes), label)
        by_line.add(True, bool(codes), label)
    expected = {(m.file, m.line) for m in test_corpus.BROKEN}
    unexpected = [
        f"{Path(d.path).name}:{d.range.start.line} {d.code} {d.message}"
        for d in result.diagnostics
        if (Path(d.path).name, d.range.start.line) not in expected
    ]
    return by_code, by_line, unexpected


def fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:6.1%}"


def table(scores: list[Score]) -> str:
    head = f"{'data set':<30} {'pos':>4} {'neg':>4} {'TP':>4} {'FP':>4} {'FN':>4} {'TN':>4}"
    head += f" {'precision':>9} {'recall':>7} {'FP rate':>7}"
    lines = [head, "-" * len(head)]
    for s in scores:
        counts = (s.tp + s.fn, s.fp + s.tn, s.tp, s.fp, s.fn, s.tn)
        cells = " ".join(f"{n:>4}" for n in counts)
        rates = f"{fmt(s.precision):>9} {fmt(s.recall):>7} {fmt(s.false_alarm_rate):>7}"
        lines.append(f"{s.name:<30} {cells} {rates}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every miss and false alarm"
    )
    args = parser.parse_args(argv)

    from tscheck.rules import ALL_RULES

    start = time.perf_counter()
    catalog, found, total = catalog_score()
    per_root, folder = clean_score()
    by_code, by_line, unexpected = broken_score()
    elapsed = time.perf_counter() - start

    overall = catalog.merged(per_root, "").merged(by_code, "ALL (catalog, roots, broken)")
    print(f"tscheck accuracy: {len(ALL_RULES)} rules; ground truth from the real compiler\n")
    print(table([catalog, per_root, folder, by_code, by_line, overall]))
    print(
        "\nprecision = TP / (TP + FP): of what tscheck flags, how much the compiler rejects."
        "\nrecall    = TP / (TP + FN): of what the compiler rejects, how much tscheck flags."
        "\nFP rate   = FP / (FP + TN): of what the compiler accepts, how much tscheck flags."
        "\nALL sums catalog, clean roots and broken (line+code)."
    )

    print("\ncatalog recall by group:")
    for group in sorted(total):
        print(f"  {group:<60} {found[group]:>3}/{total[group]:<3}")

    problems = [
        ("false positives (the compiler accepts these)", catalog.false_positives),
        ("false positives on clean roots", per_root.false_positives),
        ("false positives, clean corpus with default roots", folder.false_positives),
    ]
    for title, items in problems:
        if items:
            print(f"\n{title}:")
            for item in items:
                print(f"  {item}")
    if args.verbose:
        print("\nbroken corpus, missed (line+code):")
        for item in by_code.false_negatives:
            print(f"  {item}")
        print("\nbroken corpus, diagnostics on lines outside the answer key (not judged):")
        for item in unexpected:
            print(f"  {item}")
        print("\ncatalog rejections tscheck does not flag:")
        for item in catalog.false_negatives:
            print(f"  {item}")
    else:
        print(f"\n(-v lists the {catalog.fn + by_code.fn} misses)")
    print(f"\n{elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
