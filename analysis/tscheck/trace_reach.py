"""The traced set: which functions `torch.jit.trace` runs as Python and records.

Tracing calls the module's `forward` (or the function) once with the example inputs and
records the tensor operations it sees; everything else (Python control flow, Python numbers,
randomness, the module's mode) is evaluated once and baked into the graph. The traced set
starts at `torch.jit.trace` / `trace_module` call sites and at modules the config marks as
traced (`traced = ["pkg/mod.py:Net"]`), and follows what those functions call: their own
methods, submodules called through `self.sub(...)` (with every member of an `nn.Sequential`),
and project functions. Scripted parts are kept as calls by the trace, so they are not
followed: functions decorated with `@torch.jit.script` / `@torch.jit.script_if_tracing`,
and submodules assigned from `torch.jit.script(...)` (or an already traced module).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from tscheck.index import JIT_SCRIPT, JIT_TRACE, ClassInfo, FileSummary, FunctionInfo, Submodule
from tscheck.model import ChainLink
from tscheck.reach import Compiled, Project, Root

TRACED = "traced"  # Compiled.mode of a function the trace runs
_SEQUENTIAL = frozenset({"torch.nn.Sequential", "torch.nn.modules.container.Sequential"})
# A traced root: its file, the class or function, and why (the chain's first words).
TraceRoot = tuple[FileSummary, ClassInfo | FunctionInfo, str, int]


def trace_roots(project: Project, chosen: Iterable[Root] = ()) -> Iterator[TraceRoot]:
    """`torch.jit.trace(...)` targets in the project, then the config's `traced` entries."""
    for summary in project.files.values():
        for site in summary.jit_sites:
            if site.kind != "trace" or not site.target:
                continue
            found = project.lookup(site.target)
            if found is None:
                continue
            if site.from_call and isinstance(found[1], FunctionInfo):
                continue  # traces what a factory returns: unknown statically
            name = found[1].name
            yield found[0], found[1], f"torch.jit.trace({name}) in {summary.path}", site.line
    for root in chosen:
        marked = project.files.get(root.path)
        if marked is None:
            continue
        obj: ClassInfo | FunctionInfo | None = marked.cls(root.name) or marked.function(root.name)
        if obj is not None:
            yield marked, obj, f"{root.name} is marked traced in config", obj.line


def traced_set(project: Project, chosen: Iterable[Root] = ()) -> list[Compiled]:
    """Every function a trace runs as Python, each once (the first chain wins), with
    mode "traced"; `entry` marks the functions that receive the example inputs."""
    walker = _Walker(project)
    for summary, obj, why, line in trace_roots(project, chosen):
        walker.add_root(summary, obj, why, line)
    walker.run()
    return list(walker.found.values())


def is_scripted(fn: FunctionInfo) -> bool:
    """Compiled by TorchScript even inside a trace: the trace records a call to it."""
    return bool(set(fn.decorators) & JIT_SCRIPT)


