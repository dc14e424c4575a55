"""Attribution at motif hits vs matched control windows, and positional profiles.

Scores are first put on a common scale per sequence (divided by the sequence's mean
absolute score) so that methods and sequences are comparable. For each hit, the mean
scaled attribution inside the hit is paired with the mean over ``n_controls`` random
windows of the same width in the same sequence that overlap no hit of that motif; the
paired differences are tested with the Wilcoxon signed-rank test (two-sided).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai.analysis import figures
from glmxai.analysis.inputs import ExplainRun
from glmxai.analysis.motifs import hit_mask
from glmxai.analysis.report import Report, slug
from glmxai.analysis.windows import window_sums

log = logging.getLogger(__name__)


def scale_scores(scores: np.ndarray) -> np.ndarray:
    """(N, L) scores divided by each row's mean |score| (rows of zeros stay zero)."""
    scale = np.abs(scores).mean(axis=1, keepdims=True)
    return np.divide(scores, scale, out=np.zeros_like(scores, dtype=np.float64), where=scale > 0)


def hit_vs_control(scores: np.ndarray, hits: pd.DataFrame, n_controls: int = 20, seed: int = 0) -> pd.DataFrame:
    """One row per hit: ``inside`` = mean scaled attribution in the hit, ``control`` = mean
    over matched windows of the same sequence, ``diff`` = inside - control (NaN control if no
    window is free). scores: (N, L); hits: ``scan`` output for the same rows."""
    rng = np.random.default_rng(seed)
    scaled = scale_scores(scores)
    n, length = scores.shape
    out = []
    for motif, group in hits.groupby("motif"):
        covered = hit_mask(group, n, length)
        width = int((group["end"] - group["start"]).iloc[0])
        window_mean = window_sums(scaled, width) / width  # (N, L - w + 1)
        free = window_sums(covered, width) == 0
        for row, start in group[["row", "start"]].itertuples(index=False):
            starts = np.flatnonzero(free[row])
            control = np.nan
            if len(starts):
                pick = rng.choice(starts, size=min(n_controls, len(starts)), replace=False)
                control = float(window_mean[row, pick].mean())
            out.append((row, motif, start, float(window_mean[row, start]), control))
    frame = pd.DataFrame(out, columns=["row", "motif", "start", "inside", "control"])
    frame["diff"] = frame["inside"] - frame["control"]
    return frame


