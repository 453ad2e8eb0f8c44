"""A UNet decoder that upsamples through the encoder's skip connections."""

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

ALIGN_CORNERS = False


class Decoder(nn.Module):
    def __init__(self, channels: List[int] = [64, 32, 16]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(channels[i] + channels[i + 1], channels[i + 1], 3, padding=1) for i in range(len(channels) - 1)]
        )

    def forward(self, x: Tensor, skips: List[Tensor]) -> Tensor:
        i = 0
        for conv in self.convs:
            skip = skips[len(skips) - 1 - i]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=ALIGN_CORNERS)
            x = conv(torch.cat([x, skip], dim=1))
            i += 1
        return x


class SkipMerge(nn.Module):
    def forward(self, x: Tensor, skips: List[Tensor]) -> Tensor:
        for skip in reversed(skips):
            x = F.interpolate(x, size=skip.shape[-2:]) + skip
        return x


class ShapeCheck(nn.Module):
    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        torch._assert(x.shape[1] == skip.shape[1], f"channel mismatch: {x.shape!r} vs {skip.shape!r}")
        return torch.cat([x, skip], dim=1)
