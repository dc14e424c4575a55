"""Faithfulness: deletion and insertion curves against a random order.

For each sequence the explained class is the predicted one (attributions are flipped in
sign for sequences predicted non-promoter). Deletion replaces the top fraction f of
positions, ranked by attribution toward that class, with a background sequence and
re-predicts; insertion starts from the background and restores the top fraction f of the
original positions. Positions with equal attribution (Anchors' zeros) are taken in a random
order. The same is done in ``n_random`` random orders. Areas per sequence:
deletion ``aoc`` = integral of p(0) - p(f) over f (area over the curve), insertion ``auc``
= integral of p(f) - p_background; higher is more faithful for both. Method and random
areas are compared per sequence with the Wilcoxon signed-rank test.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai.analysis import figures
from glmxai.analysis.inputs import ExplainRun
from glmxai.analysis.report import Report
from glmxai.data.encoding import to_codes
from glmxai.io import sha256_file

log = logging.getLogger(__name__)
Predict = Callable[[np.ndarray], np.ndarray]  # int codes (N, L) -> p(promoter) (N,)


def backgrounds(codes: np.ndarray, kind: str = "dinuc_shuffle", seed: int = 0) -> np.ndarray:
    """(N, L) -> one background per sequence (N, L) from explain's DNA-aware backgrounds
    (``glmxai.xai.background``: dinucleotide shuffle, composition-matched bases or N)."""
    from glmxai.xai.background import check_background, make_backgrounds

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
                        steps: int = 10, n_random: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """codes, scores, background: (N, L). Returns (curves, areas).

    curves: mean probability of the explained class per ``order`` ('attribution'/'random'),
    ``curve`` ('deletion'/'insertion') and ``fraction`` (0, 1/steps, ..., 1).
    areas: per sequence ``row`` and order, ``deletion_aoc`` and ``insertion_auc``.
    """
    codes, background = np.asarray(codes), np.asarray(background)
    if codes.shape != scores.shape or codes.shape != background.shape:
        raise ValueError(f"codes {codes.shape}, scores {scores.shape} and background {background.shape} must match")
    fractions = np.linspace(0.0, 1.0, steps + 1)
    positive = predict(codes) >= 0.5
    signed = np.where(positive[:, None], scores, -scores)
    rng = np.random.default_rng(seed)
    # equal scores (Anchors' zeros) in a random order, not upstream first
    tie_break = np.random.default_rng([seed, 1]).random(codes.shape)
    orders = {"attribution": [np.lexsort((tie_break, -signed), axis=1)]}
    orders["random"] = [np.argsort(rng.random(codes.shape), axis=1) for _ in range(n_random)]
    curve_rows, area_rows = [], []
    for name, rank_list in orders.items():
        results = [_curves(predict, codes, background, r, positive, fractions) for r in rank_list]
        deletion = np.mean([d for d, _ in results], axis=0)
        insertion = np.mean([i for _, i in results], axis=0)
        for curve, values in (("deletion", deletion), ("insertion", insertion)):
            curve_rows += [{"order": name, "curve": curve, "fraction": fr, "prob": v}
                           for fr, v in zip(fractions, values.mean(axis=0))]
        aoc = np.trapezoid(deletion[:, :1] - deletion, fractions, axis=1)
        auc = np.trapezoid(insertion - insertion[:, :1], fractions, axis=1)
        area_rows += [{"row": r, "order": name, "deletion_aoc": a, "insertion_auc": b}
                      for r, (a, b) in enumerate(zip(aoc, auc))]
    return pd.DataFrame(curve_rows), pd.DataFrame(area_rows)


def summarize_areas(areas: pd.DataFrame) -> dict:
    """Mean areas of the attribution and random orders, their differences and Wilcoxon p."""
    att = areas[areas["order"] == "attribution"].set_index("row")
    rnd = areas[areas["order"] == "random"].set_index("row").loc[att.index]
    out = {"n": len(att)}
    for col in ("deletion_aoc", "insertion_auc"):
        diff = att[col] - rnd[col]
        out[col] = att[col].mean()
        out[f"{col}_random"] = rnd[col].mean()
        out[f"{col}_gain"] = diff.mean()
        out[f"{col}_wilcoxon_p"] = float(stats.wilcoxon(diff).pvalue) if len(diff) >= 5 and diff.any() else np.nan
    return out


def _checkpoint_problem(run: ExplainRun, hashes: dict[str, str]) -> str | None:
    """Why the run's checkpoint cannot be used (missing, or changed since it was explained)."""
    ckpt = run.meta.get("checkpoint")
    if not isinstance(ckpt, str) or not Path(ckpt).is_file():
        return f"{run.name}: checkpoint {ckpt!r} not found; faithfulness skipped."
    if ckpt not in hashes:
        hashes[ckpt] = sha256_file(ckpt)
    explained_with = run.meta.get("checkpoint_sha256")
    if explained_with and explained_with != hashes[ckpt]:
        return (f"{run.name}: {ckpt} has changed since it was explained (SHA-256 {hashes[ckpt][:12]}..., "
                f"explained with {str(explained_with)[:12]}...); faithfulness skipped.")
    return None


