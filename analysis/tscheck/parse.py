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


def module_statement_texts(text: str) -> tuple[str, ...]:
    """The blocks that hold module-level statements outside defs and classes."""
    return tuple(
        block.text
        for block in split_blocks(text)
        if not block.text.lstrip().startswith(("def ", "async def ", "class ", "@"))
    )


class Reads:
    """The text some analysis read from a ParsedBlocks (see `ParsedBlocks.reads`), and whether
    a new text gives the same: its result can be reused when every read is unchanged."""

    def __init__(self) -> None:
        self.blocks: dict[int, str] = {}  # first line -> text of a block parsed
        self.lines: dict[int, str] = {}  # 1-based line -> its text
        self.whole: str | None = None  # the whole text was read
        self.contains: dict[str, bool] = {}  # substring -> whether the text had it
        self.statements: tuple[str, ...] | None = None  # module_statement_texts()

    def read_whole(self, text: str) -> None:
        self.whole = text

    def read_statements(self, text: str) -> None:
        if self.statements is None:
            self.statements = module_statement_texts(text)

    def still_valid(self, blocks: ParsedBlocks, memo: dict[str, object]) -> bool:
        """Everything read is the same in `blocks` (`memo` is shared by the checks against
        one ParsedBlocks, for what costs a scan of the text)."""
        text = blocks.untracked_text
        if self.whole is not None and self.whole != text:
            return False
        current = blocks.blocks
        for start, block_text in self.blocks.items():
            index = blocks.block_index(start)
            block = current[index]
            if block.start_line != start or block.text != block_text:
                return False
        for line, line_text in self.lines.items():
            if blocks.untracked_line(line) != line_text:
                return False
        for needle, had in self.contains.items():
            key = "contains\0" + needle
            found = memo.get(key)
            if found is None:
                found = memo[key] = needle in text
            if found != had:
                return False
        if self.statements is not None:
            found = memo.get("statements")
            if found is None:
                found = memo["statements"] = module_statement_texts(text)
            if found != self.statements:
                return False
        return True


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
        # Set by the engine while the rules of one function run with an incremental cache:
        # every read of the text is recorded there.
        self.reads: Reads | None = None

    @property
    def text(self) -> str:
        if self.reads is not None:
            self.reads.read_whole(self._text)
        return self._text

    @property
    def untracked_text(self) -> str:
        """The text, not recorded as read (for cache keys)."""
        return self._text

    @property
    def blocks(self) -> tuple[Block, ...]:
        return self._blocks

    def line(self, line: int) -> str:
        """The text of a 1-based line, without its ending."""
        found = self.untracked_line(line)
        if self.reads is not None:
            self.reads.lines[line] = found
        return found

    def untracked_line(self, line: int) -> str:
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
        if self.reads is not None:
            self.reads.blocks[block.start_line] = block.text
        try:
            return parse_block(block.text), block.start_line
        except cst.ParserSyntaxError:
            if len(self._blocks) == 1:
                raise
            # The line scan split inside a string or brackets: fall back to one block.
            self._blocks = (Block(1, self._text),)
            self._positions.clear()
            if self.reads is not None:
                self.reads.read_whole(self._text)
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