def summarize_hits(per_hit: pd.DataFrame, labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """Per motif x group (all, label 0/1, predicted 0/1): hits, mean inside/control, median
    difference, Wilcoxon statistic and p, and the share of hits whose inside > control."""
    per_hit = per_hit.dropna(subset=["diff"])
    groups = {"all": np.ones(len(labels), bool), "label=1": labels == 1, "label=0": labels == 0,
              "pred=1": probs >= 0.5, "pred=0": probs < 0.5}
    rows = []
    for motif, g in per_hit.groupby("motif"):
        for name, keep in groups.items():
            sub = g[keep[g["row"].to_numpy()]]
            stat, p = (np.nan, np.nan)
            if len(sub) >= 5 and np.any(sub["diff"] != 0):
                test = stats.wilcoxon(sub["inside"], sub["control"])
                stat, p = float(test.statistic), float(test.pvalue)
            rows.append({"motif": motif, "group": name, "hits": len(sub), "mean_inside": sub["inside"].mean(),
                         "mean_control": sub["control"].mean(), "median_diff": sub["diff"].median(),
                         "share_inside_higher": (sub["diff"] > 0).mean() if len(sub) else np.nan,
                         "wilcoxon_stat": stat, "wilcoxon_p": p})
    return pd.DataFrame(rows, columns=["motif", "group", "hits", "mean_inside", "mean_control", "median_diff",
                                       "share_inside_higher", "wilcoxon_stat", "wilcoxon_p"])


def positional_profile(scores: np.ndarray, labels: np.ndarray, tss: int = 249) -> pd.DataFrame:
    """Mean scaled attribution per position by label: columns ``rel_pos`` (bp vs TSS),
    ``label``, ``mean``, ``sem``."""
    scaled = scale_scores(scores)
    rel = np.arange(scores.shape[1]) - tss
    frames = []
    for label in (0, 1):
        sub = scaled[labels == label]
        if len(sub):
            sem = sub.std(axis=0, ddof=1) / np.sqrt(len(sub)) if len(sub) > 1 else np.zeros(len(rel))
            frames.append(pd.DataFrame({"rel_pos": rel, "label": label, "mean": sub.mean(axis=0), "sem": sem}))
    return pd.concat(frames, ignore_index=True)


def _example_rows(run: ExplainRun) -> list[int]:
    """Correctly predicted promoters, most confident first; otherwise all rows."""
    good = np.flatnonzero((run.labels == 1) & (run.probs >= 0.5))
    return list(good[np.argsort(-run.probs[good])]) if len(good) else list(range(len(run.sequences)))


def motif_attribution_section(report: Report, runs: list[ExplainRun], hits: dict[str, pd.DataFrame], tss: int,
                              options: DictConfig, tata: str, seed: int) -> dict[str, dict]:
    """Attribution inside motif hits vs matched windows per run, positional profiles and
    example logos. hits: ``scan`` output per run name; options: ``cfg.attribution``; tata:
    the motif of the headline sentences. Returns per run name its TATA test
    (``tata_median_diff``, ``tata_wilcoxon_p``; empty when there are too few hits)."""
    log.info("analyze: attribution at motifs of %d runs", len(runs))
    report.section("Attribution at motifs",
                   "Mean attribution (scaled by the sequence's mean |attribution|) inside each motif hit vs "
                   f"{options.n_controls} matched windows of the same width and sequence; Wilcoxon "
                   "signed-rank test over hits. Positive = toward promoter.")
    tables, profiles, sentences, summary = [], [], [], {}
    for run in runs:
        run_hits = hits[run.name]
        table = summarize_hits(hit_vs_control(run.scores, run_hits, options.n_controls, seed), run.labels, run.probs)
        tables.append(run.tagged(table))
        profiles.append(run.tagged(positional_profile(run.scores, run.labels, tss)))
        summary[run.name] = {}
        test = table[(table["motif"] == tata) & (table["group"] == "all")]
        if len(test) and np.isfinite(test["wilcoxon_p"].iloc[0]):
            t = test.iloc[0]
            summary[run.name] = {"tata_median_diff": float(t["median_diff"]), "tata_wilcoxon_p": float(t["wilcoxon_p"])}
            if t["wilcoxon_p"] < 0.05:
                how = "higher than" if t["median_diff"] > 0 else "lower than"
            else:
                how = "not distinguishable from"
            sentences.append(f"{run.name}: attribution inside {int(t['hits'])} {tata} hits is {how} "
                             f"in matched windows of the same sequences (median difference {t['median_diff']:.2f}, "
                             f"inside higher for {t['share_inside_higher']:.0%} of hits, "
                             f"Wilcoxon p={t['wilcoxon_p']:.2g}).")
        else:
            sentences.append(f"{run.name}: too few {tata} hits (< 5) to test attribution at TATA.")
        for row in _example_rows(run)[: options.logos]:
            report.figure(f"logo_{slug(run.name)}_{row}", figures.attribution_logo(
                run.sequences[row], run.scores[row], run_hits[run_hits["row"] == row], tss,
                f"{run.name}: sequence {run.index[row]} (label {run.labels[row]}, p={run.probs[row]:.2f})",
                tuple(options.logo_span)), "Attribution logo with PWM hits shaded.")
    report.findings(sentences, headline=True)
    report.table("motif_attribution", pd.concat(tables, ignore_index=True),
                 "Attribution inside motif hits vs matched windows, by label and by prediction.")
    profile = pd.concat(profiles, ignore_index=True)
    report.table("positional_profiles", profile, "Mean scaled attribution per position relative to the TSS.", 10)
    report.figure("positional_profiles", figures.positional_profiles(profile),
                  "Mean scaled attribution along the sequence (5 bp moving average), by label.")
    return summary
