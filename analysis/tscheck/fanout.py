"""Run independent chunks of pure work in forked children, one chunk kept by the caller.

Why: opening a large file in the editor means parsing and checking every compiled function
at once (about 0.3 s of CPU for 2,000 lines, most of it libcst building trees). That work is
per function and CPU-bound, so threads do not help (the GIL); forked children do, and they
inherit everything already computed (the index, parse caches) without pickling it. Only the
results travel back, pickled through a pipe.

Chunks are handed out in order and results come back in the same order. Any child that fails
(crash, signal, unpicklable result) costs only time: its chunk is redone in the caller. Where
`os.fork` does not exist (Windows) everything runs in the caller.
"""

from __future__ import annotations

import gc
import os
import pickle
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 4


def available_cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_workers() -> int:
    """How many processes may usefully run at once here (1 without fork)."""
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(available_cores(), MAX_WORKERS))


def split(items: Sequence[T], weights: Sequence[int], parts: int) -> list[list[T]]:
    """`items` cut into at most `parts` runs of consecutive items of about equal weight
    (consecutive, so that functions of one block stay in one process and parse it once)."""
    total = sum(weights)
    if parts <= 1 or len(items) <= 1 or total <= 0:
        return [list(items)]
    chunks: list[list[T]] = [[]]
    done = 0
    for item, weight in zip(items, weights, strict=True):
        boundary = total * len(chunks) / parts
        if chunks[-1] and done >= boundary and len(chunks) < parts:
            chunks.append([])
        chunks[-1].append(item)
        done += weight
    return chunks


def run(chunks: Sequence[T], work: Callable[[T], R]) -> list[R]:
    """`[work(chunk) for chunk in chunks]`, the chunks after the first in forked children."""
    if len(chunks) <= 1 or not hasattr(os, "fork"):
        return [work(chunk) for chunk in chunks]
    children: list[tuple[int, int] | None] = []
    for chunk in chunks[1:]:
        children.append(_start(chunk, work))
    results = [work(chunks[0])]
    for chunk, child in zip(chunks[1:], children, strict=True):
        received = _collect(child)
        results.append(work(chunk) if received is None else received[0])
    return results


def _start(chunk: T, work: Callable[[T], R]) -> tuple[int, int] | None:
    """Fork a child that runs `work(chunk)` and writes the pickled result; (pid, read end)."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks (a language server has some);
        # the child below only computes and writes to its pipe, so no other thread's lock
        # (logging, I/O) is ever taken in it.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_end)
            gc.disable()  # a short life: collecting would only touch (and copy) shared pages
            data = pickle.dumps((work(chunk),), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
            status = 0
        except BaseException:  # anything: the parent redoes the chunk
            pass
        finally:
            os._exit(status)  # no atexit handlers, no flushing of buffers shared with the parent
    os.close(write_end)
    return pid, read_end


def _collect(child: tuple[int, int] | None) -> tuple[Any, ...] | None:
    """The child's result as a 1-tuple, or None if it failed."""
    if child is None:
        return None
    pid, read_end = child
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    except OSError:
        data = b""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        status = 1
    if status != 0 or not data:
        return None
    try:
        received = pickle.loads(data)
    except Exception:  # a truncated pipe: redo the chunk
        return None
    return received if isinstance(received, tuple) and len(received) == 1 else None
