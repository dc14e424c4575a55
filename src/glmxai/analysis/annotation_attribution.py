"""Attribution by annotation: does a model treat promoters that an independent annotation (EPD's
motif flags) says carry a motif differently, in that motif's window, from promoters without it?

Per run and flag (``annotations.windows``: flag -> its window in bp from the TSS): the mean scaled
attribution in the window (scores scaled per sequence by their mean |score|, as everywhere in
the report) for promoters flagged 1, promoters flagged 0 and negatives (also by kind where the
audit classified the run's rows: derived from a promoter, or without a parent), and the
difference flagged - unflagged with its 95% CI and Welch's t-test (``ttest_p``, adjusted with
the report).
A model that uses the motif gives flagged promoters more (or less) attribution there; one that
does not, the same.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from glmxai.analysis.derived_pairs import CLASSES
from glmxai.analysis.motif_attribution import scale_scores
from glmxai.data.annotations import annotation_folder, annotation_path, flags_of, read_annotations
from glmxai.explain_runs import ExplainRun
from glmxai.report import Report, fmt, fmt_signed, p_clause
from glmxai.stats import DOWN, UNCLEAR, UNTESTED, UP, call

log = logging.getLogger(__name__)
GROUPS = ("flagged", "unflagged", "negatives", "derived_negatives", "parentless_negatives")
COLUMNS = ["run", "flag", "window", *[c for g in GROUPS for c in (g, f"mean_{g}")], "diff", "diff_ci_low",
           "diff_ci_high", "ttest_p"]
MIN_PER_GROUP = 3  # sequences each side of a test


def window_slice(tss: int, window: tuple[int, int], length: int) -> slice | None:
    """The bases lo..hi (bp from the TSS) that lie in sequences of ``length``; None when none does."""
    start, end = max(tss + window[0], 0), min(tss + window[1] + 1, length)
    return slice(start, end) if start < end else None


def window_label(tss: int, window: tuple[int, int], length: int) -> str:
    """"lo..hi" (bp from the TSS), or where the sequences cut the window, the part they hold and
    the whole: on 70-bp core promoters (-33..+36) TATA's -39..-24 reads "-33..-24 (of -39..-24)"."""
    whole, bases = f"{window[0]}..{window[1]}", window_slice(tss, window, length)
    if bases is None or (bases.start - tss, bases.stop - 1 - tss) == tuple(window):
        return whole
    return f"{bases.start - tss}..{bases.stop - 1 - tss} (of {whole})"


def window_means(scores: np.ndarray, tss: int, window: tuple[int, int]) -> np.ndarray | None:
    """Mean scaled attribution (N,) over the window's bases in the sequences; None when none is."""
    bases = window_slice(tss, window, scores.shape[1])
    return None if bases is None else scale_scores(scores)[:, bases].mean(axis=1)


def run_annotations(run: ExplainRun, folder: str | Path, suffix: str) -> pd.DataFrame:
    """The annotation table of the run's split, from ``folder`` (``"data"``: the run's own data
    folder, ``annotation_folder``)."""
    where = annotation_folder(folder, run.data_config, str(run.meta_path))
    return read_annotations(annotation_path(where, str(run.meta.get("split", "test")), suffix))


