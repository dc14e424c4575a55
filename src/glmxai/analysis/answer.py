"""The report's answer first: does each model use each motif? One picture of models x motifs x
evidence, read off the report's adjusted tables, and attribution tracks of annotated promoters.

Three kinds of evidence, each signed so that positive means "counts toward promoter":

- ``attribution``: mean scaled attribution in the motif's window, promoters the annotation flags
  minus promoters it does not (``annotation_attribution.annotation_tests``; per model and method);
- ``probe``: the promoter logit gained by planting the motif's consensus at its canonical position
  into backgrounds of one kind, over its shuffled copy (``probes.tables.insertion_tables``);
- ``necessity``: the promoter logit lost when the motif's window is destroyed in flagged promoters,
  minus the loss at the same place in unflagged ones (``annotation_attribution.necessity_tests``).

A cell is significant at the report's alpha on its BH-adjusted p (adjusted with every test of the
report); a cell without data says why (no such window in the sequences, no probe of the motif).
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.analysis.annotation_attribution import window_slice
from glmxai.explain_runs import ExplainRun, model_labels
from glmxai.report import Report, fmt, slug
from glmxai.stats import DOWN, UP, call

EVIDENCE = {"attribution": "attribution: in the window, flagged - unflagged promoters (scaled)",
            "probe": "probe: logit gained by the consensus at its position, over its shuffled copy",
            "necessity": "necessity: logit lost when the window is destroyed, flagged - unflagged"}
COLUMNS = ["model", "method", "evidence", "motif", "effect", "p_adj", "call", "n"]


def _labels(runs: Sequence[ExplainRun], probe_models: Mapping[str, str]) -> dict[str, str]:
    """Checkpoint (resolved path) -> model label; the runs' labels first, then the probes' own."""
    by_path = {str(Path(c).resolve()): label for c, label in model_labels(runs).items()}
    for checkpoint, label in probe_models.items():
        by_path.setdefault(str(Path(checkpoint).resolve()), label)
    return by_path


def evidence_table(motifs: Mapping[str, Mapping], alpha: float, runs: Sequence[ExplainRun] = (),
                   attribution: pd.DataFrame | None = None, necessity: pd.DataFrame | None = None,
                   insertion: pd.DataFrame | None = None, probe_models: Mapping[str, str] | None = None,
                   background: str = "negatives") -> pd.DataFrame:
    """One row of ``COLUMNS`` per model (and method, for attribution), motif and kind of evidence
    found in the adjusted tables. ``motifs``: name -> {flag: annotation flag, probes: [pattern
    names]}; ``probe_models``: checkpoint -> the probes' label of it; ``background``: the probes'
    background kind read."""
    probe_models = dict(probe_models or {})
    labels = _labels(runs, probe_models)
    label_of = lambda checkpoint, fallback: labels.get(str(Path(str(checkpoint)).resolve()), fallback)  # noqa: E731
    rows = []

    def add(model, method, evidence, motif, effect, p_adj, n):
        rows.append({"model": model, "method": method, "evidence": evidence, "motif": motif, "effect": effect,
                     "p_adj": p_adj, "call": call(effect, p_adj, alpha), "n": n})

    runs_by_name = {r.name: r for r in runs}
    for motif, spec in motifs.items():
        flag, probes = spec.get("flag"), list(spec.get("probes") or [])
        if attribution is not None:
            for row in attribution[attribution["flag"] == flag].to_dict("records"):
                run = runs_by_name[row["run"]]
                add(label_of(run.meta.get("checkpoint") or run.path, run.model), run.method, "attribution", motif,
                    row["diff"], row["ttest_p_adj"], int(row["flagged"]) + int(row["unflagged"]))
        if necessity is not None:
            for row in necessity[necessity["flag"] == flag].to_dict("records"):
                add(label_of(row["checkpoint"], row["model"]), "", "necessity", motif, -row["diff"],
                    row["ttest_p_adj"], int(row["flagged"]) + int(row["unflagged"]))
        if insertion is not None and len(insertion):
            cells = insertion[insertion["pattern"].isin(probes) & (insertion["variant"] == "consensus")
                              & (insertion["background"] == background)]
            by_label = {label: checkpoint for checkpoint, label in probe_models.items()}
            for row in cells.to_dict("records"):
                add(label_of(by_label.get(row["model"], row["model"]), row["model"]), "", "probe", motif,
                    row["mean"] - row["shuffled_mean"], row["vs_shuffled_p_adj"], int(row["n"]))
    return pd.DataFrame(rows, columns=COLUMNS)


def answer_figure(evidence: pd.DataFrame, motifs: Sequence[str], alpha: float):
    """One panel per kind of evidence (rows: models, or model · method; columns: ``motifs``),
    coloured by the signed effect (red: toward promoter, blue: against; each panel its own scale),
    the value in each cell with * where adjusted p < alpha, and "n/a" where no test exists."""
    import matplotlib.pyplot as plt

    kinds = [k for k in EVIDENCE if (evidence["evidence"] == k).any()]
    panels = []
    for kind in kinds:
        part = evidence[evidence["evidence"] == kind]
        names = part["model"] + np.where(part["method"] != "", " · " + part["method"], "")
        part = part.assign(row=names)
        panels.append((kind, list(dict.fromkeys(part["row"])), part))
    height = max(len(rows) for _, rows, _ in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1.5, 1.6 + 0.42 * height), squeeze=False)
    for ax, (kind, rows, part) in zip(axes[0], panels):
        effect = np.full((len(rows), len(motifs)), np.nan)
        text = np.full(effect.shape, "n/a", dtype=object)
        for record in part.to_dict("records"):
            i, j = rows.index(record["row"]), list(motifs).index(record["motif"])
            effect[i, j] = record["effect"]
            mark = "*" if record["call"] in (UP, DOWN) else ""
            text[i, j] = "n/a" if not np.isfinite(record["effect"]) else f"{record['effect']:+.2f}{mark}"
        limit = float(np.nanmax(np.abs(effect))) if np.isfinite(effect).any() else 1.0
        cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#e6e6e6")
        image = ax.imshow(np.ma.masked_invalid(effect), cmap=cmap, vmin=-limit, vmax=limit, aspect="auto")
        for (i, j), value in np.ndenumerate(text):
            ax.text(j, i, value, ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(motifs)), motifs, fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_title(textwrap.fill(EVIDENCE[kind], 40), fontsize=8)
        fig.colorbar(image, ax=ax, orientation="horizontal", fraction=0.06, pad=0.12)
    fig.suptitle(f"Does each model use each motif? (red: toward promoter; * BH-adjusted p < {fmt(alpha)})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def answer_section(report: Report, evidence: pd.DataFrame, motifs: Sequence[str]) -> dict:
    """The report's first figure and its table (``evidence_table``)."""
    report.section("Does each model use each motif?", (
        "Each panel is one kind of evidence, signed so that red means the motif counts toward a promoter and blue "
        "against it: attribution in the motif's window in promoters the annotation flags minus those it does not; "
        "the logit a planted consensus gains at its canonical position over its shuffled copy; the logit lost when "
        "the window is destroyed in flagged promoters minus unflagged ones. * marks BH-adjusted p below "
        f"{fmt(report.alpha)} over every test of this report; n/a: no such test (the window lies outside the "
        "sequences, or the motif was not probed). The sentences after the figures say it in words."))
    report.figure("answer", answer_figure(evidence, motifs, report.alpha),
                  "Models x motifs x evidence; the values are in answer_evidence.csv.")
    report.table("answer_evidence", evidence, "Every cell of the answer figure: its signed effect, adjusted p and "
                                              "call (UP: toward promoter, DOWN: against).")
    return {"rows": evidence.to_dict("records")}


