"""Faithfulness: deletion and insertion curves against a random order.

For each sequence the explained class is the predicted one (attributions are flipped in
sign for sequences predicted non-promoter; unsigned scores such as attention, meta.json
``signed`` false, are ranked as they are for either class). Deletion replaces the top fraction f of
positions, ranked by attribution toward that class, with a background sequence and
re-predicts; insertion starts from the background and restores the top fraction f of the
original positions. Positions with equal attribution (Anchors' zeros) are taken in a random
order. The same is done in ``n_random`` random orders. Areas per sequence:
deletion ``aoc`` = integral of p(0) - p(f) over f (area over the curve), insertion ``auc``
= integral of p(f) - p_background; higher is more faithful for both. The gain of the
attribution order over the random orders is the mean of the per-sequence differences, with
its 95% CI and the paired t-test of it (the statistic the table and the verdicts state).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai import figures
from glmxai.data.encoding import to_codes
from glmxai.explain_runs import ExplainRun, checkpoint_problem
from glmxai.report import Report, fmt, fmt_signed, p_clause
from glmxai.stats import DOWN, UNCLEAR, UNTESTED, UP, call

log = logging.getLogger(__name__)
Predict = Callable[[np.ndarray], np.ndarray]  # int codes (N, L) -> p(promoter) (N,)


def backgrounds(codes: np.ndarray, kind: str = "dinuc_shuffle", seed: int = 0) -> np.ndarray:
    """(N, L) -> one background per sequence (N, L) from explain's DNA-aware backgrounds
    (``glmxai.data.shuffling``: dinucleotide shuffle, composition-matched bases or N)."""
    from glmxai.data.shuffling import check_background, make_backgrounds

    check_background(kind, 1)
    rng = np.random.default_rng(seed)
    return np.stack([make_backgrounds(row, kind, 1, rng)[0] for row in np.asarray(codes)])


def _curves(predict: Predict, codes: np.ndarray, background: np.ndarray, ranks: np.ndarray, positive: np.ndarray,
            fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ranks: (N, L) position order (most important first). Returns deletion and insertion
    probabilities of the explained class, each (N, F)."""
    n, length = codes.shape
    deletion, insertion = np.empty((n, len(fractions))), np.empty((n, len(fractions)))
    rank_of = np.empty_like(ranks)
    np.put_along_axis(rank_of, ranks, np.arange(length)[None].repeat(n, 0), axis=1)
    for f, frac in enumerate(fractions):
        top = rank_of < int(round(frac * length))  # (N, L) positions among the top fraction
        p_del = predict(np.where(top, background, codes))
        p_ins = predict(np.where(top, codes, background))
        deletion[:, f] = np.where(positive, p_del, 1 - p_del)
        insertion[:, f] = np.where(positive, p_ins, 1 - p_ins)
    return deletion, insertion