def annotation_tests(runs: list[ExplainRun], folder: str | Path, suffix: str,
                     windows: Mapping[str, tuple[int, int]],
                     kinds: Mapping[str, np.ndarray | None] | None = None) -> pd.DataFrame:
    """One row of ``COLUMNS`` per run and flag, before adjustment; each run's rows are joined to
    the annotation table of its split (``<folder>/<split><suffix>.csv``) on its ``index``.
    ``kinds``: per run name, (N,) class of each row (``derived_pairs.CLASSES``) or None, for
    the negatives by kind (counts 0 and means NaN without)."""
    rows = []
    for run in runs:
        classes = (kinds or {}).get(run.name)
        classes = np.full(len(run.labels), "", dtype=object) if classes is None else np.asarray(classes)
        table = run_annotations(run, folder, suffix)
        for flag, window in windows.items():
            means = window_means(run.scores, int(run.tss), tuple(window))
            if means is None:
                continue
            flags = flags_of(table, run.index, flag)
            groups = [means[(run.labels == 1) & (flags == 1)], means[(run.labels == 1) & (flags == 0)],
                      means[run.labels == 0], means[(run.labels == 0) & (classes == CLASSES[1])],
                      means[(run.labels == 0) & (classes == CLASSES[2])]]
            row = {"run": run.name, "flag": flag,
                   "window": window_label(int(run.tss), tuple(window), run.scores.shape[1]),
                   **{k: v for name, g in zip(GROUPS, groups)
                      for k, v in ((name, len(g)), (f"mean_{name}", g.mean() if len(g) else np.nan))},
                   "diff": np.nan, "diff_ci_low": np.nan, "diff_ci_high": np.nan, "ttest_p": np.nan}
            if min(len(groups[0]), len(groups[1])) >= MIN_PER_GROUP and np.ptp(np.r_[groups[0], groups[1]]) > 0:
                test = stats.ttest_ind(groups[0], groups[1], equal_var=False)
                ci = test.confidence_interval(0.95)
                row.update(diff=groups[0].mean() - groups[1].mean(), diff_ci_low=float(ci.low),
                           diff_ci_high=float(ci.high), ttest_p=float(test.pvalue))
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def annotation_groups(runs: list[ExplainRun], folder: str | Path, suffix: str,
                      flags: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Per run name: the groups ``<flag>=1 promoters`` and ``<flag>=0 promoters`` of its rows,
    (N,) bool, from the annotation table of its split."""
    out = {}
    for run in runs:
        table = run_annotations(run, folder, suffix)
        out[run.name] = {}
        for flag in flags:
            values = flags_of(table, run.index, flag)
            out[run.name].update({f"{flag}=1 promoters": (run.labels == 1) & (values == 1),
                                  f"{flag}=0 promoters": (run.labels == 1) & (values == 0)})
    return out


def annotation_verdict(row: Mapping, alpha: float) -> str:
    """A sentence on one run and flag from its table row (with ``ttest_p_adj``)."""
    how = {UP: "more attribution in promoters with it", DOWN: "less attribution in promoters with it",
           UNCLEAR: "no difference distinguishable", UNTESTED: "not tested (too few promoters on a side)"}[
        call(row["diff"], row.get("ttest_p_adj"), alpha)]
    return (f"{row['run']}, {row['flag']} (window {row['window']} bp): {how}: mean scaled attribution "
            f"{fmt_signed(row['mean_flagged'])} in {fmt(row['flagged'])} flagged promoters vs "
            f"{fmt_signed(row['mean_unflagged'])} in {fmt(row['unflagged'])} without the flag (difference "
            f"{fmt_signed(row['diff'])}, 95% CI {fmt(row['diff_ci_low'])} to {fmt(row['diff_ci_high'])}, adjusted "
            f"p {p_clause(row['ttest_p_adj'])}) and {fmt_signed(row['mean_negatives'])} in {fmt(row['negatives'])} "
            f"negatives{_by_kind(row)}.")


def _by_kind(row: Mapping) -> str:
    """The negatives by kind, when the audit classified them."""
    if not row["derived_negatives"] and not row["parentless_negatives"]:
        return ""
    return (f" ({fmt_signed(row['mean_derived_negatives'])} in {fmt(row['derived_negatives'])} derived from a "
            f"promoter, {fmt_signed(row['mean_parentless_negatives'])} in {fmt(row['parentless_negatives'])} without "
            "a parent)")


def annotation_section(report: Report, table: pd.DataFrame, folder: str | Path) -> dict:
    """Write the attribution by annotation (``annotation_tests``, adjusted)."""
    report.section("Attribution by annotation", (
        f"Per run and annotation flag (tables in {folder}, joined on the explained rows): mean scaled attribution "
        "in the flag's window for promoters flagged 1, promoters flagged 0 and negatives (by kind where the audit "
        "classified the explained rows: derived from a promoter by GUE's chunk replacement, or without a parent); the "
        f"difference flagged - unflagged with its 95% CI and Welch's t-test (at least {MIN_PER_GROUP} promoters a "
        "side)."))
    report.findings([annotation_verdict(r, report.alpha) for r in table.to_dict("records")], headline=True)
    report.table("attribution_by_annotation", table, "Attribution in each flag's window by annotation group.")
    return {"rows": table.to_dict("records")}


NECESSITY_COLUMNS = ["model", "checkpoint", "flag", "window", "split", "flagged", "delta_flagged", "unflagged",
                     "delta_unflagged", "diff", "diff_ci_low", "diff_ci_high", "ttest_p"]


def window_destroyed(codes: np.ndarray, start: int, end: int, shuffles: int, rng: np.random.Generator) -> np.ndarray:
    """codes (N, L) -> (N * shuffles, L): each sequence ``shuffles`` times with bases start..end-1
    replaced by a dinucleotide shuffle of themselves (composition and dinucleotide counts kept, the
    motif there broken up)."""
    from glmxai.data.shuffling import dinucleotide_shuffles

    out = np.repeat(codes, shuffles, axis=0)
    for i, sequence in enumerate(codes):
        out[i * shuffles:(i + 1) * shuffles, start:end] = dinucleotide_shuffles(sequence[start:end], shuffles, rng)
    return out


def necessity_row(model: str, checkpoint: str, logit: Callable[[np.ndarray], np.ndarray], codes: np.ndarray,
                  labels: np.ndarray, flags: np.ndarray, flag: str, window: tuple[int, int], tss: int, split: str,
                  shuffles: int = 4, max_per_group: int = 500, seed: int = 0) -> dict | None:
    """The change of the promoter logit when the flag's window is destroyed (``window_destroyed``,
    mean over ``shuffles``), in promoters flagged 1 and, as the control, at the same place in
    promoters flagged 0 (up to ``max_per_group`` each, drawn from ``seed``); their difference with
    its 95% CI and Welch's t-test. None when the window lies outside the sequences."""
    bases = window_slice(tss, window, codes.shape[1])
    if bases is None:
        return None
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(np.flatnonzero((labels == 1) & (flags == value)))[:max_per_group] for value in (1, 0)]
    deltas = []
    for rows in groups:
        original = logit(codes[rows]) if len(rows) else np.zeros(0)
        mutated = (logit(window_destroyed(codes[rows], bases.start, bases.stop, shuffles, rng)) if len(rows)
                   else np.zeros(0))
        deltas.append(mutated.reshape(len(rows), shuffles).mean(axis=1) - original)
    row = {"model": model, "checkpoint": checkpoint, "flag": flag,
           "window": window_label(tss, window, codes.shape[1]),
           "split": split,
           "flagged": len(deltas[0]), "delta_flagged": deltas[0].mean() if len(deltas[0]) else np.nan,
           "unflagged": len(deltas[1]), "delta_unflagged": deltas[1].mean() if len(deltas[1]) else np.nan,
           "diff": np.nan, "diff_ci_low": np.nan, "diff_ci_high": np.nan, "ttest_p": np.nan}
    if min(map(len, deltas)) >= MIN_PER_GROUP and np.ptp(np.r_[deltas[0], deltas[1]]) > 0:
        test = stats.ttest_ind(deltas[0], deltas[1], equal_var=False)
        ci = test.confidence_interval(0.95)
        row.update(diff=deltas[0].mean() - deltas[1].mean(), diff_ci_low=float(ci.low), diff_ci_high=float(ci.high),
                   ttest_p=float(test.pvalue))
    return row


