"""Re-analysis after edits: no leak of old runs' state, and the incremental cache gives exactly
what a fresh check gives."""

from __future__ import annotations

import gc
from pathlib import Path

from tscheck.engine import check_source
from tscheck.reach import Project

DATA = Path(__file__).parent / "data"


def _live_projects() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Project))


def test_repeated_checks_of_edited_text_keep_no_old_project_alive() -> None:
    texts = [
        (DATA / "models" / "resnet.py").read_text(),
        (DATA / "broken" / "attention.py").read_text(),
    ]
    for text in texts:  # warm every cache first
        check_source("warm.py", text)
    before = _live_projects()
    for i in range(12):
        for n, text in enumerate(texts):
            check_source(f"edited{n}.py", f"{text}\n# edit {i}\n")
    assert _live_projects() <= before


# -- the incremental cache gives exactly a fresh check's result ----------------------------------

import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

from tscheck.engine import Result  # noqa: E402
from tscheck.incremental import AnalysisCache  # noqa: E402
from tscheck.index import summarize  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from lsp_latency import generate_model  # noqa: E402


def _corpus() -> list[tuple[str, str]]:
    files = sorted([*(DATA / "models").glob("*.py"), *(DATA / "broken").glob("*.py")])
    out = [(f"{p.parent.name}/{p.name}", p.read_text()) for p in files if p.stat().st_size]
    return [*out, ("bench/model.py", generate_model(400).text)]


def _edit(rng: random.Random, text: str) -> str:
    """One random edit of the kinds an editor makes."""
    lines = text.splitlines(keepends=True) or ["\n"]
    n = rng.randrange(len(lines))
    line = lines[n]
    indent = line[: len(line) - len(line.lstrip())]
    kind = rng.randrange(17)  # 10-16: more in-place edits, which keep the summary
    if kind == 0:  # one character typed, deleted or replaced
        pos = rng.randrange(len(text) + 1)
        char = rng.choice("x1 .(:_\n#")
        choice = rng.randrange(3)
        if choice == 0:
            return text[:pos] + char + text[pos:]
        if choice == 1:
            return text[:pos] + text[pos + 1 :]
        return text[:pos] + char + text[pos + 1 :]
    if kind == 1:  # a line inserted (a copy of another, blank, or a comment)
        new = rng.choice([rng.choice(lines), "\n", f"{indent}# note\n"])
        lines.insert(n, new if new.endswith("\n") else new + "\n")
    elif kind == 2:  # a line deleted
        del lines[n]
    elif kind == 3:  # a class attribute added, or an attribute of self renamed
        classes = [i for i, t in enumerate(lines) if t.startswith("class ")]
        if classes and rng.random() < 0.5:
            lines.insert(rng.choice(classes) + 1, "    scale = 2.0\n")
        else:
            attrs = sorted(set(re.findall(r"self\.(\w+)", text)))
            if attrs:
                name = rng.choice(attrs)
                return re.sub(rf"\bself\.{name}\b", f"self.{name}_r", text, count=1)
    elif kind == 4:  # a call from forward to a helper added, or a call line removed
        helpers = re.findall(r"^def (\w+)\(", text, re.M)
        forwards = [i for i, t in enumerate(lines) if "def forward(" in t]
        if helpers and forwards and rng.random() < 0.6:
            at = rng.choice(forwards)
            body = lines[at][: len(lines[at]) - len(lines[at].lstrip())] + "    "
            lines.insert(at + 1, f"{body}_unused = {rng.choice(helpers)}(x)\n")
        else:
            calls = [i for i, t in enumerate(lines) if re.search(r"\w\(", t) and "def " not in t]
            if calls:
                del lines[rng.choice(calls)]
    elif kind == 5:  # @torch.jit.ignore added or removed
        defs = [i for i, t in enumerate(lines) if t.lstrip().startswith("def ")]
        ignores = [i for i, t in enumerate(lines) if "@torch.jit.ignore" in t]
        if ignores and rng.random() < 0.4:
            del lines[rng.choice(ignores)]
        elif defs:
            at = rng.choice(defs)
            head = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
            lines.insert(at, f"{head}@torch.jit.ignore\n")
    elif kind == 6:  # a method renamed
        names = re.findall(r"^    def (\w+)\(", text, re.M)
        if names:
            name = rng.choice(names)
            return text.replace(f"def {name}(", f"def {name}_renamed(", 1)
    elif kind in (7, 10, 11):  # a literal changed in place (the benchmark's edit)
        numbers = list(re.finditer(r"\b\d+\b", text))
        if numbers:
            m = rng.choice(numbers)
            return text[: m.start()] + str(int(m.group()) + 1) + text[m.end() :]
    elif kind == 8:  # a lambda or a try typed into a function body
        if indent:
            lines.insert(n, rng.choice([f"{indent}f = lambda t: t\n", f"{indent}del x\n"]))
    elif kind in (14, 15, 16):  # a body line replaced in place: findings change, lines do not
        body = [
            i
            for i, t in enumerate(lines)
            if t.startswith("    ")
            and t.strip()
            and not t.lstrip().startswith(("def ", "@"))
            and "(" not in t  # no call: the summary stays the same, the findings need not
            and not t.rstrip().endswith((":", ",", "[", "{"))
        ]
        if body:
            at = rng.choice(body)
            head = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
            new = rng.choice(["f = lambda t: t", "del x", "pass", "y = [i for i in x]", "x = x"])
            lines[at] = f"{head}{new}\n"
    elif kind in (12, 13):  # a comment typed at the end of a line
        lines[n] = line.rstrip("\n") + "  # " + rng.choice(["why", "tscheck", "import *"]) + "\n"
    else:  # text typed at the end of a line
        lines[n] = line.rstrip("\n") + rng.choice([" + 1", "  # tscheck: ignore", ")", ":"]) + "\n"
    return "".join(lines)


def _same(a: Result, b: Result) -> None:
    assert a.diagnostics == b.diagnostics
    assert a.internal_errors == b.internal_errors
    assert a.compiled == b.compiled


def test_incremental_results_equal_fresh_checks_over_random_edits() -> None:
    rng = random.Random(20240611)
    cache = AnalysisCache()
    steps = 0
    for name, original in _corpus():
        path = f"/work/{name}"
        text = original
        _same(check_source(path, text, cache=cache), check_source(path, text))
        for _ in range(40 if name.startswith("bench") else 30):
            if rng.random() < 0.1:
                text = original
            broken = rng.random() < 0.08
            previous = text
            text = _edit(rng, text) if not broken else text.replace(":\n", "(\n", 1)
            module = path.rsplit("/", 1)[-1].removesuffix(".py")
            summary = summarize(path, module, text)
            assert cache.summarize(path, module, text) == summary
            _same(check_source(path, text, cache=cache), check_source(path, text))
            steps += 1
            if broken or summary.syntax_error is not None:  # and fixed again
                text = previous
                _same(check_source(path, text, cache=cache), check_source(path, text))
    assert steps >= 300
    assert cache.reused_functions > 400  # findings were reused (and checked) often
