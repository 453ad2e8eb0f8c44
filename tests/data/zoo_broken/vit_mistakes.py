"""timm-style ViT pieces, each with a mistake people make when they first script a model."""

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.jit import Final

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class PatchDropout(nn.Module):
    """Keeps a random subset of patch tokens while training (prefix tokens always kept)."""

    def __init__(self, prob: float = 0.5) -> None:
        super().__init__()
        self.prob = prob

    def forward(self, x: torch.Tensor, num_prefix_tokens=1) -> torch.Tensor:
        if not self.training or self.prob == 0.0:
            return x
        prefix, x = x[:, :num_prefix_tokens], x[:, num_prefix_tokens:]
        B, L = x.shape[0], x.shape[1]
        num_keep = max(1, int(L * (1.0 - self.prob)))
        keep = torch.argsort(torch.randn(B, L, device=x.device), dim=-1)[:, :num_keep]
        x = x.gather(1, keep.unsqueeze(-1).expand((-1, -1) + x.shape[2:]))
        return torch.cat([prefix, x], dim=1)


class RelPosAttention(nn.Module):
    """Attention with an optional learned relative position bias."""

    def __init__(self, dim: int, num_heads: int = 2, rel_pos: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_bias: Optional[torch.Tensor] = None
        if rel_pos:
            self.rel_pos_bias = nn.Parameter(torch.zeros(num_heads, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn + self.rel_pos_bias
        x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class MaskedPool(nn.Module):
    """Mean over tokens, ignoring padded ones."""

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)
        return x.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)


class ClassifierHead(nn.Module):
    global_pool: Final[str]

    def __init__(self, dim: int = 16, num_classes: int = 10, global_pool: str = "token") -> None:
        super().__init__()
        self.global_pool = global_pool
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor, pre_logits=False) -> torch.Tensor:
        x = x[:, 0] if self.global_pool == "token" else x.mean(dim=1)
        x = self.norm(x)
        return x if pre_logits else self.head(x)


class PlainBlocks(nn.Module):
    """Blocks kept in a Python list, so they are not even registered as submodules."""

    def __init__(self, dim: int = 16, depth: int = 2) -> None:
        super().__init__()
        self.blocks = [nn.TransformerEncoderLayer(dim, 2, dim * 2, batch_first=True) for _ in range(depth)]
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class QuickGELUMlp(nn.Module):
    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim * 4)
        self.act = lambda t: t * torch.sigmoid(1.702 * t)
        self.fc2 = nn.Linear(dim * 4, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Normalize(nn.Module):
    """Input normalization baked into the model, with the statistics as module globals."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std
