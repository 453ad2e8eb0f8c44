"""An LSTM text classifier with max-pooling over time and a debug hook."""

import sys
from typing import List, Optional

import torch
import torch.nn as nn
from torch import Tensor


class Embedder(nn.Module):
    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.vocab_size = vocab_size

    def forward(self, tokens: Tensor) -> Tensor:
        try:
            return self.embed(tokens)
        except IndexError:
            raise ValueError(f"token id out of range for a vocabulary of {self.vocab_size}")


class MaxPool(nn.Module):
    def forward(self, outputs: List[Tensor]) -> Tensor:
        return torch.stack(list(map(lambda h: h.max(0)[0], outputs)))


class BagOfEmbeddings(nn.Module):
    """Baseline: max over time of (checked) word embeddings."""

    def __init__(self, vocab_size: int = 100, dim: int = 32, num_classes: int = 4) -> None:
        super().__init__()
        self.embedder = Embedder(vocab_size, dim)
        self.pool = MaxPool()
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.fc(self.pool(list(self.embedder(tokens).unbind(0))))


class LSTMClassifier(nn.Module):
    def __init__(self, vocab_size: int = 100, dim: int = 32, num_classes: int = 4, debug: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.fc = nn.Linear(dim, num_classes)
        self.debug = debug

    def _trace(self, name: str, x: Tensor) -> None:
        print(f"{name}: mean={float(x.mean())}", file=sys.stderr)

    def forward(self, tokens: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        x = self.embed(tokens)
        out, _ = self.lstm(x)
        if self.debug:
            self._trace("lstm", out)
        pooled = out.max(dim=1)[0]
        return self.fc(pooled)
