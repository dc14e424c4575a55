"""The report's first figure: models x motifs x evidence, read off the adjusted tables."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.analysis.answer import answer_figure, evidence_table, track_rows, tracks_section
from glmxai.explain_runs import ExplainRun
from glmxai.stats import DOWN, UNCLEAR, UNTESTED, UP

MOTIFS = {"TATA": {"flag": "tata_box", "probes": ["TBP/TATA (MA0108)"]}, "Inr": {"flag": "inr", "probes": ["Inr"]}}


def _run(name: str, checkpoint: str, method: str = "ism", index=(0, 1, 2), probs=(0.9, 0.8, 0.2)) -> ExplainRun:
    n = len(index)
    return ExplainRun(path=Path(f"/jobs/{name}_{method}"), scores=np.zeros((n, 10)), sequences=["A" * 10] * n,
                      labels=np.array([1, 1, 0][:n]), probs=np.array(probs, float), index=np.array(index),
                      meta={"model": name, "method": method, "checkpoint": checkpoint, "split": "test", "tss": 5})


def test_each_kind_of_evidence_is_signed_toward_promoter_and_called_on_its_adjusted_p():
    """Two CNN checkpoints (plain and robust) share a name: they get their run folders as labels in
    every panel. Attribution keeps the sign of flagged - unflagged; necessity is the logit lost
    (the table's flagged - unflagged change, negated); a probe is consensus over its shuffled copy
    on the chosen background only; a test without p is UNTESTED."""
    plain = "/runs/prom_300_all/cnn/checkpoints/best.ckpt"
    robust = "/runs/prom_300_all/cnn_robust/checkpoints/best.ckpt"
    runs = [_run("cnn", plain), _run("cnn", robust)]
    runs[1].name = "cnn/ism@robust"
    attribution = pd.DataFrame({"run": ["cnn/ism", "cnn/ism@robust", "cnn/ism"],
                                "flag": ["tata_box", "tata_box", "inr"],
                                "diff": [-1.3, 0.4, 2.0], "ttest_p_adj": [1e-5, 0.3, np.nan],
                                "flagged": [10, 10, 10], "unflagged": [20, 20, 20]})
    necessity = pd.DataFrame({"model": ["cnn"], "checkpoint": [robust], "flag": ["tata_box"], "diff": [-0.5],
                              "ttest_p_adj": [0.001], "flagged": [5], "unflagged": [5]})
    insertion = pd.DataFrame({"model": ["cnn (prom_300_all/cnn)"] * 3, "pattern": ["TBP/TATA (MA0108)"] * 3,
                              "variant": ["consensus", "shuffled", "consensus"],
                              "background": ["negatives", "negatives", "profile"], "mean": [0.7, 0.1, 9.0],
                              "shuffled_mean": [0.2, np.nan, 0.0], "vs_shuffled_p_adj": [0.01, np.nan, 1e-9],
                              "n": [60, 60, 60]})
    table = evidence_table(MOTIFS, 0.05, runs, attribution, necessity, insertion,
                           {plain: "cnn (prom_300_all/cnn)"}, background="negatives")
    cell = table.set_index(["evidence", "model", "motif"])
    assert set(table["model"]) == {"cnn (prom_300_all/cnn)", "cnn (prom_300_all/cnn_robust)"}
    assert cell.loc[("attribution", "cnn (prom_300_all/cnn)", "TATA"), "call"] == DOWN
    assert cell.loc[("attribution", "cnn (prom_300_all/cnn_robust)", "TATA"), "call"] == UNCLEAR
    assert cell.loc[("attribution", "cnn (prom_300_all/cnn)", "Inr"), "call"] == UNTESTED
    lost = cell.loc[("necessity", "cnn (prom_300_all/cnn_robust)", "TATA")]
    assert lost["effect"] == 0.5 and lost["call"] == UP
    probe = cell.loc[("probe", "cnn (prom_300_all/cnn)", "TATA")]
    assert np.isclose(probe["effect"], 0.5) and probe["call"] == UP and probe["n"] == 60
    assert len(table[table["evidence"] == "probe"]) == 1  # the shuffled variant and other backgrounds left out
    fig = answer_figure(table, list(MOTIFS), 0.05)
    titles = [ax.get_title().split(":")[0] for ax in fig.axes if ax.get_title()]
    assert titles == ["attribution", "probe", "necessity"]


def test_the_track_is_the_flagged_promoter_most_runs_explained_with_a_hit_and_unsaturated():
    """Row 1 is flagged in both runs, row 0 in one: row 1 is drawn. Among rows flagged in both, one
    with a motif hit wins, and between equals the one whose p is not saturated. No flagged row: None."""
    runs = [_run("cnn", "a.ckpt"), _run("nt", "b.ckpt", index=(1, 0, 2), probs=(0.6, 0.99, 0.1))]
    flagged = {runs[0].name: np.array([1, 1, 0], bool), runs[1].name: np.array([1, 0, 0], bool)}
    key, row = track_rows(runs, flagged)
    assert row == 1 and key == runs[0].data_key
    both = {r.name: np.array([1, 1, 0], bool) for r in runs}
    assert track_rows(runs, both)[1] == 0  # mean p 0.945 (0.9, 0.99) against 0.7 (0.8, 0.6): nearer 0.9
    hit = {runs[0].name: np.array([0, 1, 0], bool), runs[1].name: np.array([1, 0, 0], bool)}
    assert track_rows(runs, both, hit)[1] == 1  # source row 1 has the hit in both runs
    assert track_rows(runs, {r.name: np.zeros(3, bool) for r in runs}) is None


def test_the_tracks_name_the_span_the_sequences_hold(tmp_path):
    """10-bp sequences with the TSS at 5 hold -5..4: a track span of -60..20 is named as that part."""
    import matplotlib

    matplotlib.use("Agg")
    from glmxai.report import Report

    runs = [_run("cnn", "a.ckpt")]
    hits = {runs[0].name: pd.DataFrame({"motif": ["TATA"], "start": [1], "end": [4], "strand": ["+"], "row": [0]})}
    report = Report(tmp_path, "tracks")
    drawn = tracks_section(report, runs, {runs[0].name: np.array([1, 0, 0], bool)}, hits, "tata_box", "TATA",
                           (-60, 20), n_tracks=1)
    assert drawn == 1
    text = "".join(p for p in report.parts if isinstance(p, str))
    assert "(-5..4 bp from the TSS;" in text and "-60" not in text
