"""Background sequences the probes plant patterns into, drawn from a checkpoint's training split:

- ``profile``: a position-specific null: every position drawn independently with the base
  frequencies of the training sequences at that position (keeps the GC gradient around the TSS,
  breaks every motif);
- ``dinuc_shuffle``: dinucleotide shuffles of random training sequences (composition and
  dinucleotide counts kept, positions and motifs lost);
- ``negatives``: real non-promoters of the training split, unchanged.

Optionally only backgrounds whose promoter logit lies between two percentiles of a larger pool
are kept (Koo et al. 2021 keep the 10-90 percentile band), so that extreme predictions do not
dominate the mean change.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from glmxai.data.shuffling import dinucleotide_shuffle

KINDS = ("profile", "dinuc_shuffle", "negatives")
Readout = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # codes (n, L) -> logit (n,), p (n,)


def position_profile(codes: np.ndarray, pseudocount: float = 1.0) -> np.ndarray:
    """(N, L) codes -> (L, 4) frequencies of A, C, G, T per position (``N`` ignored)."""
    counts = np.stack([(codes == base).sum(axis=0) for base in range(4)], axis=1).astype(np.float64) + pseudocount
    return counts / counts.sum(axis=1, keepdims=True)


def sample_profile(profile: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(L, 4) frequencies -> (n, L) int8 codes, each position drawn independently."""
    cumulative = np.cumsum(profile, axis=1)
    draws = rng.random((n, len(profile), 1))
    return np.minimum((draws > cumulative[None]).sum(axis=2), 3).astype(np.int8)


def draw_pool(kind: str, codes: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` backgrounds (n, L) of ``kind`` from the training codes (N, L) and labels (N,);
    ``negatives`` gives at most as many as the split holds, without repeats."""
    if kind == "profile":
        return sample_profile(position_profile(codes), n, rng)
    if kind == "dinuc_shuffle":
        rows = rng.choice(len(codes), size=n, replace=n > len(codes))
        return np.stack([dinucleotide_shuffle(codes[r], rng) for r in rows])
    if kind == "negatives":
        negatives = np.flatnonzero(labels == 0)
        if not len(negatives):
            raise ValueError("the training split holds no non-promoters (label 0) to use as backgrounds")
        return codes[rng.choice(negatives, size=min(n, len(negatives)), replace=False)]
    raise ValueError(f"unknown background kind {kind!r}; expected one of {KINDS}")


def draw_backgrounds(kind: str, codes: np.ndarray, labels: np.ndarray, n: int, readout: Readout, seed: int,
                     percentiles: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backgrounds of ``kind`` and their readouts: (codes (m, L), logit (m,), p (m,)), m <= n.
    With ``percentiles`` (lo, hi), a pool of n * 100 / (hi - lo) is drawn and the first n whose
    logit lies within the pool's lo..hi percentiles are kept."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    pool_size = n if percentiles is None else math.ceil(n * 100 / (percentiles[1] - percentiles[0]))
    pool = draw_pool(kind, codes, labels, pool_size, rng)
    logit, prob = readout(pool)
    if percentiles is not None:
        low, high = np.percentile(logit, percentiles)
        keep = np.flatnonzero((logit >= low) & (logit <= high))[:n]
        pool, logit, prob = pool[keep], logit[keep], prob[keep]
    return pool[:n], logit[:n], prob[:n]
