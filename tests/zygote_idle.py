"""Test helper: waiting for the verifier's zygote to finish its idle work."""

from __future__ import annotations

import time
from typing import Any

from tscheck.verify.client import Zygote


def settle(zygote: Zygote, wait: float = 30.0) -> dict[str, Any]:
    """Wait until the zygote's idle work is done and the next job's child is forked; return
    its state (the ping answer)."""
    deadline = time.monotonic() + wait
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = zygote.request({"op": "ping"}, 10)
        if state.get("ahead") and not state.get("idle_pending"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"the zygote did not settle: {state}")
