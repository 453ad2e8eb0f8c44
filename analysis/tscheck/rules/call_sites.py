"""Calls at torch.jit / torch.save call sites, for the rules that read them in `check_file`
(TS5xx saves and loads, TS18x `torch.jit.script(...)` arguments): the calls of each block and
the bindings of each scope, found once per file check and shared by all those rules."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from tscheck import cstwalk
from tscheck.parse import ParsedBlocks
from tscheck.rules.base import FileContext, dotted


@dataclass(frozen=True)
class CallIn:
    """A call with the scope that holds it (its def, or None at module level)."""

    call: cst.Call
    scope: cst.FunctionDef | None


Bindings = dict[str, list[cst.BaseExpression] | None]


class _FileFacts:
    """What the call-site rules read in one file check, computed once for all of them:
    the calls of each block and the bindings of each scope (keyed by node id; the nodes are
    kept alive with their entries, so an id cannot be reused)."""

    def __init__(self) -> None:
        self.calls: dict[int, tuple[cst.Module, list[CallIn]]] = {}
        self.bindings: dict[int, tuple[object, Bindings]] = {}


_FACTS: weakref.WeakKeyDictionary[ParsedBlocks, _FileFacts] = weakref.WeakKeyDictionary()


def _facts(ctx: FileContext) -> _FileFacts:
    facts = _FACTS.get(ctx.blocks)
    if facts is None:
        facts = _FACTS[ctx.blocks] = _FileFacts()
    return facts


def call_name(call: cst.Call) -> str:
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else ""


def block_calls(ctx: FileContext, module: cst.Module) -> list[CallIn]:
    facts = _facts(ctx)
    known = facts.calls.get(id(module))
    if known is None:
        found: list[CallIn] = []
        stack: list[tuple[cst.CSTNode, cst.FunctionDef | None]] = [(module, None)]
        while stack:
            node, scope = stack.pop()
            if isinstance(node, cst.Call):
                found.append(CallIn(node, scope))
            inner = node if isinstance(node, cst.FunctionDef) else scope
            stack.extend((child, inner) for child in cstwalk.children(node))
        known = facts.calls[id(module)] = (module, found)
    return known[1]


def calls_on_lines(ctx: FileContext, lines: set[int], names: frozenset[str]) -> Iterator[CallIn]:
    """The calls named one of `names` (`x.save(...)`, `save(...)`) in the blocks holding
    `lines`, with their scope; sets ctx's block to the call's own (a block is a top-level
    statement: a def's calls all live in it)."""
    done: set[int] = set()
    for line in sorted(lines):
        module, start = ctx.blocks.module_for_line(line)
        if id(module) in done:
            continue
        done.add(id(module))
        for item in block_calls(ctx, module):
            if call_name(item.call) in names:
                ctx.use(module, start)
                yield item


def target_names(target: cst.CSTNode) -> Iterator[str]:
    """The names an assignment target binds."""
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from target_names(target.value)


def scope_bindings(ctx: FileContext, scope: cst.FunctionDef | None) -> Bindings:
    """For each name bound in `scope`: the values of its `name = value` statements, or None
    when something else binds it too (a parameter, loop, `with`, import, `global`, augmented
    or tuple assignment, walrus, `del`, a def...)."""
    facts = _facts(ctx)
    known = facts.bindings.get(id(scope))
    if known is not None:
        return known[1]
    table: Bindings = {}

    def poison(name: str) -> None:
        table[name] = None

    def add(name: str, value: cst.BaseExpression) -> None:
        values = table.setdefault(name, [])
        if values is not None:
            values.append(value)

    if scope is None:
        roots: list[cst.CSTNode] = [m for m, _ in ctx.modules()]
    else:
        params = scope.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        every.extend(p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param))
        for param in every:
            poison(param.name.value)
        roots = [scope.body]
    stack = list(roots)
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Assign):
            single = len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name)
            for target in node.targets:
                for name in target_names(target.target):
                    if single:
                        add(name, node.value)
                    else:
                        poison(name)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                for name in target_names(node.target):
                    add(name, node.value)
        elif isinstance(node, (cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr)):
            for name in target_names(node.target):
                poison(name)
        elif isinstance(node, cst.AsName):
            for name in target_names(node.name):
                poison(name)
        elif isinstance(node, (cst.Global, cst.Nonlocal)):
            for item in node.names:
                poison(item.name.value)
        elif isinstance(node, cst.ImportAlias):
            bound = node.asname.name if node.asname is not None else node.name
            if isinstance(bound, (cst.Name, cst.Attribute)):
                poison(dotted(bound).split(".")[0])
        elif isinstance(node, cst.Del):
            for name in target_names(node.target):
                poison(name)
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            poison(node.name.value)
            continue  # a scope of its own
        elif isinstance(node, cst.Lambda):
            continue
        stack.extend(cstwalk.children(node))
    facts.bindings[id(scope)] = (scope, table)
    return table


def bound_values(
    ctx: FileContext, scope: cst.FunctionDef | None, name: str
) -> list[cst.BaseExpression] | None:
    """What `name = value` statements of `scope` assign to `name`, when those are its only
    bindings there; None when something else binds it, or nothing does."""
    return scope_bindings(ctx, scope).get(name) or None


def lines_with(text: str, pattern: re.Pattern[str]) -> set[int]:
    return {text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)}


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def positional(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None and not a.star]


def has_star(call: cst.Call) -> bool:
    return any(a.star for a in call.args)


# -- TS502: the save of a module whose compiled code calls an ignored function ---------------------
