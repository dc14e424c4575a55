"""The explainers' only view of a model, with every model evaluation counted."""
from __future__ import annotations

import numpy as np
import torch

from glmxai.models.base import Backbone


class CountingModel:
    """Wraps a ``Backbone``: p(promoter) of integer codes through its batched
    ``predict_proba``, and the differentiable embedding path for gradient methods.

    evaluations: number of sequences the model has been run on (forward passes, one per
    sequence; a gradient step counts as one).
    """

    def __init__(self, backbone: Backbone, batch_size: int = 256):
        self.backbone = backbone
        self.batch_size = batch_size
        self.evaluations = 0

    def p_promoter(self, codes: np.ndarray) -> np.ndarray:
        """codes (n, L) int -> p(promoter) (n,) float64, in batches of ``batch_size``."""
        codes = np.asarray(codes)
        self.evaluations += len(codes)
        return self.backbone.predict_proba(codes, batch_size=self.batch_size)[:, 1].astype(np.float64)

    def p_promoter_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Differentiable p(promoter) (B,) of input embeddings (one-hot (B, 4, L) or token
        embeddings (B, T, D)) with the matching model ``inputs``."""
        self.evaluations += embeddings.shape[0]
        logits = self.backbone.forward_embeddings(embeddings, inputs)
        return torch.softmax(logits.float(), dim=-1)[:, 1]
