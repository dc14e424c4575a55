"""Nucleotide Transformer v2 (Dalla-Torre et al. 2024), implemented natively: the ESM variant of
the ``InstaDeepAI/nucleotide-transformer-v2-*-multi-species`` checkpoints, over non-overlapping
6-mers.

Each layer is pre-LayerNorm: ``x + Wo Attn(LN(x))``, then ``+ W2 (silu(a) * b)`` with
``[a, b] = W1 LN(.)`` (SwiGLU; the gate ``a`` is the *first* half of ``intermediate.dense``'s
output; no feed-forward biases when ``add_bias_fnn`` is false); a final ``emb_layer_norm_after``.
Queries are scaled by ``head_dim ** -0.5``, then queries and keys are rotated by rotary position
embeddings (base 10000, halves rotated, positions 0..T-1); there are no absolute position
embeddings. Before the first layer the token embeddings get ESM's token-dropout scaling (only
when ``token_dropout`` is true: false for the v2 checkpoints) and are zeroed at padding.
Logits come from ESM's classification head on the ``<cls>`` token: dropout, ``dense``, tanh,
dropout, ``out_proj``.

Module names equal the published parameter names, so a published state dict loads without its
remote code (which no longer imports with transformers 5):

=========================================================  ==========================================
published name                                             here
=========================================================  ==========================================
``esm.embeddings.word_embeddings``                         same
``esm.encoder.layer.{i}.attention.self.{query,key,value}``  same
``esm.encoder.layer.{i}.attention.output.dense``           same
``esm.encoder.layer.{i}.attention.LayerNorm``              same (pre-attention LayerNorm)
``esm.encoder.layer.{i}.intermediate.dense`` (no bias)     same (hidden -> 2 * intermediate_size)
``esm.encoder.layer.{i}.output.dense`` (no bias)           same
``esm.encoder.layer.{i}.LayerNorm``                        same (pre-feed-forward LayerNorm)
``esm.encoder.emb_layer_norm_after``                       same
``classifier.{dense,out_proj}`` (sequence classification)  same if the shapes fit, else fresh
``...attention.self.rotary_embeddings.inv_freq`` (buffer)  checked against the computed one, dropped
``esm.embeddings.position_embeddings`` (unused: rotary)    dropped
``esm.contact_head.*``, ``lm_head.*`` (MLM head)           dropped
=========================================================  ==========================================

Configuration keys are those of the published ``config.json`` (``hidden_size``,
``num_hidden_layers``, ``num_attention_heads``, ``intermediate_size``, ``add_bias_fnn``,
``layer_norm_eps``, ``position_embedding_type`` (must be ``rotary``), ...); ``auto_map`` is ignored.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from glmxai.models.base import Backbone
from glmxai.models.pretrained import (
    SMALL_ENCODER,
    init_like_bert,
    load_weights,
    read_config,
    resolve_folder,
    write_native,
)
from glmxai.models.readout import POSITION_WISE, build_readout, check_pooling
from glmxai.models.tokenizers import NTKmerTokenizer

# The published config.json values every size shares (InstaDeepAI/nucleotide-transformer-v2-*).
_COMMON = {"vocab_size": 4107, "pad_token_id": 1, "mask_token_id": 2, "position_embedding_type": "rotary",
           "max_position_embeddings": 2050, "add_bias_fnn": False, "emb_layer_norm_before": False,
           "token_dropout": False, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
           "layer_norm_eps": 1e-12, "initializer_range": 0.02}
SIZES = {
    "small": {**_COMMON, **SMALL_ENCODER},
    "50m": {**_COMMON, "hidden_size": 512, "num_hidden_layers": 12, "num_attention_heads": 16,
            "intermediate_size": 2048},
    "100m": {**_COMMON, "hidden_size": 512, "num_hidden_layers": 22, "num_attention_heads": 16,
             "intermediate_size": 2048},
    "250m": {**_COMMON, "hidden_size": 768, "num_hidden_layers": 24, "num_attention_heads": 16,
             "intermediate_size": 3072},
    "500m": {**_COMMON, "hidden_size": 1024, "num_hidden_layers": 29, "num_attention_heads": 16,
             "intermediate_size": 4096},
}
# What the published code (esm_config.py) assumes for a key its config.json leaves out.
PUBLISHED_DEFAULTS = {"position_embedding_type": "absolute", "add_bias_fnn": True, "emb_layer_norm_before": False,
                      "token_dropout": False, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
                      "layer_norm_eps": 1e-12, "initializer_range": 0.02, "max_position_embeddings": 1026,
                      "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                      "intermediate_size": 3072}
ROTARY_BASE = 10000.0
MASK_RATIO_TRAIN = 0.15 * 0.8  # ESM's token dropout: the masked fraction seen in pre-training
# Published tensors this classifier does not use.
_DROPPED_PREFIXES = ("lm_head.", "esm.contact_head.", "esm.embeddings.position_embeddings.",
                     "esm.embeddings.position_ids")


def native_config(published: dict[str, Any]) -> dict[str, Any]:
    """The entries of a published ``config.json`` this module uses (``auto_map`` and the rest
    ignored), with the published code's defaults for those it leaves out (vocabulary, padding and
    mask ids then come from ``vocab.txt``)."""
    config = {k: published[k] for k in SIZES["small"] if published.get(k) is not None}
    return {**PUBLISHED_DEFAULTS, **config}


def rotary_inv_freq(head_dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Inverse frequencies of rotary embeddings, 1 / base^(2i / d), i < d / 2 (float32)."""
    return 1.0 / (ROTARY_BASE ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of x (..., T, d): ``x cos + rotate_half(x) sin``, rotate_half(x) = [-x2, x1]."""
    x1, x2 = x.float().chunk(2, dim=-1)
    return (x.float() * cos + torch.cat((-x2, x1), dim=-1) * sin).to(x.dtype)


class Embeddings(nn.Module):
    """Word embeddings; then token-dropout scaling, optional LayerNorm, zeros at padding."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"], padding_idx=cfg["pad_token_id"])
        self.layer_norm = (nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
                           if cfg["emb_layer_norm_before"] else None)
        self.token_dropout = cfg["token_dropout"]
        self.mask_token_id = cfg["mask_token_id"]

    def forward(self, embeddings: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
                ) -> torch.Tensor:
        """(B, T, D) word embeddings -> (B, T, D) encoder input."""
        if self.token_dropout:
            masked = (input_ids == self.mask_token_id).unsqueeze(-1)
            embeddings = embeddings.masked_fill(masked, 0.0)
            observed = masked.squeeze(-1).sum(-1).float() / attention_mask.sum(-1)
            embeddings = (embeddings * (1 - MASK_RATIO_TRAIN) / (1 - observed)[:, None, None]).to(embeddings.dtype)
        if self.layer_norm is not None:
            embeddings = self.layer_norm(embeddings)
        return embeddings * attention_mask.unsqueeze(-1).to(embeddings.dtype)


