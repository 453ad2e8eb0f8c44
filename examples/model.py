"""A tiny image classifier with five TorchScript mistakes: run `tscheck examples/`.

Each finding names the chain that makes its code compiled, e.g.
`TinyNet -> TinyNet.forward -> TinyNet.postprocess -> utils.scale_logits`.
"""

from typing import List

import torch
import torch.nn as nn
from torch import Tensor

from utils import pad_to_multiple, scale_logits


class ConvBlock(nn.Module):
    pool = 2

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        return nn.functional.max_pool2d(y, self.pool)


class TinyNet(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.blocks = nn.Sequential(ConvBlock(3, width), ConvBlock(width, width * 2))
        self.head = nn.Linear(width * 2, num_classes)
        self.temperature = 1.0
        self.labels = [f"class_{i}" for i in range(num_classes)]

    def forward(self, x: Tensor) -> Tensor:
        torch._assert(x.shape[1] == 3, f"expected an RGB image, got {x.shape[1]:d} channels")
        x = pad_to_multiple(x, 4)
        x = self.blocks(x).mean(dim=(2, 3))
        return self.postprocess(self.head(x))

    def postprocess(self, logits: Tensor) -> Tensor:
        logits = scale_logits(logits, self.temperature)
        stable = lambda t: t - t.max(dim=1, keepdim=True)[0]
        return torch.log_softmax(stable(logits), dim=1)

    def top_labels(self, x: Tensor, k: int = 3) -> List[str]:
        scores = self.forward(x)[0]
        indices: List[int] = scores.topk(k).indices.tolist()
        return [self.labels[i] for i in indices]


if __name__ == "__main__":
    print(TinyNet().top_labels(torch.rand(1, 3, 32, 32)))  # eager: works
    scripted = torch.jit.script(TinyNet())  # fails: run `tscheck examples/` to see why
    print(scripted.top_labels(torch.rand(1, 3, 32, 32)))
