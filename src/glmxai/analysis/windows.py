"""Sums over sliding windows of per-position values (attribution scores, motif masks)."""
from __future__ import annotations

import numpy as np


def window_sums(values: np.ndarray, width: int) -> np.ndarray:
    """(N, L) -> (N, L - width + 1) float64: per row, the sum over each window of ``width``
    consecutive positions (column s covers positions s .. s + width - 1). Boolean masks give
    exact counts of covered positions."""
    values = np.asarray(values)
    if not 1 <= width <= values.shape[1]:
        raise ValueError(f"window width {width} must be in 1..{values.shape[1]} (the row length)")
    cum = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(values, axis=1, dtype=np.float64, out=cum[:, 1:])
    return cum[:, width:] - cum[:, :-width]
