"""Speed: tscheck against TorchFix and Fixit on the same tree, each as a whole process.

The tree is a copy of the installed torch's `torch/nn/modules` (about 23k lines), placed at
`<tmp>/torch/nn/modules` with empty `torch/__init__.py` and `torch/nn/__init__.py`, so the
module names are the real ones (`torch.nn.modules.linear`) and tscheck sees the nn.Module
subclasses there (and compiles their forwards) as it would in the installed package. `--flat`
copies the bare folder to `<tmp>/modules` instead: there `Module` is a class of the tree
itself, nothing counts as an nn.Module, and tscheck only indexes (a much lighter workload).

Every run is a fresh process (`subprocess`), timed by wall clock, rounds interleaved so that
load from other processes hits every tool alike. tscheck is timed cold (`--no-cache`), on a
first run that writes its cache into an empty cache folder, and warm (its on-disk cache filled
by an untimed run just before). Targets (issue 2): cold tscheck >= 10x faster than TorchFix
and >= 5x faster than Fixit, warm tscheck < 0.3 s.

TorchFix and Fixit live in their own venv (their libcst pin may differ from tscheck's):
    python -m venv /tmp/benchenv && /tmp/benchenv/bin/pip install torchfix fixit
Usage: python bench/throughput.py [--runs 5] [--torchfix PATH] [--fixit PATH] [--tscheck PATH]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCHENV = Path("/tmp/benchenv/bin")
INSTALL_HINT = "python -m venv /tmp/benchenv && /tmp/benchenv/bin/pip install torchfix fixit"
TORCHFIX_TARGET = 10.0
FIXIT_TARGET = 5.0
WARM_TARGET_S = 0.3


# -- finding the tools ------------------------------------------------------------------------


def tscheck_command(option: str | None) -> list[str]:
    """--tscheck, else the console script next to this interpreter, else PATH, else -m."""
    if option:
        return [option]
    sibling = Path(sys.executable).with_name("tscheck")
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return [str(sibling)]  # not a pyenv shim: a shim adds its own startup to every run
    found = shutil.which("tscheck")
    return [found] if found else [sys.executable, "-m", "tscheck"]


def tool_command(option: str | None, name: str, tools_bin: str | None) -> list[str] | None:
    """--<tool>, else --tools-bin, else PATH, else /tmp/benchenv/bin/<tool>; None: nowhere."""
    if option:
        return [option]
    for folder in [Path(tools_bin)] if tools_bin else []:
        if os.access(folder / name, os.X_OK):
            return [str(folder / name)]
    found = shutil.which(name)
    if found:
        return [found]
    fallback = BENCHENV / name
    return [str(fallback)] if os.access(fallback, os.X_OK) else None


def version_of(command: list[str] | None) -> str:
    if command is None:
        return "not found"
    try:
        proc = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        return f"? ({exc})"
    words = (proc.stdout or proc.stderr).split()
    return words[-1] if words else "?"  # "fixit, version 2.2.1" -> "2.2.1"


def torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "?"


# -- the tree ---------------------------------------------------------------------------------


def torch_modules_dir() -> Path:
    """The installed torch's nn/modules folder, found without importing torch (1-2 s)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("throughput: torch is not installed; the benchmark tree is its nn/modules")
    return Path(next(iter(spec.submodule_search_locations))) / "nn" / "modules"


def make_tree(workdir: Path, flat: bool) -> Path:
    """Copy torch/nn/modules under `workdir`; returns the folder every tool is pointed at."""
    source = torch_modules_dir()
    if flat:
        target = workdir / "modules"
    else:
        target = workdir / "torch" / "nn" / "modules"
        target.parent.mkdir(parents=True)
        (workdir / "torch" / "__init__.py").write_text("")
        (workdir / "torch" / "nn" / "__init__.py").write_text("")
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def tree_size(folder: Path) -> tuple[int, int]:
    files = sorted(folder.rglob("*.py"))
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    return len(files), lines


# -- timing -----------------------------------------------------------------------------------


