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


def dinucleotide_shuffle(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """codes (L,) -> a uniformly random sequence (L,) with the same dinucleotide counts and
    the same first and last base (Kandel et al. 1996: random last-exit arborescence by
    Wilson's algorithm, shuffled remaining edges, Euler walk)."""
    codes = np.asarray(codes)
    length = len(codes)
    if length < 3:
        return codes.copy()
    successors = [codes[1:][codes[:-1] == v] for v in range(_LETTERS)]
    last = int(codes[-1])
    in_tree = np.zeros(_LETTERS, dtype=bool)
    in_tree[last] = True
    exit_edge = np.full(_LETTERS, -1)
    for start in range(_LETTERS):  # loop-erased random walks to the last base
        if in_tree[start] or len(successors[start]) == 0:
            continue
        v = start
        while not in_tree[v]:
            exit_edge[v] = rng.integers(len(successors[v]))
            v = int(successors[v][exit_edge[v]])
        v = start
        while not in_tree[v]:
            in_tree[v] = True
            v = int(successors[v][exit_edge[v]])
    order = []
    for v in range(_LETTERS):
        edges = successors[v]
        if exit_edge[v] < 0:
            order.append(rng.permutation(edges))
        else:
            rest = rng.permutation(np.delete(edges, exit_edge[v]))
            order.append(np.append(rest, edges[exit_edge[v]]))
    successors_left = [iter(edges.tolist()) for edges in order]  # the Euler walk, in plain Python ints
    walk = [int(codes[0])]
    for _ in range(1, length):
        walk.append(next(successors_left[walk[-1]]))
    return np.array(walk, dtype=codes.dtype)


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
        return np.stack([dinucleotide_shuffle(codes, rng) for _ in range(n)])
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
