"""Attributions against ground-truth masks (synthetic data): per-sequence AUROC and AUPRC of
the attribution for the true motif positions, on sequences whose mask is not empty."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from glmxai.explain_runs import ExplainRun
from glmxai.report import Report, fmt

log = logging.getLogger(__name__)


def mask_metrics(scores: np.ndarray, masks: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    """scores, masks: (N, L). One row per sequence with a non-empty, non-full mask:
    ``auroc``/``auprc`` of |scores| and ``auroc_signed`` of the signed scores (positive =
    toward promoter), ``prevalence`` (the AUPRC of a random ranking) and ``correct``
    (prediction agrees with the label)."""
    rows = []
    for r in range(len(scores)):
        truth = masks[r]
        if truth.all() or not truth.any():
            continue
        rows.append({"row": r, "label": int(labels[r]), "correct": bool((probs[r] >= 0.5) == bool(labels[r])),
                     "auroc": roc_auc_score(truth, np.abs(scores[r])),
                     "auprc": average_precision_score(truth, np.abs(scores[r])),
                     "auroc_signed": roc_auc_score(truth, scores[r]), "prevalence": truth.mean()})
    return pd.DataFrame(rows, columns=["row", "label", "correct", "auroc", "auprc", "auroc_signed", "prevalence"])


def summarize_masks(per_sequence: pd.DataFrame) -> dict:
    """Means over all masked sequences and over correctly predicted ones."""
    out = {"n": len(per_sequence)}
    correct = per_sequence[per_sequence["correct"]]
    for col in ("auroc", "auprc", "auroc_signed", "prevalence"):
        out[f"{col}_mean"] = per_sequence[col].mean()
        out[f"{col}_correct_mean"] = correct[col].mean()
    out["n_correct"] = len(correct)
    return out


def ground_truth_section(report: Report, runs: list[ExplainRun]) -> dict[str, dict]:
    """Ground-truth recovery of the runs whose npz has ``masks``; returns per such run name
    ``ground_truth`` (``summarize_masks``)."""
    masked = [r for r in runs if r.masks is not None]
    if not masked:
        report.skip("ground truth", "no run holds ground-truth masks (only synthetic data has them)")
        return {}
    unmasked = [r.name for r in runs if r.masks is None]
    if unmasked:
        report.skip(f"ground truth of {', '.join(unmasked)}", "these runs hold no ground-truth masks")
    log.info("analyze: ground truth of %d runs", len(masked))
    report.section("Ground truth", "Per-sequence AUROC / AUPRC of |attribution| for the true motif positions "
                                   "(synthetic masks); prevalence is the AUPRC of a random ranking.")
    rows = [{"run": r.name, **summarize_masks(mask_metrics(r.scores, r.masks, r.labels, r.probs))} for r in masked]
    report.table("ground_truth", pd.DataFrame(rows), "Means over masked sequences, and over correctly predicted ones.")
    report.findings([f"{r['run']} ({fmt(r['n'])} sequences with a mask): AUROC {fmt(r['auroc_mean'])} (correctly "
                     f"predicted only: {fmt(r['auroc_correct_mean'])}; 0.5 = chance), AUPRC {fmt(r['auprc_mean'])} vs "
                     f"{fmt(r['prevalence_mean'])} by chance." for r in rows], headline=True)
    return {row["run"]: {"ground_truth": {k: v for k, v in row.items() if k != "run"}} for row in rows}
