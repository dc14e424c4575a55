"""Models and methods side by side, from the other sections' tables once the report's p-values
are adjusted: per motif x model x method, attribution inside motif hits vs matched windows
(mean difference, ratio, direction, adjusted p); per run, the TATA test, faithfulness,
agreement with the other runs and ground truth."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glmxai import figures
from glmxai.analysis.motif_attribution import direction
from glmxai.explain_runs import ExplainRun
from glmxai.report import Report, fmt, fmt_p, fmt_signed

log = logging.getLogger(__name__)
MOTIF_COLUMNS = ["motif", "model", "method", "run", "hits", "mean_inside", "mean_control", "mean_diff", "diff_ci_low",
                 "diff_ci_high", "ratio", "direction", "p_adj"]


def method_label(run: ExplainRun) -> str:
    """The run's name without its model: the method, with the job folder where two share it."""
    prefix = f"{run.model}/"
    return run.name[len(prefix):] if run.name.startswith(prefix) else run.method


def motif_comparison(attribution: pd.DataFrame, runs: Sequence[ExplainRun], motifs: Sequence[str],
                     alpha: float = 0.05) -> pd.DataFrame:
    """One row per motif x run (model, method) from the ``motif_attribution`` table (group
    'all', with ``ttest_p_adj``): hits, means, mean difference (95% CI), ratio, ``direction``
    ('higher'/'lower'/'not distinguishable'/'too few hits'/'no hits') and ``p_adj``."""
    rows = []
    table = attribution[attribution["group"] == "all"].set_index(["run", "motif"])
    for motif in motifs:
        for run in runs:
            base = {"motif": motif, "model": run.model, "method": method_label(run), "run": run.name}
            if (run.name, motif) not in table.index:
                rows.append({**base, "hits": 0, "direction": "no hits"})
                continue
            r = table.loc[(run.name, motif)]
            rows.append({**base, **{k: r[k] for k in MOTIF_COLUMNS[4:11]}, "direction": direction(r, alpha),
                         "p_adj": r["ttest_p_adj"]})
    return pd.DataFrame(rows, columns=MOTIF_COLUMNS)


def motif_matrix(long: pd.DataFrame) -> pd.DataFrame:
    """``motif_comparison`` as rows motif x model, a column per method: direction, mean
    difference and adjusted p in one cell."""
    def cell(r) -> str:
        if r["direction"] in ("no hits", "too few hits"):
            return f"{r['direction']} ({fmt(r['hits'])})" if r["direction"] == "too few hits" else "no hits"
        return f"{r['direction']} {fmt_signed(r['mean_diff'], 2)} (p_adj {fmt_p(r['p_adj'])})"

    text = long.assign(cell=long.apply(cell, axis=1))
    matrix = text.pivot_table(index=["motif", "model"], columns="method", values="cell", aggfunc="first", sort=False)
    return matrix.reset_index().rename_axis(columns=None)


def agreement_by_run(pairs: pd.DataFrame, runs: Sequence[ExplainRun]) -> pd.DataFrame:
    """Per run, the mean top-k overlap with the other methods of its model and with its
    method on the other models, and the mean Spearman correlation with every other run."""
    topk = next((c for c in pairs.columns if c.startswith("top") and c.endswith("_overlap")), None)
    model = {r.name: r.model for r in runs}
    method = {r.name: r.method for r in runs}
    rows = []
    for run in runs:
        mine = pairs[(pairs["a"] == run.name) | (pairs["b"] == run.name)]
        other = np.where(mine["a"] == run.name, mine["b"], mine["a"])
        same_model = np.array([model.get(o) == run.model for o in other], bool)
        same_method = np.array([method.get(o) == run.method and model.get(o) != run.model for o in other], bool)
        values = mine[topk].to_numpy(float) if topk else np.full(len(mine), np.nan)
        rows.append({"run": run.name,
                     f"{topk or 'topk'}_other_methods_same_model": values[same_model].mean() if same_model.any()
                     else np.nan,
                     f"{topk or 'topk'}_same_method_other_models": values[same_method].mean() if same_method.any()
                     else np.nan,
                     "spearman_with_others": mine["spearman_mean"].mean() if len(mine) else np.nan})
    return pd.DataFrame(rows)


@dataclass
class SectionTables:
    """The tables of the other sections that the comparison reads (None: not analysed):
    ``attribution`` (adjusted ``attribution_tests``), ``faithfulness`` (adjusted areas),
    ``agreement`` (pairs) and ``ground_truth``."""

    attribution: pd.DataFrame | None = None
    faithfulness: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    ground_truth: pd.DataFrame | None = None