class SelfAttention(nn.Module):
    """Multi-head attention, query scaled before the rotary embedding of queries and keys.

    The forward runs PyTorch's fused ``scaled_dot_product_attention``; only with
    ``output_attentions`` does it compute the softmax explicitly and return the probabilities."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        d = cfg["hidden_size"]
        if d % cfg["num_attention_heads"]:
            raise ValueError(f"hidden_size {d} is not a multiple of num_attention_heads {cfg['num_attention_heads']}")
        self.n_heads = cfg["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.dropout_p = cfg["attention_probs_dropout_prob"]

    def forward(self, x: torch.Tensor, keep: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, T, D), keep (B, 1, 1, T) bool (True = attend), cos/sin (T, d) -> (B, T, D) and,
        with ``output_attentions``, the attention probabilities (B, H, T, T) (else None)."""
        b, t, d = x.shape
        q, k, v = (proj(x).view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2)
                   for proj in (self.query, self.key, self.value))
        q = q * (d // self.n_heads) ** -0.5
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        dropout_p = self.dropout_p if self.training else 0.0
        if not output_attentions:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=1.0, dropout_p=dropout_p)
            return out.transpose(1, 2).reshape(b, t, d), None
        probs = torch.softmax((q @ k.transpose(-1, -2)).masked_fill(~keep, float("-inf")), dim=-1)
        out = F.dropout(probs, dropout_p) @ v
        return out.transpose(1, 2).reshape(b, t, d), probs


