"""Speed of verification (issue 3): a warm zygote against a cold interpreter, in one run.

1. cold: a fresh `python -c "import torch, resnet; torch.jit.script(resnet.resnet18())"` per run
   (what a user would otherwise do after each edit);
2. warm: the same model file, edited (unsaved text with a changed comment), verified through a
   running zygote: fork, sandbox, import, build, script, save, load;
3. peeling: a file whose module has 5 failing methods, all 5 errors confirmed through a warm zygote.

Targets: warm median < 0.5 s and >= 5x faster than cold; peeling < 2 s.
Usage: python bench/verify.py [--runs 5] [--python PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = HERE.parent / "tests" / "data" / "models"
sys.path.insert(0, str(HERE.parent / "analysis"))

from tscheck.verify.client import Zygote  # noqa: E402
from tscheck.verify.peel import ModuleJob, Target, peel  # noqa: E402

WARM_TARGET_S = 0.5
RATIO_TARGET = 5.0
PEEL_TARGET_S = 2.0

FIVE_BROKEN = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(x) + self.c(x) + self.d(x) + self.e(x)

        def a(self, x: torch.Tensor) -> torch.Tensor:
            return (lambda y: y)(x)

        def b(self, x: torch.Tensor) -> torch.Tensor:
            try:
                return x
            except Exception:
                return x

        def c(self, x: torch.Tensor) -> torch.Tensor:
            s = {1, 2}
            return x

        def d(self, x: torch.Tensor) -> torch.Tensor:
            import math
            return x

        def e(self, x: torch.Tensor) -> torch.Tensor:
            n = 3
            n //= 2
            return x
    """
).lstrip()


def cold(python: str) -> float:
    code = (
        "import sys, warnings; warnings.simplefilter('ignore'); "
        f"sys.path.insert(0, {str(MODELS.parent)!r}); import torch; "
        "from models import resnet; torch.jit.script(resnet.resnet18())"
    )
    start = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def warm(zygote: Zygote, run: int) -> float:
    path = MODELS / "resnet.py"
    text = path.read_text(encoding="utf-8") + f"\n# edit {run}\n"
    job = ModuleJob(
        file=str(path),
        module="models.resnet",
        sys_path=(str(MODELS.parent),),
        targets=(Target("ResNet", factory="resnet18()"),),
        text=text,
    )
    start = time.perf_counter()
    (verdict,) = peel(zygote, job)
    elapsed = time.perf_counter() - start
    if verdict.verdict != "ok":
        raise SystemExit(f"warm verification failed: {verdict}")
    return elapsed


def peeling(zygote: Zygote, folder: str) -> tuple[float, int]:
    path = os.path.join(folder, "five.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(FIVE_BROKEN)
    job = ModuleJob(file=path, module="five", sys_path=(folder,), targets=(Target("Net"),))
    start = time.perf_counter()
    (verdict,) = peel(zygote, job)
    return time.perf_counter() - start, len(verdict.errors)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    print("tscheck verification benchmark")
    print(f"machine: {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}; python {args.python}")
    cold_times: list[float] = []
    warm_times: list[float] = []
    peel_times: list[float] = []
    found: list[int] = []
    started = time.perf_counter()
    with Zygote(python=args.python) as zygote, tempfile.TemporaryDirectory() as folder:
        print(f"zygote ready in {time.perf_counter() - started:.2f} s: {zygote.hello}")
        for run in range(args.runs):  # interleaved, so load hits both alike
            cold_times.append(cold(args.python))
            warm_times.append(warm(zygote, run))
            seconds, errors = peeling(zygote, folder)
            peel_times.append(seconds)
            found.append(errors)
            print(
                f"  round {run + 1}: cold {cold_times[-1]:.3f} s, warm {warm_times[-1]:.3f} s, "
                f"peel 5 {seconds:.3f} s ({errors} errors)"
            )
    c, w, p = (statistics.median(x) for x in (cold_times, warm_times, peel_times))
    ratio = c / w
    rows = [
        ("warm verify, ResNet-18 file", f"{w:.3f} s", f"< {WARM_TARGET_S} s", w < WARM_TARGET_S),
        ("cold / warm", f"{ratio:.1f}x", f">= {RATIO_TARGET:.0f}x", ratio >= RATIO_TARGET),
        ("peel 5 failing functions", f"{p:.3f} s", f"< {PEEL_TARGET_S} s", p < PEEL_TARGET_S),
    ]
    print(f"\ncold median {c:.3f} s; errors found while peeling: {sorted(set(found))}")
    print(f"{'target':32} {'measured':>10} {'goal':>10}  verdict")
    for name, measured, goal, met in rows:
        print(f"{name:32} {measured:>10} {goal:>10}  {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
