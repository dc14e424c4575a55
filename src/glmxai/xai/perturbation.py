"""What LIME, SHAP and Anchors share: features of a sequence and its background pool."""
from __future__ import annotations

import numpy as np

from glmxai.xai import background as bg
from glmxai.xai import features as ft
from glmxai.xai.model import CountingModel
from glmxai.xai.registry import Method


class PerturbationMethod(Method):
    """A method that masks features and replaces them from a background.

    features: ``windows`` (``window`` bp tiles) or ``tokens`` (the model's tokens);
    background: ``dinuc_shuffle`` | ``composition`` | ``N``; n_backgrounds: size K of the
    background pool drawn per explained sequence.
    """

    def __init__(self, model: CountingModel, tss: int = 249, features: str = "windows", window: int = 6,
                 background: str = "dinuc_shuffle", n_backgrounds: int = 8):
        super().__init__(model, tss)
        if features not in ft.KINDS:
            raise ValueError(f"unknown xai.features {features!r}; expected one of {ft.KINDS}")
        bg.check_background(background, n_backgrounds)
        ft.windows(1, window)  # validates the width
        self.features, self.window = features, window
        self.background, self.n_backgrounds = background, n_backgrounds

    def check_length(self, length: int) -> None:
        if self.features == "windows" and self.window >= length:
            raise ValueError(f"xai.window={self.window} makes one feature of a whole {length}-bp sequence, so every "
                             f"score would be 0; choose xai.window from 1 to {length - 1}")

    def features_of(self, codes: np.ndarray) -> ft.Features:
        """The features of one sequence ``codes`` (L,)."""
        if self.features == "tokens":
            return ft.tokens(self.model.backbone, codes)
        return ft.windows(len(codes), self.window)

    def backgrounds_of(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The background pool (K, L) of one sequence."""
        return bg.make_backgrounds(codes, self.background, self.n_backgrounds, rng)

    def weighted_features(self, codes: np.ndarray, features: ft.Features, weights: np.ndarray) -> list[dict]:
        """Feature descriptions with their weights, for the records file."""
        described = features.describe(codes, self.tss)
        for item, weight in zip(described, weights):
            item["weight"] = float(weight)
        return described
