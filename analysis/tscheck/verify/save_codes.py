"""Which static code a save / load failure of the verifier's round trip is.

The verifier saves every scripted root with `torch.jit.save` and loads it back. The one failure
that round trip reports in practice is a Python call kept in the graph: `Could not export Python
function call 'helper'` (job.py points it at helper's def). Static rules predict it from three
causes, each quoting the name the compiler will give: an `@torch.jit.ignore` function (TS302,
and TS502 at the save call that fails), a custom `autograd.Function` (TS309: the name of the
class, called through `.apply`), a `torch.jit._IgnoreContextManager` block (TS310:
`func_ignore_...`). Other codes whose failure waits for save or call time (TS304, TS308) say no
name; for them any save / load failure of a root in their file stands as confirmation, as
before.
"""

from __future__ import annotations

import re

from tscheck.model import CompilerError, Diagnostic

# Static codes whose failure shows only when the scripted module is saved.
SAVE_CODES = frozenset({"TS302", "TS304", "TS308", "TS309", "TS310", "TS502"})
# Those whose message quotes the Python call the compiler will name ('helper').
NAMING_CODES = frozenset({"TS302", "TS309", "TS310", "TS502"})
# Those reported where the program saves, which may be any file of the project.
AT_SAVE_CALL = frozenset({"TS502"})

EXPORT_CALL = re.compile(r"Could not export Python function call '([^']+)'")
_CONTEXT_MANAGER = "func_ignore"  # torch names an _IgnoreContextManager block func_ignore_<n>


def blocked_call(error: CompilerError) -> str | None:
    """The Python function a save failure names, or None for another failure."""
    if error.stage not in ("save", "load"):
        return None
    match = EXPORT_CALL.search(error.message)
    return match[1] if match else None


def failure_code(error: CompilerError) -> str | None:
    """The static code that describes this save / load failure (for a TS900 nothing static
    predicted), or None when it is not one of theirs."""
    name = blocked_call(error)
    if name is None:
        return None
    if name.startswith(_CONTEXT_MANAGER):
        return "TS310"
    if re.search(rf"\b{re.escape(name)}\.apply\s*\(", error.message):
        return "TS309"
    # An @torch.jit.ignore function, or one ignored without a decorator, which static
    # analysis does not see (`helper = torch.jit.ignore(_helper)`): a kept Python call.
    return "TS302"


def confirms(d: Diagnostic, error: CompilerError, *, same_file: bool) -> bool:
    """Is this save / load failure the one `d` predicts? `same_file`: the failing root is
    defined in `d`'s file."""
    if d.code not in SAVE_CODES or error.stage not in ("save", "load"):
        return False
    name = blocked_call(error)
    if name is None or d.code not in NAMING_CODES:
        return same_file and d.code not in AT_SAVE_CALL
    if not (same_file or d.code in AT_SAVE_CALL):
        return False
    if name.startswith(_CONTEXT_MANAGER):
        return d.code == "TS310"
    return f"'{name}'" in d.message
