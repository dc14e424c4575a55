"""Attribution by annotation: does a model treat promoters that an independent annotation (EPD's
motif flags) says carry a motif differently, in that motif's window, from promoters without it?

Per run and flag (``annotations.windows``: flag -> its window in bp from the TSS): the mean scaled
attribution in the window (scores scaled per sequence by their mean |score|, as everywhere in
the report) for promoters flagged 1, promoters flagged 0 and negatives, and the difference
flagged - unflagged with its 95% CI and Welch's t-test (``ttest_p``, adjusted with the report).
A model that uses the motif gives flagged promoters more (or less) attribution there; one that
does not, the same.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from glmxai.analysis.motif_attribution import scale_scores
from glmxai.data.annotations import annotation_path, flags_of, read_annotations
from glmxai.explain_runs import ExplainRun
from glmxai.report import Report, fmt, fmt_p, fmt_signed
from glmxai.stats import DOWN, UNCLEAR, UNTESTED, UP, call

log = logging.getLogger(__name__)
COLUMNS = ["run", "flag", "window", "flagged", "mean_flagged", "unflagged", "mean_unflagged", "negatives",
           "mean_negatives", "diff", "diff_ci_low", "diff_ci_high", "ttest_p"]
MIN_PER_GROUP = 3  # sequences each side of a test


def window_means(scores: np.ndarray, tss: int, window: tuple[int, int]) -> np.ndarray | None:
    """Mean scaled attribution (N,) over the bases lo..hi (bp from the TSS) that lie in the
    sequences; None when none does."""
    lo, hi = max(tss + window[0], 0), min(tss + window[1] + 1, scores.shape[1])
    return scale_scores(scores)[:, lo:hi].mean(axis=1) if lo < hi else None


def annotation_tests(runs: list[ExplainRun], folder: str | Path, suffix: str,
                     windows: Mapping[str, tuple[int, int]]) -> pd.DataFrame:
    """One row of ``COLUMNS`` per run and flag, before adjustment; each run's rows are joined to
    the annotation table of its split (``<folder>/<split><suffix>.csv``) on its ``index``."""
    rows = []
    for run in runs:
        table = read_annotations(annotation_path(folder, str(run.meta.get("split", "test")), suffix))
        for flag, window in windows.items():
            means = window_means(run.scores, int(run.tss), tuple(window))
            if means is None:
                continue
            flags = flags_of(table, run.index, flag)
            groups = [means[(run.labels == 1) & (flags == 1)], means[(run.labels == 1) & (flags == 0)],
                      means[run.labels == 0]]
            row = {"run": run.name, "flag": flag, "window": f"{window[0]}..{window[1]}",
                   **{k: v for name, g in zip(("flagged", "unflagged", "negatives"), groups)
                      for k, v in ((name, len(g)), (f"mean_{name}", g.mean() if len(g) else np.nan))},
                   "diff": np.nan, "diff_ci_low": np.nan, "diff_ci_high": np.nan, "ttest_p": np.nan}
            if min(len(groups[0]), len(groups[1])) >= MIN_PER_GROUP and np.ptp(np.r_[groups[0], groups[1]]) > 0:
                test = stats.ttest_ind(groups[0], groups[1], equal_var=False)
                ci = test.confidence_interval(0.95)
                row.update(diff=groups[0].mean() - groups[1].mean(), diff_ci_low=float(ci.low),
                           diff_ci_high=float(ci.high), ttest_p=float(test.pvalue))
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def annotation_verdict(row: Mapping, alpha: float) -> str:
    """A sentence on one run and flag from its table row (with ``ttest_p_adj``)."""
    how = {UP: "more attribution in promoters with it", DOWN: "less attribution in promoters with it",
           UNCLEAR: "no difference distinguishable", UNTESTED: "not tested (too few promoters on a side)"}[
        call(row["diff"], row.get("ttest_p_adj"), alpha)]
    return (f"{row['run']}, {row['flag']} (window {row['window']} bp): {how}: mean scaled attribution "
            f"{fmt_signed(row['mean_flagged'])} in {fmt(row['flagged'])} flagged promoters vs "
            f"{fmt_signed(row['mean_unflagged'])} in {fmt(row['unflagged'])} without the flag (difference "
            f"{fmt_signed(row['diff'])}, 95% CI {fmt(row['diff_ci_low'])} to {fmt(row['diff_ci_high'])}, adjusted "
            f"p = {fmt_p(row['ttest_p_adj'])}) and {fmt_signed(row['mean_negatives'])} in {fmt(row['negatives'])} "
            "negatives.")


def annotation_section(report: Report, table: pd.DataFrame, folder: str | Path) -> dict:
    """Write the attribution by annotation (``annotation_tests``, adjusted)."""
    report.section("Attribution by annotation", (
        f"Per run and annotation flag (tables in {folder}, joined on the explained rows): mean scaled attribution "
        "in the flag's window for promoters flagged 1, promoters flagged 0 and negatives; the difference flagged - "
        f"unflagged with its 95% CI and Welch's t-test (at least {MIN_PER_GROUP} promoters a side)."))
    report.findings([annotation_verdict(r, report.alpha) for r in table.to_dict("records")], headline=True)
    report.table("attribution_by_annotation", table, "Attribution in each flag's window by annotation group.")
    return {"rows": table.to_dict("records")}
