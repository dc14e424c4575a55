"""The original study's k-mer tables, recomputed with counts, backgrounds and tests.

A feature is a k-mer window at one position; its importance is the sum of the
attribution over its k positions. Per sequence, the ``top`` most positive (and most
negative) non-overlapping windows are that sequence's top features. Every count is set
against how often the k-mer (or a motif hit) occurs among all windows, so that a k-mer
that is merely frequent does not look important. A row counts as a finding only with at
least ``min_count`` top features (``kmers.min_count``): rows below it stay in the tables,
flagged, and never reach a verdict, whatever their p-value.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai.analysis.windows import window_sums
from glmxai.explain_runs import ExplainRun
from glmxai.motifs import hit_mask
from glmxai.report import Report, fmt, p_clause

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


def flag_counts(table: pd.DataFrame, count: str, min_count: int) -> pd.DataFrame:
    """``table`` with ``finding`` (``count`` >= ``min_count``) and ``flag`` (why a row is not
    a finding) columns."""
    enough = table[count].to_numpy() >= min_count
    return table.assign(finding=enough, flag=np.where(enough, "", f"count < {min_count}: not a finding"))


def kmer_findings(top_kmers: pd.DataFrame, min_count: int, alpha: float = 0.05, per_label: int = 3) -> list[str]:
    """Per run and label, the k-mers enriched among top positive features that are findings:
    at least ``min_count`` times among them and adjusted Fisher p (``fisher_p_adj``) < alpha;
    the ``per_label`` most enriched. top_kmers: the ``top_kmers`` table with ``run``."""
    sentences = []
    for run, g in top_kmers.groupby("run", sort=False):
        found = g[(g["n_top_positive"] >= min_count) & (g["fisher_p_adj"] < alpha)]
        below = int(((g["n_top_positive"] < min_count) & (g["fisher_p_adj"] < alpha)).sum())
        note = (f"; {below} k-mer row{'s' if below > 1 else ''} with adjusted p < {fmt(alpha)} but fewer than "
                f"{min_count} top features {'are' if below > 1 else 'is'} not a finding") if below else ""
        if found.empty:
            sentences.append(f"{run}: no k-mer is enriched among top positive features with at least {min_count} "
                             f"of them and adjusted Fisher p < {fmt(alpha)}{note}.")
            continue
        parts = []
        for label, rows in found.groupby("label"):
            best = rows.sort_values("enrichment", ascending=False).head(per_label)
            kmers = ", ".join(f"{r.kmer} {r.n_top_positive} times vs {fmt(r.expected, 2)} expected "
                              f"({fmt(r.enrichment, 2)}x, adjusted p {p_clause(r.fisher_p_adj)})"
                              for r in best.itertuples(index=False))
            parts.append(f"in {'promoters' if label == 1 else 'non-promoters'}: {kmers}")
        sentences.append(f"{run}: k-mers enriched among top positive features " + "; ".join(parts) + note + ".")
    return sentences


def motif_share_findings(shares: pd.DataFrame, motif: str, min_count: int, alpha: float = 0.05) -> list[str]:
    """Per run and label, the share of top positive features overlapping ``motif`` against
    the share of all windows (``binomial_p_adj``); rows with fewer than ``min_count``
    overlapping features are not findings."""
    sentences = []
    for row in shares.to_dict("records"):
        who = f"{row['run']}, {'promoters' if row['label'] == 1 else 'non-promoters'}"
        observed = (f"{fmt(100 * row['share'], 2)}% of {row['top_features']} top positive features overlap a {motif} "
                    f"hit vs {fmt(100 * row['expected_share'], 2)}% of all windows")
        p = row.get("binomial_p_adj", np.nan)
        if row["overlapping_motif"] < min_count:
            sentences.append(f"{who}: {observed}; {row['overlapping_motif']} overlapping features, fewer than "
                             f"{min_count}: not a finding.")
        elif not np.isfinite(p) or p >= alpha:
            sentences.append(f"{who}: {observed}; not distinguishable from chance (adjusted p {p_clause(p)}).")
        else:
            how = "more" if row["share"] > row["expected_share"] else "less"
            sentences.append(f"{who}: {observed}: {how} than by chance (adjusted p {p_clause(p)}).")
    return sentences


@dataclass
class KmerTables:
    """The k-mer tables of every run (each with a ``run`` column): ``by_label`` (descriptive),
    ``top_kmers`` (one-sided Fisher ``fisher_p``) and ``shares``, the motif's share of top
    features (binomial ``binomial_p``)."""

    by_label: pd.DataFrame
    top_kmers: pd.DataFrame
    shares: pd.DataFrame

    @property
    def tests(self) -> list[tuple[pd.DataFrame, list[str]]]:
        """The tables of tests, for the report-wide adjustment."""
        return [(self.top_kmers, ["fisher_p"]), (self.shares, ["binomial_p"] if "binomial_p" in self.shares else [])]


def kmer_tests(runs: list[ExplainRun], hits: dict[str, pd.DataFrame], options: DictConfig, tata: str) -> KmerTables:
    """The k-mer tables of every run, before adjustment. hits: ``scan`` output per run name;
    options: ``cfg.kmers``; tata: the motif whose share of top features is tested."""
    log.info("analyze: k-mer tables of %d runs", len(runs))
    k, top, min_count = options.k, options.top, int(options.get("min_count", 5))
    by_label, tops, shares = [], [], []
    for run in runs:
        table, best = kmer_tables(run.sequences, run.scores, run.labels, k, top, options.n_top_kmers)
        by_label.append(run.tagged(table))
        tops.append(run.tagged(flag_counts(best, "n_top_positive", min_count)))
        mask = hit_mask(hits[run.name], len(run.sequences), run.length, tata)
        share = motif_share_of_top(run.scores, run.labels, mask, k, top)
        shares.append(run.tagged(flag_counts(share, "overlapping_motif", min_count)) if len(share) else share)
    return KmerTables(pd.concat(by_label, ignore_index=True), pd.concat(tops, ignore_index=True),
                      pd.concat(shares, ignore_index=True))


def kmer_section(report: Report, runs: list[ExplainRun], tables: KmerTables, options: DictConfig,
                 tata: str) -> dict[str, dict]:
    """Write the k-mer tables (``kmer_tests``, adjusted). Returns per run name
    ``tata_share_of_top`` (records of ``motif_share_of_top``, with ``binomial_p_adj``, ``finding``
    and ``flag``)."""
    k, top, min_count = options.k, options.top, int(options.get("min_count", 5))
    alpha = report.alpha
    report.section("k-mer tables (the original study's, with backgrounds)",
                   f"Features are {k}-mer windows; importance = summed attribution. Per sequence the {top} "
                   "highest (and lowest) non-overlapping windows are its top positive (negative) features. "
                   f"A row is a finding only with at least {min_count} top features (kmers.min_count) and adjusted "
                   f"p < {fmt(alpha)}; rows below the count are shown, flagged, and never reach a verdict.")
    report.findings(kmer_findings(tables.top_kmers, min_count, alpha))
    report.table("kmer_importance_by_label", tables.by_label,
                 "k-mers among top positive / negative features by label, with all occurrences (descriptive: "
                 "no test).")
    report.table("top_kmers", tables.top_kmers,
                 "Top k-mers among top positive features per run and label: counts, expected counts if top "
                 "windows were random, enrichment and one-sided Fisher p; finding / flag: the minimum count.")
    report.findings(motif_share_findings(tables.shares, tata, min_count, alpha))
    report.table("tata_share_of_top_features", tables.shares,
                 f"Share of top positive features overlapping a {tata} hit vs the share of all "
                 "windows that do (expected), one-sided binomial test; finding / flag: the minimum count.")
    summary = {run.name: {"tata_share_of_top": []} for run in runs}
    for run, rows in tables.shares.groupby("run") if len(tables.shares) else []:
        summary[run]["tata_share_of_top"] = rows.drop(columns="run").to_dict("records")
    return summary