def perturbation_curves(predict: Predict, codes: np.ndarray, scores: np.ndarray, background: np.ndarray,
                        steps: int = 10, n_random: int = 3, seed: int = 0, signed: bool = True
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """codes, scores, background: (N, L); signed: False for unsigned importance (not flipped for
    predicted non-promoters). Returns (curves, areas).

    curves: mean probability of the explained class per ``order`` ('attribution'/'random'),
    ``repeat`` (which random order; 0 for the attribution order), ``curve``
    ('deletion'/'insertion') and ``fraction`` (0, 1/steps, ..., 1).
    areas: per sequence ``row`` and order, ``deletion_aoc`` and ``insertion_auc`` (random:
    the mean over the random orders).
    """
    codes, background = np.asarray(codes), np.asarray(background)
    if codes.shape != scores.shape or codes.shape != background.shape:
        raise ValueError(f"codes {codes.shape}, scores {scores.shape} and background {background.shape} must match")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    positive = predict(codes) >= 0.5
    toward_prediction = np.where(positive[:, None], scores, -scores) if signed else scores
    rng = np.random.default_rng(seed)
    # equal scores (Anchors' zeros) in a random order, not upstream first
    tie_break = np.random.default_rng([seed, 1]).random(codes.shape)
    orders = {"attribution": [np.lexsort((tie_break, -toward_prediction), axis=1)]}
    orders["random"] = [np.argsort(rng.random(codes.shape), axis=1) for _ in range(n_random)]
    curve_rows, area_rows = [], []
    for name, rank_list in orders.items():
        results = [_curves(predict, codes, background, r, positive, fractions) for r in rank_list]
        for repeat, pair in enumerate(results):
            for curve, values in zip(("deletion", "insertion"), pair):
                curve_rows += [{"order": name, "repeat": repeat, "curve": curve, "fraction": fr, "prob": v}
                               for fr, v in zip(fractions, values.mean(axis=0))]
        deletion = np.mean([d for d, _ in results], axis=0)
        insertion = np.mean([i for _, i in results], axis=0)
        aoc = np.trapezoid(deletion[:, :1] - deletion, fractions, axis=1)
        auc = np.trapezoid(insertion - insertion[:, :1], fractions, axis=1)
        area_rows += [{"row": r, "order": name, "deletion_aoc": a, "insertion_auc": b}
                      for r, (a, b) in enumerate(zip(aoc, auc))]
    return pd.DataFrame(curve_rows), pd.DataFrame(area_rows)


def summarize_areas(areas: pd.DataFrame) -> dict:
    """Mean areas of the attribution and random orders, and the gain: the mean per-sequence
    difference (attribution - random) with its 95% CI and paired t-test p (``*_gain_ci_low``,
    ``*_gain_ci_high``, ``*_ttest_p``; NaN with fewer than 5 sequences or no variation)."""
    att = areas[areas["order"] == "attribution"].set_index("row")
    rnd = areas[areas["order"] == "random"].set_index("row").loc[att.index]
    out = {"n": len(att)}
    for col in ("deletion_aoc", "insertion_auc"):
        diff = (att[col] - rnd[col]).to_numpy(np.float64)
        out[col] = att[col].mean()
        out[f"{col}_random"] = rnd[col].mean()
        out[f"{col}_gain"] = diff.mean()
        out[f"{col}_gain_ci_low"] = out[f"{col}_gain_ci_high"] = out[f"{col}_ttest_p"] = np.nan
        if len(diff) >= 5 and np.ptp(diff) > 0:
            test = stats.ttest_1samp(diff, 0.0)
            ci = test.confidence_interval(0.95)
            out[f"{col}_gain_ci_low"], out[f"{col}_gain_ci_high"] = float(ci.low), float(ci.high)
            out[f"{col}_ttest_p"] = float(test.pvalue)
    return out


def faithfulness_verdict(row: dict, alpha: float = 0.05) -> str:
    """A sentence on one run's faithfulness from its table row (with ``*_ttest_p_adj``):
    the deletion and insertion gains over random order, their direction and adjusted p."""
    parts = []
    words = {UP: "above random order", DOWN: "below random order", UNCLEAR: "not distinguishable from random order",
             UNTESTED: "not tested"}
    for col, what in (("deletion_aoc", "deletion AOC"), ("insertion_auc", "insertion AUC")):
        p = row.get(f"{col}_ttest_p_adj", np.nan)
        gain = row[f"{col}_gain"]
        how = words[call(gain, p, alpha)]
        parts.append(f"{what} {fmt(row[col])} vs {fmt(row[f'{col}_random'])} for random order (gain "
                     f"{fmt_signed(gain)}, 95% CI {fmt(row[f'{col}_gain_ci_low'])} to "
                     f"{fmt(row[f'{col}_gain_ci_high'])}, adjusted p {p_clause(p)}): {how}")
    return f"{row['run']} ({row['n']} sequences): " + "; ".join(parts) + "."


@dataclass
class FaithfulnessTables:
    """Faithfulness of the runs with a usable checkpoint: ``areas`` (one row per run,
    ``summarize_areas`` with its t-tests ``*_ttest_p``), the deletion/insertion ``curves``, the
    ``sizes`` described, and ``unusable`` (run name -> why its checkpoint cannot be used)."""

    areas: pd.DataFrame
    curves: pd.DataFrame
    sizes: str
    unusable: dict[str, str]

    @property
    def tests(self) -> list[tuple[pd.DataFrame, list[str]]]:
        """The tables of tests, for the report-wide adjustment."""
        return [(self.areas, TTEST_COLUMNS)] if len(self.areas) else []


TTEST_COLUMNS = ["deletion_aoc_ttest_p", "insertion_auc_ttest_p"]


def faithfulness_tests(runs: list[ExplainRun], options: DictConfig, seed: int,
                       trust_remote_code: bool) -> FaithfulnessTables:
    """Deletion/insertion curves of every run whose checkpoint (meta.json ``checkpoint``) is
    present and unchanged, each checkpoint loaded once with ``load_classifier`` (remote code
    only with this command's ``trust_remote_code``). options: ``cfg.faithfulness``."""
    from glmxai.models.build import load_classifier
    from glmxai.predictor import BatchedPredictor, CachedPredictor

    hashes: dict[str, str] = {}
    usable, unusable = [], {}
    for run in runs:
        problem = checkpoint_problem(run, hashes)
        if problem:
            unusable[run.name] = problem
        else:
            usable.append(run)
    counts = sorted({min(int(options.n), len(run.sequences)) for run in usable})
    log.info("analyze: faithfulness of %d runs (%s sequences each)", len(usable), fmt(counts))
    if not counts:
        sizes = "no run (none has a usable checkpoint)"
    elif len(counts) == 1:
        sizes = f"the first {fmt(counts[0])} sequences of each run"
    else:
        sizes = (f"the first {fmt(counts[0])} to {fmt(counts[-1])} sequences of each run "
                 f"(faithfulness.n={options.n}, or all a run holds)")
    predictors: dict[str, CachedPredictor] = {}
    rows, curves = [], []
    model_label = {}  # checkpoint -> the model's name in the figure (with its folder where two share it)
    for run in usable:
        model_label[run.meta["checkpoint"]] = run.model
    for ckpt, model in model_label.items():
        if list(model_label.values()).count(model) > 1:
            model_label[ckpt] = f"{model} ({Path(ckpt).parent.parent.name or Path(ckpt).parent.name})"
    for run in usable:
        ckpt = run.meta["checkpoint"]
        if ckpt not in predictors:
            module = load_classifier(ckpt, map_location=options.device, trust_remote_code=trust_remote_code)
            predictors[ckpt] = CachedPredictor(BatchedPredictor(module.backbone, options.batch_size))
        predict = predictors[ckpt]
        before = predict.model.evaluations
        codes = to_codes(run.sequences[: options.n])
        background = backgrounds(codes, options.background, seed)
        curve, areas = perturbation_curves(predict, codes, run.scores[: options.n], background, options.steps,
                                           options.n_random, seed, signed=bool(run.meta.get("signed", True)))
        log.info("analyze: faithfulness of %s: %d sequences, %d model evaluations", run.name, len(codes),
                 predict.model.evaluations - before)
        curves.append(run.tagged(curve.assign(model=model_label[ckpt])))
        rows.append({"run": run.name, **summarize_areas(areas)})
    return FaithfulnessTables(pd.DataFrame(rows), pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
                              sizes, unusable)


def faithfulness_section(report: Report, tables: FaithfulnessTables, options: DictConfig) -> dict[str, dict]:
    """Write faithfulness (``faithfulness_tests``, adjusted). Returns per run name
    ``faithfulness`` (``summarize_areas`` with ``*_ttest_p_adj``); runs without a usable
    checkpoint are listed as not analyzed."""
    for name, problem in tables.unusable.items():
        report.skip(f"faithfulness of {name}", problem)
    report.section("Faithfulness", f"Deletion/insertion over {tables.sizes}, {options.steps} steps, background: "
                                   f"{options.background} (glmxai.data.shuffling), {options.n_random} random orders. "
                                   "Gain = mean per-sequence difference of the area between attribution order and "
                                   "random order, with its 95% CI and paired t-test.")
    if not len(tables.areas):
        report.findings(["No run could be checked for faithfulness (see What was not analyzed and why)."])
        return {}
    records = tables.areas.to_dict("records")
    report.findings([faithfulness_verdict(r, report.alpha) for r in records], headline=True)
    report.table("faithfulness", tables.areas, "Mean deletion area over the curve and insertion area under "
                 "the curve for the attribution order and the random orders; gain = mean per-sequence difference "
                 "(95% CI), paired t-test p.", pvalues=TTEST_COLUMNS)
    report.figure("faithfulness_curves", figures.perturbation_curves(tables.curves),
                  "Probability of the explained class as positions are deleted / inserted: attribution order per "
                  "run (solid); random order per model (dashed: mean of the random orders, band: their range).")
    return {r["run"]: {"faithfulness": {k: v for k, v in r.items() if k != "run"}} for r in records}
