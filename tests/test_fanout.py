"""Sharing one file's analysis among forked processes (tscheck.fanout): same results, in
order, and a failing child costs only time."""

from __future__ import annotations

import os
import random

import pytest
from test_incremental import _corpus, _edit, _same, generate_model

from tscheck import fanout
from tscheck.engine import FAN_OUT_MIN, SourceFile, check
from tscheck.incremental import AnalysisCache

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")


def test_split_keeps_order_and_balances_weight() -> None:
    items = list(range(10))
    chunks = fanout.split(items, [1] * 10, 2)
    assert chunks == [items[:5], items[5:]]
    heavy_first = fanout.split(items, [9, *[1] * 9], 2)
    assert [x for chunk in heavy_first for x in chunk] == items
    assert heavy_first[0] == [0]  # the heavy item alone is half the work
    assert fanout.split(items, [1] * 10, 1) == [items]
    assert fanout.split([7], [3], 4) == [[7]]
    assert len(fanout.split(items, [1] * 10, 4)) == 4


@needs_fork
def test_run_returns_results_in_order_from_other_processes() -> None:
    parent = os.getpid()
    results = fanout.run([[1, 2], [3], [4, 5]], lambda chunk: (sum(chunk), os.getpid()))
    assert [total for total, _ in results] == [3, 3, 9]
    assert results[0][1] == parent
    assert all(pid != parent for _, pid in results[1:])


@needs_fork
def test_a_child_that_dies_or_cannot_send_its_result_is_redone_in_the_caller() -> None:
    parent = os.getpid()

    def work(chunk: list[int]) -> object:
        if os.getpid() != parent and chunk == [2]:
            os._exit(3)  # killed mid-way
        if os.getpid() != parent and chunk == [3]:
            return lambda: None  # cannot be pickled
        return [x * 10 for x in chunk]

    assert fanout.run([[1], [2], [3]], work) == [[10], [20], [30]]


def _files_with_many_functions() -> list[tuple[str, str]]:
    return [*_corpus(), ("bench/big.py", generate_model(2000).text)]


@needs_fork
def test_fanned_out_checks_equal_single_process_checks() -> None:
    assert fanout.available_workers() >= 1
    big = 0
    for name, text in _files_with_many_functions():
        source = SourceFile(f"/work/{name}", "", text)
        one = check([source])
        many = check([source], workers=3)
        _same(many, one)
        big += len(one.compiled) >= FAN_OUT_MIN
    assert big >= 2  # the comparison really exercised the fan-out


@needs_fork
def test_fanned_out_incremental_checks_equal_fresh_checks_over_edits() -> None:
    rng = random.Random(7)
    cache = AnalysisCache()
    path = "/work/bench/model.py"
    original = text = generate_model(600).text
    for step in range(25):
        source = SourceFile(path, "", text)
        _same(check([source], cache=cache, workers=2), check([source]))
        text = original if step % 8 == 7 else _edit(rng, text)
    assert cache.reused_functions > 100
