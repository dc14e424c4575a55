"""Known-answer toy models for checking explanation methods: p(promoter) depends only on how
many bases of one motif sit at one fixed position, so a faithful attribution must put all its
weight there. Built on the ``Backbone`` contract like every model; the one-hot detector can be
saved in a checkpoint and explained like a trained model."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from glmxai.data.encoding import N_CODE, one_hot, to_codes
from glmxai.models.base import Backbone, Tokenizer
from glmxai.models.tokenizers import OneHotTokenizer

MOTIF, START, LENGTH = "TATAAA", 120, 300  # motif at positions 120..125 = window 20 of 6 bp


def _logits(logit: torch.Tensor) -> torch.Tensor:
    """(B,) promoter log-odds -> (B, 2) logits with softmax(.)[:, 1] = sigmoid(logit)."""
    return torch.stack([-logit / 2, logit / 2], dim=-1)


class MotifDetector(Backbone):
    """One-hot toy: logit = scale * (matching motif bases at ``start`` - (len(motif) - 1.5))."""

    def __init__(self, tokenizer: OneHotTokenizer, seq_len: int = LENGTH, start: int = START, motif: str = MOTIF):
        super().__init__(tokenizer)
        self.fixed_length, self.start, self.width = seq_len, start, len(motif)
        self.register_buffer("pwm", one_hot(motif)[0])
        self.scale = nn.Parameter(torch.tensor(4.0))

    def input_embeddings(self, inputs):
        return inputs["one_hot"]

    def forward_embeddings(self, embeddings, inputs):
        matches = (embeddings[:, :, self.start : self.start + self.width] * self.pwm).sum(dim=(1, 2))
        return _logits(self.scale * (matches - (self.width - 1.5)))


class TripletTokenizer(Tokenizer):
    """Non-overlapping 3-mers after a [CLS] token (id 0); k-mers with N share one id."""

    k = 3
    vocab_size = 4**3 + 2

    def _ids(self, codes: np.ndarray) -> torch.Tensor:
        triplets = codes.reshape(len(codes), -1, self.k).astype(np.int64)
        ids = triplets[..., 0] * 16 + triplets[..., 1] * 4 + triplets[..., 2] + 1
        ids[(triplets == N_CODE).any(-1)] = self.vocab_size - 1
        return torch.as_tensor(np.concatenate([np.zeros((len(codes), 1), dtype=np.int64), ids], axis=1))

    def encode(self, sequences):
        return {"input_ids": self._ids(to_codes(list(sequences)))}

    def token_spans(self, sequences):
        n_tokens = len(sequences[0]) // self.k
        starts = torch.arange(n_tokens) * self.k
        spans = torch.cat([torch.tensor([[-1, -1]]), torch.stack([starts, starts + self.k], dim=-1)])
        return spans.expand(len(sequences), -1, 2).clone()

    def token_id(self, kmer: str) -> int:
        return int(self._ids(to_codes([kmer]))[0, 1])


class TokenMotifDetector(Backbone):
    """Token toy: identity embeddings (B, T, vocab); logit = scale * (motif tokens present - 1.5)
    for the two 3-mers of the motif at ``start`` (a multiple of 3)."""

    def __init__(self, tokenizer: TripletTokenizer, start: int = START, motif: str = MOTIF):
        super().__init__(tokenizer)
        self.embedding = nn.Embedding(tokenizer.vocab_size, tokenizer.vocab_size)
        self.embedding.weight.data = torch.eye(tokenizer.vocab_size)
        self.token_positions = [1 + start // 3, 2 + start // 3]
        self.token_ids = [tokenizer.token_id(motif[:3]), tokenizer.token_id(motif[3:])]
        self.scale = nn.Parameter(torch.tensor(6.0))

    def input_embeddings(self, inputs):
        return self.embedding(inputs["input_ids"])

    def forward_embeddings(self, embeddings, inputs):
        present = sum(embeddings[:, t, i] for t, i in zip(self.token_positions, self.token_ids))
        return _logits(self.scale * (present - 1.5))
