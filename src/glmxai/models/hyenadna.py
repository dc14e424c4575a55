"""HyenaDNA (Nguyen et al. 2023), implemented natively in PyTorch.

Each block is pre-norm: ``x + Hyena(LN(x))`` then ``+ MLP(LN(.))``. The Hyena operator (order 2):
an input projection to 3 streams, a short causal depthwise convolution (kernel 3), then
``y = x0 * conv_h(x1 * v)``, where ``conv_h`` is a causal long convolution computed by FFT with
an implicit filter ``h``: an MLP with sine activations over complex-exponential positional
embeddings, windowed by an exponential decay; finally an output projection.

Parameter names follow the published checkpoints, so their tensors load with a prefix
rename (see ``hyena_key``):

=====================================================  =======================================
published name                                         here
=====================================================  =======================================
``hyena.backbone.*`` (HF ``LongSafari/hyenadna-*-hf``)  ``backbone.*``
``model.backbone.*`` (original ``weights.ckpt``)        ``backbone.*``
``backbone.*`` (standalone ``HyenaDNAModel``)            ``backbone.*``
``score.weight`` / ``lm_head.*`` / ``decoder.*``       dropped (the head starts fresh)
=====================================================  =======================================

Inside ``backbone``: ``embeddings.word_embeddings``, ``layers.{i}.{norm1,norm2}``,
``layers.{i}.mixer.{in_proj,out_proj,short_filter}``,
``layers.{i}.mixer.filter_fn.{bias,pos_emb.z,pos_emb.t,modulation.deltas}``,
``layers.{i}.mixer.filter_fn.implicit_filter.{0,2,4,6}`` (linear) and ``.{1,3,5}.freq``
(one shared sine frequency), ``layers.{i}.mlp.{fc1,fc2}``, ``ln_f``.
Configuration keys are those of the HF ``config.json``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from glmxai.models.base import Backbone
from glmxai.models.pretrained import load_backbone_state, load_weights, read_config, resolve_folder, write_native
from glmxai.models.readout import POSITION_WISE, build_readout, check_pooling
from glmxai.models.tokenizers import CharTokenizer

_COMMON = {"vocab_size": 12, "pad_vocab_size_multiple": 8, "hyena_order": 2, "filter_order": 64,
           "short_filter_order": 3, "emb_dim": 5, "num_inner_mlps": 2, "activation_freq": 10,
           "train_freq": True, "embed_dropout": 0.1, "hyena_dropout": 0.0, "layer_norm_epsilon": 1e-5,
           "modulation_shift": 0.0}
SIZES = {
    "tiny-1k": {**_COMMON, "d_model": 128, "n_layer": 2, "d_inner": 512, "max_seq_len": 1026},
    "tiny-1k-d256": {**_COMMON, "d_model": 256, "n_layer": 2, "d_inner": 1024, "max_seq_len": 1026},
    "small-32k": {**_COMMON, "d_model": 256, "n_layer": 4, "d_inner": 1024, "max_seq_len": 32770},
    "medium-160k": {**_COMMON, "d_model": 256, "n_layer": 8, "d_inner": 1024, "max_seq_len": 160002},
}


def fft_conv(u: torch.Tensor, k: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Causal convolution of u (B, D, L) with filters k (D, L) by FFT, plus the skip ``u * bias``."""
    length = u.shape[-1]
    n = 2 * length  # zero padding makes the circular convolution causal
    y = torch.fft.irfft(torch.fft.rfft(u.float(), n=n) * torch.fft.rfft(k.float(), n=n), n=n)[..., :length]
    return (y + u * bias.unsqueeze(-1)).to(u.dtype)


class Sin(nn.Module):
    """sin(freq * x) with a (trainable) per-channel frequency."""

    def __init__(self, dim: int, freq: float, trainable: bool):
        super().__init__()
        value = freq * torch.ones(1, dim)
        if trainable:
            self.freq = nn.Parameter(value)
        else:
            self.register_buffer("freq", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.freq * x)


