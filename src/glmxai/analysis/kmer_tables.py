"""The original study's k-mer tables, recomputed with counts, backgrounds and tests.

A feature is a k-mer window at one position; its importance is the sum of the
attribution over its k positions. Per sequence, the ``top`` most positive (and most
negative) non-overlapping windows are that sequence's top features. Every count is set
against how often the k-mer (or a motif hit) occurs among all windows, so that a k-mer
that is merely frequent does not look important.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats


def window_importance(scores: np.ndarray, k: int) -> np.ndarray:
    """(N, L) scores -> (N, L - k + 1) sums over each k-window."""
    cum = np.concatenate([np.zeros((scores.shape[0], 1)), np.cumsum(scores, axis=1, dtype=np.float64)], axis=1)
    return cum[:, k:] - cum[:, :-k]


def top_windows(importance: np.ndarray, k: int, top: int) -> list[np.ndarray]:
    """Per row, starts of the ``top`` highest windows (strictly positive) that do not overlap."""
    out = []
    for row in importance:
        chosen: list[int] = []
        for start in np.argsort(-row, kind="stable"):
            if row[start] <= 0 or len(chosen) == top:
                break
            if all(abs(start - c) >= k for c in chosen):
                chosen.append(int(start))
        out.append(np.array(chosen, dtype=int))
    return out


def kmer_tables(sequences: list[str], scores: np.ndarray, labels: np.ndarray, k: int = 6, top: int = 5,
                n_top_kmers: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns (by_label, top_kmers).

    by_label: per label x k-mer, ``n_top_positive`` / ``n_top_negative`` (times among a
    sequence's top positive / negative features), ``n_occurrences`` (all windows) and
    ``mean_importance`` over all occurrences. top_kmers: per label, the ``n_top_kmers``
    k-mers most often among top positive features, with ``expected`` count under random
    choice of windows, ``enrichment`` and Fisher's exact p (top vs other windows).
    """
    importance = window_importance(scores, k)
    labels = np.asarray(labels)
    by_label, top_rows = [], []
    for label in (0, 1):
        rows = np.flatnonzero(labels == label)
        if not len(rows):
            continue
        occ, imp_sum, pos, neg = Counter(), Counter(), Counter(), Counter()
        for r, positives, negatives in zip(rows, top_windows(importance[rows], k, top),
                                           top_windows(-importance[rows], k, top)):
            seq = sequences[r]
            kmers = [seq[s:s + k] for s in range(importance.shape[1])]
            occ.update(kmers)
            for kmer, value in zip(kmers, importance[r]):
                imp_sum[kmer] += float(value)
            pos.update(kmers[s] for s in positives)
            neg.update(kmers[s] for s in negatives)
        table = pd.DataFrame({"kmer": list(occ)})
        table["label"] = label
        table["n_top_positive"] = table["kmer"].map(pos).fillna(0).astype(int)
        table["n_top_negative"] = table["kmer"].map(neg).fillna(0).astype(int)
        table["n_occurrences"] = table["kmer"].map(occ).astype(int)
        table["mean_importance"] = table["kmer"].map(imp_sum) / table["n_occurrences"]
        table = table[(table["n_top_positive"] + table["n_top_negative"]) > 0]
        by_label.append(table.sort_values(["n_top_positive", "mean_importance"], ascending=False))
        total_top, total_windows = sum(pos.values()), sum(occ.values())
        for kmer, count in pos.most_common(n_top_kmers):
            expected = occ[kmer] * total_top / total_windows
            fisher = [[count, occ[kmer] - count], [total_top - count, total_windows - occ[kmer] - total_top + count]]
            top_rows.append({"label": label, "kmer": kmer, "n_top_positive": count, "n_occurrences": occ[kmer],
                             "expected": expected, "enrichment": count / expected if expected else np.nan,
                             "fisher_p": float(stats.fisher_exact(fisher, alternative="greater").pvalue),
                             "mean_importance": imp_sum[kmer] / occ[kmer]})
    columns = ["label", "kmer", "n_top_positive", "n_top_negative", "n_occurrences", "mean_importance"]
    by_label_df = pd.concat(by_label, ignore_index=True)[columns] if by_label else pd.DataFrame(columns=columns)
    return by_label_df, pd.DataFrame(top_rows, columns=["label", "kmer", "n_top_positive", "n_occurrences",
                                                        "expected", "enrichment", "fisher_p", "mean_importance"])


def motif_share_of_top(scores: np.ndarray, labels: np.ndarray, motif_mask: np.ndarray, k: int = 6,
                       top: int = 5) -> pd.DataFrame:
    """Share of top positive features (k-windows) that overlap a motif hit, per label, against
    the share of all k-windows that do (``expected``), with a one-sided binomial test.
    motif_mask: (N, L) bool positions covered by the motif's hits."""
    importance = window_importance(scores, k)
    cum = np.concatenate([np.zeros((len(motif_mask), 1), int), np.cumsum(motif_mask, axis=1)], axis=1)
    overlaps = (cum[:, k:] - cum[:, :-k]) > 0  # (N, L - k + 1)
    rows = []
    for label in (0, 1):
        keep = np.flatnonzero(np.asarray(labels) == label)
        if not len(keep):
            continue
        chosen = top_windows(importance[keep], k, top)
        n_top = int(sum(len(c) for c in chosen))
        hits = int(sum(overlaps[r, c].sum() for r, c in zip(keep, chosen)))
        expected = float(overlaps[keep].mean())
        p = float(stats.binomtest(hits, n_top, expected, alternative="greater").pvalue) if n_top and expected else np.nan
        rows.append({"label": label, "top_features": n_top, "overlapping_motif": hits,
                     "share": hits / n_top if n_top else np.nan, "expected_share": expected, "binomial_p": p})
    return pd.DataFrame(rows)
