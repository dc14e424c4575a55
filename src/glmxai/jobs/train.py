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
import os
import platform
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from glmxai.data.recorded import command_data
from glmxai.data.table import check_both_classes, check_lengths
from glmxai.io import folder_lock, read_json, write_json_atomic
from glmxai.models.build import build_classifier, load_classifier, read_checkpoint

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
        self._seconds_before, self._started = 0.0, None

    def on_train_start(self, trainer, pl_module) -> None:
        self._started = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self._seconds_before, self._started = self.train_seconds, None

    @property
    def train_seconds(self) -> float:
        """Seconds spent training, over every (resumed) part of the run."""
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        return self._seconds_before + running

    def state_dict(self) -> dict:
        """Kept in checkpoints, so a resumed run reports every epoch and its whole training time."""
        return {"history": self.history, "train_seconds": self.train_seconds}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state.get("history", []))
        self._seconds_before = float(state.get("train_seconds", 0.0))

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


class RandomState(L.Callback):
    """Keeps the random generators that training draws from (torch's, CUDA's, numpy's, python's)
    in every checkpoint and restores them on resume, so dropout draws the same masks as a run
    never interrupted (the batch order is drawn from the epoch alone: ``EpochSampler``)."""

    def state_dict(self) -> dict:
        state = {"torch": torch.get_rng_state(), "numpy": _numpy_state_tensor(),
                 "python": list(random.getstate()[1])}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        keys = state["numpy"]
        np.random.set_state(("MT19937", keys[:-1].numpy().astype(np.uint32), int(keys[-1]), 0, 0.0))
        random.setstate((3, tuple(state["python"]), None))


def _numpy_state_tensor() -> torch.Tensor:
    """numpy's global MT19937 keys and position as one int64 tensor (plain data for a checkpoint)."""
    _, keys, pos, _, _ = np.random.get_state()
    return torch.tensor([*keys.astype(np.int64).tolist(), pos], dtype=torch.int64)


def hardware(trainer: L.Trainer) -> str:
    """What the run trained on, for the model table: the accelerator's name, or the CPU's model
    with the threads torch used."""
    if trainer.strategy.root_device.type == "cuda":
        return f"{trainer.num_devices} x {torch.cuda.get_device_name(trainer.strategy.root_device)}"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    threads = torch.get_num_threads()
    return f"CPU {cpu}, {threads} thread{'s' if threads != 1 else ''}"


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
    Data, model and checkpoint are checked before any logger, callback or trainer writes a file.

    Resume: training into a run folder that holds ``checkpoints/last.ckpt`` of the same model and
    data (a run that was killed) continues from it; one that holds ``metrics.json`` is finished and
    its metrics are returned as they are. The same command started twice into one folder: the
    second refuses (``FolderBusyError``) while the first runs. The processes Lightning launches
    for the other ranks of a multi-GPU run (``LOCAL_RANK`` > 0) share their first rank's lock."""
    if int(os.environ.get("LOCAL_RANK", 0)) or int(os.environ.get("NODE_RANK", 0)):
        return _run(cfg)
    with folder_lock(cfg.paths.output_dir, "training run", ".train.lock"):
        return _run(cfg)


def _run(cfg: DictConfig) -> dict[str, Any]:
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    if cfg.train and (output_dir / "metrics.json").is_file():
        log.info("%s: this run is finished already; its metrics are kept (a new run needs a new run folder)",
                 output_dir / "metrics.json")
        return read_json(output_dir / "metrics.json")
    datamodule = command_data(cfg.data)
    trust_remote_code = bool(cfg.model.get("trust_remote_code", False))
    resume = None
    if cfg.train:
        for split in ("train", "val"):
            check_both_classes(datamodule.table(split), split)
        resume = interrupted_checkpoint(output_dir, cfg.model, datamodule)
        module = build_classifier(cfg.model, datamodule.table("train").sequences, data=datamodule.provenance(),
                                  tokenizer_state=resume["tokenizer_state"] if resume else None,
                                  class_weights=datamodule.class_weights())
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
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, epochs, RandomState()], logger=loggers or False)
    summary, failed = None, True
    try:
        for logger in loggers:
            logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
        _define_wandb_metrics(loggers)  # on other DDP ranks the experiment is a no-op dummy
        metrics = _fit_and_test(cfg, trainer, module, datamodule, output_dir, trust_remote_code, epochs,
                                resume["path"] if resume else None)
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


def interrupted_checkpoint(output_dir: Path, model_cfg: DictConfig, datamodule) -> dict[str, Any] | None:
    """``{"path", "tokenizer_state"}`` of the run folder's ``checkpoints/last.ckpt`` (an interrupted
    run), or None without one. One of another model or other data is refused: a run folder holds
    one run."""
    path = output_dir / "checkpoints" / "last.ckpt"
    if not path.is_file():
        return None
    checkpoint = read_checkpoint(path)
    stored = checkpoint.get("hyper_parameters") or {}
    current_model = OmegaConf.to_container(model_cfg, resolve=True)
    stored_model = stored.get("model_cfg") or {}
    if stored_model.get("pretrained_from") is None and stored_model != current_model:
        raise ValueError(f"{path}: this run folder holds an interrupted run of another model config; resume it "
                         "with the same command, or train into a new run folder")
    stored_data = (stored.get("data") or {}).get("config") or {}
    if stored_data != datamodule.config():
        raise ValueError(f"{path}: this run folder holds an interrupted run on other data ({stored_data}); "
                         "resume it with the same data, or train into a new run folder")
    log.info("resuming the interrupted run from %s (epoch %s)", path, checkpoint.get("epoch"))
    return {"path": str(path), "tokenizer_state": checkpoint.get("tokenizer_state") or {}}


def _fit_and_test(cfg: DictConfig, trainer: L.Trainer, module, datamodule, output_dir: Path,
                  trust_remote_code: bool, epochs: EpochLog, resume_from: str | None) -> dict[str, Any]:
    """Fit (``cfg.train``, from ``resume_from`` if given), reload the best checkpoint, test
    (``cfg.test``) and write ``metrics.json``."""
    ckpt_path = cfg.get("ckpt_path")
    if cfg.train:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
        # the checkpoint chosen by a monitored metric (best.ckpt), not the every-epoch last.ckpt
        monitored = [c for c in trainer.checkpoint_callbacks if c.monitor]
        ckpt_path = monitored[0].best_model_path if monitored else None
        if ckpt_path:
            module = load_classifier(ckpt_path, trust_remote_code=trust_remote_code)
    test_metrics = trainer.test(module, datamodule=datamodule)[0] if cfg.get("test", True) else {}
    metrics = {
        **{k: float(v) for k, v in test_metrics.items() if k.startswith("test/") and not k.endswith("loss")},
        "test/loss": float(test_metrics.get("test/loss", float("nan"))) if test_metrics else None,
        "params": sum(p.numel() for p in module.parameters()),
        "train_seconds": round(epochs.train_seconds, 2),
        "epochs": len(epochs.history),
        "hardware": hardware(trainer),
        "checkpoint": str(ckpt_path) if ckpt_path else None,
        "data": datamodule.describe(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if trainer.is_global_zero:  # under DDP every process gets here with the same gathered metrics
        write_json_atomic(metrics, output_dir / "metrics.json")
    return metrics