@dataclass
class Tool:
    label: str
    command: list[str]
    empty_cache_first: bool = False  # remove tscheck's cache folder before each run
    times: list[float] = field(default_factory=list)
    last_rc: int = 0
    last_lines: int = 0

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def run_once(tool: Tool, cwd: Path, cache_dir: Path) -> None:
    """One timed run. Exit 0 (clean) and 1 (findings) are fine for all three tools."""
    if tool.empty_cache_first:
        shutil.rmtree(cache_dir, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run(tool.command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        sys.exit(f"throughput: {tool.label} exited {proc.returncode}:\n{tail}")
    tool.times.append(elapsed)
    tool.last_rc = proc.returncode
    tool.last_lines = len(proc.stdout.splitlines())


def machine() -> dict[str, object]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_1m": round(load[0], 2) if load else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def verdict(met: bool | None) -> str:
    return "n/a (tool missing)" if met is None else ("met" if met else "MISSED")


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool (default 5)")
    parser.add_argument("--tscheck", help="tscheck executable (default: next to python, PATH)")
    parser.add_argument("--torchfix", help="torchfix executable (default: PATH, /tmp/benchenv)")
    parser.add_argument("--fixit", help="fixit executable (default: PATH, /tmp/benchenv)")
    parser.add_argument("--tools-bin", metavar="DIR", help="folder holding torchfix and fixit")
    parser.add_argument("--flat", action="store_true", help="copy the bare modules/ folder")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tscheck = tscheck_command(args.tscheck)
    torchfix = tool_command(args.torchfix, "torchfix", args.tools_bin)
    fixit = tool_command(args.fixit, "fixit", args.tools_bin)
    info = machine()
    versions = {
        "torch (tree)": torch_version(),
        "tscheck": version_of(tscheck),
        "torchfix": version_of(torchfix),
        "fixit": version_of(fixit),
    }

    with tempfile.TemporaryDirectory(prefix="tscheck-bench-") as tmp:
        workdir = Path(tmp)
        tree = make_tree(workdir, args.flat)
        rel = str(tree.relative_to(workdir))
        cache_dir = workdir / ".tscheck_cache"  # tscheck caches at the config root: here, cwd
        n_files, n_lines = tree_size(tree)

        cold = Tool("tscheck cold (--no-cache)", [*tscheck, rel, "--no-cache", "-q"])
        first = Tool("tscheck first run (empty cache)", [*tscheck, rel, "-q"], True)
        warm = Tool("tscheck warm (cache filled)", [*tscheck, rel, "-q"])
        tf = Tool("torchfix", [*torchfix, rel]) if torchfix else None
        fx = Tool("fixit lint", [*fixit, "lint", rel]) if fixit else None
        tools = [t for t in (cold, first, warm, tf, fx) if t]

        print("tscheck throughput benchmark")
        print(
            f"machine: {info['cpu']}; {info['cores']} cores ({info['usable_cores']} usable);"
            f" load {info['load_average_1m']}; Python {info['python']}; {info['platform']}"
        )
        print("versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()))
        print(f"tree: {n_files} files, {n_lines} lines, as {rel}")
        for name, cmd in (("tscheck", tscheck), ("torchfix", torchfix), ("fixit", fixit)):
            print(f"  {name}: {' '.join(cmd) if cmd else f'not found; install: {INSTALL_HINT}'}")
        print(f"runs: {args.runs} per tool, interleaved", flush=True)
        load, usable = info["load_average_1m"], info["usable_cores"]
        if isinstance(load, float) and isinstance(usable, int) and load > usable / 2:
            print(f"note: load {load} on {usable} cores before starting; timings will be noisy")
        print()

        for round_no in range(1, args.runs + 1):
            for tool in tools:
                if tool is warm:
                    # Refill untimed first: the cache is keyed by tscheck's own source files,
                    # so an edit to tscheck between rounds (a dev checkout) would time a miss.
                    run_once(warm, workdir, cache_dir)
                    warm.times.pop()
                run_once(tool, workdir, cache_dir)
            summary = ", ".join(f"{t.label.split(' (')[0]} {fmt_s(t.times[-1])}" for t in tools)
            print(f"  round {round_no}: {summary}", flush=True)

    print(f"\n{'tool':<34} {'median':>9} {'min':>9} {'max':>9}  exit  output lines")
    for t in tools:
        print(
            f"{t.label:<34} {fmt_s(t.median):>9} {fmt_s(min(t.times)):>9}"
            f" {fmt_s(max(t.times)):>9}  {t.last_rc:>4}  {t.last_lines}"
        )

    targets = judge(cold, warm, tf, fx)
    print(f"\n{'target':<26} {'measured':>10} {'goal':>9}  verdict")
    for name, measured, goal, met in targets:
        print(f"{name:<26} {measured:>10} {goal:>9}  {verdict(met)}")
    print(
        f"\n(first run into an empty cache: {fmt_s(first.median)};"
        " cold = every file parsed and checked, no cache read or written)"
    )
    if args.json:
        data = {
            "machine": info,
            "versions": versions,
            "tree": {"files": n_files, "lines": n_lines, "flat": args.flat},
            "runs": args.runs,
            "times": {t.label: t.times for t in tools},
            "medians": {t.label: t.median for t in tools},
            "targets": [
                {"name": n, "measured": m, "goal": g, "met": ok} for n, m, g, ok in targets
            ],
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
    missed = any(met is False for *_, met in targets)
    return 1 if args.strict and missed else 0


def judge(
    cold: Tool, warm: Tool, tf: Tool | None, fx: Tool | None
) -> list[tuple[str, str, str, bool | None]]:
    """(target, measured, goal, met) rows; met is None when a tool is missing."""
    base = cold.median or float("nan")
    tf_ratio = tf.median / base if tf and tf.median else None
    fx_ratio = fx.median / base if fx and fx.median else None
    warm_s = warm.median
    return [
        (
            "TorchFix / tscheck cold",
            f"{tf_ratio:.1f}x" if tf_ratio else "-",
            f">= {TORCHFIX_TARGET:g}x",
            None if tf_ratio is None else tf_ratio >= TORCHFIX_TARGET,
        ),
        (
            "Fixit / tscheck cold",
            f"{fx_ratio:.1f}x" if fx_ratio else "-",
            f">= {FIXIT_TARGET:g}x",
            None if fx_ratio is None else fx_ratio >= FIXIT_TARGET,
        ),
        (
            "tscheck warm",
            fmt_s(warm_s),
            f"< {WARM_TARGET_S:g} s",
            None if warm_s is None else warm_s < WARM_TARGET_S,
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
