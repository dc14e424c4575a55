"""Loading and saving pretrained folders safely, and the shared Hugging Face backbone.

Weights are read from ``model.safetensors`` or, failing that, ``pytorch_model.bin`` /
``weights.ckpt`` with ``torch.load(weights_only=True)``: no pickled code ever runs. A folder
whose ``config.json`` names remote code (``auto_map``) is refused by the HF-class backbones
unless ``trust_remote_code=True``; the native backbones (DNABERT-2, HyenaDNA) only read the
config values and tensors, so they never execute a checkpoint's code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_model
from torch import nn
from transformers import AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel

from glmxai.models.base import Backbone
from glmxai.models.readout import POSITION_WISE, build_readout, check_pooling
from glmxai.models.tokenizers import VocabTokenizer

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "weights.ckpt")
# The CPU-sized encoder every transformer family shares as its ``small`` preset: 2 layers, hidden 128.
SMALL_ENCODER = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512}


def resolve_folder(path: str | Path) -> Path:
    """A local folder as is; otherwise a hub id, downloaded (needs hub access)."""
    folder = Path(path)
    if folder.is_dir():
        return folder
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(str(path)))


def read_config(folder: Path) -> dict[str, Any]:
    file = folder / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{folder}: no config.json")
    return json.loads(file.read_text())


def check_remote_code(folder: Path, trust_remote_code: bool) -> bool:
    """True if the folder's config names remote code; raises if that code is not trusted."""
    remote = "auto_map" in read_config(folder)
    if remote and not trust_remote_code:
        raise ValueError(f"{folder}: config.json has auto_map, i.e. it runs the checkpoint's own Python code; "
                         "set model.trust_remote_code=true only if you trust that code")
    return remote


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The tensors of the first weight file found (a Lightning checkpoint gives its state_dict)."""
    for name in WEIGHT_FILES:
        file = folder / name
        if file.is_file():
            if name.endswith(".safetensors"):
                return load_file(str(file))
            state = torch.load(file, map_location="cpu", weights_only=True)
            return state.get("state_dict", state)
    raise FileNotFoundError(f"{folder}: none of {', '.join(WEIGHT_FILES)}")


def load_backbone_state(model: nn.Module, state: dict[str, torch.Tensor], heads: tuple[str, ...], folder: Path,
                        family: str) -> nn.Module:
    """Load ``state`` into ``model``; every tensor outside the ``heads`` prefixes must be found and
    none may be left over, else a ValueError names the folder and the family it is not."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(heads)]
    if missing or unexpected:
        raise ValueError(f"{folder}: not a {family} state dict (missing {missing[:5]}, unexpected {unexpected[:5]})")
    return model


