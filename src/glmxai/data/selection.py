"""Which sequences of a split get explained."""
from __future__ import annotations

import numpy as np

SELECTIONS = ("first", "random", "stratified", "annotated")


def select_rows(labels: np.ndarray, n: int | None, selection: str, seed: int, source: str = "the split"
                ) -> np.ndarray:
    """Row numbers (n,) into a split with ``labels`` (N,), in increasing order.

    first: rows 0..n-1; random: n rows drawn without replacement; stratified: label-balanced,
    half of n from each label (the other label fills in where one runs short). n None: every
    row; n larger than N is an error (naming ``source``), not a silent cut.
    """
    if selection not in SELECTIONS:
        raise ValueError(f"unknown explain.selection {selection!r}; expected one of {SELECTIONS}")
    total = len(labels)
    if n is not None and n > total:
        raise ValueError(f"explain.n={n}, but {source} has only {total} rows: set explain.n={total} or "
                         "explain.n=null to explain every row")
    if n is None or n == total:
        return np.arange(total)
    if n < 1:
        raise ValueError(f"explain.n must be positive, got {n}")
    if selection == "first":
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if selection == "random":
        return np.sort(rng.choice(total, size=n, replace=False))
    by_label = [rng.permutation(np.flatnonzero(labels == value)) for value in np.unique(labels)]
    take = [min(len(rows), n // len(by_label)) for rows in by_label]
    for i, rows in enumerate(by_label):  # hand the remainder to labels with rows left
        extra = min(len(rows) - take[i], n - sum(take))
        take[i] += extra
    return np.sort(np.concatenate([rows[:k] for rows, k in zip(by_label, take)]))


def annotated_rows(labels: np.ndarray, flags: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Rows (increasing) that answer a question about one annotation flag with power: ``n`` rows
    flagged 1 (None: every one), and as many promoters flagged 0 and as many negatives (label 0),
    each drawn at random (fewer where a group runs short). flags (N,): 1.0, 0.0 or NaN (not
    annotated)."""
    rng = np.random.default_rng(seed)
    flagged = rng.permutation(np.flatnonzero(flags == 1))
    if not len(flagged):
        raise ValueError("explain.selection=annotated: no row of the split has the flag explain.stratify_by set")
    flagged = flagged[: len(flagged) if n is None else n]
    others = [rng.permutation(np.flatnonzero((flags == 0) & (labels == 1))),
              rng.permutation(np.flatnonzero(labels == 0))]
    return np.sort(np.concatenate([flagged, *(rows[: len(flagged)] for rows in others)]))
