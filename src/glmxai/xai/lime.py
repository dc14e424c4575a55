"""LIME with a DNA perturbation sampler (``lime.lime_base.LimeBase``).

LIME's text explainer draws the number k of masked features uniformly from 1..F-1 and
weights each sample by an exponential kernel of its cosine distance (x100) to the unperturbed
sample, which depends on k alone. Its weighted least-squares objective is therefore the same,
in expectation, as drawing k with probability proportional to that kernel weight and weighting
every sample equally, which is what this sampler does (importance sampling: no samples wasted on
heavily masked sequences whose kernel weight is near 0; seed-to-seed Spearman 0.54 -> 0.60 on the
trained CNN, docs/scale.md). Sample 0 is the sequence itself; every other sample masks k features
chosen at random and fills them from one background of the pool picked at random (replacing,
never deleting). LimeBase fits a ridge model of the explained output (``link``: p(promoter), or
its log-odds, default) on the binary "feature kept" matrix.
"""
from __future__ import annotations

import numpy as np
from lime.lime_base import LimeBase
from sklearn.linear_model import Ridge

from glmxai.xai import features as ft
from glmxai.xai.model import CountingModel
from glmxai.xai.perturbation import PerturbationMethod
from glmxai.xai.records import Attribution
from glmxai.xai.registry import register


def kernel_weights(n_features: int, kernel_width: float) -> np.ndarray:
    """LIME's sample weight sqrt(exp(-d^2 / width^2)) of a sample with k = 1..F-1 of its F features
    masked (F - 1,): d = 100 x the cosine distance of its "kept" vector to all ones, 1 - sqrt((F - k) / F)."""
    masked = np.arange(1, n_features)
    distance = 100 * (1 - np.sqrt((n_features - masked) / n_features))
    return np.sqrt(np.exp(-(distance**2) / kernel_width**2))


def random_masks(n: int, n_features: int, rng: np.random.Generator, kernel_width: float) -> np.ndarray:
    """keep (n, F) bool: row 0 all True; every other row masks k random features, k in 1..F-1
    drawn with probability proportional to ``kernel_weights``."""
    keep = np.ones((n, n_features), dtype=bool)
    if n > 1 and n_features > 1:
        weights = kernel_weights(n_features, kernel_width)
        n_masked = rng.choice(np.arange(1, n_features), size=n - 1, p=weights / weights.sum())
        ranks = rng.random((n - 1, n_features)).argsort(axis=1).argsort(axis=1)
        keep[1:] = ranks >= n_masked[:, None]
    return keep


@register("lime")
class Lime(PerturbationMethod):
    """num_samples: perturbed sequences per explained sequence (num_samples - 1 model
    evaluations with ``link=identity``, whose unperturbed prediction is reused; num_samples with
    ``logit``, whose log-odds are not recoverable from a saturated float32 probability);
    kernel_width: of LIME's exponential kernel on cosine distance x100 (it sets how often each
    number of masked features is drawn); ridge_alpha: regularisation of the local ridge model."""

    records_file = "features.jsonl"

    def __init__(self, model: CountingModel, tss: int = 249, features: str = "windows", window: int = 6,
                 background: str = "dinuc_shuffle", n_backgrounds: int = 128, background_seed: int | None = None,
                 link: str = "identity", num_samples: int = 1000, kernel_width: float = 25.0,
                 ridge_alpha: float = 1.0):
        super().__init__(model, tss, features, window, background, n_backgrounds, background_seed, link)
        if num_samples < 2:
            raise ValueError(f"lime needs num_samples >= 2, got {num_samples}")
        self.num_samples, self.kernel_width, self.ridge_alpha = num_samples, kernel_width, ridge_alpha

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        features = self.features_of(codes)
        backgrounds = self.backgrounds_of(codes, rng)
        keep = random_masks(self.num_samples, len(features), rng, self.kernel_width)
        choice = rng.integers(len(backgrounds), size=self.num_samples)
        if self.link == "identity":
            perturbed = ft.compose(codes, backgrounds, keep[1:], choice[1:], features)
            output = np.concatenate([[prob], self.output(perturbed)])
        else:
            output = self.output(ft.compose(codes, backgrounds, keep, choice, features))
        data = keep.astype(np.float64)
        seed = int(rng.integers(2**31 - 1))
        lime = LimeBase(np.ones_like, random_state=seed)  # the kernel is in the sampling: equal weights
        intercept, weights_by_rank, r2, _ = lime.explain_instance_with_data(
            data, output[:, None], np.zeros(len(data)), label=0, num_features=len(features),
            feature_selection="none", model_regressor=Ridge(alpha=self.ridge_alpha, random_state=seed))
        weights = np.zeros(len(features))
        for feature, weight in weights_by_rank:
            weights[feature] = weight
        record = {"intercept": float(intercept), "r2": float(r2),
                  "features": self.weighted_features(codes, features, weights)}
        return Attribution(ft.spread(weights, features.spans, len(codes)), record=record)
