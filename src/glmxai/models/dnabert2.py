"""DNABERT-2 (Zhou et al. 2024), implemented natively: a post-LayerNorm BERT encoder with
ALiBi attention biases (no position embeddings) and gated-linear-unit feed-forward layers,
over a BPE vocabulary.

Module names equal the published ``zhihan1996/DNABERT-2-117M`` checkpoint's parameter names
(``bert.embeddings.word_embeddings``, ``bert.encoder.layer.{i}.attention.self.Wqkv``,
``...attention.output.{dense,LayerNorm}``, ``...mlp.{gated_layers,wo,layernorm}``,
``bert.pooler.dense``, ``classifier``), so its state dict loads without its remote code.
Configuration uses ``transformers.BertConfig`` (the published ``config.json`` is one).
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertSelfOutput

from glmxai.models.base import Backbone
from glmxai.models.pretrained import (
    SMALL_ENCODER,
    config_dict,
    init_like_bert,
    load_backbone_state,
    load_weights,
    read_config,
    resolve_folder,
    write_native,
)
from glmxai.models.readout import POSITION_WISE, build_readout, check_pooling
from glmxai.models.tokenizers import BPETokenizer

_COMMON = {"hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-12,
           "type_vocab_size": 2, "max_position_embeddings": 512}
SIZES = {
    "small": {**_COMMON, **SMALL_ENCODER},
    "117m": {**_COMMON, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072},
}


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes (Press et al. 2022): a geometric sequence, interleaved for non-powers of 2."""
    def power_of_2(n: int) -> list[float]:
        start = 2 ** (-8 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(n_heads).is_integer():
        return torch.tensor(power_of_2(n_heads))
    closest = 2 ** math.floor(math.log2(n_heads))
    return torch.tensor(power_of_2(closest) + power_of_2(2 * closest)[0::2][: n_heads - closest])


class Embeddings(nn.Module):
    """Word + token-type embeddings, LayerNorm, dropout (ALiBi: no position embeddings)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, word_embeddings: torch.Tensor) -> torch.Tensor:
        """(B, T, D) word embeddings -> (B, T, D) encoder input."""
        token_type = self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(word_embeddings + token_type))


class SelfAttention(nn.Module):
    """Multi-head attention with a packed ``Wqkv`` projection and an additive (ALiBi + padding) bias.

    The forward runs PyTorch's fused ``scaled_dot_product_attention``; only with
    ``output_attentions`` does it compute ``softmax(q k^T / sqrt(d_head) + bias)`` explicitly and
    return those probabilities too."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.n_heads = config.num_attention_heads
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, x: torch.Tensor, bias: torch.Tensor, output_attentions: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, D), bias (B, H, T, T) -> (B, T, D) and, with ``output_attentions``, the
        attention probabilities (B, H, T, T) (else None)."""
        b, t, d = x.shape
        q, k, v = self.Wqkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        dropout_p = self.dropout_p if self.training else 0.0
        if not output_attentions:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
            return out.transpose(1, 2).reshape(b, t, d), None
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.n_heads) + bias, dim=-1)
        out = F.dropout(probs, dropout_p) @ v
        return out.transpose(1, 2).reshape(b, t, d), probs


class Attention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = SelfAttention(config)
        self.output = BertSelfOutput(config)  # dense, dropout, LayerNorm(x + residual)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, output_attentions: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, probs = self.self(x, bias, output_attentions)
        return self.output(out, x), probs


class GatedMLP(nn.Module):
    """GLU feed-forward: ``wo(GELU(x W_gate) * (x W_lin))``, then post-LayerNorm with the residual."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = nn.GELU()
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gated, linear = self.gated_layers(x).split(self.intermediate_size, dim=-1)
        return self.layernorm(self.wo(self.dropout(self.act(gated) * linear)) + x)


class Layer(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = Attention(config)
        self.mlp = GatedMLP(config)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, output_attentions: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, probs = self.attention(x, bias, output_attentions)
        return self.mlp(x), probs


class Encoder(nn.Module):
    """Layers sharing one attention bias: -slope_h * |i - j| plus -inf on padding keys."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([Layer(config) for _ in range(config.num_hidden_layers)])
        self.register_buffer("slopes", alibi_slopes(config.num_attention_heads), persistent=False)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor, output_attentions: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x (B, T, D), attention_mask (B, T) 1 = token -> (B, T, D); with ``output_attentions``
        also every layer's attention probabilities (B, H, T, T), ALiBi and padding bias included."""
        pos = torch.arange(x.shape[1], device=x.device)
        alibi = -self.slopes[:, None, None] * (pos[None, :] - pos[:, None]).abs()  # (H, T, T)
        padding = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        padding = padding.masked_fill(attention_mask == 0, float("-inf"))[:, None, None, :]  # (B, 1, 1, T)
        bias = (alibi[None] + padding).to(x.dtype)
        attentions = []
        for layer in self.layer:
            x, probs = layer(x, bias, output_attentions)
            attentions.append(probs)
        return (x, tuple(attentions)) if output_attentions else x


class Pooler(nn.Module):
    """BERT pooler: dense + tanh on a pooled vector."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(pooled))


class DNABERT2Model(nn.Module):
    """The encoder stack under the published name ``bert`` (its pooler only where a head uses it)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)
        self.pooler = Pooler(config) if add_pooling_layer else None


