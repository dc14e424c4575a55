"""Agreement between explanations of the same sequences: per-sequence Spearman correlation
of the attribution vectors and overlap of their top-k positions, for every pair of runs
(methods of one model, models under one method, and the rest)."""
from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai import figures
from glmxai.explain_runs import ExplainRun
from glmxai.report import Report

log = logging.getLogger(__name__)


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, L) x (N, L) -> (N,) Spearman correlation per row (NaN where a row is constant)."""
    ra = stats.rankdata(a, axis=1)
    rb = stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (ra * rb).sum(axis=1) / denom, np.nan)


def topk_overlap(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """(N, L) x (N, L) -> (N,) expected |top-k(a) & top-k(b)| / k when ties at the k-th value
    are broken uniformly at random. Sparse attributions (Anchors: a few windows, zeros
    elsewhere) tie on most positions; breaking those ties by position would make any two
    sparse runs agree on the same arbitrary positions."""
    return (_topk_probability(a, k) * _topk_probability(b, k)).sum(axis=1) / k


def _topk_probability(x: np.ndarray, k: int) -> np.ndarray:
    """(N, L) -> (N, L) probability that each position is in the top k: 1 above the k-th
    value; for positions equal to it, their share of the top-k slots left; 0 below."""
    kth = -np.sort(-x, axis=1)[:, k - 1 : k]
    above = x > kth
    tied = x == kth
    slots_left = k - above.sum(axis=1, keepdims=True)
    return np.where(above, 1.0, np.where(tied, slots_left / tied.sum(axis=1, keepdims=True), 0.0))


def pairwise_agreement(names: Sequence[str], scores: Sequence[np.ndarray], keys: Sequence[np.ndarray],
                       k: int = 20, absolute: bool = True) -> pd.DataFrame:
    """For every pair of runs (``names[i]``, scores (N_i, L), row ``keys`` (N_i,) identifying
    the sequence): compare on their common sequences. Returns one row per pair with
    ``n``, ``spearman_mean``/``spearman_median`` and ``topk_mean`` (k positions, by |score|
    when ``absolute``)."""
    rows = []
    for (i, a), (j, b) in itertools.combinations(enumerate(scores), 2):
        common, ia, ib = np.intersect1d(keys[i], keys[j], return_indices=True)
        if not len(common) or a.shape[1] != b.shape[1]:
            continue
        x, y = a[ia], b[ib]
        if absolute:
            x, y = np.abs(x), np.abs(y)
        rho = spearman_rows(x, y)
        rows.append({"a": names[i], "b": names[j], "n": len(common), "spearman_mean": np.nanmean(rho),
                     "spearman_median": np.nanmedian(rho), f"top{k}_overlap": topk_overlap(x, y, k).mean()})
    return pd.DataFrame(rows, columns=["a", "b", "n", "spearman_mean", "spearman_median", f"top{k}_overlap"])


def agreement_matrix(pairs: pd.DataFrame, names: Sequence[str], column: str) -> pd.DataFrame:
    """Symmetric (runs x runs) matrix of ``column`` from ``pairwise_agreement``; diagonal 1."""
    matrix = pd.DataFrame(np.nan, index=list(names), columns=list(names))
    for name in names:
        matrix.loc[name, name] = 1.0
    for row in pairs.itertuples(index=False):
        value = getattr(row, column)
        matrix.loc[row.a, row.b] = matrix.loc[row.b, row.a] = value
    return matrix


def agreement_of_runs(runs: list[ExplainRun], options: DictConfig) -> pd.DataFrame | None:
    """``pairwise_agreement`` of every pair of runs on their shared sequences (options:
    ``cfg.agreement``); None with fewer than two runs."""
    if len(runs) < 2:
        return None
    log.info("analyze: agreement between %d runs", len(runs))
    keys = [np.array([f"{r.data_key}#{i}" for i in r.index]) for r in runs]
    return pairwise_agreement([r.name for r in runs], [r.scores for r in runs], keys, options.k, options.absolute)


def agreement_section(report: Report, runs: list[ExplainRun], pairs: pd.DataFrame | None,
                      options: DictConfig) -> dict[str, dict]:
    """Write the agreement of the runs (``agreement_of_runs``). Returns per run name
    ``mean_spearman_with_others`` (empty with fewer than two runs or no shared sequences)."""
    if pairs is None:
        report.skip("agreement between runs", f"{len(runs)} run: agreement needs two")
        return {}
    k = options.k
    report.section("Agreement between methods and models",
                   f"Per-sequence Spearman correlation and top-{k} position overlap "
                   f"({'|attribution|' if options.absolute else 'attribution'}), on shared sequences.")
    names = [r.name for r in runs]
    if pairs.empty:
        report.findings(["No two runs share sequences; agreement not computed."])
        report.skip("agreement between runs", "no two runs explained the same sequences")
        return {}
    report.table("agreement_pairs", pairs, "One row per pair of runs.")
    for column, vmin in (("spearman_mean", -1.0), (f"top{k}_overlap", 0.0)):
        matrix = agreement_matrix(pairs, names, column)
        report.table(f"agreement_{column}", matrix.reset_index(names="run"), f"Matrix of {column}.")
        report.figure(f"agreement_{column}", figures.heatmap(matrix, column, vmin=vmin), f"{column} between runs.")
    return {name: {"mean_spearman_with_others": float(pairs.loc[(pairs["a"] == name) | (pairs["b"] == name),
                                                                "spearman_mean"].mean())} for name in names}
