"""What a rule is, and the contexts rules see.

A rule is a class with its metadata, its inline VALID / INVALID examples, and handlers:
- `visit_<Node>(node, ctx)`: called for every libcst node of that type in compiled code
  (one walk per compiled function serves every rule);
- `check_function(ctx)`: once per compiled function (its signature and decorators);
- `check_signature(ctx)`: once per function reached but kept as Python by
  `@torch.jit.ignore` / `@torch.jit.unused` (only its signature is compiled);
- `check_file(ctx)`: once per file, for code TorchScript compiles outside any function
  (hooks, decorators applied at module level).
Rules report with `ctx.report(node, ...)`; positions are computed only for reported nodes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from tscheck.cstwalk import dotted as dotted  # re-exported: the rules import it from here
from tscheck.index import ClassInfo, FileSummary, FunctionInfo
from tscheck.model import ChainLink, Example, Family, Fix, Range, RuleInfo, Severity, TextEdit
from tscheck.parse import ParsedBlocks
from tscheck.reach import Compiled, Project

DOCS_URL = "https://github.com/tscheck/tscheck/blob/main/docs/rules.md#{anchor}"


@dataclass(frozen=True)
class Finding:
    code: str
    range: Range
    message: str
    fixes: tuple[Fix, ...] = ()
    related: tuple[ChainLink, ...] = ()
    chain: tuple[ChainLink, ...] = ()


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]  # the default one-line message
    explanation: ClassVar[str]  # what it does / why it fails / how to fix (Markdown)
    family: ClassVar[Family]
    severity: ClassVar[Severity] = Severity.ERROR
    fixable: ClassVar[bool] = False
    # An error of the Python frontend (torch/jit/frontend.py): it parses the whole function,
    # so the rule also runs in the eager-only branch of `torch.jit.is_scripting()` tests.
    frontend: ClassVar[bool] = False
    VALID: ClassVar[Sequence[Example]] = ()
    INVALID: ClassVar[Sequence[Example]] = ()
    # `check_file` reads torch.jit / torch.save call sites, which also matter in files that
    # compile nothing themselves (an export script that imports, scripts and saves a model).
    call_sites: ClassVar[bool] = False
    # False where the failure shows only when the code runs (a call that always raises), so
    # `--verify` finding that the function scripts, saves and loads does not refute it.
    refuted_by_clean_compile: ClassVar[bool] = True
    # Names of cases in shared/torchscript/catalog.json this rule must report (tests check it).
    CATALOG: ClassVar[Sequence[str]] = ()

    def check_function(self, ctx: FunctionContext) -> None:
        """Called once per compiled function."""

    def check_signature(self, ctx: FunctionContext) -> None:
        """Called once per ignored / unused function that compiled code reaches."""

    def check_file(self, ctx: FileContext) -> None:
        """Called once per file that holds compiled code."""

    @classmethod
    def info(cls) -> RuleInfo:
        return RuleInfo(
            code=cls.code,
            name=cls.name,
            summary=cls.summary,
            explanation=textwrap.dedent(cls.explanation).strip(),
            family=cls.family,
            severity=cls.severity,
            fixable=cls.fixable,
            url=DOCS_URL.format(anchor=f"{cls.code.lower()}-{cls.name}"),
            valid=tuple(cls.VALID),
            invalid=tuple(cls.INVALID),
        )


class _Reporter:
    """Shared by both contexts: ranges, source text and reporting."""

    rule_code: str
    findings: list[Finding]
    blocks: ParsedBlocks
    module: cst.Module
    start_line: int
    summary: FileSummary
    project: Project
    chain: tuple[ChainLink, ...] = ()

    def range(self, node: cst.CSTNode) -> Range:
        return self.blocks.range_of(node, self.module, self.start_line)

    def head_range(self, node: cst.CSTNode, length: int) -> Range:
        """The first `length` characters of `node` (a statement's keyword, say)."""
        start = self.range(node).start
        return Range.of(start.line, start.column, start.line, start.column + length)

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def replace(self, node: cst.CSTNode, new_text: str) -> TextEdit:
        return TextEdit(self.range(node), new_text)

    def line_text(self, line: int) -> str:
        return self.blocks.line(line)

    def indent_of(self, line: int) -> str:
        return self.blocks.indent_of(line)

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        *,
        fixes: Sequence[Fix] = (),
        related: Sequence[ChainLink] = (),
        range: Range | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                code=self.rule_code,
                range=range or self.range(node),
                message=message,
                fixes=tuple(fixes),
                related=tuple(related),
                chain=self.chain,
            )
        )


class FunctionContext(_Reporter):
    """A compiled function, the libcst node of its def, and the walk's current ancestors."""

    def __init__(
        self,
        *,
        project: Project,
        summary: FileSummary,
        compiled: Compiled,
        node: cst.FunctionDef,
        module: cst.Module,
        start_line: int,
        blocks: ParsedBlocks,
        findings: list[Finding],
    ) -> None:
        self.project = project
        self.summary = summary
        self.compiled = compiled
        self.node = node
        self.module = module
        self.start_line = start_line
        self.blocks = blocks
        self.findings = findings
        self.chain = compiled.chain
        self.ancestors: list[cst.CSTNode] = []
        self.rule_code = ""

    def range(self, node: cst.CSTNode) -> Range:
        """Positions come from the function alone when the node is in it (the common case)."""
        try:
            return self.blocks.range_in_function(node, self.node, self.module, self.info.line)
        except KeyError:
            return self.blocks.range_of(node, self.module, self.start_line)

    @property
    def info(self) -> FunctionInfo:
        return self.compiled.info

    @property
    def owner(self) -> ClassInfo | None:
        return self.compiled.owner

    @property
    def qualname(self) -> str:
        return self.compiled.info.qualname

    def parent(self, depth: int = 1) -> cst.CSTNode | None:
        """The node `depth` levels above the one being visited (1 = its parent)."""
        return self.ancestors[-depth] if len(self.ancestors) >= depth else None

    def resolve(self, dotted: str) -> str:
        """A dotted name as written in this file, qualified (`np.zeros` -> `numpy.zeros`)."""
        return self.project.qualify(self.summary, dotted)


class FileContext(_Reporter):
    """A whole file: rules walk its blocks themselves with `ctx.modules()`."""

    def __init__(
        self,
        *,
        project: Project,
        summary: FileSummary,
        blocks: ParsedBlocks,
        findings: list[Finding],
    ) -> None:
        self.project = project
        self.summary = summary
        self.blocks = blocks
        self.findings = findings
        self.rule_code = ""

    @property
    def text(self) -> str:
        """The file's text: check it before `modules()` to skip files that cannot match."""
        return self.blocks.text

    def modules(self) -> list[tuple[cst.Module, int]]:
        """Each parsed top-level block with its first line; sets the block for `report`."""
        return self.blocks.all_modules()

    def use(self, module: cst.Module, start_line: int) -> None:
        self.module, self.start_line = module, start_line

    def resolve(self, dotted: str) -> str:
        return self.project.qualify(self.summary, dotted)


Handler = Callable[[cst.CSTNode, FunctionContext], None]


def ex(code: str, **kwargs: object) -> Example:
    """An Example with its code dedented, so rules can write examples as indented blocks."""
    return Example(code=textwrap.dedent(code).lstrip("\n"), **kwargs)  # type: ignore[arg-type]
