"""The one way every caller (explainers, faithfulness, probes) runs a model: batched predictions
of integer codes, each model evaluation counted on the way; and a predictor that remembers its
answers for analyses that ask again about the same inputs."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from glmxai.models.base import Backbone


def promoter_log_odds(probs: np.ndarray) -> np.ndarray:
    """Class probabilities (n, 2) -> promoter log-odds log p1 - log p0 (n,) float64 (saturates near
    +-87, where a float32 probability underflows)."""
    log_p = np.log(np.clip(np.asarray(probs, dtype=np.float64), np.finfo(np.float32).tiny, None))
    return log_p[:, 1] - log_p[:, 0]


class BatchedPredictor:
    """A ``Backbone`` seen through one batched predict call: p(promoter) (and the promoter logit)
    of integer codes (n, L) in batches of ``batch_size``, the differentiable embedding path for
    gradient methods and the attention maps; nothing else of the model is reachable.

    evaluations: number of sequences the model has been run on (forward passes, one per
    sequence; a gradient step counts as one).
    fast: a cheaper forward (``glmxai.xai.fast_forward.FastForward``, ``explain.fast``) that
    ``p_promoter`` and ``promoter_logit_and_p`` use instead of ``predict_proba``; gradients and
    attention maps always take the backbone's own path.
    """

    def __init__(self, backbone: Backbone, batch_size: int = 256, fast=None):
        self.backbone = backbone
        self.batch_size = batch_size
        self.fast = fast
        self.evaluations = 0

    def _predict_proba(self, codes: np.ndarray) -> np.ndarray:
        predictor = self.backbone if self.fast is None else self.fast
        return predictor.predict_proba(codes, batch_size=self.batch_size)

    def fast_difference(self, codes: np.ndarray) -> tuple[np.ndarray, float]:
        """p(promoter) (n,) float64 of ``codes`` by the backbone's own forward, and the largest
        |fast - reference| over them (the ``explain.fast`` guard; 0.0 without a fast forward,
        which then runs the model once, not twice)."""
        codes = np.asarray(codes)
        self.evaluations += len(codes)
        reference = self.backbone.predict_proba(codes, batch_size=self.batch_size)[:, 1].astype(np.float64)
        if self.fast is None or not len(codes):
            return reference, 0.0
        return reference, float(np.abs(self.p_promoter(codes) - reference).max())

    def p_promoter(self, codes: np.ndarray) -> np.ndarray:
        """codes (n, L) int -> p(promoter) (n,) float64, in batches of ``batch_size``."""
        codes = np.asarray(codes)
        self.evaluations += len(codes)
        return self._predict_proba(codes)[:, 1].astype(np.float64)

    def promoter_logit_and_p(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """codes (n, L) int -> (promoter logit, p(promoter)), each (n,) float64, from one batched
        ``predict_proba`` call: logit = log p1 - log p0 (it saturates near +-87, where a float32
        probability underflows)."""
        codes = np.asarray(codes)
        self.evaluations += len(codes)
        probs = self._predict_proba(codes).astype(np.float64)
        return promoter_log_odds(probs), probs[:, 1]

    def p_promoter_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Differentiable p(promoter) (B,) of input embeddings (one-hot (B, 4, L) or token
        embeddings (B, T, D)) with the matching model ``inputs``."""
        self.evaluations += embeddings.shape[0]
        logits = self.backbone.forward_embeddings(embeddings, inputs)
        return torch.softmax(logits.float(), dim=-1)[:, 1]

    @torch.no_grad()
    def attentions(self, codes: np.ndarray) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
        """codes (n, L) int -> every layer's attention probabilities (n, heads, T, T) in float32
        (``Backbone.attention_probabilities``, in eval mode) and the model inputs they were computed
        from; one pass, one evaluation per sequence."""
        codes = np.asarray(codes)
        self.evaluations += len(codes)
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            inputs = self.backbone.encode(codes)
            maps = tuple(a.float() for a in self.backbone.attention_probabilities(inputs))
        finally:
            self.backbone.train(was_training)
        return maps, inputs


class CachedPredictor:
    """``BatchedPredictor.p_promoter`` remembered by input: ``predictor(codes)`` with codes (N, L)
    int -> p(promoter) (N,) float64, running the model only for inputs not seen before (equal
    shape, dtype and bytes; the stored array is returned, so do not modify it).

    Faithfulness uses one per checkpoint: runs of that checkpoint on the same sequences share
    their unperturbed and random-order inputs, so only the attribution-ordered curves cost new
    model evaluations (``model.evaluations`` counts those). Results are kept for the
    predictor's life: one (N,) array per distinct input.
    """

    def __init__(self, model: BatchedPredictor):
        self.model = model
        self._results: dict[str, np.ndarray] = {}

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        codes = np.ascontiguousarray(codes)
        key = f"{codes.shape}:{codes.dtype}:{hashlib.sha1(codes.tobytes()).hexdigest()}"
        if key not in self._results:
            self._results[key] = self.model.p_promoter(codes)
        return self._results[key]
