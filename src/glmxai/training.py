"""What ``train.py`` runs: fit on the training split, pick the best checkpoint by val MCC,
test it, and write ``metrics.json``; or (``train=false``) evaluate a checkpoint.

Every validation epoch's metrics and learning rate go to the job's log (``train.log``) through
``EpochLog``. With ``logger=wandb`` the run also records the learning rate per step
(``LearningRateMonitor``, ``lr-AdamW``), and its summary holds the best ``val/mcc`` with its
epoch (``val/mcc_best``, ``val/mcc_best_epoch``), the test metrics, ``params`` and
``train_seconds``; the run is finished when the job ends, so jobs of one process (a Hydra
multirun) are separate runs."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import WandbLogger
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


class EpochLog(L.Callback):
    """After each validation run of training (not the sanity check), write one line through
    python logging, so that it reaches the job's log file (``train.log``) even when stdout is
    redirected: ``epoch N: val/mcc=... val/auroc=... val/loss=... train/loss=... lr=...``
    (``train/loss``: the mean over the epoch's batches so far; ``lr``: the first parameter
    group's). ``history`` keeps each line's values (with ``epoch`` and ``step``)."""

    KEYS = ("val/mcc", "val/auroc", "val/loss")

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self._loss_sum, self._loss_n = 0.0, 0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._loss_sum, self._loss_n = 0.0, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if loss is not None:  # summed on its device: no synchronisation per step on a GPU
            self._loss_sum = self._loss_sum + loss.detach()
            self._loss_n += 1

    def on_validation_end(self, trainer, pl_module) -> None:  # after the epoch's metrics are computed
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        record: dict[str, float] = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        record.update({key: float(metrics[key]) for key in self.KEYS if key in metrics})
        if self._loss_n:
            record["train/loss"] = float(self._loss_sum) / self._loss_n
        if trainer.optimizers:
            record["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.history.append(record)
        if trainer.is_global_zero:
            best = self.best()
            values = " ".join(f"{key}={record[key]:.4g}" for key in (*self.KEYS, "train/loss", "lr") if key in record)
            note = " (best so far)" if best is record and len(self.history) > 1 else ""
            log.info("epoch %d: %s%s", record["epoch"], values, note)

    def best(self, key: str = "val/mcc") -> dict[str, float] | None:
        """The first record with the highest finite ``key`` (the epoch ModelCheckpoint keeps)."""
        scored = [r for r in self.history if key in r and math.isfinite(r[key])]
        return max(scored, key=lambda r: r[key]) if scored else None


def build_loggers(cfg: DictConfig) -> list:
    """The ``logger`` group's loggers. A W&B logger without a ``name`` is named
    ``<task>-<model>-<data>``, and without a ``group`` grouped by the Hydra multirun sweep."""
    from glmxai.wandb_log import data_name, sweep_group

    loggers = []
    for entry in (cfg.get("logger") or {}).values():
        if not entry or "_target_" not in entry:
            continue
        kwargs = {}
        if str(entry._target_).rsplit(".", 1)[-1] == "WandbLogger":
            if entry.get("name") is None:
                kwargs["name"] = f"{cfg.task_name}-{cfg.model.get('name', 'model')}-{data_name(cfg.data._target_)}"
            if entry.get("group") is None:
                kwargs["group"] = sweep_group()
        loggers.append(instantiate(entry, **kwargs))
    return loggers


def _define_wandb_metrics(loggers: list) -> None:
    """Summaries that compare runs: the best (not the last) val/mcc and val/auroc, the lowest
    val/loss, on the WandbLogger's own x-axis."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            for key, summary in (("val/mcc", "max"), ("val/auroc", "max"), ("val/loss", "min")):
                run.define_metric(key, summary=summary, step_metric="trainer/global_step")


def _finish_wandb(loggers: list, summary: dict[str, Any] | None, failed: bool) -> None:
    """Write ``summary`` into each W&B run's summary and finish the run. A W&B failure is a
    warning: metrics.json and the checkpoint are written already."""
    for logger in loggers:
        if not isinstance(logger, WandbLogger) or logger._experiment is None:  # None: never started (or DDP rank > 0)
            continue
        try:
            if summary:
                logger.experiment.summary.update(summary)
            logger.experiment.finish(exit_code=1 if failed else 0)
        except Exception as error:  # never lose the results to the logger
            log.warning("W&B: could not finish the run (%s: %s)", type(error).__name__, error)


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
    loggers = build_loggers(cfg)
    if not loggers and any(isinstance(c, LearningRateMonitor) for c in callbacks):
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]  # it needs a logger
    epochs = EpochLog()
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, epochs], logger=loggers or False)
    summary, failed = None, True
    try:
        for logger in loggers:
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        _define_wandb_metrics(loggers)  # on other DDP ranks the experiment is a no-op dummy
        metrics = _fit_and_test(cfg, trainer, module, datamodule, output_dir, trust_remote_code)
        for logger in loggers:
            logger.log_metrics({"params": metrics["params"], "train_seconds": metrics["train_seconds"]})
        summary = {k: v for k, v in metrics.items()
                   if (k.startswith("test/") or k in ("params", "train_seconds", "checkpoint")) and v is not None}
        best = epochs.best()
        if best is not None:
            summary.update({"val/mcc_best": best["val/mcc"], "val/mcc_best_epoch": best["epoch"],
                            "val/mcc_best_step": best["step"]})
            log.info("best val/mcc %.4f at epoch %d", best["val/mcc"], best["epoch"])
        failed = False
    finally:
        _finish_wandb(loggers, summary, failed)
    log.info("test metrics: %s", {k: v for k, v in metrics.items() if k.startswith("test/")})
    return metrics


def _fit_and_test(cfg: DictConfig, trainer: L.Trainer, module, datamodule, output_dir: Path,
                  trust_remote_code: bool) -> dict[str, Any]:
    """Fit (``cfg.train``), reload the best checkpoint, test (``cfg.test``) and write ``metrics.json``."""
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
    return metrics
