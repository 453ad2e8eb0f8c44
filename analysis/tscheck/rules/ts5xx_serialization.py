"""TS500-TS529: serialization, failures of `torch.jit.save` / `ScriptModule.save` themselves.

Ground truth: torch 2.13. `torch.jit.save(m, f, _extra_files=...)` hands `_extra_files` to a
pybind11 binding typed `Mapping[str, str]` (str or bytes keys and values convert; `None` is
replaced by `{}` in `torch.jit.save` but not in `ScriptModule.save`). Anything else raises
`TypeError: save(): incompatible function arguments` (`save_to_buffer()` for file objects)
before a byte is written. The failures that come from what the module compiled (ignored calls,
autograd Functions) are TS302 / TS304 / TS309 / TS310.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from tscheck import cstwalk
from tscheck.index import JIT_SAVE, JitSite
from tscheck.model import Family
from tscheck.rules.base import FileContext, Rule, dotted, ex

_EXTRA_FILES = "_extra_files"


def _kind(expr: cst.BaseExpression) -> str | None:
    """What a value visibly is when it is neither str nor bytes (a number, a list...), else
    None (a string, or something only run time knows)."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        expr = expr.expression
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        return "a number"
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return "a bool"
    if isinstance(expr, cst.Name) and expr.value == "None":
        return "None"
    if isinstance(expr, (cst.List, cst.ListComp)):
        return "a list"
    if isinstance(expr, (cst.Set, cst.SetComp)):
        return "a set"
    if isinstance(expr, cst.Tuple):
        return "a tuple"
    if isinstance(expr, (cst.Dict, cst.DictComp)):
        return "a dict"
    return None


def _not_a_mapping(expr: cst.BaseExpression, *, method: bool) -> str | None:
    """Why `expr`, passed as `_extra_files`, is visibly not a mapping of str to str/bytes."""
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return "a string, not a dict"
    if isinstance(expr, cst.Dict):
        for element in expr.elements:
            if not isinstance(element, cst.DictElement):
                continue  # `**other`: only run time knows
            key = _kind(element.key)
            if key is not None:
                return f"a dict with {key} as a key"
            value = _kind(element.value)
            if value is not None:
                return f"a dict with {value} as a value"
        return None
    if isinstance(expr, cst.DictComp):
        key, value = _kind(expr.key), _kind(expr.value)
        if key is not None:
            return f"a dict with {key} as a key"
        return None if value is None else f"a dict with {value} as a value"
    kind = _kind(expr)
    if kind == "None":
        # torch.jit.save turns None into {}; ScriptModule.save passes it to the binding.
        return "None, not a dict" if method else None
    if kind is None or kind == "a dict":
        return None
    return f"{kind}, not a dict"


def _calls(root: cst.CSTNode) -> Iterator[cst.Call]:
    """Every call under `root`, nested functions included."""
    stack: list[cst.CSTNode] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call):
            yield node
        stack.extend(cstwalk.children(node))


