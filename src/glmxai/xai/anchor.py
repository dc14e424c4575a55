"""Anchors: a short rule of kept features that fixes the prediction, found by anchor-exp's
KL-LUCB beam search (``anchor.anchor_base.AnchorBaseBeam``) with a DNA sampler.

Sampler: the anchor's features keep the sequence's bases; every other feature is replaced,
independently with probability ``perturb_probability``, from one background of the pool. A
sample is "positive" when the model predicts the same class as for the sequence itself.
Rule: "TATAAA at -31..-26 AND GGGCGG at -72..-67 -> promoter", with precision (share of
covered samples with the same prediction) and coverage (share of perturbation samples the
rule covers). Scores: the k-th of K anchor features gets (K - k) / K shared over its
nucleotides, signed + for a promoter prediction and - otherwise; all other positions 0.
"""
from __future__ import annotations

import numpy as np
from anchor.anchor_base import AnchorBaseBeam

from glmxai.options import POSITIVE_SHARE, SHARE, SIZE, Number
from glmxai.predictor import BatchedPredictor
from glmxai.xai import features as ft
from glmxai.xai.perturbation import PerturbationMethod
from glmxai.xai.records import Attribution
from glmxai.xai.registry import numpy_global_seed, register

CLASS_NAMES = ("non-promoter", "promoter")


@register("anchor")
class Anchor(PerturbationMethod):
    """threshold: precision an anchor must reach; delta, epsilon: confidence and tolerance of
    KL-LUCB; batch_size: samples per bandit pull; beam_size; max_anchor_size: most features in
    a rule (null: no limit); min_samples_start: perturbation samples drawn up front (the
    first bandit statistics come from them, not from one-sample model calls); coverage_samples:
    samples to estimate coverage (no model calls);
    stop_on_first: stop at the first anchor reaching ``threshold`` (else search for the
    largest coverage)."""

    records_file = "anchors.jsonl"
    numbers = {"threshold": POSITIVE_SHARE, "delta": POSITIVE_SHARE, "epsilon": POSITIVE_SHARE, "batch_size": SIZE,
               "beam_size": SIZE,
               "max_anchor_size": Number(low=1, optional=True), "min_samples_start": SIZE, "coverage_samples": SIZE,
               "perturb_probability": SHARE}

    def __init__(self, model: BatchedPredictor, tss: int, features: str = "windows", window: int = 6,
                 background: str = "dinuc_shuffle", n_backgrounds: int = 16, background_seed: int | None = 0,
                 threshold: float = 0.9,
                 delta: float = 0.2, epsilon: float = 0.2, batch_size: int = 64, beam_size: int = 1,
                 max_anchor_size: int | None = 4, min_samples_start: int = 128, coverage_samples: int = 1000,
                 perturb_probability: float = 0.5,
                 stop_on_first: bool = True):
        super().__init__(model, tss, features, window, background, n_backgrounds, background_seed)
        if not 0 < perturb_probability <= 1:
            raise ValueError(f"anchor perturb_probability must be in (0, 1], got {perturb_probability}")
        self.threshold, self.delta, self.epsilon = threshold, delta, epsilon
        self.batch_size, self.beam_size, self.max_anchor_size = batch_size, beam_size, max_anchor_size
        self.min_samples_start, self.coverage_samples = min_samples_start, coverage_samples
        self.perturb_probability = perturb_probability
        self.stop_on_first = stop_on_first

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        features = self.features_of(codes)
        backgrounds = self.backgrounds_of(codes, rng)
        predicted = int(prob >= 0.5)

        def sample_fn(present: list[int], n: int, compute_labels: bool = True):
            keep = rng.random((n, len(features))) >= self.perturb_probability
            keep[:, present] = True
            labels = np.zeros(n, dtype=int)
            if compute_labels:
                choice = rng.integers(len(backgrounds), size=n)
                p = self.model.p_promoter(ft.compose(codes, backgrounds, keep, choice, features))
                labels = ((p >= 0.5) == predicted).astype(int)
            data = keep.astype(np.uint8)
            return data, data, labels

        with numpy_global_seed(rng):
            found = AnchorBaseBeam.anchor_beam(
                sample_fn, delta=self.delta, epsilon=self.epsilon, batch_size=self.batch_size,
                desired_confidence=self.threshold, beam_size=self.beam_size, max_anchor_size=self.max_anchor_size,
                min_samples_start=self.min_samples_start, coverage_samples=self.coverage_samples,
                stop_on_first=self.stop_on_first)
        chosen = [int(f) for f in found["feature"]]
        described = features.describe(codes, self.tss)
        terms = [described[f] for f in chosen]
        weights = np.zeros(len(features))
        sign = 1.0 if predicted else -1.0
        for rank, f in enumerate(chosen):
            weights[f] = sign * (len(chosen) - rank) / len(chosen)
        conditions = " AND ".join(f"{t['site']} at {t['position']}" for t in terms) or "(empty rule)"
        record = {
            "rule": f"{conditions} -> {CLASS_NAMES[predicted]}",
            "prediction": CLASS_NAMES[predicted],
            "precision": float(found["precision"][-1]) if chosen else float(found["all_precision"]),
            "coverage": float(found["coverage"][-1]) if chosen else 1.0,
            "features": [dict(t, precision=float(pr), coverage=float(cv))
                         for t, pr, cv in zip(terms, found["precision"], found["coverage"])],
        }
        return Attribution(ft.spread(weights, features.spans, len(codes)), record=record)
