"""Attribution at motif hits vs matched control windows, and positional profiles.

Scores are first put on a common scale per sequence (divided by the sequence's mean
absolute score) so that methods and sequences are comparable. For each hit, the mean
scaled attribution inside the hit is paired with the mean over ``n_controls`` random
windows of the same width in the same sequence that overlap no hit of that motif. The
table and its verdicts use one statistic: the mean of the paired differences (inside -
control), with its 95% confidence interval and the paired t-test of it (two-sided), whose
p-value is adjusted with every other test of the report; the ratio of the means, the median
difference and the share of hits with inside > control describe the spread.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai import figures
from glmxai.analysis.windows import window_sums
from glmxai.explain_runs import ExplainRun
from glmxai.motifs import hit_mask
from glmxai.report import Report, fmt, fmt_signed, p_clause, slug
from glmxai.stats import DOWN, UNCLEAR, UNTESTED, UP, call

log = logging.getLogger(__name__)
MIN_HITS = 5  # hits with a matched control needed for a test
# the ratio inside / control is given only where the control mean is at least this (in units of the
# sequence's mean |attribution|): over a control near 0 any ratio is huge and says nothing
RATIO_FLOOR = 0.05
SUMMARY_COLUMNS = ["motif", "group", "hits", "mean_inside", "mean_control", "mean_diff", "diff_ci_low",
                   "diff_ci_high", "ratio", "median_diff", "share_inside_higher", "ttest_p"]


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


def paired_mean_test(inside: np.ndarray, control: np.ndarray) -> dict:
    """The mean of ``inside - control`` with its 95% CI and the two-sided paired t-test;
    NaN test with fewer than ``MIN_HITS`` pairs or differences that do not vary."""
    inside, control = np.asarray(inside, np.float64), np.asarray(control, np.float64)
    diff = inside - control
    mean_inside, mean_control = (inside.mean(), control.mean()) if len(diff) else (np.nan, np.nan)
    out = {"mean_inside": mean_inside, "mean_control": mean_control, "mean_diff": diff.mean() if len(diff) else np.nan,
           "diff_ci_low": np.nan, "diff_ci_high": np.nan, "ttest_p": np.nan,
           "ratio": mean_inside / mean_control if len(diff) and mean_inside > 0 and mean_control >= RATIO_FLOOR
           else np.nan}
    if len(diff) >= MIN_HITS and np.ptp(diff) > 0:
        test = stats.ttest_1samp(diff, 0.0)
        ci = test.confidence_interval(0.95)
        out.update(diff_ci_low=float(ci.low), diff_ci_high=float(ci.high), ttest_p=float(test.pvalue))
    return out


def summarize_hits(per_hit: pd.DataFrame, labels: np.ndarray, probs: np.ndarray,
                   extra_groups: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Per motif x group (all, label 0/1, predicted 0/1, and ``extra_groups``: name -> (N,) bool,
    e.g. promoters by an annotation flag): hits, mean inside / control, the mean difference with
    its 95% CI and paired t-test p (``ttest_p``), the ratio of the means (when both are positive),
    the median difference and the share of hits with inside > control."""
    per_hit = per_hit.dropna(subset=["diff"])
    groups = {"all": np.ones(len(labels), bool), "label=1": labels == 1, "label=0": labels == 0,
              "pred=1": probs >= 0.5, "pred=0": probs < 0.5, **(extra_groups or {})}
    rows = []
    for motif, g in per_hit.groupby("motif"):
        for name, keep in groups.items():
            sub = g[keep[g["row"].to_numpy()]]
            rows.append({"motif": motif, "group": name, "hits": len(sub),
                         **paired_mean_test(sub["inside"].to_numpy(), sub["control"].to_numpy()),
                         "median_diff": sub["diff"].median(),
                         "share_inside_higher": (sub["diff"] > 0).mean() if len(sub) else np.nan})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def direction(row: Mapping, alpha: float = 0.05) -> str:
    """'higher' / 'lower' (inside vs matched windows, adjusted p < alpha), 'not distinguishable',
    or 'too few hits' (no test)."""
    return {UP: "higher", DOWN: "lower", UNCLEAR: "not distinguishable", UNTESTED: "too few hits"}[
        call(row["mean_diff"], row.get("ttest_p_adj"), alpha)]


