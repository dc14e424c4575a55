"""Features for the perturbation methods (LIME, SHAP, Anchors) and mapping weights back.

A feature is a nucleotide interval [start, end) of one sequence. ``windows`` are
``width``-bp tiles, the same for every model (default), so models are compared on equal
terms; ``tokens`` are the model's own tokens (``tokenizer.token_spans``; special and padding
tokens dropped, repeated spans kept once).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glmxai.data.encoding import to_strings
from glmxai.models.base import Backbone
from glmxai.xai.records import position_label

KINDS = ("windows", "tokens")


@dataclass(frozen=True)
class Features:
    """spans (F, 2) int [start, end) of F features over a sequence of ``length`` bp;
    membership (F, L) bool: which positions each feature covers."""

    spans: np.ndarray
    length: int

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def membership(self) -> np.ndarray:
        positions = np.arange(self.length)
        return (positions >= self.spans[:, :1]) & (positions < self.spans[:, 1:])

    def describe(self, codes: np.ndarray, tss: int) -> list[dict]:
        """Per feature: start, end, bases and position relative to the TSS."""
        text = to_strings(codes)[0]
        return [{"start": int(s), "end": int(e), "site": text[s:e], "position": position_label(s, e, tss)}
                for s, e in self.spans]


def windows(length: int, width: int) -> Features:
    """Tiles of ``width`` bp (the last one may be shorter): ceil(L / width) features."""
    if width < 1:
        raise ValueError(f"xai.window must be a positive number of bp, got {width}")
    starts = np.arange(0, length, width)
    return Features(np.stack([starts, np.minimum(starts + width, length)], axis=1), length)


def tokens(backbone: Backbone, codes: np.ndarray) -> Features:
    """The model's tokens of the sequence ``codes`` (L,) as features."""
    spans = backbone.tokenizer.token_spans(to_strings(codes))[0].cpu().numpy()
    spans = spans[spans[:, 0] >= 0]
    return Features(np.unique(spans, axis=0), len(codes))


def compose(codes: np.ndarray, backgrounds: np.ndarray, keep: np.ndarray, choice: np.ndarray,
            features: Features) -> np.ndarray:
    """Perturbed sequences (n, L): positions of features with ``keep`` (n, F) False take the
    bases of background ``choice`` (n,) from the pool ``backgrounds`` (K, L); all other
    positions keep ``codes`` (L,). A position covered by several features is replaced if any
    of them is masked."""
    replaced = (~keep).astype(np.int32) @ features.membership.astype(np.int32) > 0
    return np.where(replaced, backgrounds[choice], codes[None, :]).astype(codes.dtype)


def spread(weights: np.ndarray, spans: np.ndarray, length: int) -> np.ndarray:
    """Per-feature weights (F,) -> per-nucleotide scores (L,) float32: each feature's weight
    is shared equally by its nucleotides (so a feature's scores sum to its weight); a
    nucleotide covered by several features sums their shares; spans (F, 2) with start < 0
    (special tokens) are skipped."""
    scores = np.zeros(length, dtype=np.float64)
    for (start, end), weight in zip(spans, weights):
        if start >= 0 and end > start:
            scores[start:end] += weight / (end - start)
    return scores.astype(np.float32)