def faithfulness_section(report: Report, runs: list[ExplainRun], options: DictConfig, seed: int,
                         trust_remote_code: bool) -> dict[str, dict]:
    """Deletion/insertion curves of every run whose checkpoint (meta.json ``checkpoint``) is
    present and unchanged, each checkpoint loaded once with ``load_classifier`` (remote code
    only with this command's ``trust_remote_code``). options: ``cfg.faithfulness``. Returns
    per run name ``faithfulness`` (``summarize_areas``)."""
    from glmxai.models.build import load_classifier
    from glmxai.xai.model import CachedPredictor, CountingModel

    log.info("analyze: faithfulness of %d runs (%d sequences each)", len(runs), options.n)
    report.section("Faithfulness", f"Deletion/insertion over the first {options.n} sequences of each run, "
                                   f"{options.steps} steps, background: {options.background} (glmxai.xai.background), "
                                   f"{options.n_random} random orders.")
    predictors: dict[str, CachedPredictor] = {}
    hashes: dict[str, str] = {}
    rows, curves, skipped, summary = [], [], [], {}
    for run in runs:
        problem = _checkpoint_problem(run, hashes)
        if problem:
            skipped.append(problem)
            continue
        ckpt = run.meta["checkpoint"]
        if ckpt not in predictors:
            module = load_classifier(ckpt, map_location=options.device, trust_remote_code=trust_remote_code)
            predictors[ckpt] = CachedPredictor(CountingModel(module.backbone, options.batch_size))
        predict = predictors[ckpt]
        before = predict.model.evaluations
        codes = to_codes(run.sequences[: options.n])
        background = backgrounds(codes, options.background, seed)
        curve, areas = perturbation_curves(predict, codes, run.scores[: options.n], background, options.steps,
                                           options.n_random, seed)
        log.info("analyze: faithfulness of %s: %d model evaluations", run.name, predict.model.evaluations - before)
        curves.append(run.tagged(curve))
        row = summarize_areas(areas)
        summary[run.name] = {"faithfulness": row}
        rows.append({"run": run.name, **row})
    report.findings(skipped)
    if rows:
        report.table("faithfulness", pd.DataFrame(rows), "Mean deletion area over the curve and insertion area under "
                     "the curve (attribution order, random order, gain, Wilcoxon p of per-sequence gain).")
        report.figure("faithfulness_curves", figures.perturbation_curves(pd.concat(curves, ignore_index=True)),
                      "Probability of the explained class as positions are deleted / inserted.")
        report.findings([f"{r['run']}: deletion AOC {r['deletion_aoc']:.3f} vs random {r['deletion_aoc_random']:.3f} "
                         f"(p={r['deletion_aoc_wilcoxon_p']:.2g}); insertion AUC {r['insertion_auc']:.3f} vs random "
                         f"{r['insertion_auc_random']:.3f}." for r in rows], headline=True)
    return summary
