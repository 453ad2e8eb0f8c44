"""Node positions by one plain code generation, computed only where a rule asks.

libcst's PositionProvider runs a metadata visitor and a position-tracking codegen over a whole
module; here one codegen records each node's character offsets (the same syntactic
positions), and only for the subtree asked about: a compiled function, or one top-level
block. Offsets become (line, column) through a table of line starts.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from contextlib import contextmanager

import libcst as cst
from libcst._nodes.internal import CodegenState

from tscheck.model import Position, Range

_NEWLINE = re.compile(r"\r\n?|\n")


class _OffsetState(CodegenState):
    """Codegen that records every node's (start, end) offsets, syntactic like PositionProvider."""

    def __init__(self, default_indent: str, default_newline: str, indent: str) -> None:
        super().__init__(default_indent=default_indent, default_newline=default_newline)
        if indent:
            self.indent_tokens.append(indent)
        self.offset = 0
        self.spans: dict[cst.CSTNode, tuple[int, int]] = {}
        self._stack: list[int] = []

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        for token in self.indent_tokens:
            self.offset += len(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._stack.append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._stack.pop()
        if node not in self.spans:
            self.spans[node] = (start, self.offset)

    @contextmanager
    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> Iterator[None]:
        start = self.offset
        try:
            yield
        finally:
            end = self.offset
            if start_node is not None:
                start = self.spans[start_node][0]
            if end_node is not None:
                end = self.spans[end_node][1]
            self.spans[node] = (start, end)


class Positions:
    """Ranges of the nodes under `root`, generated with `indent` before its first line, whose
    text starts on `first_line` of the file, or is shifted so that `anchor` starts on
    `anchor_line` (a def's name: its leading comments and decorators vary in length)."""

    def __init__(
        self,
        root: cst.CSTNode,
        module: cst.Module,
        *,
        indent: str = "",
        anchor: cst.CSTNode | None = None,
        anchor_line: int = 1,
        first_line: int = 1,
    ) -> None:
        # A statement emits its own indentation (the tokens of the blocks around it).
        state = _OffsetState(module.default_indent, module.default_newline, indent)
        root._codegen(state)
        text = "".join(state.tokens)
        self._spans = state.spans
        self._starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
        self._shift = first_line - 1
        if anchor is not None:
            self._shift = 0
            self._shift = anchor_line - self._position(self._spans[anchor][0]).line

    def _position(self, offset: int) -> Position:
        line = bisect.bisect_right(self._starts, offset) - 1
        return Position(line + 1 + self._shift, offset - self._starts[line])

    def get(self, node: cst.CSTNode) -> Range | None:
        span = self._spans.get(node)
        if span is None:
            return None
        return Range(self._position(span[0]), self._position(span[1]))
