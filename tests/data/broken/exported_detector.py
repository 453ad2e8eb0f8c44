"""A detector head shipped to C++: scripted and saved by `export()` at the bottom."""

from typing import Dict, List

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor


class Head(nn.Module):
    def __init__(self, channels: int = 16, num_classes: int = 3) -> None:
        super().__init__()
        self.cls = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.box = nn.Conv2d(channels, 4, 3, padding=1)

    @torch.jit.ignore
    def _normalize(self, logits: Tensor) -> Tensor:
        return logits.sigmoid()

    def forward(self, features: Tensor) -> Dict[str, Tensor]:
        return {"scores": self._normalize(self.cls(features)), "boxes": self.box(features).relu()}


class BoxHead(nn.Module):
    def __init__(self, channels: int = 16, num_classes: int = 3) -> None:
        super().__init__()
        self.cls = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.box = nn.Conv2d(channels, 4, 3, padding=1)

    def forward(self, features: Tensor) -> Dict[str, Tensor]:
        return {"scores": self.cls(features).sigmoid(), "boxes": self.box(features).relu()}

    def postprocess(self, out: Dict[str, Tensor], threshold: float) -> List[Tensor]:
        keep = out["scores"].amax(dim=1) > threshold
        return [out["boxes"][i].permute(1, 2, 0)[keep[i]] for i in range(keep.size(0))]


class StatsHead(nn.Module):
    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)
        self.record = False

    def _histogram(self, x: Tensor) -> Tensor:
        counts, _ = np.histogram(x.detach().cpu().numpy(), bins=10)
        return torch.from_numpy(counts)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.record:
            self._histogram(y)
        return y


def export(path: str) -> None:
    torch.jit.save(torch.jit.script(Head()), path)
    boxes = torch.jit.script(BoxHead())
    out = boxes(torch.randn(1, 16, 8, 8))
    print(boxes.postprocess(out, 0.5))