def track_rows(runs: Sequence[ExplainRun], flagged: Mapping[str, np.ndarray],
               with_hit: Mapping[str, np.ndarray] | None = None) -> tuple[str, int] | None:
    """(data key, source row) of the flagged promoter to draw, or None when no run has one: the one
    explained by the most runs, then with a motif hit in the most of them (``with_hit``: run name
    -> (N,) bool), then called promoter by the most, then the least saturated (mean p(promoter)
    nearest 0.9: attribution in p(promoter) vanishes where p is 1). ``flagged``: run name -> (N,) bool."""
    seen: dict[tuple[str, int], list[tuple[bool, float]]] = {}
    for run in runs:
        hit = (with_hit or {}).get(run.name, np.zeros(len(run.labels), bool))
        for i in np.flatnonzero(flagged.get(run.name, np.zeros(len(run.labels), bool))):
            seen.setdefault((run.data_key, int(run.index[i])), []).append((bool(hit[i]), float(run.probs[i])))
    if not seen:
        return None

    def rank(key):
        values = seen[key]
        probs = np.array([p for _, p in values])
        return len(values), sum(h for h, _ in values), int((probs >= 0.5).sum()), -abs(probs.mean() - 0.9)

    return max(seen, key=rank)


def tracks_section(report: Report, runs: Sequence[ExplainRun], flagged: Mapping[str, np.ndarray],
                   hits: Mapping[str, pd.DataFrame], flag: str, motif: str, span: tuple[int, int],
                   n_tracks: int) -> int:
    """Attribution logos of one promoter the annotation flags (``track_rows``; preferably one with
    a hit of ``motif`` inside ``span``) as up to ``n_tracks`` runs see it, motif hits shaded;
    returns the number drawn."""
    from glmxai import figures

    with_hit = {}
    for run in runs:
        inside = hits[run.name]
        inside = inside[(inside["motif"] == motif) & (inside["start"] >= run.tss + span[0])
                        & (inside["end"] <= run.tss + span[1])]
        with_hit[run.name] = np.isin(np.arange(len(run.labels)), inside["row"].to_numpy())
    chosen = track_rows(runs, flagged, with_hit)
    if chosen is None:
        report.skip(f"attribution tracks of {flag} promoters", f"no explained promoter is flagged {flag}")
        return 0
    key, source = chosen
    first = next(r for r in runs if r.data_key == key)
    held = window_slice(int(first.tss), span, first.length)  # 70-bp core promoters cut -60..20 to -33..20
    shown = (held.start - int(first.tss), held.stop - 1 - int(first.tss))
    report.section(f"Attribution tracks of a {flag} promoter",
                   f"Row {source} of the explained split, flagged {flag} by the annotation, as each run attributes it "
                   f"({shown[0]}..{shown[1]} bp from the TSS; PWM hits shaded and named). Chosen as the flagged "
                   f"promoter the most runs explained, with a {motif} hit in the most of them, called promoter by the "
                   "most, and least saturated (attribution in p(promoter) vanishes where p is 1).")
    drawn = 0
    for run in runs:
        rows = np.flatnonzero((run.index == source) & (run.data_key == key))
        if not len(rows) or drawn >= n_tracks:
            continue
        row = int(rows[0])
        run_hits = hits[run.name]
        report.figure(f"track_{slug(run.name)}_{source}", figures.attribution_logo(
            run.sequences[row], run.scores[row], run_hits[run_hits["row"] == row], int(run.tss),
            f"{run.name}: row {source}, {flag}, p(promoter) = {fmt(run.probs[row], 2)}", span),
            f"{run.name}'s attribution of a {flag} promoter.")
        drawn += 1
    return drawn
