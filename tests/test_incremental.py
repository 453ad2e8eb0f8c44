"""Re-analysis after edits: no leak of old runs' state, and the incremental cache gives exactly
what a fresh check gives."""

from __future__ import annotations

import gc
from pathlib import Path

from tscheck.engine import check_source
from tscheck.reach import Project

DATA = Path(__file__).parent / "data"


def _live_projects() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Project))


def test_repeated_checks_of_edited_text_keep_no_old_project_alive() -> None:
    texts = [
        (DATA / "models" / "resnet.py").read_text(),
        (DATA / "broken" / "attention.py").read_text(),
    ]
    for text in texts:  # warm every cache first
        check_source("warm.py", text)
    before = _live_projects()
    for i in range(12):
        for n, text in enumerate(texts):
            check_source(f"edited{n}.py", f"{text}\n# edit {i}\n")
    assert _live_projects() <= before