# Head tensors: loaded where the folder has them in the shape the chosen pooling needs, else fresh.
_HEADS = ("bert.pooler.", "classifier.", "readout.")


class DNABERT2Backbone(Backbone):
    """DNABERT-2 classifier over ``BPETokenizer`` ids.

    size: ``small`` (2 layers, hidden 128) or ``117m`` (12 layers, hidden 768: the published
    model); config: ``BertConfig`` entries overriding the preset's; pooling: ``cls`` (the paper's
    fine-tuning: first token) or ``mean`` (over non-padding tokens), before the BERT pooler, or
    ``flatten`` (a ``PositionReadout`` over every one of ``seq_len`` bases, each reading the BPE
    token that covers it) or ``chunks`` (the same over the means of GUE's 15-bp chunks).
    Embeddings (B, T, D); logits (B, 2).
    """

    def __init__(self, tokenizer: BPETokenizer, size: str = "small", config: dict | None = None,
                 pooling: str = "cls", seq_len: int | None = None):
        super().__init__(tokenizer)
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
        config = {**SIZES[size], "vocab_size": tokenizer.vocab_size, "pad_token_id": tokenizer.pad_token_id,
                  **(config or {})}
        check_pooling(pooling, seq_len, ("cls", "mean", "flatten", "chunks"))
        self.config = BertConfig(**config)
        self.pooling, self.seq_len = pooling, seq_len
        position_wise = pooling in POSITION_WISE
        self.bert = DNABERT2Model(self.config, add_pooling_layer=not position_wise)
        if position_wise:
            self.readout = build_readout(pooling, self.config.hidden_size, seq_len, tokenizer, self.num_classes)
            self.fixed_length = seq_len
        else:
            self.dropout = nn.Dropout(self.config.hidden_dropout_prob)
            self.classifier = nn.Linear(self.config.hidden_size, self.num_classes)
        self.apply(functools.partial(init_like_bert, std=self.config.initializer_range))

    def input_embeddings(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.bert.embeddings.word_embeddings(inputs["input_ids"])

    def forward_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = inputs["attention_mask"]
        hidden = self.bert.encoder(self.bert.embeddings(embeddings), mask)
        if self.pooling in POSITION_WISE:
            return self.readout(hidden, inputs)
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return self.classifier(self.dropout(self.bert.pooler(pooled)))

    def attention_probabilities(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        embeddings = self.bert.embeddings(self.input_embeddings(inputs))
        return self.bert.encoder(embeddings, inputs["attention_mask"], output_attentions=True)[1]

    def architecture(self) -> dict:
        return {"config": config_dict(self.config), "pooling": self.pooling, "seq_len": self.seq_len}

    def save_pretrained(self, path: str | Path) -> None:
        write_native(self, path, config_dict(self.config))
        self.tokenizer.save(path)

    @classmethod
    def from_pretrained(cls, path: str | Path, trust_remote_code: bool = False, pooling: str = "cls",
                        seq_len: int | None = None) -> DNABERT2Backbone:
        """Config, ``tokenizer.json`` and weights of a DNABERT-2 folder or hub id, natively.

        The published checkpoint's own code (``auto_map``) is never run, so ``trust_remote_code``
        is not needed. Its MLM head (``cls.*``) is dropped; the pooler and the classification head
        start fresh unless the folder holds them in the shapes this ``pooling`` needs. Every
        encoder tensor must be found."""
        folder = resolve_folder(path)
        config = {k: v for k, v in read_config(folder).items() if k not in ("auto_map", "architectures")}
        model = cls(BPETokenizer.from_file(folder), config=config, pooling=pooling, seq_len=seq_len)
        own = model.state_dict()
        state = {k: v for k, v in load_weights(folder).items()
                 if not k.startswith("cls.") and not k.endswith("alibi")
                 and (not k.startswith(_HEADS) or (k in own and own[k].shape == v.shape))}
        return load_backbone_state(model, state, _HEADS, folder, "DNABERT-2")
