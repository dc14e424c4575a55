"""Build a backbone from its config, and rebuild a trained classifier from a checkpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from glmxai.models.base import Backbone
from glmxai.models.classifier import SequenceClassifier


def _plain(cfg: Mapping | DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def build_backbone(model_cfg: Mapping | DictConfig, train_sequences: Sequence[str] = ()) -> Backbone:
    """The backbone of ``model_cfg`` (the ``model`` config group).

    With ``pretrained`` set, tokenizer and weights come from that hub id or folder
    (``Backbone.from_pretrained``); otherwise the tokenizer is built (and fitted on
    ``train_sequences`` if it learns a vocabulary) and the network is built from config.
    """
    cfg = _plain(model_cfg)
    if cfg.get("pretrained"):
        backbone_cls = get_class(cfg["backbone"]["_target_"])
        return backbone_cls.from_pretrained(cfg["pretrained"], trust_remote_code=bool(cfg.get("trust_remote_code")),
                                            **cfg.get("pretrained_kwargs", {}))
    tokenizer = instantiate(cfg["tokenizer"])
    if tokenizer.needs_fit:
        if not train_sequences:
            raise ValueError(f"tokenizer {type(tokenizer).__name__} must be fitted on training sequences")
        tokenizer.fit(train_sequences)
    return instantiate(cfg["backbone"], tokenizer=tokenizer)


def build_classifier(model_cfg: Mapping | DictConfig, train_sequences: Sequence[str] = ()) -> SequenceClassifier:
    """The LightningModule for ``model_cfg`` with its backbone injected."""
    cfg = _plain(model_cfg)
    optimizer = instantiate(cfg["optimizer"]) if cfg.get("optimizer") else None
    backbone = build_backbone(cfg, train_sequences)
    if cfg.get("pretrained"):
        cfg = _rebuildable(cfg, backbone)
    return SequenceClassifier(backbone, optimizer=optimizer, warmup_ratio=cfg.get("warmup_ratio", 0.1), model_cfg=cfg)


def _rebuildable(cfg: dict[str, Any], backbone: Backbone) -> dict[str, Any]:
    """The config of a backbone loaded from ``pretrained``, rewritten to rebuild the same network
    without that source: its ``architecture()`` as backbone arguments and the tokenizer class
    (whose vocabulary travels in the checkpoint's tokenizer state). Kept as is (the source is then
    needed again) when only the source can rebuild it."""
    architecture = backbone.architecture()
    if architecture is None:
        return cfg
    tokenizer_cls = type(backbone.tokenizer)
    return dict(cfg, pretrained=None, pretrained_from=cfg["pretrained"],
                tokenizer={"_target_": f"{tokenizer_cls.__module__}.{tokenizer_cls.__qualname__}"},
                backbone={"_target_": cfg["backbone"]["_target_"], "_convert_": "all", **architecture})


def load_classifier(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> SequenceClassifier:
    """Rebuild a trained ``SequenceClassifier`` from a Lightning checkpoint, in eval mode.

    The checkpoint is read with ``weights_only=True`` (no pickled code runs); the backbone
    is rebuilt from the model config stored in it and the tokenizer state restored.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    model_cfg = checkpoint.get("hyper_parameters", {}).get("model_cfg")
    if not model_cfg:
        raise ValueError(f"{path}: not a glmxai checkpoint (no model config in its hyper_parameters)")
    if model_cfg.get("pretrained"):  # an architecture only its (trusted remote-code) source can build
        backbone = build_backbone(model_cfg)
    else:
        tokenizer = instantiate(model_cfg["tokenizer"])
        tokenizer.load_state_dict(checkpoint.get("tokenizer_state", {}))
        backbone = instantiate(model_cfg["backbone"], tokenizer=tokenizer)
    module = SequenceClassifier(backbone, warmup_ratio=model_cfg.get("warmup_ratio", 0.1), model_cfg=model_cfg)
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()