class ExtraFilesTypeRule(Rule):
    code = "TS501"
    name = "extra-files-not-str-mapping"
    summary = "`_extra_files` is not a dict of str to str/bytes, so the save raises TypeError"
    family = Family.TYPE_CHECKING
    explanation = """
    **What it does.** Flags `torch.jit.save(m, f, _extra_files=...)` and
    `scripted.save(f, _extra_files=...)` where the value is visibly not a mapping from str to
    str or bytes: a list or set of file names, a string, a number, or a dict literal with a
    number, bool, None or container as a key or value (and `None` passed to `.save`).

    **Why it fails.** `_extra_files` goes to a C++ binding typed `Mapping[str, str]`: each key is
    the name of a file stored in the archive and each value is its content. Anything else is
    refused before the archive is written: `TypeError: save(): incompatible function
    arguments` (`save_to_buffer()` when `f` is a file object). The module scripted fine, so the
    failure shows only in the export step.

    **How to fix.** Pass a dict of names to contents, serializing structured data yourself:
    `_extra_files={"config.json": json.dumps(config)}`, and `str(version)` for numbers. To
    read files back, `torch.jit.load(f, _extra_files=files)` fills the values of a dict whose
    keys name them (`files = {"config.json": ""}`).
    """
    VALID = (
        ex(
            """
            import io
            import json

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(m: torch.jit.ScriptModule) -> bytes:
                buffer = io.BytesIO()
                extra = {"config.json": json.dumps({"width": 4}), "raw.bin": b"\\x00\\x01"}
                torch.jit.save(m, buffer, _extra_files=extra)
                torch.jit.save(m, buffer, _extra_files={"version": str(2), "note": "v" + "2"})
                torch.jit.save(m, buffer, _extra_files=None)
                return buffer.getvalue()
            """,
            call="export(m)",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(folder: str) -> None:
                scripted = torch.jit.script(M())
                scripted.save(os.path.join(folder, "m.pt"), _extra_files={"version": "2"})
            """,
            call="with tempfile.TemporaryDirectory() as d: export(d)",
        ),
    )
    INVALID = (
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(m: torch.jit.ScriptModule) -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(m, buffer, _extra_files=["config.json"])
                return buffer.getvalue()
            """,
            line=14,
            error="save_to_buffer(): incompatible function arguments",
            call="export(m)",
        ),
        ex(
            """
            import io

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(m: torch.jit.ScriptModule) -> bytes:
                buffer = io.BytesIO()
                torch.jit.save(m, buffer, _extra_files={"version": 2})
                return buffer.getvalue()
            """,
            line=14,
            error="save_to_buffer(): incompatible function arguments",
            call="export(m)",
        ),
        ex(
            """
            import os
            import tempfile

            import torch
            import torch.nn as nn


            class M(nn.Module):
                def forward(self, x: torch.Tensor):
                    return x + 1


            def export(folder: str) -> None:
                scripted = torch.jit.script(M())
                scripted.save(os.path.join(folder, "m.pt"), _extra_files={"config.json", "v"})
            """,
            line=15,
            error="save(): incompatible function arguments",
            call="with tempfile.TemporaryDirectory() as d: export(d)",
        ),
    )
    CATALOG = ()

    def check_file(self, ctx: FileContext) -> None:
        for site in ctx.summary.jit_sites:
            if site.kind == "save":
                self._check_site(ctx, site)

    def _check_site(self, ctx: FileContext, site: JitSite) -> None:
        method = site.method == "save"
        module, start = ctx.blocks.module_for_line(site.line)
        ctx.use(module, start)
        for call in _calls(module):
            value = self._extra_files(ctx, call, method=method)
            if value is None or ctx.range(call).start.line != site.line:
                continue
            problem = _not_a_mapping(value, method=method)
            if problem is None:
                continue
            binding = "save()" if method else "save() / save_to_buffer()"
            ctx.report(
                value,
                f"`_extra_files` must map file names (str) to contents (str or bytes); this is "
                f"{problem}, so the save raises TypeError ({binding}: incompatible function "
                'arguments); pass e.g. `{"config.json": json.dumps(config)}`',
            )

    def _extra_files(
        self, ctx: FileContext, call: cst.Call, *, method: bool
    ) -> cst.BaseExpression | None:
        """The `_extra_files` argument of a save call of the site's form, if it has one."""
        if method:
            if not isinstance(call.func, cst.Attribute) or call.func.attr.value != "save":
                return None
            positional = None  # ScriptModule.save(f, **kwargs): keywords only
        else:
            name = dotted(call.func)
            if not name.endswith("save") or ctx.resolve(name) not in JIT_SAVE:
                return None
            positional = 2  # torch.jit.save(m, f, _extra_files=None)
        for index, arg in enumerate(call.args):
            if arg.star:
                return None
            if arg.keyword is not None:
                if arg.keyword.value == _EXTRA_FILES:
                    return arg.value
            elif index == positional:
                return arg.value
        return None


RULES: tuple[type[Rule], ...] = (ExtraFilesTypeRule,)
