"""Build a backbone from its config, and rebuild a trained classifier from a checkpoint."""
from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from glmxai.allowlist import BACKBONES, TOKENIZERS, UntrustedConfigError, build, check
from glmxai.models.base import Backbone
from glmxai.models.classifier import SequenceClassifier

# Keyword arguments a stored config may pass to a pretrained source's ``from_pretrained``, and their types.
PRETRAINED_KWARGS = {"dtype": str, "torch_dtype": str, "pooling": str, "seq_len": int}


class RemoteCodeRefused(ValueError):
    """Remote code would run without the current command's consent."""


def _plain(cfg: Mapping | DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def build_backbone(model_cfg: Mapping | DictConfig, train_sequences: Sequence[str] = (),
                   tokenizer_state: dict | None = None) -> Backbone:
    """The backbone of ``model_cfg`` (the ``model`` config group).

    With ``pretrained`` set, tokenizer and weights come from that hub id or folder
    (``Backbone.from_pretrained``); otherwise the tokenizer is built (and fitted on
    ``train_sequences`` if it learns a vocabulary, or given ``tokenizer_state``, the vocabulary a
    checkpoint of an interrupted run kept) and the network is built from config.
    """
    cfg = _plain(model_cfg)
    if cfg.get("pretrained"):
        backbone_cls = get_class(cfg["backbone"]["_target_"])
        return backbone_cls.from_pretrained(cfg["pretrained"], trust_remote_code=bool(cfg.get("trust_remote_code")),
                                            **cfg.get("pretrained_kwargs", {}))
    tokenizer = instantiate(cfg["tokenizer"])
    if tokenizer_state:
        tokenizer.load_state_dict(tokenizer_state)
    elif tokenizer.needs_fit:
        if not train_sequences:
            raise ValueError(f"tokenizer {type(tokenizer).__name__} must be fitted on training sequences")
        tokenizer.fit(train_sequences)
    return instantiate(cfg["backbone"], tokenizer=tokenizer)


def build_classifier(model_cfg: Mapping | DictConfig, train_sequences: Sequence[str] = (),
                     data: dict | None = None, tokenizer_state: dict | None = None,
                     class_weights: list[float] | None = None) -> SequenceClassifier:
    """The LightningModule for ``model_cfg`` with its backbone injected; ``data``: the provenance
    of the training data, recorded in its checkpoints; ``tokenizer_state``: see ``build_backbone``;
    ``class_weights``: of the training loss (``PromoterDataModule.class_weights``)."""
    cfg = _plain(model_cfg)
    optimizer = instantiate(cfg["optimizer"]) if cfg.get("optimizer") else None
    backbone = build_backbone(cfg, train_sequences, tokenizer_state)
    if cfg.get("pretrained"):
        cfg = _rebuildable(cfg, backbone)
    return SequenceClassifier(backbone, optimizer=optimizer, warmup_ratio=cfg.get("warmup_ratio", 0.1), model_cfg=cfg,
                              data=data, class_weights=class_weights)


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


GIT_LFS_POINTER = b"version https://git-lfs"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not describe a glmxai model; names the file."""


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The contents of a Lightning checkpoint, read with ``weights_only=True``: tensors and plain
    data only, no pickled code runs. Missing, empty, truncated, corrupted or code-carrying files
    raise an error naming the file and what to do."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path} "
                                "(set ckpt_path=PATH to a checkpoint written by train.py)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes); copy or download the checkpoint again, or retrain")
    with open(path, "rb") as handle:
        if handle.read(len(GIT_LFS_POINTER)) == GIT_LFS_POINTER:
            raise CheckpointError(f"{path}: a Git LFS pointer, not the checkpoint itself; fetch it (git lfs pull) "
                                  "or download the file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" in str(error):  # the weights-only unpickler met a class or function
            raise CheckpointError(f"{path}: refused: it holds pickled Python objects beyond tensors and plain data, "
                                  "which could run code (glmxai reads checkpoints with weights_only=True); use a "
                                  "checkpoint written by glmxai's train.py") from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({error}); is it truncated or another kind of "
                              "file? copy or download it again, or retrain") from None
    except Exception as error:  # torch raises many kinds on a damaged file; all mean the same here
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint ({type(error).__name__}: "
                              f"{str(error)[:200]}); it may be truncated or corrupted: copy or download it again, "
                              "or retrain") from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a Lightning checkpoint (holds a {type(checkpoint).__name__})")
    return checkpoint


def _stored_model_cfg(checkpoint: dict[str, Any], source: str) -> dict[str, Any]:
    model_cfg = (checkpoint.get("hyper_parameters") or {}).get("model_cfg")
    if not model_cfg or not isinstance(model_cfg, dict):
        raise CheckpointError(f"{source}: not a glmxai checkpoint (no model config in its hyper_parameters)")
    if not isinstance(model_cfg.get("warmup_ratio", 0.1), (int, float)):
        raise UntrustedConfigError(source, "model_cfg.warmup_ratio", "expected a number")
    return model_cfg


def _tokenizer_state(checkpoint: dict[str, Any], source: str) -> dict[str, Any]:
    """The stored tokenizer state: plain values (a k, a vocabulary list, a tokenizers JSON string)."""
    state = checkpoint.get("tokenizer_state") or {}
    if not isinstance(state, dict) or not all(
            isinstance(v, (str, int)) or (isinstance(v, list) and all(isinstance(t, str) for t in v))
            for v in state.values()):
        raise UntrustedConfigError(source, "tokenizer_state", "expected integers, strings or lists of strings")
    return state


def _from_pretrained_source(model_cfg: dict[str, Any], source: str, trust_remote_code: bool) -> Backbone:
    """The backbone of a model fine-tuned from a folder whose own Python code (``auto_map``)
    builds it: only that source rebuilds it, and only with the current command's consent."""
    pretrained = model_cfg["pretrained"]
    if not trust_remote_code:
        raise RemoteCodeRefused(
            f"{source}: this model was fine-tuned from {pretrained!r}, whose architecture only that folder's own "
            "Python code (auto_map) can build. The trust_remote_code stored in the checkpoint is not consent: add "
            "model.trust_remote_code=true to this command if you trust that code.")
    spec, _ = check({"_target_": (model_cfg.get("backbone") or {}).get("_target_")}, BACKBONES, source,
                    "model_cfg.backbone")
    kwargs = model_cfg.get("pretrained_kwargs") or {}
    if not isinstance(pretrained, str) or not isinstance(kwargs, dict) or \
            not all(k in PRETRAINED_KWARGS and type(v) is PRETRAINED_KWARGS[k] for k, v in kwargs.items()):
        raise UntrustedConfigError(source, "model_cfg.pretrained", f"expected a folder or hub id and keyword "
                                                                   f"arguments among {sorted(PRETRAINED_KWARGS)}")
    return spec.load().from_pretrained(pretrained, trust_remote_code=True, **kwargs)


def load_classifier(ckpt_path: str | Path, map_location: str | torch.device = "cpu",
                    trust_remote_code: bool = False) -> SequenceClassifier:
    """Rebuild a trained ``SequenceClassifier`` from a Lightning checkpoint, in eval mode.

    The checkpoint is untrusted input: it is read with ``weights_only=True``, and its stored model
    config may only name allow-listed glmxai classes with checked arguments (``glmxai.allowlist``).
    A model only its pretrained source's remote code can build loads only when *this* call says
    ``trust_remote_code`` (the command's ``model.trust_remote_code=true``); the flag stored in the
    checkpoint is ignored.
    """
    source = str(ckpt_path)
    checkpoint = read_checkpoint(ckpt_path, map_location)
    model_cfg = _stored_model_cfg(checkpoint, source)
    if model_cfg.get("pretrained"):
        backbone = _from_pretrained_source(model_cfg, source, trust_remote_code)
    else:
        tokenizer = build(model_cfg.get("tokenizer"), TOKENIZERS, source, "model_cfg.tokenizer")
        tokenizer.load_state_dict(_tokenizer_state(checkpoint, source))
        backbone = build(model_cfg.get("backbone"), BACKBONES, source, "model_cfg.backbone", tokenizer=tokenizer)
    data = (checkpoint.get("hyper_parameters") or {}).get("data") or {}
    if not isinstance(data, dict):
        raise UntrustedConfigError(source, "data", "expected a mapping")
    module = SequenceClassifier(backbone, warmup_ratio=model_cfg.get("warmup_ratio", 0.1), model_cfg=model_cfg,
                                data=data)
    state = checkpoint.get("state_dict") or {}
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: state_dict is not a mapping of names to tensors")
    broken = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if broken is not None:
        raise CheckpointError(f"{source}: weight {broken} holds NaN or inf (a diverged or damaged training run); use "
                              "another checkpoint, or retrain")
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{source}: its weights do not fit the model its config describes: "
                              f"{str(error)[:300]}") from None
    return module.eval()


def checkpoint_labels(checkpoints: Sequence[tuple[Path, SequenceClassifier | str]]) -> list[str]:
    """A label per (path, loaded model or its name) for tables and figures: the model's name, with
    the last two folders of its run (``<task>/<run>`` for ``runs/<task>/<run>/checkpoints/best.ckpt``)
    where two checkpoints share one."""
    names = [m if isinstance(m, str) else str(m.hparams["model_cfg"].get("name") or p.stem) for p, m in checkpoints]
    runs = [p.parent.parent if p.parent.name == "checkpoints" else p.parent for p, _ in checkpoints]
    return [name if names.count(name) == 1 else f"{name} ({'/'.join(run.parts[-2:])})"
            for run, name in zip(runs, names)]