def write_native(backbone: Backbone, folder: str | Path, config: dict[str, Any]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (tied tensors handled by ``save_model``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    save_model(backbone, str(folder / "model.safetensors"))
    return folder


def init_like_bert(module: nn.Module, std: float) -> None:
    """BERT/ESM initialisation of one module (use with ``model.apply``): normal(0, std) weights,
    zero biases and padding row, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def config_dict(config: PretrainedConfig) -> dict[str, Any]:
    """A transformers config as plain JSON data (storable in checkpoint hyper-parameters)."""
    return json.loads(config.to_json_string(use_diff=False))


class HFBackbone(Backbone):
    """A ``transformers`` ``*ForSequenceClassification`` model over a ``VocabTokenizer``.

    Subclasses set ``config_class``, ``model_class``, ``tokenizer_class`` and ``sizes``
    (config presets). size: a preset name; config: entries overriding the preset's;
    model: an already built model (``from_pretrained``); pooling: ``cls`` (the model's own head
    on the first token), ``mean`` (a ``MeanReadout``), ``flatten`` (a ``PositionReadout`` over
    every one of ``seq_len`` bases) or ``chunks`` (the same over the means of 15-bp windows).
    Inputs ``input_ids``/``attention_mask`` (B, T); embeddings (B, T, D); logits (B, 2).
    """

    config_class: type[PretrainedConfig]
    model_class: type[PreTrainedModel]
    tokenizer_class: type[VocabTokenizer]
    sizes: dict[str, dict[str, Any]]

    def __init__(self, tokenizer: VocabTokenizer, size: str = "small", config: dict | None = None,
                 model: PreTrainedModel | None = None, pooling: str = "cls", seq_len: int | None = None):
        super().__init__(tokenizer)
        check_pooling(pooling, seq_len, ("cls", "mean", "flatten", "chunks"))
        if model is None:
            if size not in self.sizes:
                raise ValueError(f"unknown size {size!r}; choose from {sorted(self.sizes)}")
            config = {**self.sizes[size], "vocab_size": tokenizer.vocab_size, "pad_token_id": tokenizer.pad_token_id,
                      **(config or {}), "num_labels": self.num_classes}
            model = self.model_class(self.config_class(**config))
        self.model = model
        self.pooling, self.seq_len = pooling, seq_len
        self.readout = build_readout(pooling, model.config.hidden_size, seq_len, tokenizer, self.num_classes)
        if self.readout is not None:  # the model's own head (pooler, classifier) is replaced, not kept unused
            for name in ("dropout", "classifier"):
                if name in model._modules:
                    setattr(model, name, None)
            if getattr(model.base_model, "pooler", None) is not None:
                model.base_model.pooler = None
        if pooling in POSITION_WISE:
            self.fixed_length = seq_len

    def input_embeddings(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model.get_input_embeddings()(inputs["input_ids"])

    def encoder_inputs(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """What the model takes as ``inputs_embeds`` for these token embeddings (B, T, D)."""
        return embeddings

    def forward_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        embeddings, mask = self.encoder_inputs(embeddings, inputs), inputs["attention_mask"]
        if self.readout is None:
            return self.model(inputs_embeds=embeddings, attention_mask=mask).logits
        hidden = self.model.base_model(inputs_embeds=embeddings, attention_mask=mask).last_hidden_state
        return self.readout(hidden, inputs)

    def attention_probabilities(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """``output_attentions=True`` of the encoder on the forward's own embedding path. Only the
        ``eager`` attention implementation returns the weights (``sdpa``, the default, returns
        none), so it is switched on for this call and the previous implementation restored."""
        previous = self.model.config._attn_implementation
        if previous != "eager":
            self.model.set_attn_implementation("eager")
        try:
            embeddings = self.encoder_inputs(self.input_embeddings(inputs), inputs)
            attentions = self.model.base_model(inputs_embeds=embeddings, attention_mask=inputs["attention_mask"],
                                               output_attentions=True).attentions
        finally:
            if previous != "eager":
                self.model.set_attn_implementation(previous)
        if not attentions or any(a is None for a in attentions):
            raise ValueError(f"{type(self.model).__name__} returned no attention weights: its attention could not be "
                             "switched to the eager implementation (remote code may not allow it)")
        return tuple(attentions)

    def architecture(self) -> dict | None:
        if type(self.model) is not self.model_class:  # remote code: only its folder rebuilds it
            return None
        return {"config": config_dict(self.model.config), "pooling": self.pooling, "seq_len": self.seq_len}

    def save_pretrained(self, path: str | Path) -> None:
        self.model.save_pretrained(str(path))
        self.tokenizer.save_vocab(path)

    @classmethod
    def from_pretrained(cls, path: str | Path, trust_remote_code: bool = False, pooling: str = "cls",
                        seq_len: int | None = None, **kwargs) -> HFBackbone:
        """Model and ``vocab.txt`` tokenizer from a folder or hub id; a fresh 2-class head (the
        model's own with ``pooling=cls``, else that of ``glmxai.models.readout``).

        kwargs go to ``transformers``' ``from_pretrained`` (e.g. ``dtype``)."""
        folder = resolve_folder(path)
        remote = check_remote_code(folder, trust_remote_code)
        tokenizer = cls.tokenizer_class.from_vocab_file(folder)
        loader = AutoModelForSequenceClassification if remote else cls.model_class
        model = loader.from_pretrained(str(folder), num_labels=cls.num_classes, trust_remote_code=remote,
                                       **kwargs)
        return cls(tokenizer, model=model, pooling=pooling, seq_len=seq_len)
