"""The "Motif probes" section of the analysis report: writes the probes' tables (``probes.tables``,
their ``*_p`` columns adjusted with all other tests of the report), the figures and a verdict per
pattern and model (``probes.verdicts``)."""
from __future__ import annotations

import pandas as pd

from glmxai import figures as analysis_figures
from glmxai.io import write_bytes_atomic
from glmxai.probes import figures
from glmxai.probes.job import ProbePlan, ProbeResults
from glmxai.probes.tables import MIN_VALUES, ProbeTables
from glmxai.probes.verdicts import (
    dose_verdicts,
    insertion_verdicts,
    necessity_verdicts,
    peak_verdicts,
    spacing_verdicts,
)
from glmxai.report import Report, fmt, slug


def _write_csv(frame: pd.DataFrame, path) -> str:
    write_bytes_atomic(frame.to_csv(index=False).encode(), path)
    return str(path)


def probes_section(report: Report, plan: ProbePlan, results: ProbeResults, tables: ProbeTables) -> dict:
    """Write the probes' section from their results and tables (adjusted); returns the summary
    (``models``: checkpoint, data and cost per model; per experiment the results with adjusted
    p-values; the CSV files of the curves and grids)."""
    options, alpha = plan.options, report.alpha
    for what, why in plan.skipped:
        report.skip(what, why)
    filter_text = f"kept within the {options['filter'][0]}-{options['filter'][1]} percentile band of their promoter " \
                  "logit" if options.get("filter") else "unfiltered"
    report.section("Motif probes (global importance analysis)", (
        f"Patterns planted by substitution into {options['n_backgrounds']} backgrounds of each kind "
        f"({', '.join(options['backgrounds'])}; {filter_text}) drawn from each checkpoint's training data; the change "
        "of the promoter logit (and of p(promoter)) per background, modified - background. Statistics per cell: mean "
        "(the GIA score), 95% BCa bootstrap CI, fraction of backgrounds up, Wilcoxon signed-rank against 0 and paired "
        "against the shuffled copies (necessity: against matched random windows). Tests on the logit, at the canonical "
        "positions only; the position scan and spacing grid are described. Positions are pattern starts relative to "
        f"the TSS. Budget: {options.get('budget', 'full')}."))
    summary: dict = {"models": {}}
    out = report.out_dir / "probes"
    report.table("probes_models", pd.DataFrame([{
        "model": m.label, "checkpoint": str(m.checkpoint), "sha256": m.sha256[:12], "backgrounds_from": m.data_source,
        "tss": m.target.tss, "length": m.target.length, "token_frame": m.target.frame,
        "counts_tokens": m.target.count_tokens is not None, "results": str(m.folder)} for m in plan.models]),
        "Checkpoints probed; token_frame: period of the model's token frame (k for non-overlapping k-mers).")
    report.table("probes_backgrounds", pd.DataFrame([{
        "model": label, "background": kind, "n": len(b.codes), "logit_mean": b.logit.mean(), "logit_sd": b.logit.std(),
        "p_mean": b.prob.mean(), "share_called_promoter": (b.prob >= 0.5).mean()}
        for (label, kind), b in results.backgrounds.items()]),
        "Backgrounds per model and kind, with the model's promoter logit and p(promoter) on them.")
    report.table("probes_cost", pd.DataFrame([{"model": label, **cost} for label, cost in results.cost.items()]),
                 "Model evaluations and seconds of this run (evaluations, seconds) and of all parts including those "
                 "finished before (evaluations_total, seconds_total).")
    for model in plan.models:
        summary["models"][model.label] = {"checkpoint": str(model.checkpoint), "sha256": model.sha256,
                                          "backgrounds_from": model.data_source, "tss": model.target.tss,
                                          "token_frame": model.target.frame, "cost": results.cost[model.label]}
    experiments = options["experiments"]
    if "insertion" in experiments:
        _insertion_part(report, plan, tables, summary, alpha)
    if "position_scan" in experiments:
        curves, peaks = tables.curves, tables.peaks
        summary["position_scan_csv"] = _write_csv(curves, out / "position_scan.csv")
        report.table("probes_position_peaks", peaks,
                     f"Where the mean change of each pattern's consensus peaks over the scan (stride "
                     f"{options['position_scan']['stride']}, the first {options['position_scan']['n_backgrounds']} "
                     "backgrounds of each kind), with the 2.5-97.5 percentiles of the peak over bootstrap resamples of "
                     f"the backgrounds; every position's mean and CI: {summary['position_scan_csv']}.")
        for pattern in plan.patterns:
            report.figure(f"probes_position_{slug(pattern.name)}",
                          figures.position_curves(curves[curves["pattern"] == pattern.name], pattern.name,
                                                  pattern.position),
                          f"Mean change of the promoter logit when {pattern.name} ({pattern.consensus_text}) starts at "
                          "each position (band: 95% bootstrap CI), models overlaid; dashed: its shuffled copies; "
                          "dotted: the average over the token frames of frame-dependent models.")
        report.findings(peak_verdicts(peaks))
        summary["position_peaks"] = peaks.to_dict("records")
    if "spacing" in experiments:
        grid, canonical = tables.grid, tables.canonical
        summary["spacing_grid_csv"] = _write_csv(grid, out / "spacing_grid.csv")
        report.table("probes_spacing", canonical,
                     "The interaction delta(AB) - delta(A) - delta(B) at each pair's canonical arrangement, with the "
                     "single and joint changes; tests against 0 and paired against the pair's shuffled copies; the "
                     f"grid around it: {summary['spacing_grid_csv']}.")
        for first, second in plan.pairs:
            pair = f"{first.name} + {second.name}"
            report.figure(f"probes_spacing_{slug(pair)}",
                          figures.spacing_heatmaps(grid[grid["pair"] == pair], pair, (first.position, second.position)),
                          f"Interaction of {pair} (mean change of the logit beyond the two single changes) at each "
                          "pair of starts; box: the canonical arrangement; blank: overlapping.")
        summary["spacing"] = canonical.to_dict("records")
        report.findings(spacing_verdicts(canonical, alpha))
        if "position_scan" in experiments:
            first_kind = options["backgrounds"][0]
            for model in plan.models:
                def mine(frame: pd.DataFrame, label: str = model.label) -> pd.DataFrame:
                    return frame[(frame["model"] == label) & (frame["background"] == first_kind)]

                report.figure(f"probes_overview_{slug(model.label)}",
                              figures.overview(mine(curves), {p.name: p.position for p in plan.patterns},
                                               mine(canonical), mine(grid), f"{model.label}, {first_kind} backgrounds"),
                              f"{model.label} on {first_kind} backgrounds: each pattern's consensus at every position "
                              "(top); each pair at its canonical starts, alone and together, in p(promoter) (bottom "
                              "left); each pair's interaction on the grid of starts (bottom right).")
    if "dose" in experiments:
        table = tables.dose
        report.table("probes_dose", table, "Change for 1, 2, ... copies of the pattern at the positions given, "
                                           "paired against as many shuffled copies at the same positions.")
        report.figure("probes_dose", figures.dose_curves(table), "Mean change of the promoter logit (95% CI) against "
                      "the number of copies planted; dashed: shuffled copies.")
        summary["dose"] = table.to_dict("records")
        report.findings(dose_verdicts(table, plan))
    if "necessity" in experiments:
        split = options["necessity"]["split"]
        report.table("probes_necessity", tables.necessity, (
            f"Each hit of a pattern in up to {options['necessity']['n_sequences']} {split} promoters replaced by the "
            f"same window of {options['necessity']['shuffles']} dinucleotide shuffles of its sequence (mean change per "
            f"hit), paired against a random window of the same width that overlaps no hit; hits: all, or within "
            f"{options['necessity']['window']} bp of the canonical start. A test needs {MIN_VALUES} hits."))
        summary["necessity"] = tables.necessity.to_dict("records")
        report.findings(necessity_verdicts(tables.necessity, split, alpha))
    return summary


