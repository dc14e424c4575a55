"""Statistics of probe cells. A cell is one planted layout on n backgrounds; its values are
the per-background changes of the readout (modified - background). Per cell: the mean (the
GIA score), its 95% bootstrap CI (``scipy.stats.bootstrap``, BCa), the fraction of
backgrounds that went up, the Wilcoxon signed-rank test against 0 and, given a control
measured on the same backgrounds, the paired Wilcoxon test against the control
(``scipy.stats.wilcoxon``). A cell whose values are all equal has that value as its CI; one
whose values are all 0 has no test (NaN p)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

BOOTSTRAP_MEMORY = 20_000_000  # floats one bootstrap batch may hold


def wilcoxon_p(values: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of values (n,) against 0; NaN when all are 0."""
    values = np.asarray(values, dtype=np.float64)
    if not np.any(values != 0):
        return np.nan
    return float(stats.wilcoxon(values).pvalue)


def mean_ci(values: np.ndarray, n_resamples: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """values (C, n) -> 95% BCa bootstrap CI of each row's mean, (C,) low and (C,) high,
    resampling the backgrounds (one ``scipy.stats.bootstrap`` call over all rows; a row of equal
    values gets that value)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    low, high = values.mean(axis=1), values.mean(axis=1)
    varying = np.ptp(values, axis=1) > 0 if values.shape[1] else np.zeros(len(values), dtype=bool)
    if varying.any() and values.shape[1] > 1:
        subset = values[varying]
        batch = max(1, BOOTSTRAP_MEMORY // subset.size)
        result = stats.bootstrap((subset,), np.mean, axis=1, vectorized=True, n_resamples=n_resamples,
                                 batch=batch, rng=np.random.default_rng(seed))
        low[varying], high[varying] = result.confidence_interval
    return low, high


def cell_statistics(values: np.ndarray, control: np.ndarray | None = None, n_resamples: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """values (C, n) -> one row per cell: ``n``, ``mean``, ``ci_low``, ``ci_high``,
    ``fraction_positive``, ``wilcoxon_p``; with ``control`` (C, n), measured on the same
    backgrounds: ``control_mean`` and ``vs_control_p`` (paired Wilcoxon of values - control)."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    low, high = mean_ci(values, n_resamples, seed)
    frame = pd.DataFrame({"n": values.shape[1], "mean": values.mean(axis=1), "ci_low": low, "ci_high": high,
                          "fraction_positive": (values > 0).mean(axis=1),
                          "wilcoxon_p": [wilcoxon_p(v) for v in values]})
    if control is not None:
        control = np.atleast_2d(np.asarray(control, dtype=np.float64))
        frame["control_mean"] = control.mean(axis=1)
        frame["vs_control_p"] = [wilcoxon_p(v - c) for v, c in zip(values, control)]
    return frame


def peak_interval(curves: np.ndarray, positions: np.ndarray, n_resamples: int = 2000,
                  seed: int = 0) -> tuple[int, int, int]:
    """curves (n, P): one background's change at each of P positions. Returns the position of the
    largest mean change and the 2.5 and 97.5 percentiles of that position over bootstrap
    resamples of the backgrounds."""
    curves = np.asarray(curves, dtype=np.float64)
    positions = np.asarray(positions)
    rng = np.random.default_rng(seed)
    peaks = []
    per_batch = max(1, BOOTSTRAP_MEMORY // max(1, curves.size))
    for start in range(0, n_resamples, per_batch):
        rows = rng.integers(0, len(curves), size=(min(per_batch, n_resamples - start), len(curves)))
        peaks.append(positions[curves[rows].mean(axis=1).argmax(axis=1)])
    low, high = np.percentile(np.concatenate(peaks), [2.5, 97.5], method="nearest")
    return int(positions[curves.mean(axis=0).argmax()]), int(low), int(high)
