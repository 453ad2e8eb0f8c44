"""Error peeling: one confirmed compiler error per failing function.

The compiler stops at its first error (catalog.md F1). So: script the roots of a file; on a
compile error, mark the function holding it `@torch.jit.ignore` and script again, in a fresh
child each time (a failed compile poisons the class in its process, F5), until every root
scripts or stops yielding new functions. Each attempt is one zygote request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tscheck.model import CompilerError, RootVerdict

MAX_ATTEMPTS = 16


class Requester(Protocol):
    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Target:
    """One root to verify: a class or function `name` defined in the module being loaded."""

    name: str
    factory: str | None = None
    example: str | None = None
    qualified: str = ""
    line: int = 1


@dataclass(frozen=True)
class ModuleJob:
    file: str  # absolute
    module: str  # dotted name
    sys_path: tuple[str, ...]  # the package root(s) to import from
    targets: tuple[Target, ...]
    text: str | None = None  # unsaved editor text
    device: str = "cpu"
    timeout_s: float = 60.0


def peel(zygote: Requester, job: ModuleJob, max_attempts: int = MAX_ATTEMPTS) -> list[RootVerdict]:
    """Verify every target of `job`, peeling compile errors function by function."""
    pending = {t.name: t for t in job.targets}
    errors: dict[str, list[CompilerError]] = {name: [] for name in pending}
    done: dict[str, RootVerdict] = {}
    ignored: list[str] = []
    attempts = 0
    while pending and attempts < max_attempts:
        attempts += 1
        response = zygote.request(
            script_message(job, list(pending.values()), ignored), job.timeout_s
        )
        status = response.get("status")
        elapsed = float(response.get("elapsed_s") or 0.0)
        if status != "done":
            detail = str(response.get("detail") or status)
            for name in pending:
                done[name] = _verdict(job, name, str(status), errors, ignored, attempts, detail)
            break
        if response.get("import_error"):
            problem = response["import_error"]
            reason = f"{problem.get('type', 'Error')}: {problem.get('message', '')}".strip()
            for name in pending:
                done[name] = _verdict(job, name, "import_error", errors, ignored, attempts, reason)
            break
        newly_ignored: list[str] = []
        for result in response.get("results") or []:
            name = str(result.get("root"))
            if name not in pending:
                continue
            verdict = result.get("verdict")
            error = _error(result.get("error"))
            if verdict == "compile_error" and error is not None:
                errors[name].append(error)
                function = error.function
                if function and function not in ignored and function not in newly_ignored:
                    newly_ignored.append(function)
                    continue  # peel: try again with that function ignored
                done[name] = _verdict(job, name, "errors", errors, ignored, attempts, "", result)
            elif verdict == "save_error" and error is not None and error.function in ignored:
                # Saving fails on a call into a function that peeling itself marked ignored:
                # an artifact of peeling, not the user's problem. The rest compiled.
                final = "errors" if errors[name] else "ok"
                done[name] = _verdict(
                    job, name, final, errors, ignored, attempts, "", result, elapsed
                )
            elif verdict in ("save_error", "mismatch", "run_error") and error is not None:
                errors[name].append(error)
                done[name] = _verdict(job, name, "errors", errors, ignored, attempts, "", result)
            elif verdict == "ok":
                final = "errors" if errors[name] else "ok"
                done[name] = _verdict(
                    job, name, final, errors, ignored, attempts, "", result, elapsed
                )
            else:
                reason = str(result.get("reason") or verdict)
                done[name] = _verdict(
                    job, name, "unverified", errors, ignored, attempts, reason, result
                )
        for name in done:
            pending.pop(name, None)
        if not newly_ignored:
            # Roots that answered nothing usable: stop rather than loop.
            for name in list(pending):
                done[name] = _verdict(job, name, "error", errors, ignored, attempts, "no result")
                pending.pop(name)
        ignored.extend(newly_ignored)
    for name in pending:
        if name not in done:  # the attempts ran out
            reason = f"still failing after {attempts} attempts"
            done[name] = _verdict(job, name, "errors", errors, ignored, attempts, reason)
    return [done[t.name] for t in job.targets]


def script_message(
    job: ModuleJob, targets: Sequence[Target], ignored: Sequence[str]
) -> dict[str, Any]:
    return {
        "op": "script",
        "file": job.file,
        "module": job.module,
        "sys_path": list(job.sys_path),
        "text": job.text,
        "roots": [{"name": t.name, "factory": t.factory} for t in targets],
        "ignore": list(ignored),
        "device": job.device,
        "examples": {t.name: t.example for t in targets if t.example},
        "timeout_s": job.timeout_s,
    }


def _error(raw: Any) -> CompilerError | None:
    if not isinstance(raw, dict):
        return None
    return CompilerError(
        message=str(raw.get("message") or ""),
        first_line=str(raw.get("first_line") or raw.get("message") or "").strip(),
        file=str(raw.get("file") or ""),
        line=raw.get("line"),
        column=raw.get("column"),
        end_line=raw.get("end_line"),
        end_column=raw.get("end_column"),
        function=str(raw.get("function") or ""),
        stage=str(raw.get("stage") or "script"),
    )


def _verdict(
    job: ModuleJob,
    name: str,
    verdict: str,
    errors: dict[str, list[CompilerError]],
    ignored: Sequence[str],
    attempts: int,
    reason: str,
    result: dict[str, Any] | None = None,
    elapsed: float = 0.0,
) -> RootVerdict:
    result = result or {}
    target = next((t for t in job.targets if t.name == name), Target(name))
    warnings = tuple(
        f"{w.get('category', 'Warning')}: {w.get('message', '')}"
        for w in result.get("warnings") or []
        if isinstance(w, dict)
    )
    return RootVerdict(
        path=job.file,
        name=name,
        qualified=target.qualified,
        line=target.line,
        verdict=verdict,
        errors=tuple(errors.get(name, ())),
        built_with=str(result.get("built_with") or ""),
        reason=reason,
        attempts=attempts,
        ignored=tuple(ignored),
        warnings=warnings,
        device=str(result.get("device") or job.device),
        elapsed_s=elapsed,
    )
