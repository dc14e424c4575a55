"""The probes' tables of statistics, built from their per-background changes (``ProbeResults``)
with ``glmxai.probes.statistics``, before the report adjusts their p-values.

Tests are run on the promoter logit (the change of p(promoter) is given beside it). The
pre-specified cells are tested: each variant at its canonical position, the interaction of each
pair at its canonical arrangement, each dose, each motif's necessity. The position scan and the
spacing grid are described (mean, bootstrap CI, peak with a bootstrap interval) without a test
per cell: their thousands of cells would dilute every other test of the report.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glmxai.data.encoding import to_strings
from glmxai.probes.experiments import frame_offsets
from glmxai.probes.job import ProbeResults
from glmxai.probes.patterns import VARIANTS, variants
from glmxai.probes.statistics import cell_statistics, mean_ci, peak_interval

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
    for model, kind, cells in results.each("insertion"):
        frame = model.target.frame
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
    for model, kind, cells in results.each("position_scan"):
        frame = model.target.frame if stride == 1 else 1
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
    for model, kind, cells in results.each("spacing"):
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
    for model, kind, cells in results.each("dose"):
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


@dataclass
class ProbeTables:
    """Every table of the probes' experiments that ran (None: not run): ``insertion`` and its
    per-frame ``insertion_frames``, the position scan's ``curves`` and ``peaks``, the spacing
    ``grid`` and its ``canonical`` arrangements, ``dose`` and ``necessity``."""

    insertion: pd.DataFrame | None = None
    insertion_frames: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None
    peaks: pd.DataFrame | None = None
    grid: pd.DataFrame | None = None
    canonical: pd.DataFrame | None = None
    dose: pd.DataFrame | None = None
    necessity: pd.DataFrame | None = None

    @property
    def tests(self) -> list[tuple[pd.DataFrame, None]]:
        """The tables of tests (their ``*_p`` columns), for the report-wide adjustment."""
        return [(t, None) for t in (self.insertion, self.canonical, self.dose, self.necessity) if t is not None]


def probe_tables(results: ProbeResults) -> ProbeTables:
    """The tables of every experiment of ``results``' plan."""
    experiments, out = results.plan.options["experiments"], ProbeTables()
    if "insertion" in experiments:
        out.insertion, out.insertion_frames = insertion_tables(results)
    if "position_scan" in experiments:
        out.curves, out.peaks = position_tables(results)
    if "spacing" in experiments:
        out.grid, out.canonical = spacing_tables(results)
    if "dose" in experiments:
        out.dose = dose_table(results)
    if "necessity" in experiments:
        out.necessity = necessity_table(results)
    return out
