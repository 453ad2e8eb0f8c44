"""U-Net (Ronneberger et al., 2015) for segmentation: an encoder-decoder with skip connections.

Written in modern style: postponed annotations, builtin generics and `X | None`."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class DoubleConv(nn.Sequential):
    """(conv => BN => ReLU) * 2"""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None) -> None:
        if not mid_channels:
            mid_channels = out_channels
        super().__init__(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class Down(nn.Sequential):
    """Downscaling with maxpool then double conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))


class Up(nn.Module):
    """Upscaling then double conv; pads the upsampled map to the skip connection's size."""

    def __init__(self, in_channels: int, out_channels: int, bilinear: bool = True) -> None:
        super().__init__()
        # if bilinear, use the normal convolutions to reduce the number of channels
        if bilinear:
            self.up: nn.Module = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)
        else:
            self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
            self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        x1 = self.up(x1)
        # input is CHW
        diff_y = x2.size(2) - x1.size(2)
        diff_x = x2.size(3) - x1.size(3)
        x1 = F.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
        x = torch.cat([x2, x1], dim=1)
        return self.conv(x)


class OutConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_channels: int, n_classes: int, base: int = 64, depth: int = 4, bilinear: bool = False) -> None:
        super().__init__()
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.bilinear = bilinear
        factor = 2 if bilinear else 1

        self.inc = DoubleConv(n_channels, base)
        widths = [base * 2**i for i in range(depth + 1)]
        downs = []
        for i in range(depth):
            out = widths[i + 1] // factor if i == depth - 1 else widths[i + 1]
            downs.append(Down(widths[i], out))
        self.downs = nn.ModuleList(downs)
        ups = []
        for i in reversed(range(depth)):
            out = widths[i] if i == 0 else widths[i] // factor
            ups.append(Up(widths[i + 1], out, bilinear))
        self.ups = nn.ModuleList(ups)
        self.outc = OutConv(base, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.inc(x)
        skips: list[Tensor] = [x]
        for down in self.downs:
            x = down(x)
            skips.append(x)
        # the deepest map is x itself; walk the other skips from deep to shallow
        for i, up in enumerate(self.ups):
            x = up(x, skips[-(i + 2)])
        return self.outc(x)

    @torch.jit.export
    def predict_mask(self, x: Tensor, threshold: float = 0.5, out_size: tuple[int, int] | None = None) -> Tensor:
        logits = self.forward(x)
        if out_size is not None:
            logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
        if self.n_classes == 1:
            return (torch.sigmoid(logits) > threshold).to(torch.uint8)
        return logits.argmax(dim=1).to(torch.uint8)

    def freeze_encoder(self, freeze: bool = True) -> None:
        """Eager-only fine-tuning helper; nothing compiled calls it."""
        for module in [self.inc, *self.downs]:
            for p in module.parameters():
                p.requires_grad_(not freeze)
