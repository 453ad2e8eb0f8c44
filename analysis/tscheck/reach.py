"""The compiled set: from scripting roots to every function TorchScript will compile.

Mirrors `torch.jit._recursive`: a module compiles `forward`, its `@torch.jit.export` methods
and properties; every submodule registered in `__init__` is compiled too (even if never
called); callees are compiled when reached by a call; `@torch.jit.ignore` / `@torch.jit.unused`
functions keep only their signature. Every compiled function carries its why-chain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tscheck.index import JIT_SCRIPT, CallSite, ClassInfo, FileSummary, FunctionInfo
from tscheck.model import ChainLink

_NOT_MODULES = frozenset({"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"})
# Classes TorchScript handles without compiling their methods as a TorchScript class.
_SPECIAL_BASES = frozenset(
    {
        "Exception",
        "BaseException",
        "enum.Enum",
        "enum.IntEnum",
        "typing.NamedTuple",
        "NamedTuple",
        "typing.Protocol",
        "typing_extensions.Protocol",
    }
)
IGNORED = frozenset({"ignore", "unused", "drop"})
# A root: its file, the class or function, and why it is a root (the chain's first words).
RootSpec = tuple[FileSummary, ClassInfo | FunctionInfo, str]


@dataclass(frozen=True)
class Root:
    """A user-chosen root: a class or function named in a file (`models/net.py:Net`)."""

    path: str
    name: str


@dataclass(frozen=True)
class Compiled:
    """A function TorchScript compiles (mode "compiled") or only types ("signature")."""

    path: str
    info: FunctionInfo
    owner: ClassInfo | None  # the class that defines it
    context: str  # qualified name of the class `self` is, for inherited methods
    chain: tuple[ChainLink, ...]
    entry: bool  # forward / export / property / a jit root: cannot be ignored away
    mode: str = "compiled"
    roots: frozenset[str] = field(default=frozenset())

    @property
    def key(self) -> tuple[str, str]:
        return (self.path, self.info.qualname)


class Project:
    """Summaries of every file in the checked tree, with name resolution across them."""

    def __init__(self, summaries: Iterable[FileSummary]) -> None:
        self.files: dict[str, FileSummary] = {}
        self.modules: dict[str, FileSummary] = {}
        for s in summaries:
            self.files[s.path] = s
            if s.module:
                self.modules.setdefault(s.module, s)
        self._module_class: dict[str, bool] = {}

    # -- lookup --------------------------------------------------------------------------

    def qualify(self, summary: FileSummary, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        imports = dict(summary.imports)
        if head in imports:
            full = imports[head]
            return f"{full}.{rest}" if rest else full
        local = {c.name for c in summary.classes} | {f.name for f in summary.functions}
        if head in local or head in summary.global_names:
            return f"{summary.module}.{dotted}"
        return dotted

    def lookup(
        self, qualified: str, depth: int = 0
    ) -> tuple[FileSummary, ClassInfo | FunctionInfo] | None:
        """Find a project class, function or method (`pkg.mod.Class.method`) by qualified name,
        following re-exports (`from .layers import Block` in a package `__init__`)."""
        if depth > 8 or not qualified:
            return None
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            summary = self.modules.get(".".join(parts[:cut]))
            if summary is None:
                continue
            rest = parts[cut:]
            cls = summary.cls(rest[0])
            if cls is not None:
                if len(rest) == 1:
                    return summary, cls
                if len(rest) == 2:
                    method = cls.method(rest[1])
                    return (summary, method) if method else None
                return None
            fn = summary.function(rest[0])
            if fn is not None:
                return (summary, fn) if len(rest) == 1 else None
            imported = dict(summary.imports).get(rest[0])
            if imported and imported != qualified:
                return self.lookup(".".join([imported, *rest[1:]]), depth + 1)
            return None
        return None

    def lookup_class(self, qualified: str) -> tuple[FileSummary, ClassInfo] | None:
        found = self.lookup(qualified)
        if found and isinstance(found[1], ClassInfo):
            return found[0], found[1]
        return None

    def qualified_class(self, summary: FileSummary, cls: ClassInfo) -> str:
        return f"{summary.module}.{cls.name}"

    # -- classes -------------------------------------------------------------------------

    def is_module_class(self, qualified: str, seen: frozenset[str] = frozenset()) -> bool:
        """nn.Module or a subclass of it, in torch or in the project."""
        if qualified in self._module_class:
            return self._module_class[qualified]
        result = False
        found = None if qualified in seen else self.lookup_class(qualified)
        if qualified in NN_MODULE:
            result = True
        elif found:  # a project class (torch's own, when the checked tree is torch)
            summary, cls = found
            result = any(
                self.is_module_class(self.qualify(summary, b), seen | {qualified})
                for b in cls.bases
            )
        elif is_torch_module(qualified):
            result = True
        self._module_class[qualified] = result
        return result

    def mro(self, qualified: str) -> list[tuple[FileSummary, ClassInfo]]:
        """Project classes in method resolution order (depth-first, left to right)."""
        out: list[tuple[FileSummary, ClassInfo]] = []
        seen: set[str] = set()

        def visit(q: str) -> None:
            if q in seen:
                return
            seen.add(q)
            found = self.lookup_class(q)
            if not found or q in NN_MODULE:
                return  # nn.Module's own methods are builtins to TorchScript, never compiled
            out.append(found)
            for base in found[1].bases:
                visit(self.qualify(found[0], base))

        visit(qualified)
        return out

    def find_method(
        self, context: str, name: str, after: str = ""
    ) -> tuple[FileSummary, ClassInfo, FunctionInfo] | None:
        skipping = bool(after)
        for summary, cls in self.mro(context):
            if skipping:
                skipping = self.qualified_class(summary, cls) != after
                continue
            method = cls.method(name)
            if method is not None:
                return summary, cls, method
        return None

    def is_special_class(self, summary: FileSummary, cls: ClassInfo) -> bool:
        """Exceptions, enums and NamedTuples: TorchScript does not compile them as classes."""
        for base in cls.bases:
            q = self.qualify(summary, base)
            last = q.split(".")[-1]
            if q in _SPECIAL_BASES or last in {"Exception", "Enum", "NamedTuple", "Protocol"}:
                return True
            found = self.lookup_class(q)
            if found and self.is_special_class(*found):
                return True
        return "dataclasses.dataclass" in cls.decorators


NN_MODULE = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})


def is_torch_module(qualified: str) -> bool:
    if qualified == "torch.nn.Module" or qualified.startswith("torch.nn.modules."):
        return True
    prefix, _, last = qualified.rpartition(".")
    return prefix == "torch.nn" and last[:1].isupper() and last not in _NOT_MODULES


# -- the walk ----------------------------------------------------------------------------------


def default_roots(project: Project) -> Iterator[RootSpec]:
    """Every nn.Module subclass, jit-decorated function or class, and torch.jit.script target."""
    for summary in project.files.values():
        for cls in summary.classes:
            q = project.qualified_class(summary, cls)
            if project.is_module_class(q):
                if cls.abstract:
                    continue  # scripted only through subclasses, which are roots themselves
                yield summary, cls, f"{cls.name} is an nn.Module subclass (a scripting root)"
            elif set(cls.decorators) & (JIT_SCRIPT | {"torch.jit.interface"}):
                yield summary, cls, f"{cls.name} is decorated with @torch.jit.script"
        for fn in summary.functions:
            if set(fn.decorators) & JIT_SCRIPT:
                yield summary, fn, f"{fn.name} is decorated with @torch.jit.script"
        for site in summary.jit_sites:
            if site.kind != "script":
                continue
            found = project.lookup(site.target)
            if found is not None and site.from_call and isinstance(found[1], FunctionInfo):
                continue  # scripts what a factory returns: unknown statically
            if found is not None:
                name = found[1].name
                yield found[0], found[1], f"torch.jit.script({name}) in {summary.path}"


def chosen_roots(project: Project, roots: Iterable[Root]) -> Iterator[RootSpec]:
    for root in roots:
        summary = project.files.get(root.path)
        if summary is None:
            continue
        found: ClassInfo | FunctionInfo | None = summary.cls(root.name) or summary.function(
            root.name
        )
        if found is not None:
            yield summary, found, f"{root.name} is a root chosen with --root / config"


def compiled_set(project: Project, roots: Iterable[RootSpec]) -> dict[tuple[str, str], Compiled]:
    """Every function reached from `roots`, keyed by (path, qualname); the first chain wins."""
    walker = _Walker(project)
    for summary, obj, why in roots:
        walker.add_root(summary, obj, why)
    walker.run()
    return walker.result()


class _Walker:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.found: dict[tuple[str, str], Compiled] = {}
        self.roots_of: dict[tuple[str, str], set[str]] = {}
        self.seen: set[tuple[str, str, str]] = set()
        self.seen_classes: set[str] = set()
        self.seen_modules: set[tuple[str, str]] = set()  # (class, root)
        self.queue: deque[tuple[Compiled, str]] = deque()

    def result(self) -> dict[tuple[str, str], Compiled]:
        return {
            key: _with_roots(c, frozenset(self.roots_of.get(key, ())))
            for key, c in self.found.items()
        }

    def add_root(self, summary: FileSummary, obj: ClassInfo | FunctionInfo, why: str) -> None:
        root_line = obj.line
        if isinstance(obj, FunctionInfo):
            link = ChainLink(why, summary.path, root_line, obj.qualname)
            root = f"{summary.module}.{obj.qualname}"
            self.reach(summary, obj, None, "", (link,), entry=True, root=root)
            return
        q = self.project.qualified_class(summary, obj)
        if self.project.is_module_class(q):
            self.add_module(q, (ChainLink(why, summary.path, root_line, obj.name),), root=q)
        else:
            self.add_script_class(
                summary, obj, (ChainLink(why, summary.path, root_line, obj.name),), q
            )

    def add_module(self, q: str, chain: tuple[ChainLink, ...], root: str) -> None:
        if (q, root) in self.seen_modules:
            return
        self.seen_modules.add((q, root))
        mro = self.project.mro(q)
        if not mro:
            return
        done: set[str] = set()
        unused_props = {p for _, c in mro for p in c.unused_properties}
        for summary, cls in mro:
            for method in cls.methods:
                if method.name in done:
                    continue
                done.add(method.name)
                is_entry = (
                    method.name == "forward"
                    or method.modifier == "export"
                    or (method.is_property and method.name not in unused_props)
                )
                if not is_entry:
                    continue
                if method.name == "forward":
                    text = f"{mro[0][1].name}.forward is the module's entry point"
                elif method.modifier == "export":
                    text = f"{cls.name}.{method.name} is marked @torch.jit.export"
                else:
                    text = f"{cls.name}.{method.name} is a @property (compiled even if unused)"
                link = ChainLink(text, summary.path, method.line, method.qualname)
                self.reach(summary, method, cls, q, (*chain, link), entry=True, root=root)
        for summary, cls in mro:
            for sub in cls.submodules:
                target = self.project.qualify(summary, sub.target)
                if not self.project.lookup_class(target) or not self.project.is_module_class(
                    target
                ):
                    continue
                short = target.split(".")[-1]
                text = f"{cls.name}.__init__ registers self.{sub.attr} = {short}(...)"
                link = ChainLink(text, summary.path, sub.line, short)
                self.add_module(target, (*chain, link), root)

    def add_script_class(
        self, summary: FileSummary, cls: ClassInfo, chain: tuple[ChainLink, ...], root: str
    ) -> None:
        q = self.project.qualified_class(summary, cls)
        if q in self.seen_classes:
            return
        self.seen_classes.add(q)
        for method in cls.methods:
            self.reach(summary, method, cls, q, chain, entry=True, root=root)

    def reach(
        self,
        summary: FileSummary,
        fn: FunctionInfo,
        owner: ClassInfo | None,
        context: str,
        chain: tuple[ChainLink, ...],
        entry: bool,
        root: str,
    ) -> None:
        key = (summary.path, fn.qualname)
        self.roots_of.setdefault(key, set()).add(root)
        mark = (summary.path, fn.qualname, context)
        if mark in self.seen:
            return
        self.seen.add(mark)
        # Interface methods are declarations: TorchScript reads only their signatures.
        interface = owner is not None and "torch.jit.interface" in owner.decorators
        mode = "signature" if fn.modifier in IGNORED or interface else "compiled"
        compiled = Compiled(summary.path, fn, owner, context, chain, entry, mode)
        existing = self.found.get(key)
        if existing is None or (existing.mode == "signature" and mode == "compiled"):
            self.found[key] = compiled
        if mode == "compiled":
            self.queue.append((compiled, root))

    def run(self) -> None:
        while self.queue:
            compiled, root = self.queue.popleft()
            summary = self.project.files[compiled.path]
            for call in compiled.info.calls:
                self.follow(summary, compiled, call, root)
            for name in compiled.info.annotation_names:
                self.follow_annotation(summary, compiled, name, root)

    def follow_annotation(self, summary: FileSummary, fn: Compiled, name: str, root: str) -> None:
        """A project class in a compiled signature is compiled as a TorchScript class."""
        found = self.project.lookup_class(self.project.qualify(summary, name))
        if found is None:
            return
        s, cls = found
        q = self.project.qualified_class(s, cls)
        if self.project.is_module_class(q) or self.project.is_special_class(s, cls):
            return
        text = f"{fn.info.qualname}'s signature uses {cls.name}, so it is compiled as a class"
        link = ChainLink(text, summary.path, fn.info.line, cls.name)
        self.add_script_class(s, cls, (*fn.chain, link), root)

    def follow(self, summary: FileSummary, caller: Compiled, call: CallSite, root: str) -> None:
        project = self.project
        name = caller.info.qualname
        if call.kind in ("self", "super") and caller.context:
            after = ""
            if call.kind == "super" and caller.owner is not None:
                after = f"{summary.module}.{caller.owner.name}"
            found = project.find_method(caller.context, call.name, after=after)
            if found is None:
                return
            s, cls, method = found
            shown = "super()" if call.kind == "super" else "self"
            text = f"{name} calls {shown}.{call.name}()"
            link = ChainLink(text, summary.path, call.line, method.qualname)
            self.reach(s, method, cls, caller.context, (*caller.chain, link), False, root)
            return
        if call.kind == "self_attr" and caller.context:
            for s, cls in project.mro(caller.context):
                for sub in cls.submodules:
                    if sub.attr != call.owner or sub.in_container:
                        continue
                    target = project.qualify(s, sub.target)
                    found_m = project.find_method(target, call.name)
                    if found_m is None:
                        continue
                    ms, mcls, method = found_m
                    text = f"{name} calls self.{call.owner}.{call.name}()"
                    link = ChainLink(text, summary.path, call.line, method.qualname)
                    self.reach(ms, method, mcls, target, (*caller.chain, link), False, root)
                    return
            return
        if call.kind not in ("name", "dotted"):
            return
        found_any = project.lookup(project.qualify(summary, call.name))
        if found_any is None:
            return
        s, obj = found_any
        if isinstance(obj, FunctionInfo):
            owner = s.cls(obj.qualname.split(".")[0]) if "." in obj.qualname else None
            context = f"{s.module}.{owner.name}" if owner else ""
            link = ChainLink(f"{name} calls {call.name}()", summary.path, call.line, obj.qualname)
            self.reach(s, obj, owner, context, (*caller.chain, link), False, root)
            return
        q = project.qualified_class(s, obj)
        if project.is_module_class(q) or project.is_special_class(s, obj):
            return
        text = f"{name} constructs {obj.name}, so it is compiled as a TorchScript class"
        self.add_script_class(
            s, obj, (*caller.chain, ChainLink(text, summary.path, call.line, obj.name)), root
        )


def _with_roots(c: Compiled, roots: frozenset[str]) -> Compiled:
    return Compiled(c.path, c.info, c.owner, c.context, c.chain, c.entry, c.mode, roots)
