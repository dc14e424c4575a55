"""SHAP values of features with ``shap.PermutationExplainer``.

Why Permutation (not Kernel or Partition): it needs no regression or regularisation
choices (Kernel SHAP's weighted least squares is ill-conditioned with few samples), it is
exactly additive for every number of permutations (scores sum to f(x) - E[f(background)]),
its cost is fixed and predictable (``permutations`` x (2F + 1) masks, antithetic), and it
does not impose a feature hierarchy (Partition's Owen values depend on the clustering chosen).

The game: feature f is "present" with the sequence's own bases, "absent" with the bases
of a background sequence at the same positions; the payoff is the explained output (``link``:
p(promoter), or its log-odds, default: a saturated probability makes the game strongly
non-additive, so permutation estimates vary far more from seed to seed; docs/scale.md).
``shap.maskers.Independent`` over a background matrix whose row k is all k (k = 1..K) and the
input row all 0 gives, for each coalition, K rows telling which background fills the absent
features; the value of a coalition is the mean output over the K backgrounds.

``permutation_per_background`` (default): the same game and the same cost, sampled the other
way round: each background gets its own ``permutations`` antithetic permutations (one
``PermutationExplainer`` call with that background alone) and the K results are averaged, so
K x ``permutations`` orders are seen instead of ``permutations``; still exactly additive.
"""
from __future__ import annotations

import numpy as np
import shap

from glmxai.options import SIZE
from glmxai.predictor import BatchedPredictor
from glmxai.xai import features as ft
from glmxai.xai.perturbation import PerturbationMethod
from glmxai.xai.records import Attribution
from glmxai.xai.registry import numpy_global_seed, register


@register("shap")
class Shap(PerturbationMethod):
    """permutations: antithetic permutations (model evaluations per sequence about
    permutations x (2F + 1) x n_backgrounds); n_backgrounds: backgrounds averaged over;
    permutation_per_background: draw the permutations per background instead of sharing them."""

    records_file = "features.jsonl"
    numbers = {"permutations": SIZE}

    def __init__(self, model: BatchedPredictor, tss: int, features: str = "windows", window: int = 6,
                 background: str = "dinuc_shuffle", n_backgrounds: int = 8, background_seed: int | None = 0,
                 link: str = "logit", permutations: int = 1, permutation_per_background: bool = True):
        super().__init__(model, tss, features, window, background, n_backgrounds, background_seed, link)
        if permutations < 1:
            raise ValueError(f"shap needs permutations >= 1, got {permutations}")
        self.permutations = permutations
        self.permutation_per_background = permutation_per_background

    def _shapley(self, codes: np.ndarray, backgrounds: np.ndarray, features: ft.Features,
                 seed: int) -> tuple[np.ndarray, float]:
        """SHAP values (F,) and base value of the game averaged over ``backgrounds`` (K, L)."""
        n_features = len(features)

        def value(rows: np.ndarray) -> np.ndarray:  # rows (n, F): 0 own bases, k background k-1
            keep = rows == 0
            choice = np.maximum(rows.max(axis=1) - 1, 0).astype(int)
            return self.output(ft.compose(codes, backgrounds, keep, choice, features))

        masker = shap.maskers.Independent(np.repeat(np.arange(1, len(backgrounds) + 1)[:, None], n_features, axis=1),
                                          max_samples=len(backgrounds))
        explainer = shap.PermutationExplainer(value, masker, seed=seed)
        result = explainer(np.zeros((1, n_features), dtype=int), max_evals=self.permutations * (2 * n_features + 1),
                           batch_size=max(1, self.model.batch_size // len(backgrounds)), silent=True)
        return np.asarray(result.values[0], dtype=np.float64), float(np.asarray(result.base_values).ravel()[0])

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        features = self.features_of(codes)
        backgrounds = self.backgrounds_of(codes, rng)
        pools = [backgrounds[k : k + 1] for k in range(len(backgrounds))] if self.permutation_per_background \
            else [backgrounds]
        with numpy_global_seed(rng) as seed:
            results = [self._shapley(codes, pool, features, (seed + k) % 2**32) for k, pool in enumerate(pools)]
        weights = np.mean([values for values, _ in results], axis=0)
        record = {"base_value": float(np.mean([base for _, base in results])),
                  "features": self.weighted_features(codes, features, weights)}
        return Attribution(ft.spread(weights, features.spans, len(codes)), record=record)