def attribution_verdict(run: str, motif: str, row: Mapping, alpha: float = 0.05) -> str:
    """The verdict on attribution at ``motif`` hits of ``run`` from its table row (group
    'all', with ``ttest_p_adj``): direction, effect size in the table's units (means, their
    difference with 95% CI, ratio) and the adjusted p of the same test."""
    hits = int(row["hits"])
    how = direction(row, alpha)
    if how == "too few hits":
        return (f"{run}: {hits} {motif} hit{'s' if hits != 1 else ''} with a matched control; a test needs "
                f"{MIN_HITS} with varying differences, so attribution at {motif} is not tested.")
    wording = {"higher": "higher than", "lower": "lower than",
               "not distinguishable": "not distinguishable from that"}[how]
    ratio = f"; {fmt(row['ratio'], 2)} times the control" if np.isfinite(row.get("ratio", np.nan)) else ""
    return (f"{run}: attribution inside {hits} {motif} hits is {wording} in matched windows of the same sequences: "
            f"mean scaled attribution {fmt(row['mean_inside'])} vs {fmt(row['mean_control'])} (difference "
            f"{fmt_signed(row['mean_diff'])}, 95% CI {fmt(row['diff_ci_low'])} to {fmt(row['diff_ci_high'])}{ratio}); "
            f"paired t-test adjusted p {p_clause(row['ttest_p_adj'])}; inside higher for "
            f"{fmt(100 * row['share_inside_higher'], 2)}% of hits.")


def positional_profile(scores: np.ndarray, labels: np.ndarray, tss: int) -> pd.DataFrame:
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


