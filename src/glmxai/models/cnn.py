"""CNN baseline over one-hot DNA: the fast reference model.

Convolutions find motifs; the flattened (not globally pooled) feature map keeps their
positions, so the head can learn position-dependent grammar such as "TATA at -30".
"""
from __future__ import annotations

import torch
from torch import nn

from glmxai.models.base import Backbone
from glmxai.models.tokenizers import OneHotTokenizer


class CNNBackbone(Backbone):
    """Conv blocks (conv, batch norm, ReLU, max-pool) -> flatten -> MLP head.

    seq_len: fixed input length L; channels/kernel_sizes/pool_sizes: one entry per block.
    Input one-hot (B, 4, L), output logits (B, 2).
    """

    def __init__(self, tokenizer: OneHotTokenizer, seq_len: int = 300, channels=(64, 64),
                 kernel_sizes=(15, 5), pool_sizes=(4, 4), hidden: int = 64, dropout: float = 0.2):
        super().__init__(tokenizer)
        if seq_len is None:
            raise ValueError("the CNN needs a fixed sequence length (set data.seq_len)")
        if not len(channels) == len(kernel_sizes) == len(pool_sizes):
            raise ValueError("channels, kernel_sizes and pool_sizes need one entry per block")
        self.fixed_length = seq_len
        blocks, in_ch, length = [], 4, seq_len
        for out_ch, k, pool in zip(channels, kernel_sizes, pool_sizes):
            blocks += [nn.Conv1d(in_ch, out_ch, k, padding=k // 2), nn.BatchNorm1d(out_ch), nn.ReLU(),
                       nn.MaxPool1d(pool)]
            in_ch, length = out_ch, length // pool
        self.convs = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(in_ch * length, hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, self.num_classes))

    def input_embeddings(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return inputs["one_hot"]

    def forward_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.convs(embeddings))