def necessity_tests(runs: list[ExplainRun], options: Mapping, seed: int, trust_remote_code: bool) -> pd.DataFrame:
    """``necessity_row`` for the checkpoint of every run (once per checkpoint and split; its own
    training data's split, from its record) and every flag of ``options`` (``cfg.annotations``)."""
    from glmxai.data.encoding import to_codes
    from glmxai.data.recorded import job_data
    from glmxai.explain_runs import checkpoint_problem, model_labels
    from glmxai.models.build import load_classifier
    from glmxai.predictor import BatchedPredictor

    rows, done, labels = [], set(), model_labels(runs)
    for run in runs:
        split = str(run.meta.get("split", "test"))
        key = (run.meta.get("checkpoint"), split)
        if key in done or checkpoint_problem(run, {}):
            continue
        done.add(key)
        module = load_classifier(run.meta["checkpoint"], trust_remote_code=trust_remote_code)
        data = job_data(None, module.hparams.get("data") or {}, Path(run.meta["checkpoint"]))
        table = data.table(split)
        where = annotation_folder(options["dir"], data.config(), str(run.meta["checkpoint"]))
        notes = read_annotations(annotation_path(where, split, str(options.get("suffix", "_epd"))))
        predictor = BatchedPredictor(module.backbone.eval(), int(options.get("batch_size", 256)))
        codes = to_codes(table.sequences)
        logit = functools.partial(_promoter_logit, predictor)
        label = labels[run.meta["checkpoint"]]
        for flag, window in options["windows"].items():
            flags = flags_of(notes, np.arange(len(table)), flag)
            log.info("analyze: necessity of %s's window in %s (%s)", flag, label, split)
            row = necessity_row(label, run.meta["checkpoint"], logit, codes, table.labels,
                                flags, flag, tuple(window), int(data.tss), split,
                                int(options.get("shuffles", 4)), int(options.get("max_per_group", 500)), seed)
            if row is not None:
                rows.append(row)
    return pd.DataFrame(rows, columns=NECESSITY_COLUMNS)


