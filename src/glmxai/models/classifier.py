"""SequenceClassifier: the one LightningModule; the backbone (any model) is injected."""
from __future__ import annotations

import functools

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
    MulticlassMatthewsCorrCoef,
)

from glmxai.models.base import Backbone


class MatthewsCorrCoef(MulticlassMatthewsCorrCoef):
    """MCC that is 0 when a class is never predicted or never present (sklearn's convention).
    torchmetrics 1.9 returns a small non-zero value there instead: 0.085 for a constant
    predictor on 16% positives, which reads as "learned a little" when nothing was learned."""

    def compute(self) -> torch.Tensor:
        if (self.confmat.sum(0) == 0).any() or (self.confmat.sum(1) == 0).any():
            return torch.zeros((), device=self.confmat.device)
        return super().compute()


def _metrics(prefix: str) -> MetricCollection:
    """Accuracy, macro F1, MCC and AUROC over (N, 2) class probabilities. With two classes the
    macro AUROC equals the promoter-class AUROC."""
    return MetricCollection(
        {"acc": MulticlassAccuracy(num_classes=2, average="micro"),
         "f1": MulticlassF1Score(num_classes=2, average="macro"),
         "mcc": MatthewsCorrCoef(num_classes=2),
         "auroc": MulticlassAUROC(num_classes=2, average="macro")},
        prefix=prefix,
    )


def warmup_linear_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier: linear warm-up to 1 over ``warmup_steps``, then linear decay to 0."""
    if step < warmup_steps:
        return (step + 1) / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


class SequenceClassifier(L.LightningModule):
    """Trains and evaluates any ``Backbone`` on promoter / non-promoter labels.

    optimizer: a partial optimizer (``_partial_: true``) taking the parameters;
    warmup_ratio: fraction of all training steps spent warming the LR up;
    model_cfg: the model's plain-dict config, stored in checkpoints so that
    ``glmxai.models.build.load_classifier`` can rebuild the backbone; data: the provenance of the
    training data (``PromoterDataModule.provenance``), stored beside it so that explanations
    follow the checkpoint to its own data and TSS; class_weights: weights of classes 0 and 1 in
    the training loss (None: equal), e.g. to balance a training split with added negatives.
    """

    def __init__(self, backbone: Backbone, optimizer=None, warmup_ratio: float = 0.1, model_cfg: dict | None = None,
                 data: dict | None = None, class_weights: list[float] | None = None):
        super().__init__()
        self.save_hyperparameters({"model_cfg": model_cfg or {}, "warmup_ratio": warmup_ratio, "data": data or {},
                                   "class_weights": class_weights})
        self.backbone = backbone
        self.optimizer_factory = optimizer or functools.partial(torch.optim.AdamW, lr=1e-3)
        self.loss = nn.CrossEntropyLoss()
        # the training loss alone may weight the classes (data.added_negatives.balance); evaluation never.
        # Not persistent: the weights are in the hyper-parameters, and checkpoints load either way.
        self.register_buffer("class_weight", torch.tensor(class_weights, dtype=torch.float32) if class_weights
                             else None, persistent=False)
        self.val_metrics = _metrics("val/")
        self.test_metrics = _metrics("test/")
        # Mean loss as a metric: under DDP it is gathered exactly over uneven per-process splits.
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()

    def forward(self, sequences) -> torch.Tensor:
        return self.backbone(self.backbone.encode(sequences))

    def _step(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch["sequences"])
        return logits, self.loss(logits, batch["labels"])

    def on_fit_start(self) -> None:
        """Train in train mode (dropout on) whatever mode the modules came in: ``from_pretrained``
        returns them in eval mode, and Lightning keeps each submodule's mode. Evaluation switches
        to eval mode and back by itself."""
        self.train()

    def training_step(self, batch, batch_idx):
        loss = nn.functional.cross_entropy(self(batch["sequences"]), batch["labels"], weight=self.class_weight)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def _evaluate(self, batch, metrics: MetricCollection, loss_metric: MeanMetric, prefix: str) -> None:
        logits, loss = self._step(batch)
        metrics.update(torch.softmax(logits, -1), batch["labels"])
        loss_metric.update(loss, weight=len(batch["labels"]))
        self.log(f"{prefix}loss", loss_metric, prog_bar=True)
        self.log_dict(metrics, prog_bar=True)

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, self.val_metrics, self.val_loss, "val/")

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, self.test_metrics, self.test_loss, "test/")

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        total = int(self.trainer.estimated_stepping_batches)
        warmup = int(self.hparams.warmup_ratio * total)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, functools.partial(warmup_linear_decay, warmup_steps=warmup, total_steps=total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["tokenizer_state"] = self.backbone.tokenizer.state_dict()