def observed_positions(hits: pd.DataFrame, labels: pd.Series, span: tuple[int, int], width: int = 5,
                       min_share: float = 0.1, min_sequences: int = 3, over_uniform: float = 3.0) -> pd.DataFrame:
    """Where each motif's hits concentrate, per label: the ``width``-bp window of hit centres
    (bp vs TSS) holding the most sequences with a hit. ``drawn`` (a position the figures may
    mark) when at least ``min_sequences`` sequences and ``min_share`` of the label's sequences
    have a hit there, ``over_uniform`` times what hits spread evenly over ``span`` would give.

    hits: ``scan`` output with a ``key`` column naming the sequence; labels: label per key.
    Returns motif, label, sequences (of that label), with_hit, peak_rel_pos, at_peak,
    share_at_peak, drawn."""
    columns = ["motif", "label", "sequences", "with_hit", "peak_rel_pos", "at_peak", "share_at_peak", "drawn"]
    lo, hi = span
    rows = []
    for motif, group in hits.groupby("motif"):
        for label in (1, 0):
            n_label = int((labels == label).sum())
            sub = group[group["key"].map(labels) == label]
            if not n_label or sub.empty:
                continue
            centres = np.round(sub["rel_center"].to_numpy()).astype(int)
            spots = pd.DataFrame({"key": sub["key"].to_numpy(), "pos": centres}).drop_duplicates()
            counts = np.bincount(spots["pos"] - lo, minlength=hi - lo + 1).astype(float)
            in_window = np.convolve(counts, np.ones(width), mode="same")  # hits within +-width/2 of each position
            peak = int(np.argmax(in_window))
            near = spots[np.abs(spots["pos"] - (peak + lo)) <= width // 2]
            at_peak = int(near["key"].nunique())
            uniform = len(spots) * width / max(hi - lo + 1, 1)
            rows.append({"motif": motif, "label": label, "sequences": n_label, "with_hit": int(spots["key"].nunique()),
                         "peak_rel_pos": float(near["pos"].mean()), "at_peak": at_peak,
                         "share_at_peak": at_peak / n_label,
                         "drawn": bool(at_peak >= max(min_sequences, min_share * n_label)
                                       and at_peak >= over_uniform * uniform)})
    return pd.DataFrame(rows, columns=columns)


def _example_rows(run: ExplainRun) -> list[int]:
    """Correctly predicted promoters, most confident first; otherwise all rows."""
    good = np.flatnonzero((run.labels == 1) & (run.probs >= 0.5))
    return list(good[np.argsort(-run.probs[good])]) if len(good) else list(range(len(run.sequences)))


def _hits_by_sequence(runs: Sequence[ExplainRun], hits: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.Series]:
    """The hits of every distinct sequence the runs explained (a sequence explained by several
    runs counts once), with a ``key`` column; and the label of each key."""
    frames, labels = [], {}
    for run in runs:
        keys = np.array([f"{run.data_key}#{i}" for i in run.index])
        labels.update(zip(keys, run.labels.tolist()))
        run_hits = hits[run.name]
        frames.append(run_hits.assign(key=keys[run_hits["row"].to_numpy(int)]))
    merged = pd.concat(frames, ignore_index=True).drop_duplicates(["key", "motif", "start", "strand"])
    return merged, pd.Series(labels)


def attribution_tests(runs: list[ExplainRun], hits: dict[str, pd.DataFrame], options: DictConfig,
                      seed: int, groups: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> pd.DataFrame:
    """Attribution inside motif hits vs matched windows of every run (``summarize_hits``, with a
    ``run`` column): the report's table of attribution tests (``ttest_p``), before adjustment.
    hits: ``scan`` output per run name; options: ``cfg.attribution``; groups: per run name,
    further groups of its rows (``annotation_groups``)."""
    log.info("analyze: attribution at motifs of %d runs", len(runs))
    return pd.concat([run.tagged(summarize_hits(hit_vs_control(run.scores, hits[run.name], options.n_controls, seed),
                                                run.labels, run.probs, (groups or {}).get(run.name)))
                      for run in runs], ignore_index=True)


def motif_attribution_section(report: Report, runs: list[ExplainRun], hits: dict[str, pd.DataFrame],
                              tests: pd.DataFrame, tss: int, options: DictConfig, tata: str) -> dict[str, dict]:
    """Write the attribution tests (``attribution_tests``, adjusted), positional profiles and
    example logos. Returns per run name its TATA test (``tata_hits``, ``tata_mean_inside``,
    ``tata_mean_control``, ``tata_mean_diff``, ``tata_ratio``, ``tata_median_diff``,
    ``tata_ttest_p``, ``tata_ttest_p_adj``, ``tata_direction``)."""
    report.section("Attribution at motifs",
                   "Mean attribution (scaled by the sequence's mean |attribution|; positive = toward promoter) "
                   f"inside each motif hit vs {options.n_controls} matched windows of the same width and sequence "
                   "that overlap no hit of the motif. Per motif and group: the mean difference inside - control "
                   "with its 95% CI and the paired t-test of it (ttest_p, adjusted: ttest_p_adj); the ratio of "
                   f"the means where inside is positive and control at least {RATIO_FLOOR}; median difference and "
                   f"share of hits with inside > control describe the spread. A test needs {MIN_HITS} hits.")
    alpha, summary, sentences = report.alpha, {}, []
    for run in runs:
        test = tests[(tests["run"] == run.name) & (tests["motif"] == tata) & (tests["group"] == "all")]
        if not len(test):
            sentences.append(f"{run.name}: no {tata} hit in the explained sequences; attribution at {tata} is "
                             "not tested.")
            summary[run.name] = {"tata_hits": 0, "tata_direction": "no hits"}
            continue
        t = test.iloc[0]
        sentences.append(attribution_verdict(run.name, tata, t, alpha))
        summary[run.name] = {**{f"tata_{k}": _plain(t[k]) for k in (
            "hits", "mean_inside", "mean_control", "mean_diff", "ratio", "median_diff", "ttest_p", "ttest_p_adj")},
            "tata_direction": direction(t, alpha)}
    report.findings(sentences, headline=True)
    for run in runs:
        run_hits = hits[run.name]
        for row in _example_rows(run)[: options.logos]:
            report.figure(f"logo_{slug(run.name)}_{row}", figures.attribution_logo(
                run.sequences[row], run.scores[row], run_hits[run_hits["row"] == row], tss,
                f"{run.name}: sequence {run.index[row]} (label {run.labels[row]}, p={fmt(run.probs[row], 2)})",
                tuple(options.logo_span)), "Attribution logo with PWM hits shaded.")
    report.table("motif_attribution", tests,
                 "Attribution inside motif hits vs matched windows, by label and by prediction: means, mean "
                 "difference (95% CI), paired t-test.")
    untested = tests[(tests["group"] == "all") & ~np.isfinite(tests["ttest_p"].astype(float))]
    for motif, group in untested.groupby("motif"):
        report.skip(f"attribution at {motif} hits in {len(group)} run{'s' if len(group) > 1 else ''} "
                    f"({', '.join(group['run'])})", f"fewer than {MIN_HITS} hits with a matched control, or "
                    "differences that do not vary: no test")
    profile = pd.concat([run.tagged(positional_profile(run.scores, run.labels, tss)) for run in runs],
                        ignore_index=True)
    report.table("positional_profiles", profile, "Mean scaled attribution per position relative to the TSS.")
    all_hits, labels = _hits_by_sequence(runs, hits)
    length = runs[0].length
    positions = observed_positions(all_hits, labels, (-tss, length - 1 - tss))
    report.table("observed_motif_positions", positions,
                 "Where each motif's hits concentrate in the explained sequences (distinct sequences of all "
                 "runs), per label: the 5 bp window of hit centres with the most sequences. drawn: marked in the "
                 "positional-profile figure (>= 3 sequences and >= 10% of the label's sequences there, >= 3x an "
                 "even spread).")
    drawn = positions[positions["drawn"].astype(bool)]
    report.figure("positional_profiles", figures.positional_profiles(profile, drawn),
                  "Mean scaled attribution along the sequence (5 bp moving average), by label. Dotted lines: the "
                  "TSS and where the data's own motif hits concentrate (table observed_motif_positions); "
                  + ("none of the motifs concentrates at one position in these sequences." if drawn.empty else
                     "motifs whose hits are scattered are not drawn."))
    return summary


def _plain(value):
    """A table cell as a JSON-ready Python value (NaN -> None)."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and not np.isfinite(value) else value