class PositionalEmbedding(nn.Module):
    """z (1, L, emb_dim): normalised time t and (emb_dim - 1) / 2 complex-exponential bands."""

    def __init__(self, emb_dim: int, max_len: int):
        super().__init__()
        t = torch.linspace(0, 1, max_len)[None, :, None]
        bands = (emb_dim - 1) // 2
        w = 2 * math.pi * torch.linspace(0, max_len - 1, max_len)[None, :, None] / max_len
        f = torch.linspace(1e-4, bands - 1, bands)[None, None]
        self.register_buffer("z", torch.cat([t, torch.cos(-f * w), torch.sin(-f * w)], dim=-1))
        self.register_buffer("t", t)

    def forward(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.z[:, :length], self.t[:, :length]


class ExponentialModulation(nn.Module):
    """Windows filter channel c by exp(-t |delta_c|) (+ shift): fast to slow decays."""

    def __init__(self, d_model: int, shift: float, fast_decay_pct: float = 0.3, slow_decay_pct: float = 1.5,
                 target: float = 1e-2):
        super().__init__()
        self.shift = shift
        deltas = torch.linspace(math.log(target) / slow_decay_pct, math.log(target) / fast_decay_pct, d_model)
        self.register_buffer("deltas", deltas[None, None])

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return h * (torch.exp(-t * self.deltas.abs()) + self.shift)


class HyenaFilter(nn.Module):
    """Implicit long filter h (L, D) = modulation(MLP(pos_emb)), and its FFT convolution."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        d, order = cfg["d_model"] * (cfg["hyena_order"] - 1), cfg["filter_order"]
        self.bias = nn.Parameter(torch.randn(d))
        self.pos_emb = PositionalEmbedding(cfg["emb_dim"], cfg["max_seq_len"])
        act = Sin(order, cfg["activation_freq"], cfg["train_freq"])  # one activation, shared as published
        layers: list[nn.Module] = [nn.Linear(cfg["emb_dim"], order), act]
        for _ in range(cfg["num_inner_mlps"]):
            layers += [nn.Linear(order, order), act]
        layers.append(nn.Linear(order, d, bias=False))
        self.implicit_filter = nn.Sequential(*layers)
        self.modulation = ExponentialModulation(d, shift=cfg["modulation_shift"])

    def filter(self, length: int) -> torch.Tensor:
        z, t = self.pos_emb(length)
        return self.modulation(t, self.implicit_filter(z))[0]

    def forward(self, v: torch.Tensor, k: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return fft_conv(v, k, bias)


class HyenaOperator(nn.Module):
    """The order-2 Hyena operator: (B, L, D) -> (B, L, D), causal."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.d_model, self.order, self.max_len = cfg["d_model"], cfg["hyena_order"], cfg["max_seq_len"]
        width = self.d_model * (self.order + 1)
        self.in_proj = nn.Linear(self.d_model, width)
        self.out_proj = nn.Linear(self.d_model, self.d_model)
        kernel = cfg["short_filter_order"]
        self.short_filter = nn.Conv1d(width, width, kernel, padding=kernel - 1, groups=width)
        self.filter_fn = HyenaFilter(cfg)
        self.dropout = nn.Dropout(cfg["hyena_dropout"])

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        length = u.shape[1]
        if length > self.max_len:
            raise ValueError(f"sequence of {length} tokens exceeds this HyenaDNA's max_seq_len {self.max_len}")
        streams = self.short_filter(self.in_proj(u).transpose(1, 2))[..., :length]  # causal: drop the tail
        *x, v = streams.split(self.d_model, dim=1)
        k = self.filter_fn.filter(length).transpose(0, 1).reshape(self.order - 1, self.d_model, length)
        bias = self.filter_fn.bias.reshape(self.order - 1, self.d_model)
        for o, x_i in enumerate(reversed(x[1:])):
            v = self.filter_fn(self.dropout(v * x_i), k[o], bias[o])
        return self.out_proj((v * x[0]).transpose(1, 2))


class Mlp(nn.Module):
    def __init__(self, d_model: int, d_inner: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_inner)
        self.fc2 = nn.Linear(d_inner, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg["d_model"], eps=cfg["layer_norm_epsilon"])
        self.mixer = HyenaOperator(cfg)
        self.norm2 = nn.LayerNorm(cfg["d_model"], eps=cfg["layer_norm_epsilon"])
        self.mlp = Mlp(cfg["d_model"], cfg["d_inner"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Embeddings(nn.Module):
    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        multiple = cfg["pad_vocab_size_multiple"]
        vocab = math.ceil(cfg["vocab_size"] / multiple) * multiple  # padded as published
        self.word_embeddings = nn.Embedding(vocab, cfg["d_model"])


class LMBackbone(nn.Module):
    """Embeddings, blocks, final LayerNorm: (B, L, D) embeddings -> (B, L, D) hidden states."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.dropout = nn.Dropout(cfg["embed_dropout"])
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["d_model"], eps=cfg["layer_norm_epsilon"])

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        x = self.dropout(embeddings)
        for layer in self.layers:
            x = layer(x)
        return self.ln_f(x)


# The original (non-HF) config.json nests the Hyena operator's settings under "layer", with the
# original code's names: this module's name for each.
_LAYER_KEYS = {"l_max": "max_seq_len", "emb_dim": "emb_dim", "filter_order": "filter_order",
               "local_order": "short_filter_order", "w": "activation_freq", "order": "hyena_order"}


def native_config(published: dict[str, Any]) -> dict[str, Any]:
    """The config of a published ``config.json`` in either layout: the HF port's flat keys, or the
    original's top-level sizes plus a nested ``layer`` (``l_max``, ``emb_dim``, ``filter_order``,
    ``local_order``, ``w``). Keys this module does not use are ignored."""
    config = {k: published[k] for k in (*_COMMON, *SIZES["tiny-1k"]) if k in published}
    for name, value in [*published.items(), *(published.get("layer") or {}).items()]:
        if name in _LAYER_KEYS:
            config.setdefault(_LAYER_KEYS[name], value)
    if published.get("model_type") == "hyenadna":  # the HF port windows its filters with shift 0.05
        config.setdefault("modulation_shift", 0.05)
    return config


def hyena_key(name: str) -> str | None:
    """A published HyenaDNA parameter name -> this module's name (None: not part of the backbone)."""
    for prefix in ("hyena.backbone.", "model.backbone.", "backbone."):
        if name.startswith(prefix):
            return "backbone." + name[len(prefix):]
    return None


# Head tensors: loaded where the folder has them in the shape the chosen pooling needs, else fresh.
_HEADS = ("score.", "readout.")


class HyenaDNABackbone(Backbone):
    """HyenaDNA classifier over ``CharTokenizer`` ids.

    size: a ``SIZES`` preset (default ``tiny-1k``: d_model 128, 2 layers); config: entries with
    the HF ``config.json`` keys overriding the preset's; pooling: how the head reads the hidden
    states, ``mean`` over non-padding tokens (the paper's fine-tuning), ``last`` (the last token,
    as in the HF port; it has seen the whole causal context), each then a linear ``score``, or
    ``flatten`` (``PositionReadout``, the position-wise head the token models share: it needs
    ``seq_len``, the one input length) or ``chunks`` (the same over the means of GUE's 15-bp
    chunks). Embeddings (B, L+1, D); logits (B, 2).
    """

    POOLINGS = ("mean", "last", "flatten", "chunks")

    def __init__(self, tokenizer: CharTokenizer, size: str = "tiny-1k", config: dict | None = None,
                 pooling: str = "mean", seq_len: int | None = None):
        super().__init__(tokenizer)
        if size not in SIZES:
            raise ValueError(f"unknown size {size!r}; choose from {sorted(SIZES)}")
        check_pooling(pooling, seq_len, self.POOLINGS)
        self.config = {**SIZES[size], **(config or {})}
        if self.config["max_seq_len"] is None:  # filters spanning exactly the input: L bases, [SEP], one spare
            if seq_len is None:
                raise ValueError("config.max_seq_len=null fits the filters to the input, so it needs seq_len")
            self.config["max_seq_len"] = seq_len + 2
        self.pooling, self.seq_len = pooling, seq_len
        self.fixed_length = seq_len if pooling in POSITION_WISE else None
        self.backbone = LMBackbone(self.config)
        if self.fixed_length is not None:
            self.readout = build_readout(pooling, self.config["d_model"], seq_len, tokenizer, self.num_classes)
        else:
            self.score = nn.Linear(self.config["d_model"], self.num_classes, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2 style: normal(0, 0.02) linear and embedding weights, zero linear biases."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def input_embeddings(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.backbone.embeddings.word_embeddings(inputs["input_ids"])

    def forward_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.backbone(embeddings)
        mask = inputs["attention_mask"]
        if self.fixed_length is not None:
            return self.readout(hidden, inputs)
        if self.pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        else:
            last = mask.sum(1).clamp_min(1) - 1
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.score(pooled)

    def architecture(self) -> dict:
        return {"config": dict(self.config), "pooling": self.pooling, "seq_len": self.seq_len}

    def save_pretrained(self, path: str | Path) -> None:
        write_native(self, path, self.config)

    @classmethod
    def from_pretrained(cls, path: str | Path, trust_remote_code: bool = False, pooling: str = "mean",
                        seq_len: int | None = None) -> HyenaDNABackbone:
        """Config and weights of a HyenaDNA folder or hub id (HF port, original ``weights.ckpt``
        with its ``config.json``, or a folder written by ``save_pretrained``), natively: the
        checkpoint's own code is never run. Every backbone tensor must be found."""
        folder = resolve_folder(path)
        published = read_config(folder)
        model = cls(CharTokenizer(), config=native_config(published), pooling=pooling, seq_len=seq_len)
        weights = load_weights(folder)
        state = {key: v for k, v in weights.items() if (key := hyena_key(k)) is not None}
        own = model.state_dict()
        state.update({k: v for k, v in weights.items()  # a head of the same kind and shape, if the folder has one
                      if k.startswith(_HEADS) and k in own and own[k].shape == v.shape})
        for name in model.state_dict():  # the shared sine frequency may be stored under one name only
            if name.endswith(".freq") and name not in state:
                siblings = [v for k, v in state.items()
                            if k.endswith(".freq") and k.rsplit(".", 2)[0] == name.rsplit(".", 2)[0]]
                if siblings:
                    state[name] = siblings[0]
        return load_backbone_state(model, state, _HEADS, folder, "HyenaDNA")
