"""tscheck's own position tables agree with libcst's PositionProvider on real code."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from tscheck.cstwalk import preorder
from tscheck.model import Range
from tscheck.parse import ParsedBlocks, split_blocks

HERE = Path(__file__).parent
torch = pytest.importorskip("torch")
NN = Path(torch.__file__).parent / "nn" / "modules"
FILES = [
    *sorted((HERE / "data" / "models").glob("[!_]*.py")),
    NN / "module.py",
    NN / "conv.py",
    NN / "rnn.py",
    NN / "transformer.py",
]


def functions(body: list[cst.CSTNode]) -> list[cst.FunctionDef]:
    found: list[cst.FunctionDef] = []
    for stmt in body:
        if isinstance(stmt, cst.FunctionDef):
            found.append(stmt)
        elif isinstance(stmt, cst.ClassDef) and isinstance(stmt.body, cst.IndentedBlock):
            found.extend(functions(list(stmt.body.body)))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_function_and_block_positions_match_libcst(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    blocks = ParsedBlocks(text)
    checked = 0
    for block in split_blocks(text):
        module, start = blocks.module_for_line(block.start_line)
        assert start == block.start_line, "the block split fell back to one block"
        reference = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

        shift = start - 1
        expected = {
            node: Range.of(r.start.line + shift, r.start.column, r.end.line + shift, r.end.column)
            for node, r in reference.items()
        }

        for fn in functions(list(module.body)):
            def_line = expected[fn.name].start.line
            for node in [fn.name, *preorder(fn)]:
                assert blocks.range_in_function(node, fn, module, def_line) == expected[node]
                checked += 1
        for node in preorder(module):
            assert blocks.range_of(node, module, start) == expected[node]
    assert checked > 100