def _insertion_part(report: Report, plan: ProbePlan, tables: ProbeTables, summary: dict, alpha: float) -> None:
    table, frames = tables.insertion, tables.insertion_frames
    for model in plan.models:
        rows = table[(table["model"] == model.label) & (table["variant"] == "consensus")]
        summary["models"][model.label]["insertion"] = {
            f"{r['pattern']} / {r['background']}": {k: r[k] for k in (
                "position", "n", "mean", "ci_low", "ci_high", "prob_mean", "fraction_positive", "wilcoxon_p_adj",
                "shuffled_mean", "vs_shuffled_p_adj", "token_change")} for _, r in rows.iterrows()}
    report.findings(insertion_verdicts(table, plan, alpha), headline=True)
    report.table("probes_insertion", table, (
        "Each variant at the canonical position: consensus, instances sampled from the matrix (background i gets "
        "instance i mod probes.instances), and the controls: shuffled consensus, core-mutated copy (the most "
        "informative third of positions set to their least likely base), random k-mer of the consensus' "
        "composition. frames: the starts averaged for models that read non-overlapping k-mers. token_change: mean "
        "change of the token count (token models)."))
    if not frames.empty:
        report.table("probes_insertion_frames", frames, "Per-frame means behind the frame averages of "
                                                        "probes_insertion (frame = start index mod k).", pvalues=[])
    first_kind = plan.options["backgrounds"][0]
    rows = table[table["background"] == first_kind].assign(cell=lambda f: f["pattern"] + ": " + f["variant"])
    effects = rows.pivot_table(index="cell", columns="model", values="mean", sort=False, dropna=False)
    significant = rows.pivot_table(index="cell", columns="model", values="wilcoxon_p_adj", sort=False,
                                   dropna=False).reindex_like(effects) < alpha
    report.figure("probes_insertion_effects",
                  analysis_figures.effect_heatmap(effects, significant,
                                                  pd.DataFrame("", index=effects.index, columns=effects.columns),
                                                  f"mean change of promoter logit ({first_kind} backgrounds)"),
                  f"Mean change of the promoter logit per pattern variant at the canonical position ({first_kind} "
                  f"backgrounds); * adjusted p < {fmt(alpha)} (Wilcoxon against 0).")