def _promoter_logit(predictor, codes: np.ndarray) -> np.ndarray:
    return predictor.promoter_logit_and_p(codes)[0]


def necessity_section(report: Report, table: pd.DataFrame) -> dict:
    """Write the necessity of each flag's window in real promoters (``necessity_tests``, adjusted)."""
    report.section("Necessity in real promoters, by annotation", (
        "Each flag's window destroyed in real promoters of the model's own split (its bases replaced by "
        "dinucleotide shuffles of themselves: composition kept, the motif broken up; mean over the shuffles), in "
        "promoters the annotation flags and, as the control, at the same place in promoters it does not flag: the "
        "change of the promoter logit, and the difference flagged - unflagged with its 95% CI and Welch's t-test."))
    sentences = []
    for row in table.to_dict("records"):
        how = {UP: "rises more", DOWN: "falls more", UNCLEAR: "changes no differently",
               UNTESTED: "is not tested"}[call(row["diff"], row.get("ttest_p_adj"), report.alpha)]
        sentences.append(
            f"{row['model']}: destroying {row['window']} bp in {fmt(row['flagged'])} {row['flag']} promoters moves the "
            f"promoter logit by {fmt_signed(row['delta_flagged'])}, in {fmt(row['unflagged'])} promoters without it by "
            f"{fmt_signed(row['delta_unflagged'])}: with the {row['flag']} the logit {how} (difference "
            f"{fmt_signed(row['diff'])}, 95% CI {fmt(row['diff_ci_low'])} to {fmt(row['diff_ci_high'])}, adjusted "
            f"p {p_clause(row['ttest_p_adj'])}).")
    report.findings(sentences, headline=True)
    report.table("necessity_by_annotation", table, "Change of the promoter logit when each flag's window is "
                                                   "destroyed, in flagged and unflagged promoters.")
    return {"rows": table.to_dict("records")}
