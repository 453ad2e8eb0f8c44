"""A BiLSTM-CRF sequence tagger with a character-level GRU, as shipped for C++ inference.

Viterbi decoding is an exported method; decoded spans are a TorchScript class.
"""

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


@torch.jit.script
class Span:
    """A labelled [start, end) span of tokens."""

    def __init__(self, start: int, end: int, label: int, score: float) -> None:
        self.start = start
        self.end = end
        self.label = label
        self.score = score

    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: "Span") -> bool:
        return self.start < other.end and other.start < self.end


class CharEncoder(nn.Module):
    """Embeds each word from its characters with a GRU; the last hidden state is the word vector."""

    def __init__(self, num_chars: int, char_dim: int = 16, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.gru = nn.GRU(char_dim, hidden, batch_first=True, bidirectional=True)
        self.out_dim = 2 * hidden

    def forward(self, chars: Tensor) -> Tensor:
        # chars: (batch, words, chars_per_word)
        b, w, c = chars.shape
        x = self.embed(chars.reshape(b * w, c))
        _, h = self.gru(x)
        # h: (2, batch*words, hidden) -> (batch, words, 2*hidden)
        return h.transpose(0, 1).reshape(b, w, self.out_dim)


class BiLSTMTagger(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        num_chars: int = 0,
        embed_dim: int = 64,
        hidden_dim: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.word_embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.use_chars = num_chars > 0
        if self.use_chars:
            self.char_encoder: Optional[CharEncoder] = CharEncoder(num_chars)
            lstm_in = embed_dim + 64
        else:
            self.char_encoder = None
            lstm_in = embed_dim
        self.lstm = nn.LSTM(
            lstm_in,
            hidden_dim // 2,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.emissions = nn.Linear(hidden_dim, num_tags)
        # transitions[i, j]: score of moving from tag i to tag j
        self.transitions = nn.Parameter(torch.randn(num_tags, num_tags) * 0.01)
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))

    def _features(self, tokens: Tensor, lengths: Optional[Tensor], chars: Optional[Tensor]) -> Tensor:
        x = self.word_embed(tokens)
        char_encoder = self.char_encoder
        if char_encoder is not None and chars is not None:
            x = torch.cat([x, char_encoder(chars)], dim=-1)
        x = self.dropout(x)
        if lengths is not None:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, _ = self.lstm(packed)
            out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=tokens.size(1))
        else:
            out, _ = self.lstm(x)
        return self.emissions(self.dropout(out))

    def forward(
        self, tokens: Tensor, lengths: Optional[Tensor] = None, chars: Optional[Tensor] = None
    ) -> Tensor:
        """Emission scores, (batch, seq, num_tags)."""
        return self._features(tokens, lengths, chars)

    @torch.jit.export
    def decode(
        self, tokens: Tensor, lengths: Optional[Tensor] = None, chars: Optional[Tensor] = None
    ) -> List[List[int]]:
        """Best tag sequence per sentence (Viterbi)."""
        emissions = self._features(tokens, lengths, chars)
        batch, seq_len, _ = emissions.shape
        if lengths is None:
            lengths = torch.full((batch,), seq_len, dtype=torch.long)
        results: List[List[int]] = []
        for b in range(batch):
            n = int(lengths[b])
            score = self.start_transitions + emissions[b, 0]
            history: List[Tensor] = []
            for t in range(1, n):
                best, idx = torch.max(score.unsqueeze(1) + self.transitions, dim=0)
                score = best + emissions[b, t]
                history.append(idx)
            score = score + self.end_transitions
            best_last = int(torch.argmax(score))
            path = [best_last]
            for idx in history[::-1]:
                best_last = int(idx[best_last])
                path.append(best_last)
            path.reverse()
            results.append(path)
        return results

    @torch.jit.export
    def spans(self, tags: List[int], outside: int = 0) -> List[Span]:
        """Group consecutive equal non-`outside` tags into spans."""
        out: List[Span] = []
        start = -1
        current = outside
        for i, tag in enumerate(tags):
            if tag != current:
                if current != outside:
                    out.append(Span(start, i, current, 1.0))
                start = i
                current = tag
        if current != outside:
            out.append(Span(start, len(tags), current, 1.0))
        return out

    @torch.jit.ignore
    def tag_names(self, ids: List[int], vocab: Dict[int, str]) -> List[str]:
        """Eager-only pretty printing; stays Python (never reached from compiled code)."""
        return [vocab.get(i, "<unk>") for i in ids]


def count_tags(paths: List[List[int]], num_tags: int) -> Tuple[List[int], int]:
    counts = [0] * num_tags
    total = 0
    for path in paths:
        for tag in path:
            counts[tag] += 1
            total += 1
    return counts, total
