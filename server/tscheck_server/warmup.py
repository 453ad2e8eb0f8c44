"""A first analysis of a small model at start-up, so the user's first file is not the one
that pays for libcst's parser start, the rules' dispatch tables and first-call caches
(about 15-60 ms of the first diagnostics after opening a file)."""

from __future__ import annotations

from tscheck.config import Config
from tscheck.engine import SourceFile, check

SAMPLE = """\
from typing import Dict, List, Optional

import torch
from torch import Tensor, nn


def scale(x: Tensor, factor: float = 2.0) -> Tensor:
    return x * factor


class Block(nn.Module):
    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.layers = nn.ModuleList([nn.ReLU() for _ in range(2)])
        self.norm: Optional[nn.Module] = None

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        out: List[Tensor] = []
        for layer in self.layers:
            x = layer(self.conv(x))
            out.append(x)
        if mask is not None:
            x = x.masked_fill(mask, 0.0)
        stats: Dict[str, float] = {"mean": float(x.mean())}
        y = [v * 2 for v in out]
        return scale(torch.stack(y).sum(0), stats["mean"]) if len(y) > 1 else x

    @torch.jit.export
    def describe(self) -> str:
        return f"Block {self.conv.in_channels}"
"""


def warm_up() -> None:
    """Analyse SAMPLE once; any failure is harmless (the real analysis reports its own)."""
    try:
        check([SourceFile("tscheck_warmup.py", "tscheck_warmup", SAMPLE)], Config())
    except Exception:  # a warm-up must never stop the server from starting
        pass
