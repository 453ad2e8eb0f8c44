"""torchvision-style detection pieces, each with a mistake people make when they first script
a detector."""

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor


class TargetCheck(nn.Module):
    def forward(
        self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
    ) -> List[Tensor]:
        if self.training:
            for target in targets:
                torch._assert(target["boxes"].shape[-1] == 4, "boxes must be [N, 4]")
        return images


class MaskHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.with_masks = False

    def forward(self, boxes: Tensor, scores: Tensor) -> Dict[str, Tensor]:
        return {"boxes": boxes, "scores": scores, "masks": None}


class ScoreFilter(nn.Module):
    def forward(self, scores: Tensor) -> List[int]:
        keep = (scores > 0.5).nonzero().flatten()
        return list(keep.numpy())


class IoUCheck(nn.Module):
    def forward(self, iou: Tensor) -> Tensor:
        torch._assert(bool(iou.max() <= 1.0), f"IoU above one: {float(iou.max()):.3f}")
        return iou


class MultiLevelHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head_p3 = nn.Conv2d(8, 4, 1)
        self.head_p4 = nn.Conv2d(8, 4, 1)

    def forward(self, features: Dict[str, Tensor]) -> List[Tensor]:
        out: List[Tensor] = []
        for name in ["p3", "p4"]:
            out.append(getattr(self, "head_" + name)(features[name]))
        return out


class ImageSizes(nn.Module):
    def forward(self, images: List[Tensor]) -> List[Tuple[int, int]]:
        sizes: List[Tuple[int, int]] = []
        for img in images:
            sizes.append(img.shape[-2:])
        return sizes


class SortByArea(nn.Module):
    def forward(self, boxes: List[Tensor]) -> List[Tensor]:
        return sorted(boxes, key=lambda b: float((b[2] - b[0]) * (b[3] - b[1])))
