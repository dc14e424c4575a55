"""In-silico saturation mutagenesis (ISM): every position x its 3 alternative bases
(4 at an ``N``), all single mutants evaluated in one batched call.

Score of position i: p(x) - mean over alternatives b of p(x with i -> b), i.e. how much the
observed base supports the promoter class. Extra array ``delta`` (4, L): p(mutant) - p(x)
for base b at position i (0 at the observed base), written to ``ism.npz``.
"""
from __future__ import annotations

import numpy as np

from glmxai.xai.records import Attribution
from glmxai.xai.registry import Method, register


def single_mutants(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All single-base substitutions of ``codes`` (L,) to A/C/G/T: mutants (M, L), and for each
    its position (M,) and new base (M,)."""
    positions, bases = np.nonzero(np.arange(4)[None, :] != codes[:, None])  # (L, 4) grid, observed base left out
    mutants = np.repeat(codes[None, :], len(positions), axis=0)
    mutants[np.arange(len(positions)), positions] = bases
    return mutants, positions, bases


@register("ism")
class SaturationMutagenesis(Method):
    """No parameters: L x 3 model evaluations per sequence."""

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        mutants, positions, bases = single_mutants(codes)
        delta = np.zeros((4, len(codes)), dtype=np.float64)
        delta[bases, positions] = self.model.p_promoter(mutants) - prob
        n_alternatives = np.bincount(positions, minlength=len(codes))
        scores = -delta.sum(axis=0) / n_alternatives
        return Attribution(scores.astype(np.float32), arrays={"delta": delta.astype(np.float32)})
