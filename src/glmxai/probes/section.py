"""The "Motif probes" section of the analysis report: runs the planned probes
(``glmxai.probes.job``), turns their per-background changes into tables with the statistics of
``glmxai.probes.statistics`` (every ``*_p`` column is adjusted with all other tests of the
report), draws the figures and states a verdict per pattern and model.

Tests are run on the promoter logit (the change of p(promoter) is given beside it). The
pre-specified cells are tested: each variant at its canonical position, the interaction of each
pair at its canonical arrangement, each dose, each motif's necessity. The position scan and the
spacing grid are described (mean, bootstrap CI, peak with a bootstrap interval) without a test
per cell: their thousands of cells would dilute every other test of the report.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from glmxai import figures as analysis_figures
from glmxai.data.encoding import to_strings
from glmxai.io import write_bytes_atomic
from glmxai.probes import figures
from glmxai.probes.experiments import frame_offsets
from glmxai.probes.job import ProbePlan, ProbeResults, run_probes
from glmxai.probes.patterns import VARIANTS, variants
from glmxai.probes.statistics import cell_statistics, mean_ci, peak_interval
from glmxai.report import Report, fmt, fmt_p, fmt_signed, slug

log = logging.getLogger(__name__)
MIN_VALUES = 5  # backgrounds or hits a test needs


def _frames_text(canonical: int, frame: int) -> str:
    offsets = frame_offsets(frame)
    return f"{canonical + offsets[0]}..{canonical + offsets[-1]} ({frame} frames)" if frame > 1 else ""


def _no_test_below(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for column in columns:
        if column in frame:
            frame.loc[frame["n"] < MIN_VALUES, column] = np.nan
    return frame


def insertion_tables(results: ProbeResults) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, frames): per model, background kind, pattern and variant, the change at the
    canonical position (averaged over the frames for frame-dependent models) with its statistics
    and the paired test against the shuffled copies; frames: each frame's mean (frame-dependent
    models only)."""
    plan, options = results.plan, results.plan.options
    tables, frames = [], []
    for model in plan.models:
        frame = model.target.frame
        for kind in options["backgrounds"]:
            cells = results.cells.get((model.label, "insertion", kind))
            if cells is None:
                continue
            meta, logit, prob, tokens = cells.cells, cells.arrays["logit"], cells.arrays["prob"], cells.arrays["tokens"]
            keys, values, probs, token_change = [], [], [], []
            for pattern in plan.patterns:
                for variant in VARIANTS:
                    index = np.flatnonzero((meta["pattern"] == pattern.name) & (meta["variant"] == variant))
                    keys.append((pattern, variant))
                    values.append(logit[index].mean(axis=0))
                    probs.append(prob[index].mean(axis=0))
                    token_change.append(float(np.mean(tokens[index])))
                    if frame > 1:
                        frames += [{"model": model.label, "background": kind, "pattern": pattern.name,
                                    "variant": variant, "position": int(meta["position"].iat[i]),
                                    "frame": int((model.target.tss + meta["position"].iat[i]) % frame),
                                    "mean": logit[i].mean(), "prob_mean": prob[i].mean()} for i in index]
            shuffled = {p.name: values[i] for i, (p, v) in enumerate(keys) if v == "shuffled"}
            stats = cell_statistics(np.stack(values), np.stack([shuffled[p.name] for p, _ in keys]),
                                    options["n_bootstrap"], plan.seed)
            stats = stats.rename(columns={"control_mean": "shuffled_mean", "vs_control_p": "vs_shuffled_p"})
            is_shuffled = np.array([v == "shuffled" for _, v in keys])
            stats.loc[is_shuffled, ["shuffled_mean", "vs_shuffled_p"]] = np.nan
            described = pd.DataFrame([{
                "model": model.label, "background": kind, "pattern": p.name, "variant": v,
                "sequence": to_strings(variants(p, v, 1, plan.seed))[0] if v in ("consensus", "core_mutated") else "",
                "position": p.position,
                "frames": _frames_text(p.position, frame)} for p, v in keys])
            stats.insert(list(stats.columns).index("wilcoxon_p"), "prob_mean", [m.mean() for m in probs])
            stats["token_change"] = token_change
            tables.append(pd.concat([described, stats], axis=1))
    table = _no_test_below(pd.concat(tables, ignore_index=True), ["wilcoxon_p", "vs_shuffled_p"]) if tables else \
        pd.DataFrame()
    return table, pd.DataFrame(frames)


