"""LIME with a DNA perturbation sampler (``lime.lime_base.LimeBase``).

Sampler (as LIME's text explainer, but replacing instead of deleting): sample 0 is the
sequence itself; each other sample masks a uniformly random number 1..F-1 of its F features,
chosen at random, and fills them from one background of the pool picked at random. LimeBase
fits a ridge model of the explained output (``link``: p(promoter), or its log-odds, default) on
the binary "feature kept" matrix, weighted by an exponential kernel of the cosine distance
(x100) to the unperturbed sample.
"""
from __future__ import annotations

import numpy as np
from lime.lime_base import LimeBase
from sklearn.linear_model import Ridge
from sklearn.metrics import pairwise_distances

from glmxai.xai import features as ft
from glmxai.xai.model import CountingModel
from glmxai.xai.perturbation import PerturbationMethod
from glmxai.xai.records import Attribution
from glmxai.xai.registry import register


def random_masks(n: int, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """keep (n, F) bool: row 0 all True; every other row masks a uniform 1..F-1 random features."""
    keep = np.ones((n, n_features), dtype=bool)
    if n > 1 and n_features > 1:
        n_masked = rng.integers(1, n_features, size=n - 1)
        ranks = rng.random((n - 1, n_features)).argsort(axis=1).argsort(axis=1)
        keep[1:] = ranks >= n_masked[:, None]
    return keep


@register("lime")
class Lime(PerturbationMethod):
    """num_samples: perturbed sequences per explained sequence (num_samples - 1 model
    evaluations with ``link=identity``, whose unperturbed prediction is reused; num_samples with
    ``logit``, whose log-odds are not recoverable from a saturated float32 probability);
    kernel_width: of LIME's exponential kernel on cosine distance x100; ridge_alpha:
    regularisation of the local ridge model."""

    records_file = "features.jsonl"

    def __init__(self, model: CountingModel, tss: int = 249, features: str = "windows", window: int = 6,
                 background: str = "dinuc_shuffle", n_backgrounds: int = 128, background_seed: int | None = None,
                 link: str = "identity", num_samples: int = 1000, kernel_width: float = 25.0,
                 ridge_alpha: float = 1.0):
        super().__init__(model, tss, features, window, background, n_backgrounds, background_seed, link)
        if num_samples < 2:
            raise ValueError(f"lime needs num_samples >= 2, got {num_samples}")
        self.num_samples, self.kernel_width, self.ridge_alpha = num_samples, kernel_width, ridge_alpha

    def _kernel(self, distances: np.ndarray) -> np.ndarray:
        return np.sqrt(np.exp(-(distances**2) / self.kernel_width**2))

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        features = self.features_of(codes)
        backgrounds = self.backgrounds_of(codes, rng)
        keep = random_masks(self.num_samples, len(features), rng)
        choice = rng.integers(len(backgrounds), size=self.num_samples)
        if self.link == "identity":
            perturbed = ft.compose(codes, backgrounds, keep[1:], choice[1:], features)
            output = np.concatenate([[prob], self.output(perturbed)])
        else:
            output = self.output(ft.compose(codes, backgrounds, keep, choice, features))
        data = keep.astype(np.float64)
        distances = pairwise_distances(data, data[:1], metric="cosine").ravel() * 100
        seed = int(rng.integers(2**31 - 1))
        lime = LimeBase(self._kernel, random_state=seed)
        intercept, weights_by_rank, r2, _ = lime.explain_instance_with_data(
            data, output[:, None], distances, label=0, num_features=len(features),
            feature_selection="none", model_regressor=Ridge(alpha=self.ridge_alpha, random_state=seed))
        weights = np.zeros(len(features))
        for feature, weight in weights_by_rank:
            weights[feature] = weight
        record = {"intercept": float(intercept), "r2": float(r2),
                  "features": self.weighted_features(codes, features, weights)}
        return Attribution(ft.spread(weights, features.spans, len(codes)), record=record)
