"""The original study's k-mer tables, recomputed with counts, backgrounds and tests.

A feature is a k-mer window at one position; its importance is the sum of the
attribution over its k positions. Per sequence, the ``top`` most positive (and most
negative) non-overlapping windows are that sequence's top features. Every count is set
against how often the k-mer (or a motif hit) occurs among all windows, so that a k-mer
that is merely frequent does not look important.
"""
from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai.analysis.inputs import ExplainRun
from glmxai.analysis.motifs import hit_mask
from glmxai.analysis.report import Report
from glmxai.analysis.windows import window_sums

log = logging.getLogger(__name__)


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
    importance = window_sums(scores, k)  # (N, L - k + 1) feature importances
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
    importance = window_sums(scores, k)
    overlaps = window_sums(motif_mask, k) > 0  # (N, L - k + 1)
    rows = []
    for label in (0, 1):
        keep = np.flatnonzero(np.asarray(labels) == label)
        if not len(keep):
            continue
        chosen = top_windows(importance[keep], k, top)
        n_top = int(sum(len(c) for c in chosen))
        hits = int(sum(overlaps[r, c].sum() for r, c in zip(keep, chosen)))
        expected = float(overlaps[keep].mean())
        p = np.nan
        if n_top and expected:
            p = float(stats.binomtest(hits, n_top, expected, alternative="greater").pvalue)
        rows.append({"label": label, "top_features": n_top, "overlapping_motif": hits,
                     "share": hits / n_top if n_top else np.nan, "expected_share": expected, "binomial_p": p})
    return pd.DataFrame(rows)


def kmer_section(report: Report, runs: list[ExplainRun], hits: dict[str, pd.DataFrame], options: DictConfig,
                 tata: str) -> dict[str, dict]:
    """The k-mer tables of every run. hits: ``scan`` output per run name; options:
    ``cfg.kmers``; tata: the motif whose share of top features is tested. Returns per run
    name ``tata_share_of_top`` (records of ``motif_share_of_top``)."""
    log.info("analyze: k-mer tables of %d runs", len(runs))
    k, top = options.k, options.top
    report.section("k-mer tables (the original study's, with backgrounds)",
                   f"Features are {k}-mer windows; importance = summed attribution. Per sequence the {top} "
                   "highest (and lowest) non-overlapping windows are its top positive (negative) features.")
    by_label, tops, shares, summary = [], [], [], {}
    for run in runs:
        table, best = kmer_tables(run.sequences, run.scores, run.labels, k, top, options.n_top_kmers)
        by_label.append(run.tagged(table))
        tops.append(run.tagged(best))
        mask = hit_mask(hits[run.name], len(run.sequences), run.length, tata)
        share = motif_share_of_top(run.scores, run.labels, mask, k, top)
        shares.append(run.tagged(share))
        summary[run.name] = {"tata_share_of_top": share.to_dict("records")}
    report.table("kmer_importance_by_label", pd.concat(by_label, ignore_index=True),
                 "k-mers among top positive / negative features by label, with all occurrences.", 20)
    report.table("top_kmers", pd.concat(tops, ignore_index=True),
                 "Top k-mers among top positive features per run and label: counts, expected counts if top "
                 "windows were random, enrichment and one-sided Fisher p.")
    report.table("tata_share_of_top_features", pd.concat(shares, ignore_index=True),
                 f"Share of top positive features overlapping a {tata} hit vs the share of all "
                 "windows that do (expected), one-sided binomial test.")
    return summary