def _frame_average(values: np.ndarray, positions: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """values (..., P) on consecutive positions -> the mean over each position's frame window
    (frame_offsets), on the positions where the whole window was measured."""
    offsets = frame_offsets(frame)
    windows = np.lib.stride_tricks.sliding_window_view(values, frame, axis=-1).mean(axis=-1)
    return windows, positions[-offsets[0] : len(positions) - offsets[-1]]


def position_tables(results: ProbeResults) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(curves, peaks): the mean change (95% CI) per scan position of each pattern's consensus
    and shuffles, and per model, background kind and pattern the peak of the consensus curve with
    a bootstrap interval (of the frame average for frame-dependent models scanned at stride 1)."""
    plan, options = results.plan, results.plan.options
    stride = options["position_scan"]["stride"]
    curves, peaks = [], []
    for model in plan.models:
        frame = model.target.frame if stride == 1 else 1
        for kind in options["backgrounds"]:
            cells = results.cells.get((model.label, "position_scan", kind))
            if cells is None:
                continue
            meta, logit, prob = cells.cells, cells.arrays["logit"], cells.arrays["prob"]
            for pattern in plan.patterns:
                measured = {}
                for variant in ("consensus", "shuffled"):
                    index = np.flatnonzero((meta["pattern"] == pattern.name) & (meta["variant"] == variant))
                    index = index[np.argsort(meta["position"].to_numpy()[index])]
                    positions = meta["position"].to_numpy()[index].astype(int)
                    values = logit[index]  # (P, n)
                    measured[variant] = (positions, values)
                    low, high = mean_ci(values, options["n_bootstrap"], plan.seed)
                    curve = pd.DataFrame({"model": model.label, "background": kind, "pattern": pattern.name,
                                          "variant": variant, "position": positions, "mean": values.mean(axis=1),
                                          "ci_low": low, "ci_high": high,
                                          "fraction_positive": (values > 0).mean(axis=1),
                                          "prob_mean": prob[index].mean(axis=1), "frame_average": np.nan})
                    if frame > 1 and len(positions) >= frame:
                        averaged, kept = _frame_average(values.mean(axis=1), positions, frame)
                        curve.loc[curve["position"].isin(kept), "frame_average"] = averaged
                    curves.append(curve)
                positions, values = measured["consensus"]
                if not len(positions):
                    continue
                per_background, peak_of = values.T, "measured"
                if frame > 1 and len(positions) >= frame:
                    per_background, positions = _frame_average(per_background, positions, frame)
                    peak_of = "frame average"
                peak, low, high = peak_interval(per_background, positions, options["n_bootstrap"], plan.seed)
                shuffled_means = measured["shuffled"][1].mean(axis=1)
                at = {int(p): i for i, p in enumerate(measured["consensus"][0])}
                peaks.append({"model": model.label, "background": kind, "pattern": pattern.name,
                              "canonical": pattern.position, "peak": peak, "peak_low": low, "peak_high": high,
                              "peak_of": peak_of, "n": values.shape[1],
                              "peak_mean": float(per_background.mean(axis=0)[list(positions).index(peak)]),
                              "canonical_mean": float(measured["consensus"][1][at[pattern.position]].mean())
                              if pattern.position in at else np.nan,
                              "shuffled_largest": float(shuffled_means[np.abs(shuffled_means).argmax()])
                              if len(shuffled_means) else np.nan})
    return (pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()), pd.DataFrame(peaks)


def _interactions(meta: pd.DataFrame, values: np.ndarray, pair: str, variant: str
                  ) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """The cells where both patterns of ``pair`` were planted, (a, b) starts; their interaction
    per background delta(AB) - delta(A) - delta(B) (C, n) and the mean changes (C, 3) of A alone,
    B alone and both, from ``values`` (the spacing cells' changes of one readout)."""
    chosen = meta[(meta["pair"] == pair) & (meta["variant"] == variant)]
    alone = {(planted, int(start)): values[i] for planted, column in (("A", "a_position"), ("B", "b_position"))
             for i, start in chosen.loc[chosen["planted"] == planted, column].items()}
    both = chosen[chosen["planted"] == "AB"]
    where = [(int(a), int(b)) for a, b in zip(both["a_position"], both["b_position"])]
    single_a = np.stack([alone[("A", a)] for a, _ in where])
    single_b = np.stack([alone[("B", b)] for _, b in where])
    together = values[both.index.to_numpy()]
    means = np.stack([single_a.mean(axis=1), single_b.mean(axis=1), together.mean(axis=1)], axis=1)
    return where, together - single_a - single_b, means


def spacing_tables(results: ProbeResults) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(grid, canonical): the interaction delta(AB) - delta(A) - delta(B) on the grid of starts
    (logit: mean and 95% CI; p(promoter): mean), and at the canonical arrangement of each pair
    with its tests (against 0 and paired against the interaction of the two patterns' shuffles)."""
    plan, options = results.plan, results.plan.options
    grids, canonical = [], []
    for model in plan.models:
        for kind in options["backgrounds"]:
            cells = results.cells.get((model.label, "spacing", kind))
            if cells is None:
                continue
            meta, logit, prob = cells.cells, cells.arrays["logit"], cells.arrays["prob"]
            for first, second in plan.pairs:
                pair = f"{first.name} + {second.name}"
                where, values, means = _interactions(meta, logit, pair, "consensus")
                _, prob_values, prob_means = _interactions(meta, prob, pair, "consensus")
                low, high = mean_ci(values, options["n_bootstrap"], plan.seed)
                grids.append(pd.DataFrame({
                    "model": model.label, "background": kind, "pair": pair, "a_position": [a for a, _ in where],
                    "b_position": [b for _, b in where], "spacing": [b - a for a, b in where],
                    "delta_a": means[:, 0], "delta_b": means[:, 1], "delta_ab": means[:, 2],
                    "interaction": values.mean(axis=1), "ci_low": low, "ci_high": high,
                    "prob_delta_a": prob_means[:, 0], "prob_delta_b": prob_means[:, 1],
                    "prob_delta_ab": prob_means[:, 2], "prob_interaction": prob_values.mean(axis=1)}))
                home = where.index((first.position, second.position))
                _, control, _ = _interactions(meta, logit, pair, "shuffled")
                stats = cell_statistics(values[home][None], control, options["n_bootstrap"], plan.seed)
                stats = stats.rename(columns={"control_mean": "shuffled_mean", "vs_control_p": "vs_shuffled_p"})
                canonical.append({"model": model.label, "background": kind, "pair": pair,
                                  "a_position": first.position, "b_position": second.position,
                                  "delta_a": means[home, 0], "delta_b": means[home, 1], "delta_ab": means[home, 2],
                                  **stats.iloc[0].to_dict(), "prob_delta_a": prob_means[home, 0],
                                  "prob_delta_b": prob_means[home, 1], "prob_delta_ab": prob_means[home, 2],
                                  "prob_interaction": prob_values[home].mean()})
    grid = pd.concat(grids, ignore_index=True) if grids else pd.DataFrame()
    table = pd.DataFrame(canonical).astype({"n": int}) if canonical else pd.DataFrame()
    return grid, _no_test_below(table, ["wilcoxon_p", "vs_shuffled_p"]) if canonical else table


def dose_table(results: ProbeResults) -> pd.DataFrame:
    """Per model, background kind and number of copies: the change with its statistics, paired
    against as many shuffled copies at the same positions (rows ``variant`` consensus) and the
    shuffled copies' own change (rows ``variant`` shuffled, untested against themselves)."""
    plan, options = results.plan, results.plan.options
    tables = []
    for model in plan.models:
        for kind in options["backgrounds"]:
            cells = results.cells.get((model.label, "dose", kind))
            if cells is None:
                continue
            meta, logit, prob = cells.cells, cells.arrays["logit"], cells.arrays["prob"]
            consensus = meta.index[meta["variant"] == "consensus"].to_numpy()
            shuffled = meta.index[meta["variant"] == "shuffled"].to_numpy()
            rows = np.concatenate([consensus, shuffled])
            stats = cell_statistics(logit[rows], logit[np.concatenate([shuffled, shuffled])], options["n_bootstrap"],
                                    plan.seed)
            stats = stats.rename(columns={"control_mean": "shuffled_mean", "vs_control_p": "vs_shuffled_p"})
            stats.loc[len(consensus):, ["shuffled_mean", "vs_shuffled_p"]] = np.nan
            stats.insert(list(stats.columns).index("wilcoxon_p"), "prob_mean", prob[rows].mean(axis=1))
            described = meta.loc[rows, ["pattern", "variant", "copies", "positions"]].reset_index(drop=True)
            tables.append(pd.concat([pd.DataFrame({"model": [model.label] * len(rows), "background": kind}),
                                     described, stats], axis=1))
    return _no_test_below(pd.concat(tables, ignore_index=True), ["wilcoxon_p", "vs_shuffled_p"]) if tables else \
        pd.DataFrame()


def necessity_table(results: ProbeResults) -> pd.DataFrame:
    """Per model, pattern and hits (all, or those within ``necessity.window`` bp of the canonical
    start): the change when a hit is destroyed (mean over its shuffles) with its statistics,
    paired against the same destruction of a matched random window (``control``)."""
    plan = results.plan
    rows = []
    for model in plan.models:
        cells = results.cells.get((model.label, "necessity", "promoters"))
        if cells is None:
            continue
        meta = cells.cells
        hit_logit = cells.arrays["logit"].mean(axis=1) if len(meta) else np.zeros(0)
        hit_prob = cells.arrays["prob"].mean(axis=1) if len(meta) else np.zeros(0)
        control_logit = cells.arrays["control_logit"].mean(axis=1) if len(meta) else np.zeros(0)
        for pattern in plan.patterns:
            for where in ("all", "canonical"):
                selected = np.zeros(0, dtype=int)
                if len(meta):
                    keep = meta["pattern"] == pattern.name
                    if where == "canonical":
                        keep &= meta["canonical"].astype(bool)
                    selected = np.flatnonzero(keep)
                row = {"model": model.label, "pattern": pattern.name, "hits": where,
                       "sequences": int(meta["row"].iloc[selected].nunique()) if len(selected) else 0}
                if len(selected):
                    stats = cell_statistics(hit_logit[selected][None], control_logit[selected][None],
                                            plan.options["n_bootstrap"], plan.seed).iloc[0].to_dict()
                    stats["prob_mean"] = float(hit_prob[selected].mean())
                else:
                    stats = {"n": 0}
                rows.append({**row, **stats})
    columns = ["model", "pattern", "hits", "sequences", "n", "mean", "ci_low", "ci_high", "fraction_positive",
               "prob_mean", "wilcoxon_p", "control_mean", "vs_control_p"]
    return _no_test_below(pd.DataFrame(rows).reindex(columns=columns), ["wilcoxon_p", "vs_control_p"])


def _verdict(mean: float, p_adj: float, alpha: float, verbs: tuple[str, str, str]) -> tuple[str, str]:
    """(verb, note): verbs[0] or verbs[1] for a mean above or below 0 at adjusted p < alpha, else
    verbs[2] with a note that says why no direction is called."""
    if not np.isfinite(p_adj):
        return verbs[2], " (not tested)"
    if p_adj >= alpha:
        return verbs[2], f": not distinguishable from 0 at adjusted p < {fmt(alpha)}"
    return (verbs[0] if mean > 0 else verbs[1]), ""


def insertion_verdicts(table: pd.DataFrame, plan: ProbePlan, alpha: float) -> list[str]:
    """One sentence per model and pattern: the consensus at its canonical position on the first
    background kind, with its CI, adjusted p and the shuffled copies' change; the other kinds'
    mean changes in brackets."""
    sentences = []
    kinds = plan.options["backgrounds"]
    consensus = table[table["variant"] == "consensus"]
    for model in plan.models:
        for pattern in plan.patterns:
            rows = consensus[(consensus["model"] == model.label) & (consensus["pattern"] == pattern.name)]
            if rows.empty:
                continue
            row = rows.iloc[0]
            where = f"at {row['position']}" + (f" (mean of {row['frames']})" if row["frames"] else "")
            how, note = _verdict(row["mean"], row["wilcoxon_p_adj"], alpha, ("raises", "lowers", "changes"))
            others = ", ".join(f"{r['background']} {fmt_signed(r['mean'])}" for _, r in rows.iloc[1:].iterrows())
            sentences.append(
                f"{model.label}: inserting {pattern.name} ({pattern.consensus_text}) {where} into {fmt(int(row['n']))} "
                f"{row['background']} backgrounds {how} the promoter logit by {fmt_signed(row['mean'])} (95% CI "
                f"{fmt(row['ci_low'])} to {fmt(row['ci_high'])}; p(promoter) {fmt_signed(row['prob_mean'])}; "
                f"{fmt(100 * row['fraction_positive'], 2)}% of backgrounds up), adjusted p = "
                f"{fmt_p(row['wilcoxon_p_adj'])}{note}; its shuffled copy: {fmt_signed(row['shuffled_mean'])} "
                f"(consensus vs shuffled adjusted p = {fmt_p(row['vs_shuffled_p_adj'])})"
                + (f"; other backgrounds: {others}" if others and len(kinds) > 1 else "") + ".")
    return sentences


def peak_verdicts(peaks: pd.DataFrame) -> list[str]:
    """Where each pattern's effect peaks, per model, on the first background kind."""
    sentences = []
    for (model, pattern), rows in peaks.groupby(["model", "pattern"], sort=False):
        row = rows.iloc[0]
        sentences.append(
            f"{model}: the effect of {pattern} on the promoter logit peaks at {row['peak']} bp ({row['peak_of']}, "
            f"{row['background']} backgrounds; 95% bootstrap interval {row['peak_low']} to {row['peak_high']}; "
            f"canonical {row['canonical']}) with {fmt_signed(row['peak_mean'])}; the largest mean change of its "
            f"shuffled copies anywhere is {fmt_signed(row['shuffled_largest'])}.")
    return sentences


def spacing_verdicts(table: pd.DataFrame, alpha: float) -> list[str]:
    """One sentence per model, background kind and pair at its canonical arrangement."""
    sentences = []
    for _, row in table.iterrows():
        how, note = _verdict(row["mean"], row["wilcoxon_p_adj"], alpha, ("is positive", "is negative", "is"))
        first, second = row["pair"].split(" + ", 1)
        sentences.append(
            f"{row['model']}: {first} at {row['a_position']} with {second} at {row['b_position']} "
            f"({row['background']} backgrounds): alone {fmt_signed(row['delta_a'])} and {fmt_signed(row['delta_b'])}, "
            f"together {fmt_signed(row['delta_ab'])} promoter logit (p(promoter) {fmt_signed(row['prob_delta_a'])}, "
            f"{fmt_signed(row['prob_delta_b'])}, {fmt_signed(row['prob_delta_ab'])}); the interaction "
            f"{fmt_signed(row['mean'])} (95% CI {fmt(row['ci_low'])} to {fmt(row['ci_high'])}; p(promoter) "
            f"{fmt_signed(row['prob_interaction'])}) {how}, adjusted p = {fmt_p(row['wilcoxon_p_adj'])}{note}; "
            f"shuffled pair {fmt_signed(row['shuffled_mean'])} (adjusted p vs shuffled = "
            f"{fmt_p(row['vs_shuffled_p_adj'])}).")
    return sentences


def dose_verdicts(table: pd.DataFrame, plan: ProbePlan) -> list[str]:
    """One sentence per model: the change for each number of copies on the first background kind."""
    sentences = []
    first_kind = plan.options["backgrounds"][0]
    rows = table[(table["variant"] == "consensus") & (table["background"] == first_kind)]
    for model, g in rows.groupby("model", sort=False):
        changes = "; ".join(f"{int(r['copies'])}: {fmt_signed(r['mean'])} (adjusted p = {fmt_p(r['wilcoxon_p_adj'])})"
                            for _, r in g.iterrows())
        sentences.append(f"{model}: copies of {g['pattern'].iat[0]} at {g['positions'].iat[-1]} on {first_kind} "
                         f"backgrounds change the promoter logit by {changes}.")
    return sentences


def necessity_verdicts(table: pd.DataFrame, split: str, alpha: float) -> list[str]:
    """One sentence per model and pattern: destroying all its hits, against matched windows."""
    sentences = []
    for _, row in table[table["hits"] == "all"].iterrows():
        if not row["n"]:
            sentences.append(f"{row['model']}: no hit of {row['pattern']} in the {split} promoters probed.")
            continue
        how, note = _verdict(row["mean"], row["wilcoxon_p_adj"], alpha, ("raises", "lowers", "changes"))
        sentences.append(
            f"{row['model']}: destroying the {fmt(int(row['n']))} hits of {row['pattern']} in {split} promoters "
            f"{how} the promoter logit by {fmt_signed(row['mean'])} (95% CI {fmt(row['ci_low'])} to "
            f"{fmt(row['ci_high'])}), adjusted p = {fmt_p(row['wilcoxon_p_adj'])}{note}; matched random windows "
            f"{fmt_signed(row['control_mean'])} (adjusted p vs them = {fmt_p(row['vs_control_p_adj'])}).")
    return sentences


def _write_csv(frame: pd.DataFrame, path) -> str:
    write_bytes_atomic(frame.to_csv(index=False).encode(), path)
    return str(path)


def probes_section(report: Report, plan: ProbePlan) -> dict:
    """Run the probes and write their section; returns the summary (``models``: checkpoint, data
    and cost per model; per experiment the results with adjusted p-values once the report is
    written; the CSV files of the curves and grids)."""
    results = run_probes(plan)
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
        _insertion_part(report, plan, results, summary, alpha)
    if "position_scan" in experiments:
        curves, peaks = position_tables(results)
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
        grid, canonical = spacing_tables(results)
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

        def spacing_findings() -> list[str]:
            table = report.tables["probes_spacing"]
            summary["spacing"] = table.to_dict("records")
            return spacing_verdicts(table, alpha)

        report.findings(spacing_findings)
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
        table = dose_table(results)
        report.table("probes_dose", table, "Change for 1, 2, ... copies of the pattern at the positions given, "
                                           "paired against as many shuffled copies at the same positions.")
        report.figure("probes_dose", figures.dose_curves(table), "Mean change of the promoter logit (95% CI) against "
                      "the number of copies planted; dashed: shuffled copies.")

        def dose_findings() -> list[str]:
            summary["dose"] = report.tables["probes_dose"].to_dict("records")
            return dose_verdicts(report.tables["probes_dose"], plan)

        report.findings(dose_findings)
    if "necessity" in experiments:
        split = options["necessity"]["split"]
        report.table("probes_necessity", necessity_table(results), (
            f"Each hit of a pattern in up to {options['necessity']['n_sequences']} {split} promoters replaced by the "
            f"same window of {options['necessity']['shuffles']} dinucleotide shuffles of its sequence (mean change per "
            f"hit), paired against a random window of the same width that overlaps no hit; hits: all, or within "
            f"{options['necessity']['window']} bp of the canonical start. A test needs {MIN_VALUES} hits."))

        def necessity_findings() -> list[str]:
            summary["necessity"] = report.tables["probes_necessity"].to_dict("records")
            return necessity_verdicts(report.tables["probes_necessity"], split, alpha)

        report.findings(necessity_findings)
    return summary


def _insertion_part(report: Report, plan: ProbePlan, results: ProbeResults, summary: dict, alpha: float) -> None:
    table, frames = insertion_tables(results)
    report.table("probes_insertion", table, (
        "Each variant at the canonical position: consensus, instances sampled from the matrix (background i gets "
        "instance i mod probes.instances), and the controls: shuffled consensus, core-mutated copy (the most "
        "informative third of positions set to their least likely base), random k-mer of the consensus' "
        "composition. frames: the starts averaged for models that read non-overlapping k-mers. token_change: mean "
        "change of the token count (token models)."))
    if not frames.empty:
        report.table("probes_insertion_frames", frames, "Per-frame means behind the frame averages of "
                                                        "probes_insertion (frame = start index mod k).", pvalues=[])

    def heatmap() -> None:
        first_kind = plan.options["backgrounds"][0]
        rows = report.tables["probes_insertion"]
        rows = rows[rows["background"] == first_kind].assign(cell=lambda f: f["pattern"] + ": " + f["variant"])
        effects = rows.pivot_table(index="cell", columns="model", values="mean", sort=False, dropna=False)
        significant = rows.pivot_table(index="cell", columns="model", values="wilcoxon_p_adj", sort=False,
                                       dropna=False).reindex_like(effects) < alpha
        report.figure("probes_insertion_effects",
                      analysis_figures.effect_heatmap(effects, significant,
                                                      pd.DataFrame("", index=effects.index, columns=effects.columns),
                                                      f"mean change of promoter logit ({first_kind} backgrounds)"),
                      f"Mean change of the promoter logit per pattern variant at the canonical position ({first_kind} "
                      f"backgrounds); * adjusted p < {fmt(alpha)} (Wilcoxon against 0).")

    report.later(heatmap)

    def findings() -> list[str]:
        done = report.tables["probes_insertion"]
        for model in plan.models:
            rows = done[(done["model"] == model.label) & (done["variant"] == "consensus")]
            summary["models"][model.label]["insertion"] = {
                f"{r['pattern']} / {r['background']}": {k: r[k] for k in (
                    "position", "n", "mean", "ci_low", "ci_high", "prob_mean", "fraction_positive", "wilcoxon_p_adj",
                    "shuffled_mean", "vs_shuffled_p_adj", "token_change")} for _, r in rows.iterrows()}
        return insertion_verdicts(done, plan, alpha)

    report.findings(findings, headline=True)
