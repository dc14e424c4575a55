"""Classifier heads over a token model's last hidden states, besides each family's published one.

``PositionReadout`` (``pooling: flatten``) reads every nucleotide position, or (``pooling: chunks``)
the mean of each 15-bp window from position 0 (``CHUNK_BP``: the grid on which GUE built its
prom_300 negatives, so that each window is one whole chunk, kept or replaced); ``MeanReadout``
(``pooling: mean``) reads the mean over tokens. All take ``(hidden (B, T, D), inputs)``.

A [CLS] head sees one pooled vector, so *where* a motif sits reaches it only through position
embeddings the encoder must learn to route; from scratch on a CPU budget the transformers did not
get there on the synthetic grammar, where motif positions decide the label (docs/models.md). This
head gives every position its own weights, as the CNN baseline's dense layer does: each nucleotide
takes the last hidden state of the token covering it (so 6-mer, BPE and single-base tokenizations
line up on the same L positions), each is projected to a few features, and the flattened
(L * features) map goes through a small MLP.

The token covering each base is computed from the token ids alone, with the tokenizer's
``token_advance`` table (how many bases each token id moves the sequence on), so the head needs no
extra model input and every explainer, which sees the model through ``encode`` and the
differentiable path, works unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

CHUNK_BP = 15
POSITION_WISE = ("flatten", "chunks")  # the poolings that read every position of one input length


def check_pooling(pooling: str, seq_len: int | None, allowed: tuple[str, ...]) -> None:
    """Refuse an unknown pooling, and ``flatten`` or ``chunks`` without the one input length it reads."""
    if pooling not in allowed:
        raise ValueError(f"pooling must be one of {allowed}, got {pooling!r}")
    if pooling in POSITION_WISE and seq_len is None:
        raise ValueError(f"pooling={pooling} reads every position, so it needs one input length (data.seq_len)")


def covering_token(input_ids: torch.Tensor, advance: torch.Tensor, length: int) -> torch.Tensor:
    """Index (B, L) of the token whose bases start at or cover each of ``length`` positions.

    input_ids (B, T); advance (V,) bases each token id moves on (0: special and padding tokens).
    Overlapping k-mers advance 1 each, so base p reads the k-mer starting at p; positions past the
    last token that advances (the last k-1 bases of an overlapping k-mer sequence) read that token.
    """
    steps = advance[input_ids]  # (B, T)
    ends = steps.cumsum(dim=1)
    positions = torch.arange(length, device=input_ids.device).expand(input_ids.shape[0], -1).contiguous()
    index = torch.searchsorted(ends, positions, right=True)
    token = torch.arange(input_ids.shape[1], device=input_ids.device)
    last = torch.where(steps > 0, token, -1).amax(dim=1, keepdim=True).clamp_min(0)
    return index.minimum(last)


class PositionReadout(nn.Module):
    """Logits (B, 2) from last hidden states (B, T, D) read at every one of ``seq_len`` bases.

    advance: the tokenizer's ``token_advance()`` (V,); features: per-position projection width;
    width: hidden units of the MLP over the flattened positions; window: bases averaged into one
    position of the flattened map (1: every base; the last window may be shorter).
    """

    def __init__(self, hidden_size: int, seq_len: int, advance: torch.Tensor, num_classes: int = 2,
                 features: int = 16, width: int = 64, dropout: float = 0.1, window: int = 1):
        super().__init__()
        self.seq_len, self.window = seq_len, window
        self.register_buffer("advance", torch.as_tensor(advance, dtype=torch.long), persistent=False)
        self.project = nn.Linear(hidden_size, features)
        self.dense = nn.Linear(-(-seq_len // window) * features, width)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(width, num_classes)

    def forward(self, hidden: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        features = self.project(hidden)  # (B, T, F)
        index = covering_token(inputs["input_ids"], self.advance, self.seq_len)  # (B, L)
        per_base = features.gather(1, index.unsqueeze(-1).expand(-1, -1, features.shape[-1]))  # (B, L, F)
        if self.window > 1:  # (B, ceil(L / window), F)
            per_base = nn.functional.avg_pool1d(per_base.transpose(1, 2), self.window, ceil_mode=True).transpose(1, 2)
        x = self.dropout(per_base.flatten(1))
        return self.out_proj(self.dropout(nn.functional.gelu(self.dense(x))))


class MeanReadout(nn.Module):
    """Logits (B, 2) from the mean of the real tokens' last hidden states (B, T, D): the bag of
    tokens, each in its context, which is what separates classes with little position signal
    and few training sequences. Dense + tanh + linear, as ESM's head."""

    def __init__(self, hidden_size: int, num_classes: int = 2, dropout: float = 0.1):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden_size, num_classes)

    def forward(self, hidden: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        weights = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.out_proj(self.dropout(torch.tanh(self.dense(self.dropout(pooled)))))


def build_readout(pooling: str, hidden_size: int, seq_len: int | None, tokenizer, num_classes: int = 2
                  ) -> nn.Module | None:
    """The head of ``pooling``: None for ``cls`` (the family's published head)."""
    if pooling in POSITION_WISE:
        window = CHUNK_BP if pooling == "chunks" else 1
        return PositionReadout(hidden_size, seq_len, tokenizer.token_advance(), num_classes, window=window)
    if pooling == "mean":
        return MeanReadout(hidden_size, num_classes)
    return None