class DenseResidual(nn.Module):
    """``residual + dropout(dense(x))``: the output projection of the attention block
    (``attention.output``) and of the feed-forward (``output``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, dropout: float):
        super().__init__()
        self.dense = nn.Linear(in_features, out_features, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(x)) + residual


class Attention(nn.Module):
    """Pre-LayerNorm attention block: ``x + output.dense(self(LayerNorm(x)))``."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.self = SelfAttention(cfg)
        self.output = DenseResidual(cfg["hidden_size"], cfg["hidden_size"], True, cfg["hidden_dropout_prob"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])

    def forward(self, x: torch.Tensor, keep: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        out, probs = self.self(self.LayerNorm(x), keep, cos, sin, output_attentions)
        return self.output(out, x), probs


class Intermediate(nn.Module):
    """SwiGLU: ``silu(a) * b`` where ``[a, b] = dense(x)``, a = first half (the gate)."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], 2 * cfg["intermediate_size"], bias=cfg["add_bias_fnn"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.dense(x).chunk(2, dim=-1)
        return F.silu(gate) * value


class Layer(nn.Module):
    """Attention block, then ``x + output(intermediate(LayerNorm(x)))``."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseResidual(cfg["intermediate_size"], cfg["hidden_size"], cfg["add_bias_fnn"],
                                    cfg["hidden_dropout_prob"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])

    def forward(self, x: torch.Tensor, keep: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                output_attentions: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, probs = self.attention(x, keep, cos, sin, output_attentions)
        return self.output(self.intermediate(self.LayerNorm(x)), x), probs


class Encoder(nn.Module):
    """The layers (one rotary table shared by all, computed in float32 whatever the model's dtype)
    and the final ``emb_layer_norm_after``."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg["num_hidden_layers"])])
        self.emb_layer_norm_after = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor, output_attentions: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """x (B, T, D), attention_mask (B, T) 1 = token -> (B, T, D); with ``output_attentions``
        also every layer's attention probabilities (B, H, T, T)."""
        positions = torch.arange(x.shape[1], device=x.device, dtype=torch.float32)
        freqs = torch.outer(positions, rotary_inv_freq(self.head_dim, x.device))
        angles = torch.cat((freqs, freqs), dim=-1)  # (T, head_dim)
        cos, sin = angles.cos(), angles.sin()
        keep = attention_mask.bool()[:, None, None, :]
        attentions = []
        for layer in self.layer:
            x, probs = layer(x, keep, cos, sin, output_attentions)
            attentions.append(probs)
        x = self.emb_layer_norm_after(x)
        return (x, tuple(attentions)) if output_attentions else x


class NT2Model(nn.Module):
    """The encoder stack under the published name ``esm``."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)


class ClassificationHead(nn.Module):
    """ESM's sequence-classification head on the first (``<cls>``) token."""

    def __init__(self, cfg: dict[str, Any], num_classes: int):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden_size"], cfg["hidden_size"])
        self.dropout = nn.Dropout(cfg["hidden_dropout_prob"])
        self.out_proj = nn.Linear(cfg["hidden_size"], num_classes)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])
        return self.out_proj(self.dropout(torch.tanh(self.dense(x))))


