"""Attributions against ground-truth masks (synthetic data): per-sequence AUROC and AUPRC of
the attribution for the true motif positions, on sequences whose mask is not empty."""
from __future__ import annotations

import logging

import pandas as pd

from glmxai.explain_runs import ExplainRun
from glmxai.report import Report, fmt
from glmxai.stats import mask_metrics, summarize_masks

log = logging.getLogger(__name__)


def ground_truth_table(runs: list[ExplainRun]) -> pd.DataFrame:
    """One row per run whose npz has ``masks``: ``summarize_masks`` of its attribution."""
    return pd.DataFrame([{"run": r.name, **summarize_masks(mask_metrics(r.scores, r.masks, r.labels, r.probs))}
                         for r in runs if r.masks is not None])


def ground_truth_section(report: Report, runs: list[ExplainRun], table: pd.DataFrame) -> dict[str, dict]:
    """Write the ground-truth recovery (``ground_truth_table``); returns per run name with masks
    ``ground_truth`` (``summarize_masks``)."""
    if table.empty:
        report.skip("ground truth", "no run holds ground-truth masks (only synthetic data has them)")
        return {}
    unmasked = [r.name for r in runs if r.masks is None]
    if unmasked:
        report.skip(f"ground truth of {', '.join(unmasked)}", "these runs hold no ground-truth masks")
    report.section("Ground truth", "Per-sequence AUROC / AUPRC of |attribution| for the true motif positions "
                                   "(synthetic masks); prevalence is the AUPRC of a random ranking.")
    rows = table.to_dict("records")
    report.table("ground_truth", table, "Means over masked sequences, and over correctly predicted ones.")
    report.findings([f"{r['run']} ({fmt(r['n'])} sequences with a mask): AUROC {fmt(r['auroc_mean'])} (correctly "
                     f"predicted only: {fmt(r['auroc_correct_mean'])}; 0.5 = chance), AUPRC {fmt(r['auprc_mean'])} vs "
                     f"{fmt(r['prevalence_mean'])} by chance." for r in rows], headline=True)
    return {row["run"]: {"ground_truth": {k: v for k, v in row.items() if k != "run"}} for row in rows}