class _Walker:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.found: dict[tuple[str, str, str], Compiled] = {}
        self.queue: deque[Compiled] = deque()

    def add_root(
        self, summary: FileSummary, obj: ClassInfo | FunctionInfo, why: str, line: int
    ) -> None:
        link = ChainLink(why, summary.path, line, obj.qualname)
        if isinstance(obj, FunctionInfo):
            owner = summary.cls(obj.qualname.split(".")[0]) if "." in obj.qualname else None
            context = f"{summary.module}.{owner.name}" if owner else ""
            self.reach(summary, obj, owner, context, (link,), entry=True)
            return
        q = self.project.qualified_class(summary, obj)
        if self.project.is_module_class(q):
            self.add_forward(q, (link,), entry=True)

    def add_forward(self, q: str, chain: tuple[ChainLink, ...], entry: bool) -> None:
        found = self.project.find_method(q, "forward")
        if found is None:
            return
        summary, cls, method = found
        text = f"{q.split('.')[-1]}.forward runs while tracing"
        link = ChainLink(text, summary.path, method.line, method.qualname)
        self.reach(summary, method, cls, q, (*chain, link), entry=entry)

    def reach(
        self,
        summary: FileSummary,
        fn: FunctionInfo,
        owner: ClassInfo | None,
        context: str,
        chain: tuple[ChainLink, ...],
        entry: bool,
    ) -> None:
        if is_scripted(fn):
            return
        mark = (summary.path, fn.qualname, context)
        if mark in self.found:
            return
        compiled = Compiled(summary.path, fn, owner, context, chain, entry, TRACED)
        self.found[mark] = compiled
        self.queue.append(compiled)

    def run(self) -> None:
        while self.queue:
            caller = self.queue.popleft()
            summary = self.project.files[caller.path]
            for call in caller.info.calls:
                self.follow(summary, caller, call.kind, call.name, call.owner, call.line)
            if caller.context:
                for attr in caller.info.iterates:
                    self.iterate_container(summary, caller, attr)

    def follow(
        self, summary: FileSummary, caller: Compiled, kind: str, name: str, owner: str, line: int
    ) -> None:
        project = self.project
        qualname = caller.info.qualname
        if kind in ("self", "super") and caller.context:
            after = ""
            if kind == "super" and caller.owner is not None:
                after = f"{summary.module}.{caller.owner.name}"
            found = project.find_method(caller.context, name, after=after)
            if found is not None:
                s, cls, method = found
                shown = "super()" if kind == "super" else "self"
                link = ChainLink(f"{qualname} calls {shown}.{name}()", summary.path, line)
                self.reach(s, method, cls, caller.context, (*caller.chain, link), False)
            elif kind == "self":
                self.call_submodule(summary, caller, name, line)
            return
        if kind == "self_attr" and caller.context:
            target = self.submodule(caller.context, owner)
            if target is None or isinstance(target, list):
                return
            found = project.find_method(target, name)
            if found is not None:
                s, cls, method = found
                link = ChainLink(f"{qualname} calls self.{owner}.{name}()", summary.path, line)
                self.reach(s, method, cls, target, (*caller.chain, link), False)
            return
        if kind not in ("name", "dotted"):
            return
        found_any = project.lookup(project.qualify(summary, name))
        if found_any is None:
            return
        s, fn = found_any
        if not isinstance(fn, FunctionInfo):
            return
        fn_owner = s.cls(fn.qualname.split(".")[0]) if "." in fn.qualname else None
        context = f"{s.module}.{fn_owner.name}" if fn_owner else ""
        link = ChainLink(f"{qualname} calls {name}()", summary.path, line, fn.qualname)
        self.reach(s, fn, fn_owner, context, (*caller.chain, link), False)

    def call_submodule(self, summary: FileSummary, caller: Compiled, attr: str, line: int) -> None:
        """`self.attr(...)`: the submodule's forward runs (every member of a Sequential)."""
        target = self.submodule(caller.context, attr)
        if target is None:
            return
        link = ChainLink(f"{caller.info.qualname} calls self.{attr}(...)", summary.path, line)
        for q in target if isinstance(target, list) else [target]:
            self.add_forward(q, (*caller.chain, link), entry=False)

    def iterate_container(self, summary: FileSummary, caller: Compiled, attr: str) -> None:
        """`for block in self.blocks:`: every project module the ModuleList / Sequential /
        ModuleDict `self.blocks` holds runs in the loop (called through the loop variable)."""
        members = self.container_members(caller.context, attr)
        if not members:
            return
        link = ChainLink(
            f"{caller.info.qualname} iterates self.{attr}", summary.path, caller.info.line
        )
        for q in members:
            self.add_forward(q, (*caller.chain, link), entry=False)

    def container_members(self, context: str, attr: str) -> list[str]:
        """The project module classes constructed inside the container held in `self.attr`."""
        assigned = self.assigned(context, attr)
        if not assigned:
            return []
        return [t for t, sub in assigned if sub.in_container and self._project_module(t)]

    def submodule(self, context: str, attr: str) -> str | list[str] | None:
        """The project module class assigned to `self.attr` in `__init__` (the members, for an
        nn.Sequential); None when unknown, scripted or traced already."""
        assigned = self.assigned(context, attr)
        if not assigned:
            return None
        direct = [t for t, sub in assigned if not sub.in_container]
        if len(direct) == 1 and direct[0] in _SEQUENTIAL:
            return [
                t
                for t, sub in assigned
                if sub.in_container in _SEQUENTIAL and self._project_module(t)
            ]
        if len(direct) == 1 and self._project_module(direct[0]):
            return direct[0]
        return None

    def assigned(self, context: str, attr: str) -> list[tuple[str, Submodule]]:
        """(qualified class, submodule record) for what the nearest `__init__` in the MRO
        builds into `self.attr`; empty when none, or when it is scripted or traced already
        (the trace then keeps a call to it)."""
        project = self.project
        for s, cls in project.mro(context):
            subs = [sub for sub in cls.submodules if sub.attr == attr]
            if subs:
                found = [(project.qualify(s, sub.target), sub) for sub in subs]
                if any(t in JIT_SCRIPT | JIT_TRACE for t, _ in found):
                    return []
                return found
        return []

    def _project_module(self, q: str) -> bool:
        return self.project.lookup_class(q) is not None and self.project.is_module_class(q)