def run_comparison(tables: SectionTables, runs: Sequence[ExplainRun], tata: str, alpha: float) -> pd.DataFrame:
    """Per run: model, method, sequences, accuracy, the TATA test, faithfulness gains with
    adjusted p, agreement with the other runs, ground-truth AUROC (what was analysed)."""
    out = pd.DataFrame([{"run": r.name, "model": r.model, "method": r.method, "sequences": len(r.sequences),
                         "accuracy": float(((r.probs >= 0.5) == (r.labels == 1)).mean())} for r in runs])
    if tables.attribution is not None:
        t = tables.attribution
        t = t[(t["group"] == "all") & (t["motif"] == tata)]
        tata_part = pd.DataFrame({"run": t["run"], "tata_hits": t["hits"], "tata_mean_diff": t["mean_diff"],
                                  "tata_ratio": t["ratio"], "tata_direction": [direction(r, alpha) for r in
                                                                               t.to_dict("records")],
                                  "tata_p_adj": t["ttest_p_adj"]})
        out = out.merge(tata_part, on="run", how="left")
        out["tata_direction"] = out["tata_direction"].fillna("no hits")
    if tables.faithfulness is not None and len(tables.faithfulness):
        f = tables.faithfulness
        out = out.merge(pd.DataFrame({"run": f["run"], "faithfulness_sequences": f["n"],
                                      "deletion_gain": f["deletion_aoc_gain"],
                                      "deletion_p_adj": f["deletion_aoc_ttest_p_adj"],
                                      "insertion_gain": f["insertion_auc_gain"],
                                      "insertion_p_adj": f["insertion_auc_ttest_p_adj"]}), on="run", how="left")
    if tables.agreement is not None and len(tables.agreement):
        out = out.merge(agreement_by_run(tables.agreement, runs), on="run", how="left")
    if tables.ground_truth is not None and len(tables.ground_truth):
        g = tables.ground_truth
        out = out.merge(pd.DataFrame({"run": g["run"], "ground_truth_auroc": g["auroc_mean"]}), on="run", how="left")
    return out


def motif_counts(long: pd.DataFrame) -> list[str]:
    """Per motif: in how many runs attribution inside its hits is higher, lower, not
    distinguishable, untested."""
    sentences = []
    for motif, g in long.groupby("motif", sort=False):
        counts = g["direction"].value_counts()
        named = {how: ", ".join(g.loc[g["direction"] == how, "run"]) for how in ("higher", "lower")}
        parts = [f"higher in {counts.get('higher', 0)}" + (f" ({named['higher']})" if named["higher"] else ""),
                 f"lower in {counts.get('lower', 0)}" + (f" ({named['lower']})" if named["lower"] else ""),
                 f"not distinguishable in {counts.get('not distinguishable', 0)}"]
        untested = int(counts.get("too few hits", 0) + counts.get("no hits", 0))
        if untested:
            parts.append(f"untested (fewer than 5 hits) in {untested}")
        sentences.append(f"{motif}: attribution inside hits vs matched windows is " + ", ".join(parts)
                         + f" of {len(g)} runs.")
    return sentences


def comparison_section(report: Report, runs: list[ExplainRun], motifs: Sequence[str], tata: str,
                       tables: SectionTables) -> None:
    """The comparison of models and methods, from the other sections' tables (adjusted)."""
    alpha = report.alpha
    log.info("analyze: comparison of %d runs", len(runs))
    report.section("Comparison of models and methods",
                   "Side by side, from the tables of the sections below. Attribution at motifs: mean scaled "
                   "attribution inside the motif's hits minus matched windows of the same sequences (mean "
                   "difference, 95% CI, ratio of the means), direction at Benjamini-Hochberg adjusted p < "
                   f"{fmt(alpha)} (paired t-test). Per run: the {tata} test, faithfulness gains over random "
                   "order, agreement with the other runs (top-k overlap, Spearman) and ground-truth AUROC.")
    if tables.attribution is not None:
        long = motif_comparison(tables.attribution, runs, motifs, alpha)
        report.findings(motif_counts(long))
        report.table("comparison_motif_matrix", motif_matrix(long),
                     "Per motif and model, a column per method: direction, mean difference inside - control, "
                     "adjusted p.", pvalues=[])
        tested = long["direction"].isin(["higher", "lower", "not distinguishable"])
        grid = long.assign(effect=long["mean_diff"].where(tested), sig=long["direction"].isin(["higher", "lower"]),
                           note=np.where(long["hits"] > 0, long["hits"].map(lambda h: f"{fmt(h)} hits"),
                                         "no hits"))
        shape = {"index": list(dict.fromkeys(long["motif"])), "columns": [r.name for r in runs]}
        effects, significant, notes = (grid.pivot(index="motif", columns="run", values=v).reindex(**shape)
                                       for v in ("effect", "sig", "note"))
        report.figure("comparison_motif_attribution", figures.effect_heatmap(
            effects.astype(float), significant.fillna(False), notes.fillna(""),
            "attribution inside motif hits - matched windows (mean scaled attribution)"),
            f"Mean difference per motif (rows) and run (columns); * adjusted p < {fmt(alpha)}; blank: not "
            "tested (fewer than 5 hits, their number in grey).")
        report.table("comparison_motif_attribution", long,
                     "One row per motif x model x method (all hits): means inside and in matched windows, mean "
                     "difference with 95% CI, ratio of the means, direction and adjusted p of the paired t-test.",
                     pvalues=[])
    report.table("comparison_runs", run_comparison(tables, runs, tata, alpha),
                 f"Per run: the {tata} test, faithfulness gains over random order (mean per-sequence "
                 "difference of the areas) with adjusted p, agreement (mean top-k overlap with the other "
                 "methods of the model and with the same method on other models; mean Spearman with every "
                 "other run), ground-truth AUROC. Empty: not analysed (see What was not analyzed and why).",
                 pvalues=[])

