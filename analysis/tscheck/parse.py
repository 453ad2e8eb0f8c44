"""libcst parsing, one top-level block at a time.

A file is split into top-level blocks (a def, a class, a run of simple statements) by a cheap
line scan. Each block is parsed on its own, on demand, and cached by its text, so an editor
that changes one function re-parses one block, and the CLI parses only blocks that hold
compiled code. A split in the wrong place (a column-0 line inside a string or brackets)
always leaves the first half unparseable; then the whole file is parsed as one block.
"""

from __future__ import annotations

import functools
import io
import itertools
import re
from dataclasses import dataclass

import libcst as cst

from tscheck.model import Range
from tscheck.positions import Positions

_CONTINUATIONS = ("else", "elif", "except", "finally")


@dataclass(frozen=True)
class Block:
    start_line: int  # 1-based line of the block's first line in the file
    text: str

    @property
    def end_line(self) -> int:
        return self.start_line + self.text.count("\n")


def source_lines(text: str) -> list[str]:
    """Lines with their endings, split where Python splits them (not at form feeds)."""
    return io.StringIO(text, newline="").readlines()


def split_blocks(text: str) -> tuple[Block, ...]:
    """Cut `text` before each line that starts a new top-level statement."""
    lines = source_lines(text)
    starts = [0]
    decorated = bool(lines) and lines[0].startswith("@")
    in_string = _string_state(lines[0], None) if lines else None
    for i, line in enumerate(lines[1:], start=1):
        inside, in_string = in_string, _string_state(line, in_string)
        if inside or not line or line[0].isspace() or line[0] in "#)]}":
            continue  # inside a triple-quoted string (a docstring's column-0 text), or indented
        if line.startswith(_CONTINUATIONS) and _is_keyword_start(line):
            continue
        if not decorated:
            starts.append(i)
        # A decorator belongs to the def or class that follows it.
        decorated = line.startswith("@")
    bounds = [*starts, len(lines)]
    return tuple(
        Block(start_line=a + 1, text="".join(lines[a:b])) for a, b in itertools.pairwise(bounds)
    )


_QUOTES = re.compile(r'"""|\'\'\'|"|\'|#|\\.')


def _string_state(line: str, open_quote: str | None) -> str | None:
    """The triple quote still open at the end of `line`, given the one open at its start."""
    if open_quote is None and "'" not in line and '"' not in line:
        return None
    quote = None  # a one-line string
    for match in _QUOTES.finditer(line):
        token = match.group()
        if open_quote is not None:
            if token == open_quote:
                open_quote = None
        elif quote is not None:
            if token == quote:
                quote = None
        elif token == "#":
            break
        elif len(token) == 3:
            open_quote = token
        elif token in ("'", '"'):
            quote = token
    return open_quote


def _is_keyword_start(line: str) -> bool:
    for word in _CONTINUATIONS:
        if line.startswith(word):
            rest = line[len(word) : len(word) + 1]
            return not (rest.isalnum() or rest == "_")
    return False


# Bounded for a language server: every edit adds the edited block's tree (tens of KB for a
# class); 512 blocks cover a large file's compiled blocks and the blocks of a few open files.
@functools.lru_cache(maxsize=512)
def parse_block(text: str) -> cst.Module:
    """Parse one block; raises libcst.ParserSyntaxError."""
    return cst.parse_module(text)


class ParsedBlocks:
    """The libcst modules of a file's blocks, parsed lazily.

    `module_for_line(n)` gives the parsed block that holds line n and the block's first line.
    If any split proves wrong, the whole text becomes one block.
    """

    def __init__(self, text: str) -> None:
        self._text = text.removeprefix("\ufeff")
        self._blocks = split_blocks(text)
        self._positions: dict[int, Positions] = {}
        self._lines: list[str] | None = None

    @property
    def text(self) -> str:
        return self._text

    def line(self, line: int) -> str:
        """The text of a 1-based line, without its ending."""
        if self._lines is None:
            self._lines = source_lines(self._text)
        if 1 <= line <= len(self._lines):
            return self._lines[line - 1].rstrip("\r\n")
        return ""

    def indent_of(self, line: int) -> str:
        """The leading whitespace of a 1-based line."""
        text = self.line(line)
        return text[: len(text) - len(text.lstrip())]

    def all_modules(self) -> list[tuple[cst.Module, int]]:
        """Every block parsed, with its first line (the whole file's cost: use sparingly)."""
        out: list[tuple[cst.Module, int]] = []
        index = 0
        while index < len(self._blocks):
            block = self._blocks[index]
            module, start = self.module_for_line(block.start_line)
            if start != block.start_line:  # fell back to one block
                return [(module, start)]
            out.append((module, start))
            index += 1
        return out

    def block_index(self, line: int) -> int:
        lo, hi = 0, len(self._blocks) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._blocks[mid].start_line <= line:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def module_for_line(self, line: int) -> tuple[cst.Module, int]:
        index = self.block_index(line)
        block = self._blocks[index]
        try:
            return parse_block(block.text), block.start_line
        except cst.ParserSyntaxError:
            if len(self._blocks) == 1:
                raise
            # The line scan split inside a string or brackets: fall back to one block.
            self._blocks = (Block(1, self._text),)
            self._positions.clear()
            return parse_block(self._text), 1

    def range_of(self, node: cst.CSTNode, module: cst.Module, start_line: int) -> Range:
        """The file range of `node`, which lives in `module` (a block starting at start_line)."""
        key = id(module)
        table = self._positions.get(key)
        if table is None:
            table = Positions(module, module, first_line=start_line)
            self._positions[key] = table
        found = table.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def range_in_function(
        self, node: cst.CSTNode, fn: cst.FunctionDef, module: cst.Module, def_line: int
    ) -> Range:
        """The file range of `node` inside compiled function `fn`, whose name is on def_line:
        one codegen of `fn` alone, not of its whole block (a class can be thousands of lines)."""
        key = id(fn)
        table = self._positions.get(key)
        if table is None:
            indent = self.indent_of(def_line)
            table = Positions(fn, module, indent=indent, anchor=fn.name, anchor_line=def_line)
            self._positions[key] = table
        found = table.get(node)
        if found is None:
            raise KeyError(node)
        return found
