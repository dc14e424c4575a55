"""Attribution at motif hits vs matched control windows, and positional profiles.

Scores are first put on a common scale per sequence (divided by the sequence's mean
absolute score) so that methods and sequences are comparable. For each hit, the mean
scaled attribution inside the hit is paired with the mean over ``n_controls`` random
windows of the same width in the same sequence that overlap no hit of that motif; the
paired differences are tested with the Wilcoxon signed-rank test (two-sided).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from glmxai.analysis.motifs import hit_mask


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
        cum = np.concatenate([np.zeros((n, 1)), np.cumsum(scaled, axis=1)], axis=1)
        window_mean = (cum[:, width:] - cum[:, :-width]) / width  # (N, L - w + 1)
        ccum = np.concatenate([np.zeros((n, 1), int), np.cumsum(covered, axis=1)], axis=1)
        free = (ccum[:, width:] - ccum[:, :-width]) == 0
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
