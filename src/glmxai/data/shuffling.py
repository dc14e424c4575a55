"""DNA-aware backgrounds: what a masked nucleotide is replaced with.

Perturbation never deletes: a masked feature takes the bases of a background sequence of the
same length at the same positions. Kinds:

- ``dinuc_shuffle`` (default): a random dinucleotide shuffle of the sequence itself
  (Altschul-Erickson Euler-path shuffle): same length, composition, dinucleotide counts,
  first and last base; motifs are broken up;
- ``composition``: independent random bases drawn with the sequence's A/C/G/T frequencies;
- ``N``: every base ``N`` (all-zero one-hot).
"""
from __future__ import annotations

import numpy as np

from glmxai.data.encoding import N_CODE

KINDS = ("dinuc_shuffle", "composition", "N")
_LETTERS = 5  # A C G T N


def dinucleotide_shuffles(codes: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """codes (L,) -> ``n`` independent, uniformly random sequences (n, L) with the same
    dinucleotide counts and the same first and last base (Kandel et al. 1996: a random
    last-exit arborescence by Wilson's algorithm, shuffled remaining edges, Euler walk).
    Vectorised over the ``n`` shuffles, so a pool costs about as much as a few single ones."""
    codes = np.asarray(codes)
    length = len(codes)
    if length < 3:
        return np.repeat(codes[None, :], n, axis=0)
    rows = np.arange(n)
    successors = [codes[1:][codes[:-1] == v] for v in range(_LETTERS)]
    degree = np.array([len(edges) for edges in successors])
    targets = np.zeros((_LETTERS, degree.max()), dtype=np.int64)  # targets[v, j]: head of v's j-th edge
    for v, edges in enumerate(successors):
        targets[v, : len(edges)] = edges
    last = int(codes[-1])
    in_tree = np.zeros((n, _LETTERS), dtype=bool)
    in_tree[:, last] = True
    exit_edge = np.full((n, _LETTERS), -1)
    for start in range(_LETTERS):  # loop-erased random walks to the last base, all shuffles at once
        if start == last or degree[start] == 0:
            continue
        for erase in (False, True):  # walk (re-drawing exit edges), then add the loop-erased path
            v = np.full(n, start)
            walking = rows[~in_tree[rows, v]]
            while len(walking):
                here = v[walking]
                if erase:
                    in_tree[walking, here] = True
                else:
                    exit_edge[walking, here] = (rng.random(len(walking)) * degree[here]).astype(np.int64)
                v[walking] = targets[here, exit_edge[walking, here]]
                walking = walking[~in_tree[walking, v[walking]]]
    order = np.zeros((n, _LETTERS, targets.shape[1]), dtype=np.int64)  # each vertex's edges, exit edge last
    for v in np.flatnonzero(degree):
        keys = rng.random((n, degree[v]))
        leaving = rows[exit_edge[:, v] >= 0]
        keys[leaving, exit_edge[leaving, v]] = 2.0
        order[:, v, : degree[v]] = targets[v][np.argsort(keys, axis=1)]
    walk = np.empty((length, n), dtype=np.int64)  # position-major: each step writes one contiguous row
    walk[0] = codes[0]
    order = order.reshape(-1)  # flat: row i's edges of vertex v start at (i * _LETTERS + v) * width
    width = targets.shape[1]
    next_edge = (rows[:, None] * _LETTERS + np.arange(_LETTERS)) * width  # (n, 5) flat index of each next edge
    next_edge = next_edge.reshape(-1)
    for t in range(1, length):  # the Euler walk
        slot = rows * _LETTERS + walk[t - 1]
        edge = next_edge[slot]
        walk[t] = order[edge]
        next_edge[slot] = edge + 1
    return walk.T.astype(codes.dtype)


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """codes (L,) -> one dinucleotide shuffle (L,) (``dinucleotide_shuffles``)."""
    return dinucleotide_shuffles(codes, 1, rng)[0]


def composition_matched(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """codes (L,) -> random bases (L,) drawn with the sequence's A/C/G/T frequencies
    (uniform if it has none)."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=_LETTERS)[:4].astype(float)
    freqs = counts / counts.sum() if counts.sum() else np.full(4, 0.25)
    return rng.choice(4, size=len(codes), p=freqs).astype(np.asarray(codes).dtype)


def make_backgrounds(codes: np.ndarray, kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """A pool of ``n`` background sequences (n, L) for the sequence ``codes`` (L,)."""
    codes = np.asarray(codes)
    if kind == "dinuc_shuffle":
        return dinucleotide_shuffles(codes, n, rng)
    if kind == "composition":
        return np.stack([composition_matched(codes, rng) for _ in range(n)])
    if kind == "N":
        return np.full((n, len(codes)), N_CODE, dtype=codes.dtype)
    raise ValueError(f"unknown background {kind!r}; expected one of {KINDS}")


def check_background(kind: str, n: int) -> None:
    """Raise ValueError for an unknown kind or a non-positive pool size."""
    if kind not in KINDS:
        raise ValueError(f"unknown background {kind!r}; expected one of {KINDS}")
    if n < 1:
        raise ValueError(f"n_backgrounds must be at least 1, got {n}")
