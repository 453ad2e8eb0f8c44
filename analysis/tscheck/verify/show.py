"""Show TorchScript code: what the real compiler made of one root, for the editor to display.

The language server's "Show TorchScript code" lens and command call `show_root`. It sends ONE
`script` request with `show` set (PROTOCOL.md), in the sandboxed zygote like every verification.
There is no peeling (peel.py): peeling marks failing functions `@torch.jit.ignore`, and the code
of a root compiled that way is not the code of the user's root; a root that does not compile has
no code to show, and `message` says why instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tscheck.verify.peel import Requester

WHATS = ("code", "graph")
MESSAGE_LIMIT = 500  # characters: the message is one line in a notification


@dataclass(frozen=True)
class Shown:
    """The text to display for `root`, or why there is none."""

    root: str
    what: str  # "code" | "graph"
    text: str  # "" when the root did not script
    verdict: str  # the job's: "ok", "compile_error", "unverified", "timeout", "import_error", ...
    message: str  # one line: why there is no text (or what went wrong after scripting); "" if ok


def show_root(
    zygote: Requester,
    file: str,
    module: str,
    sys_path: tuple[str, ...],
    root: str,
    *,
    text: str | None = None,
    what: str = "code",
    factory: str | None = None,
    timeout_s: float = 60.0,
) -> Shown:
    """Script `root` (a class or function defined in `file`, loaded as `module` with `sys_path`
    in front) and return its TorchScript code or graph. `text` is the editor's unsaved text, used
    instead of the file on disk, so the code shown is that of what the user sees. `factory`
    builds the instance as in [tool.tscheck.factories]. Never raises for the user's code: a
    failure is a verdict and a message."""
    if what not in WHATS:
        raise ValueError(f"what must be one of {WHATS}, not {what!r}")
    message: dict[str, Any] = {
        "op": "script",
        "file": file,
        "module": module,
        "sys_path": list(sys_path),
        "text": text,
        "roots": [{"name": root, "factory": factory}],
        "ignore": [],
        "device": "cpu",  # the code does not depend on the device; no examples are run either
        "timeout_s": timeout_s,
        "show": what,
    }
    return shown_from(zygote.request(message, timeout_s), root, what)


def shown_from(response: dict[str, Any], root: str, what: str) -> Shown:
    """Read one `script` response (PROTOCOL.md) for `root`."""
    status = str(response.get("status") or "error")
    if status != "done":
        detail = str(response.get("detail") or "no detail")
        return Shown(root, what, "", status, one_line(f"{status}: {detail}"))
    problem = response.get("import_error")
    if isinstance(problem, dict):
        return Shown(root, what, "", "import_error", import_message(problem))
    result = next(
        (r for r in response.get("results") or [] if isinstance(r, dict) and r.get("root") == root),
        None,
    )
    if result is None:
        return Shown(root, what, "", "error", f"the verifier returned no result for {root}")
    verdict = str(result.get("verdict") or "error")
    shown = result.get("shown")
    text = shown if isinstance(shown, str) else ""
    return Shown(root, what, text, verdict, result_message(result, verdict, text))


def result_message(result: dict[str, Any], verdict: str, text: str) -> str:
    error = result.get("error")
    if isinstance(error, dict):
        return error_message(error)
    if verdict == "unverified":
        return one_line(str(result.get("reason") or "the root could not be built"))
    if not text:
        # The root scripted, yet no text: a job.py that does not know `show` answers none.
        return "the verifier returned no text for this root"
    return ""


def error_message(error: dict[str, Any]) -> str:
    """The compiler's first line and where it points: `Unknown builtin op ... (/abs/m.py:12)`.
    Errors after scripting (saving the module, say) name their stage."""
    stage = str(error.get("stage") or "script")
    first = str(error.get("first_line") or error.get("message") or error.get("type") or "error")
    prefix = "" if stage == "script" else f"{stage}: "
    # The compiler ends its first line with a colon: the source excerpt followed it.
    return one_line(prefix + first).rstrip(":") + location(error.get("file"), error.get("line"))


def import_message(problem: dict[str, Any]) -> str:
    text = f"{problem.get('type') or 'Error'}: {problem.get('message') or ''}".rstrip(": ")
    if problem.get("blocked"):
        text += " (blocked by the sandbox)"
    return one_line(text) + location(problem.get("file"), problem.get("line"))


def location(file: Any, line: Any) -> str:
    if not file:
        return ""
    return f" ({file}:{line})" if line else f" ({file})"


def one_line(text: str) -> str:
    """The first non-empty line, capped: details such as a dead zygote's stderr run long."""
    first = next((row.strip() for row in text.splitlines() if row.strip()), "")
    return first if len(first) <= MESSAGE_LIMIT else first[: MESSAGE_LIMIT - 3] + "..."
