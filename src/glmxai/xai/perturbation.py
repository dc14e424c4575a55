"""What LIME, SHAP and Anchors share: features of a sequence, its background pool and the
model output they explain."""
from __future__ import annotations

import hashlib

import numpy as np

from glmxai.data import shuffling as bg
from glmxai.options import OPTIONAL_SEED, SIZE
from glmxai.predictor import BatchedPredictor
from glmxai.xai import features as ft
from glmxai.xai.registry import Method

LINKS = {"identity": "p(promoter); positive = toward the promoter class (label 1)",
         "logit": "promoter log-odds (log p1 - log p0); positive = toward the promoter class (label 1)"}


def score_units_of(link: str) -> str:
    """What scores of the output ``link`` (``identity`` | ``logit``) measure; refuses an unknown link."""
    if link not in LINKS:
        raise ValueError(f"unknown xai.link {link!r}; expected one of {tuple(LINKS)}")
    return LINKS[link]


class PerturbationMethod(Method):
    """A method that masks features and replaces them from a background.

    features: ``windows`` (``window`` bp tiles) or ``tokens`` (the model's tokens);
    background: ``dinuc_shuffle`` | ``composition`` | ``N``; n_backgrounds: size K of the
    background pool drawn per explained sequence; background_seed: an integer draws a sequence's
    pool from that seed and the sequence itself, so that every run and every method with the same
    settings shares it (shared backgrounds: ``explain.seed`` then changes only the samples);
    null draws it from the run's generator.
    link: the model output explained, ``identity`` (p(promoter)) or ``logit`` (the promoter
    log-odds, log p1 - log p0).
    """

    numbers = {"window": SIZE, "n_backgrounds": SIZE, "background_seed": OPTIONAL_SEED}

    def __init__(self, model: BatchedPredictor, tss: int, features: str = "windows", window: int = 6,
                 background: str = "dinuc_shuffle", n_backgrounds: int = 8, background_seed: int | None = None,
                 link: str = "identity"):
        super().__init__(model, tss)
        if features not in ft.KINDS:
            raise ValueError(f"unknown xai.features {features!r}; expected one of {ft.KINDS}")
        self.score_units = score_units_of(link)
        bg.check_background(background, n_backgrounds)
        ft.windows(1, window)  # validates the width
        self.features, self.window = features, window
        self.background, self.n_backgrounds, self.background_seed = background, n_backgrounds, background_seed
        self.link = link

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
        """The background pool (K, L) of one sequence (from ``rng`` unless ``background_seed`` is set)."""
        if self.background_seed is not None:
            digest = hashlib.sha256(np.ascontiguousarray(codes, dtype=np.int8).tobytes()).digest()
            rng = np.random.default_rng([self.background_seed, *np.frombuffer(digest[:16], dtype=np.uint32)])
        return bg.make_backgrounds(codes, self.background, self.n_backgrounds, rng)

    def output(self, codes: np.ndarray) -> np.ndarray:
        """codes (n, L) int -> the explained model output (n,) float64: p(promoter) or its log-odds."""
        if self.link == "logit":
            return self.model.promoter_logit_and_p(codes)[0]
        return self.model.p_promoter(codes)

    def weighted_features(self, codes: np.ndarray, features: ft.Features, weights: np.ndarray) -> list[dict]:
        """Feature descriptions with their weights, for the records file."""
        described = features.describe(codes, self.tss)
        for item, weight in zip(described, weights):
            item["weight"] = float(weight)
        return described
