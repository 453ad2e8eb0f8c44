"""Hover text on a `def` or `class`: whether TorchScript compiles it, and why or why not.

Pure: from the engine's result (the compiled set with its why-chains) and the file's summary.
"""

from __future__ import annotations

from tscheck.engine import Result
from tscheck.index import ClassInfo, FileSummary, FunctionInfo
from tscheck_server.convert import describe_chain

WHY_NOT = {
    "ignore": (
        "marked `@torch.jit.ignore`: TorchScript leaves it to Python. Compiled code calls it "
        "through the Python interpreter, so a module that calls it cannot be saved with "
        "`torch.jit.save` (use `@torch.jit.unused` if it only runs in training or debugging)"
    ),
    "unused": (
        "marked `@torch.jit.unused`: TorchScript compiles only its signature and replaces its "
        "body with a raise; calling it from compiled code fails at run time"
    ),
    "drop": (
        "marked `@torch.jit.ignore(drop=True)`: like `@torch.jit.unused`, only its signature "
        "is kept"
    ),
}


def describe(result: Result, path: str, summary: FileSummary, name: str, line: int) -> str:
    """Markdown for the def or class called `name` whose header is on `line` (1-based)."""
    compiled = [c for c in result.compiled if c.path == path]
    cls = _class_at(summary, line)
    if cls is not None:
        methods = sorted(
            {c.info.name for c in compiled if c.owner is not None and c.owner.line == cls.line}
        )
        if not methods:
            return f"**{name}**: not compiled by TorchScript (tscheck found no root using it)"
        listed = ", ".join(f"`{m}`" for m in methods)
        return f"**{name}**: TorchScript compiles {len(methods)} of its methods: {listed}"
    here = [c for c in compiled if c.info.line == line]
    if not here:
        return f"**{name}**: not compiled by TorchScript: {_why_not(summary, line)}"
    parts = []
    seen: set[tuple[str, str]] = set()
    for c in here:
        key = (c.info.qualname, c.mode)
        if key in seen:
            continue
        seen.add(key)
        what = "compiled" if c.mode == "compiled" else f"{c.mode} only (typed, not compiled)"
        parts.append(
            "\n".join(
                [
                    f"**{c.info.qualname}**: {what} by TorchScript",
                    "",
                    "Why:",
                    "",
                    *describe_chain(c.chain, path),
                ]
            )
        )
    return "\n\n---\n\n".join(parts)


def _why_not(summary: FileSummary, line: int) -> str:
    found = _function_at(summary, line)
    if found is None:
        return "no scripting root reaches it"
    function, owner = found
    if function.modifier in WHY_NOT:
        return WHY_NOT[function.modifier]
    if owner is None:
        return (
            "no scripting root reaches it (an nn.Module's `forward` or `@torch.jit.export` "
            "method, a `@torch.jit.script` function, or a `torch.jit.script(...)` call in this "
            "package calling it)"
        )
    return (
        f"no compiled method of `{owner.name}` calls it, and it is neither `forward` nor "
        f"marked `@torch.jit.export` (or `{owner.name}` itself is never scripted)"
    )


def _class_at(summary: FileSummary, line: int) -> ClassInfo | None:
    for cls in summary.classes:
        if cls.line == line:
            return cls
    return None


def _function_at(summary: FileSummary, line: int) -> tuple[FunctionInfo, ClassInfo | None] | None:
    for function in summary.functions:
        if function.line == line:
            return function, None
    for cls in summary.classes:
        for method in cls.methods:
            if method.line == line:
                return method, cls
    return None
