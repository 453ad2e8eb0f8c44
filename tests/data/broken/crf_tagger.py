"""A CRF tagging head with Viterbi decoding, ported from a research notebook."""

from typing import List

import torch
import torch.nn as nn
from torch import Tensor


class CRF(nn.Module):
    START_TAG = 0

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.randn(num_tags, num_tags))

    def forward(self, emissions: Tensor) -> Tensor:
        score = self.transitions[self.START_TAG] + emissions[0]
        for t in range(1, emissions.size(0)):
            score = torch.logsumexp(score.unsqueeze(1) + self.transitions, dim=0) + emissions[t]
        return torch.logsumexp(score, dim=0)


class Viterbi(nn.Module):
    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.randn(num_tags, num_tags))

    def _backtrack(self, history: List[Tensor], t: int, tag: int) -> List[int]:
        if t < 0:
            return []
        prev = int(history[t][tag])
        return self._backtrack(history, t - 1, prev) + [tag]

    def forward(self, emissions: Tensor) -> List[int]:
        score = emissions[0]
        history: List[Tensor] = []
        for t in range(1, emissions.size(0)):
            best, idx = torch.max(score.unsqueeze(1) + self.transitions, dim=0)
            score = best + emissions[t]
            history.append(idx)
        return self._backtrack(history, len(history) - 1, int(score.argmax()))


class TopK(nn.Module):
    def forward(self, scores: Tensor, k: int) -> List[int]:
        def better(i: int, j: int) -> bool:
            return bool(scores[i] > scores[j])

        picked: List[int] = []
        for i in range(scores.size(0)):
            if len(picked) < k or better(i, picked[-1]):
                picked.append(i)
        return picked[:k]
