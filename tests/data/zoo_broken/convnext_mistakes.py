"""timm-style ConvNeXt pieces, each with a mistake people make when they first script a model."""

from typing import List

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class ChannelsLastNorm(nn.Module):
    """Tries the fused channels-last kernel and falls back when it is missing."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        except RuntimeError:
            return F.group_norm(x, 1)


class FlattenHead(nn.Module):
    def __init__(self, in_features: int = 32, num_classes: int = 10) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], int(np.prod(x.shape[1:])))
        return self.fc(x)


class FeatureShapes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleList([nn.Conv2d(3, 8, 3, stride=2), nn.Conv2d(8, 8, 3, stride=2)])

    def forward(self, x: torch.Tensor) -> List[int]:
        widths = []
        for stage in self.stages:
            x = stage(x)
            widths.append(x.shape[-1])
        return widths


class OptionalHead(nn.Module):
    def __init__(self, dim: int = 8, num_classes: int = 0) -> None:
        super().__init__()
        self.use_head = num_classes > 0
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(dim, max(num_classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x).flatten(1)
        if self.use_head:
            out = self.fc(x)
        return out


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class StemWithOptions(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, stride=4)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.conv(x)
