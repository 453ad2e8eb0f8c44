"""The data tscheck passes around: frozen dataclasses and enums, no logic.

Positions follow libcst: lines are 1-based, columns are 0-based counts of code points.
Front ends convert (the CLI prints 1-based columns, the language server speaks UTF-16).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Family(enum.Enum):
    """Root causes from PyTorch's TorchScript usability study (pytorch/pytorch#50751)."""

    UNSUPPORTED_CONSTRUCTS = "UnsupportedConstructs"
    DYNAMIC_BEHAVIORS = "DynamicBehaviors"
    TYPE_CHECKING = "TypeChecking"
    DEFAULT_TYPES = "DefaultTypes"
    TYPE_REFINEMENT = "TypeRefinement"
    INVALID_CUSTOM_CLASS = "InvalidCustomClass"


@dataclass(frozen=True, order=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, order=True)
class Range:
    start: Position
    end: Position

    @staticmethod
    def of(line: int, column: int, end_line: int, end_column: int) -> Range:
        return Range(Position(line, column), Position(end_line, end_column))


@dataclass(frozen=True)
class TextEdit:
    """Replace the text in `range` with `new_text` (an insertion when the range is empty)."""

    range: Range
    new_text: str


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[TextEdit, ...]
    # A safe fix keeps eager behaviour; --fix applies only safe fixes.
    safe: bool = True


@dataclass(frozen=True)
class ChainLink:
    """One step of the reason a function is compiled: `text` happens at `path:line`,
    and makes `function` (a qualified name such as `Net.forward`) compiled."""

    text: str
    path: str
    line: int
    function: str = ""


@dataclass(frozen=True)
class Diagnostic:
    path: str
    range: Range
    code: str
    message: str
    severity: Severity = Severity.ERROR
    # Why the enclosing function is compiled, root first.
    chain: tuple[ChainLink, ...] = ()
    fixes: tuple[Fix, ...] = ()
    # Where else to look (e.g. the `__init__` line that created an attribute).
    related: tuple[ChainLink, ...] = ()
    # "confirmed": the real compiler rejected this very line; "compiler": found only by the
    # compiler (TS900); "" when not verified.
    verification: str = ""

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.range.start.line, self.range.start.column, self.code)


@dataclass(frozen=True)
class Example:
    """A rule's inline test case; the test suite runs every one through the real compiler.

    `code` is a whole module. The compiler scripts `target` (default: `M()` when the code
    defines class `M`, else the function `f`), saves and loads the result, then runs `call`
    (a statement with the loaded module bound to `m`), if any.
    """

    code: str
    # INVALID only: the 1-based line where the rule must report, and a substring of the
    # compiler's error message that shows the rejection is the one the rule predicts.
    line: int | None = None
    error: str = ""
    target: str | None = None
    call: str | None = None
    # INVALID only: the exact module text after applying the rule's preferred fix.
    fixed: str | None = None
    # Tracing rules (TS4xx): the example is traced, not scripted. `trace_inputs` is the
    # tuple expression `torch.jit.trace` gets; the traced result must equal eager Python on
    # `second_inputs` (VALID), while INVALID gives a TracerWarning on `line` or differs
    # there. `call` then runs first, with `m` the traced and `eager` the original object.
    # `error` is then the TracerWarning's text, or starts "diverges" (results differ) or
    # "check_trace" (torch.jit.trace's own re-trace check failed).
    trace_inputs: str | None = None
    second_inputs: str | None = None


@dataclass(frozen=True)
class RuleInfo:
    """What the outside world (CLI, server, docs) knows about a rule."""

    code: str
    name: str
    summary: str
    explanation: str
    family: Family
    severity: Severity
    fixable: bool
    url: str
    valid: tuple[Example, ...] = field(default=(), repr=False)
    invalid: tuple[Example, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class CompilerError:
    """One error of the real compiler, located in the user's code where it could be."""

    message: str  # the whole text
    first_line: str
    file: str = ""  # absolute; "" when the message has no source range
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    function: str = ""  # qualname of the def holding the line, in the scripted module
    stage: str = "script"  # "script" | "save" | "load"


@dataclass(frozen=True)
class RootVerdict:
    """What the compiler said about one root after peeling its errors.

    verdict: "ok" (scripts, saves and loads once the failing functions are ignored, or at
    once), "errors" (one confirmed error per failing function), "unverified" (could not be
    built), "import_error", "timeout", "crashed", "exited", "error".
    """

    path: str
    name: str
    verdict: str
    errors: tuple[CompilerError, ...] = ()
    qualified: str = ""  # pkg.mod.Net, as reach names roots
    line: int = 1  # where the root is defined
    built_with: str = ""
    reason: str = ""
    attempts: int = 0
    ignored: tuple[str, ...] = ()  # functions marked ignored while peeling
    warnings: tuple[str, ...] = ()
    device: str = "cpu"
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Verification:
    roots: tuple[RootVerdict, ...]
    python: str = ""
    torch: str = ""
    layers: tuple[str, ...] = ()  # sandbox layers that were active
    confirmed: int = 0  # static diagnostics the compiler confirmed
    dropped: int = 0  # static diagnostics in code the compiler accepted
    compiler_only: int = 0  # compiler errors nothing static predicted (TS900)
