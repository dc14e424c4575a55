"""Statistics every part of the project shares, written once: the report-wide p-value adjustment,
the direction a test calls, and attribution against ground-truth masks."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

UP, DOWN, UNCLEAR, UNTESTED = "up", "down", "not distinguishable", "not tested"


def bh_adjust(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``) of a
    1-d array; NaN entries (no test) stay NaN and do not count as tests."""
    p = np.asarray(pvalues, dtype=np.float64).ravel()
    out = np.full(p.shape, np.nan)
    tested = np.isfinite(p)
    if tested.any():
        out[tested] = stats.false_discovery_control(np.clip(p[tested], 0.0, 1.0), method="bh")
    return out


def call(effect: float, p_adj: float | None, alpha: float) -> str:
    """What one test says about an effect: ``UP``/``DOWN`` (its sign) at adjusted p < ``alpha``,
    ``UNCLEAR`` at adjusted p >= alpha, ``UNTESTED`` when there was no test (p None or NaN)."""
    if p_adj is None or not np.isfinite(p_adj):
        return UNTESTED
    if p_adj >= alpha:
        return UNCLEAR
    return UP if effect > 0 else DOWN


MASK_COLUMNS = ["row", "label", "correct", "auroc", "auprc", "auroc_signed", "prevalence"]


def mask_metrics(scores: np.ndarray, masks: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """scores, masks: (N, L). One row per sequence with a non-empty, non-full mask:
    ``auroc``/``auprc`` of |scores| and ``auroc_signed`` of the signed scores (positive =
    toward promoter) for the masked positions, ``prevalence`` (the AUPRC of a random ranking)
    and ``correct`` (prediction agrees with the label)."""
    rows = []
    for r in range(len(scores)):
        truth = masks[r]
        if truth.all() or not truth.any():
            continue
        rows.append({"row": r, "label": int(labels[r]), "correct": bool((probs[r] >= 0.5) == bool(labels[r])),
                     "auroc": roc_auc_score(truth, np.abs(scores[r])),
                     "auprc": average_precision_score(truth, np.abs(scores[r])),
                     "auroc_signed": roc_auc_score(truth, scores[r]), "prevalence": truth.mean()})
    return pd.DataFrame(rows, columns=MASK_COLUMNS)


def decoy_ratio(scores: np.ndarray, masks: np.ndarray, decoy_masks: np.ndarray, labels: np.ndarray,
                probs: np.ndarray) -> float:
    """How much attribution spreads onto decoys: mean |scores| on decoy positions over mean |scores|
    on functional positions (``masks``), each pooled over the correctly predicted promoters that
    have both (scores, masks, decoy_masks: (N, L)); NaN when there are none. 0: nothing on decoys;
    1: decoys get as much as the motifs that make the label."""
    keep = (labels == 1) & (probs >= 0.5) & masks.any(axis=1) & decoy_masks.any(axis=1)
    if not keep.any():
        return float("nan")
    magnitude = np.abs(scores[keep])
    functional = magnitude[masks[keep]].mean()
    return float(magnitude[decoy_masks[keep]].mean() / functional) if functional > 0 else float("inf")


def summarize_masks(per_sequence: pd.DataFrame) -> dict:
    """Means of ``mask_metrics`` over all masked sequences, over correctly predicted ones
    (``*_correct_mean``) and over correctly predicted promoters (``*_correct_positive_mean``)."""
    out = {"n": len(per_sequence)}
    correct = per_sequence[per_sequence["correct"]]
    positive = correct[correct["label"] == 1]
    for col in ("auroc", "auprc", "auroc_signed", "prevalence"):
        out[f"{col}_mean"] = per_sequence[col].mean()
        out[f"{col}_correct_mean"] = correct[col].mean()
        out[f"{col}_correct_positive_mean"] = positive[col].mean()
    out["n_correct"] = len(correct)
    out["n_correct_positive"] = len(positive)
    return out