class NT2Backbone(Backbone):
    """Nucleotide Transformer v2 classifier over ``NTKmerTokenizer`` ids.

    size: ``small`` (2 layers, hidden 128, 4 heads; CPU-friendly) or a published size ``50m``,
    ``100m``, ``250m``, ``500m``; config: entries with the published ``config.json`` keys
    overriding the preset's; pooling: ``cls`` (ESM's head on the first token), ``mean``, ``flatten``
    or ``chunks`` (the heads of ``glmxai.models.readout``). Embeddings (B, T, D); logits (B, 2).
    """

    def __init__(self, tokenizer: NTKmerTokenizer, size: str = "small", config: dict | None = None,
                 pooling: str = "cls", seq_len: int | None = None):
        super().__init__(tokenizer)
        check_pooling(pooling, seq_len, ("cls", "mean", "flatten", "chunks"))
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
        cfg = {**SIZES[size], "vocab_size": tokenizer.vocab_size, "pad_token_id": tokenizer.pad_token_id,
               "mask_token_id": tokenizer.token_to_id.get("<mask>", SIZES[size]["mask_token_id"]),
               **(config or {})}
        if cfg["position_embedding_type"] != "rotary":
            raise ValueError(f"position_embedding_type {cfg['position_embedding_type']!r}: NT v2 uses rotary "
                             "embeddings (the absolute-position NT v1 checkpoints load with model=nt)")
        if cfg["vocab_size"] < tokenizer.vocab_size:
            raise ValueError(f"vocab_size {cfg['vocab_size']} is smaller than the tokenizer's {tokenizer.vocab_size}")
        self.config = cfg
        self.pooling, self.seq_len = pooling, seq_len
        self.esm = NT2Model(cfg)
        self.readout = build_readout(pooling, cfg["hidden_size"], seq_len, tokenizer, self.num_classes)
        if self.readout is None:
            self.classifier = ClassificationHead(cfg, self.num_classes)
        if pooling in POSITION_WISE:
            self.fixed_length = seq_len
        self.apply(functools.partial(init_like_bert, std=self.config["initializer_range"]))

    def input_embeddings(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.esm.embeddings.word_embeddings(inputs["input_ids"])

    def hidden_states(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Token embeddings (B, T, D) -> last hidden states (B, T, D), after ``emb_layer_norm_after``."""
        mask = inputs["attention_mask"]
        return self.esm.encoder(self.esm.embeddings(embeddings, inputs["input_ids"], mask), mask)

    def forward_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.hidden_states(embeddings, inputs)
        return self.classifier(hidden) if self.readout is None else self.readout(hidden, inputs)

    def attention_probabilities(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        mask = inputs["attention_mask"]
        embeddings = self.esm.embeddings(self.input_embeddings(inputs), inputs["input_ids"], mask)
        return self.esm.encoder(embeddings, mask, output_attentions=True)[1]

    def architecture(self) -> dict:
        return {"config": dict(self.config), "pooling": self.pooling, "seq_len": self.seq_len}

    def save_pretrained(self, path: str | Path) -> None:
        """``config.json`` (published keys), ``model.safetensors`` (published names) and ``vocab.txt``."""
        write_native(self, path, dict(self.config))
        self.tokenizer.save_vocab(path)

    @classmethod
    def from_pretrained(cls, path: str | Path, trust_remote_code: bool = False, dtype: str | None = None,
                        pooling: str = "cls", seq_len: int | None = None) -> NT2Backbone:
        """Config, ``vocab.txt`` and weights of an NT v2 folder or hub id, natively.

        The checkpoint's own code (``auto_map``) is never run, so ``trust_remote_code`` is not
        needed. The MLM and contact heads and the unused absolute position table are dropped;
        stored rotary frequencies must equal the computed ones; the classifier head starts fresh
        unless the folder holds one of the right shape. Every encoder tensor must be found.
        dtype: e.g. ``bfloat16`` to cast the loaded model."""
        folder = resolve_folder(path)
        model = cls(NTKmerTokenizer.from_vocab_file(folder), config=native_config(read_config(folder)),
                    pooling=pooling, seq_len=seq_len)
        own, inv_freq = model.state_dict(), rotary_inv_freq(model.esm.encoder.head_dim)
        state = {}
        for key, value in load_weights(folder).items():
            if key.endswith("rotary_embeddings.inv_freq"):
                if value.shape != inv_freq.shape or not torch.allclose(value.float(), inv_freq, rtol=1e-3, atol=0.0):
                    raise ValueError(f"{folder}: {key} differs from the rotary frequencies 1/{ROTARY_BASE:g}^(2i/d)")
            elif key.startswith("classifier."):
                if key in own and own[key].shape == value.shape:
                    state[key] = value
            elif not key.startswith(_DROPPED_PREFIXES):
                state[key] = value
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(("classifier.", "readout."))]
        if missing or unexpected:
            raise ValueError(f"{folder}: not an NT v2 state dict (missing {missing[:5]}, unexpected {unexpected[:5]})")
        if dtype is not None:
            model = model.to(getattr(torch, str(dtype).removeprefix("torch.")))
        return model
