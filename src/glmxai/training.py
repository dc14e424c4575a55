"""What ``train.py`` runs: fit on the training split, pick the best checkpoint by val MCC,
test it, and write ``metrics.json``; or (``train=false``) evaluate a checkpoint."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from glmxai.data.table import check_both_classes, check_lengths
from glmxai.io import write_json_atomic
from glmxai.models.build import build_classifier, load_classifier

log = logging.getLogger(__name__)


def instantiate_group(group_cfg: DictConfig | None) -> list:
    """Instantiate every entry of a dict-of-objects group (callbacks, loggers)."""
    if not group_cfg:
        return []
    return [instantiate(entry) for entry in group_cfg.values() if entry and "_target_" in entry]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train and/or test as ``cfg`` says; return the metrics written to ``metrics.json``.
    Data, model and checkpoint are checked before any logger, callback or trainer writes a file."""
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    datamodule = instantiate(cfg.data)
    trust_remote_code = bool(cfg.model.get("trust_remote_code", False))
    if cfg.train:
        for split in ("train", "val"):
            check_both_classes(datamodule.table(split), split)
        module = build_classifier(cfg.model, datamodule.table("train").sequences, data=datamodule.provenance())
        log.info("model %s: %d parameters", cfg.model.name, sum(p.numel() for p in module.parameters()))
    else:
        if not cfg.get("ckpt_path"):
            raise ValueError("train=false needs ckpt_path=PATH to a trained checkpoint")
        module = load_classifier(cfg.ckpt_path, trust_remote_code=trust_remote_code)
    if module.backbone.fixed_length is not None:
        check_lengths(datamodule.table("test"), module.backbone.fixed_length)

    callbacks = instantiate_group(cfg.get("callbacks")) if cfg.train else []
    loggers = instantiate_group(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    ckpt_path, train_seconds = cfg.get("ckpt_path"), 0.0
    if cfg.train:
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        train_seconds = time.perf_counter() - start
        ckpt_path = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else None
        if ckpt_path:
            module = load_classifier(ckpt_path, trust_remote_code=trust_remote_code)
    test_metrics = trainer.test(module, datamodule=datamodule)[0] if cfg.get("test", True) else {}
    metrics = {
        **{k: float(v) for k, v in test_metrics.items() if k.startswith("test/") and not k.endswith("loss")},
        "test/loss": float(test_metrics.get("test/loss", float("nan"))) if test_metrics else None,
        "params": sum(p.numel() for p in module.parameters()),
        "train_seconds": round(train_seconds, 2),
        "checkpoint": str(ckpt_path) if ckpt_path else None,
        "data": datamodule.describe(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if trainer.is_global_zero:  # under DDP every process gets here with the same gathered metrics
        write_json_atomic(metrics, output_dir / "metrics.json")
    for logger in loggers:
        logger.log_metrics({"params": metrics["params"], "train_seconds": metrics["train_seconds"]})
    log.info("test metrics: %s", {k: v for k, v in metrics.items() if k.startswith("test/")})
    return metrics
