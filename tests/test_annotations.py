"""Per-row annotation tables: read and checked, and an explain selection stratified by a flag."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from glmxai.data.annotations import annotation_path, flags_of, read_annotations
from glmxai.data.selection import annotated_rows
from glmxai.data.table import SequenceDataError
from glmxai.jobs import explain as xai_job

from conftest import SMALL_DATA, compose_config
from xai_toys import save_toy_checkpoint


def _write(folder, split, rows):
    path = annotation_path(folder, split)
    path.write_text("row,epdnew_ids,tata_box,inr\n" + "".join(f"{r},ID{r},{t},{i}\n" for r, t, i in rows))
    return path


def test_a_table_gives_flags_by_row_and_nan_where_it_has_none(tmp_path):
    path = _write(tmp_path, "val", [(0, 1, 0), (3, 0, 1)])
    assert path.name == "dev_epd.csv"
    path.write_text(path.read_text() + "5,,,\n")  # a row EPD could not annotate (as row 196 of test_epd.csv)
    table = read_annotations(path)
    np.testing.assert_array_equal(flags_of(table, np.array([0, 1, 3, 5]), "tata_box"), [1.0, np.nan, 0.0, np.nan])
    with pytest.raises(SequenceDataError, match="'epdnew_ids' is not a flag column"):
        flags_of(table, np.array([0]), "epdnew_ids")


@pytest.mark.parametrize("body, problem", [("0,A,1,0\n0,B,0,1\n", "line 3: row '0' is not a new row number"),
                                           ("x,A,1,0\n", "line 2: row 'x'"), ("1,A,1\n", "expected 4 fields")])
def test_a_bad_table_is_named_with_file_and_line(tmp_path, body, problem):
    path = tmp_path / "test_epd.csv"
    path.write_text("row,epdnew_ids,tata_box,inr\n" + body)
    with pytest.raises(SequenceDataError, match=f"test_epd.csv, {problem}" if "line" in problem else problem):
        read_annotations(path)


def test_annotated_selection_takes_every_flagged_row_and_as_many_of_each_other_group():
    labels = np.r_[np.ones(30), np.zeros(30)].astype(int)
    flags = np.r_[np.where(np.arange(30) < 4, 1.0, 0.0), np.full(30, np.nan)]
    rows = annotated_rows(labels, flags, None, seed=0)
    assert len(rows) == 12 and set(range(4)) <= set(rows)
    assert ((labels[rows] == 1) & (flags[rows] == 0)).sum() == 4 and (labels[rows] == 0).sum() == 4
    assert not np.array_equal(rows, annotated_rows(labels, flags, None, seed=1))
    assert len(annotated_rows(labels, flags, 2, seed=0)) == 6


def test_explain_selects_by_a_flag_of_the_split(tmp_path):
    ckpt = save_toy_checkpoint(tmp_path / "toy.ckpt")
    _write(tmp_path, "test", [(r, 0, 0) for r in range(0, 200, 2)])  # every other row annotated, none flagged
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "explain.selection=annotated",
                                     f"explain.annotations={tmp_path}", "explain.stratify_by=tata_box",
                                     "explain.n=null", "explain.chunk_size=4"], tmp_path / "job")
    with pytest.raises(ValueError, match="no row of the split has the flag"):
        xai_job.prepare(cfg)
    _write(tmp_path, "test", [(r, int(r in (4, 8, 12)), 0) for r in range(0, 200, 2)])
    job = xai_job.prepare(cfg)
    labels = job.table.labels
    assert {4, 8, 12} <= set(job.rows.tolist()) and len(job.rows) == 9 and (labels == 0).sum() >= 3


def _run(scores, labels, index, split="test", tss=249):
    from glmxai.explain_runs import ExplainRun

    return ExplainRun(path=Path("run"), scores=scores, sequences=["A" * scores.shape[1]] * len(scores), labels=labels,
                      probs=labels.astype(float), index=index,
                      meta={"split": split, "tss": tss, "model": "toy", "method": "ism"})


def test_attribution_by_annotation_finds_a_model_that_uses_tata_only_where_epd_flags_it(tmp_path):
    """A toy run whose attribution sits in -39..-24 in EPD TATA+ promoters only: the flagged minus
    unflagged difference is found (Welch's test, checked against its formula); inr, flagged at random,
    shows none."""
    from glmxai.analysis.annotation_attribution import annotation_tests

    rng = np.random.default_rng(0)
    n, tss = 60, 249
    labels = np.r_[np.ones(40), np.zeros(20)].astype(int)
    index = np.arange(0, 2 * n, 2)  # the explained rows of the split
    tata = np.r_[np.arange(40) < 12, np.zeros(20, bool)]
    scores = rng.normal(0, 0.2, (n, 300))
    scores[tata, tss - 39:tss - 23] += 2.0
    _write(tmp_path, "test", [(int(r), int(t), int(rng.random() < 0.5)) for r, t in zip(index[:40], tata[:40])])
    table = annotation_tests([_run(scores, labels, index)], tmp_path, "_epd",
                             {"tata_box": (-39, -24), "inr": (-6, 4), "far": (200, 300)}).set_index("flag")
    assert "far" not in table.index  # a window wholly outside the sequences is left out
    row = table.loc["tata_box"]
    assert (row["flagged"], row["unflagged"], row["negatives"]) == (12, 28, 20)
    scale = np.abs(scores).mean(axis=1, keepdims=True)
    means = (scores / scale)[:, tss - 39:tss - 23].mean(axis=1)
    a, b = means[tata], means[(labels == 1) & ~tata]
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert row["diff"] == pytest.approx(a.mean() - b.mean()) and row["diff"] > 1
    assert row["ttest_p"] == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert table.loc["inr", "ttest_p"] > 0.01 and abs(table.loc["inr", "diff"]) < 0.5


def test_necessity_by_annotation_finds_a_model_that_needs_the_box_where_epd_flags_it():
    """A toy logit that is +5 when TATAAA sits at -31: destroying -39..-24 costs the flagged
    promoters (which have it) about 5 and the unflagged ones (which do not) nothing; every
    destroyed window keeps its bases' composition."""
    from glmxai.analysis.annotation_attribution import necessity_row, window_destroyed
    from glmxai.data.encoding import to_codes

    tss, rng = 249, np.random.default_rng(0)
    box = to_codes("TATAAA")
    codes = rng.integers(0, 4, (60, 300)).astype(np.int8)
    flags = np.r_[np.arange(40) < 15, np.full(20, False)].astype(float)
    flags[40:] = np.nan
    codes[flags == 1, tss - 31:tss - 25] = box
    labels = np.r_[np.ones(40), np.zeros(20)].astype(int)

    def logit(batch):
        return 5.0 * (batch[:, tss - 31:tss - 25] == box).all(axis=1)

    destroyed = window_destroyed(codes[:3], tss - 39, tss - 23, 4, rng)
    assert destroyed.shape == (12, 300)
    for i, copy in enumerate(destroyed):
        np.testing.assert_array_equal(np.sort(copy[tss - 39:tss - 23]), np.sort(codes[i // 4, tss - 39:tss - 23]))
        np.testing.assert_array_equal(np.delete(copy, np.s_[tss - 39:tss - 23]),
                                      np.delete(codes[i // 4], np.s_[tss - 39:tss - 23]))
    row = necessity_row("toy", "toy.ckpt", logit, codes, labels, flags, "tata_box", (-39, -24), tss, "test", shuffles=4)
    assert (row["flagged"], row["unflagged"]) == (15, 25) and row["delta_unflagged"] == 0
    assert row["delta_flagged"] < -4 and row["diff"] == pytest.approx(row["delta_flagged"])
    assert row["ttest_p"] < 1e-6 and row["diff_ci_high"] < 0
    assert necessity_row("toy", "toy.ckpt", logit, codes, labels, flags, "far", (100, 200), tss, "test") is None


def test_motif_attribution_gets_a_group_per_annotation_flag(tmp_path):
    """Hits in EPD TATA+ promoters carry attribution, hits in TATA- promoters none: the two
    annotation groups of the motif attribution table say so."""
    from glmxai.analysis.annotation_attribution import annotation_groups
    from glmxai.analysis.motif_attribution import hit_vs_control, summarize_hits

    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(40), np.zeros(10)].astype(int)
    index = np.arange(50)
    tata = np.r_[np.arange(40) < 20, np.zeros(10, bool)]
    scores = rng.normal(0, 0.1, (50, 300))
    scores[tata, 218:224] += 3.0
    hits = pd.DataFrame({"row": np.arange(40), "motif": "TATA", "start": 218, "end": 224, "strand": "+",
                         "score": 1.0, "rel_start": -31, "rel_center": -28})
    _write(tmp_path, "test", [(r, int(tata[r]), 0) for r in range(40)])
    run = _run(scores, labels, index)
    groups = annotation_groups([run], tmp_path, "_epd", ["tata_box"])["toy/ism"]
    assert groups["tata_box=1 promoters"].sum() == 20 and groups["tata_box=0 promoters"].sum() == 20
    table = summarize_hits(hit_vs_control(scores, hits, 10, 0), labels, labels.astype(float), groups)
    by = table.set_index("group")
    assert by.loc["tata_box=1 promoters", "hits"] == 20 and by.loc["tata_box=1 promoters", "mean_diff"] > 1
    assert abs(by.loc["tata_box=0 promoters", "mean_diff"]) < 0.5


def test_negatives_are_split_by_kind_where_the_audit_classified_the_rows(tmp_path):
    """Negatives derived from a promoter and negatives without a parent get their own counts and
    means in the window; rows the audit did not classify leave both at 0."""
    from glmxai.analysis.annotation_attribution import annotation_tests
    from glmxai.analysis.audit import AuditTables
    from glmxai.analysis.derived_pairs import CLASSES
    from glmxai.analysis.provenance import AuditData

    tss = 249
    labels = np.r_[np.ones(6), np.zeros(6)].astype(int)
    index = np.arange(12)
    scores = np.ones((12, 300))
    scores[9:, tss - 39:tss - 23] = 5.0  # the parentless negatives carry attribution in the TATA window
    _write(tmp_path, "test", [(r, int(r < 3), 0) for r in range(6)])
    sequences = ["".join(np.random.default_rng(r).choice(list("ACGT"), 300)) for r in range(12)]
    classes = np.array([CLASSES[0]] * 6 + [CLASSES[1]] * 3 + [CLASSES[2]] * 3, dtype=object)
    audit = AuditTables(AuditData(None, ""), sequences=sequences, labels=labels, splits=np.array(["test"] * 12),
                        classes=classes)
    run = _run(scores, labels, index)
    run.sequences = sequences
    kinds = {run.name: audit.classes_of("test", index, sequences)}
    row = annotation_tests([run], tmp_path, "_epd", {"tata_box": (-39, -24)}, kinds).iloc[0]
    assert (row["negatives"], row["derived_negatives"], row["parentless_negatives"]) == (6, 3, 3)
    assert row["mean_parentless_negatives"] > row["mean_derived_negatives"]
    assert audit.classes_of("test", index[:2], sequences[5:7]) is None  # other rows than the audit's
    assert audit.classes_of("test", np.array([40]), sequences[:1]) is None  # a row the audit does not have
    plain = annotation_tests([run], tmp_path, "_epd", {"tata_box": (-39, -24)}).iloc[0]
    assert (plain["derived_negatives"], plain["parentless_negatives"]) == (0, 0)


def test_annotations_beside_each_runs_data_are_found_by_its_recorded_root(tmp_path):
    """annotations.dir=data: two runs of different data folders each join the flags of their own
    folder; a run without a recorded folder is refused with its meta.json named."""
    from glmxai.analysis.annotation_attribution import annotation_tests

    labels, index = np.r_[np.ones(8), np.zeros(2)].astype(int), np.arange(10)
    runs = []
    for name, flagged in (("all", (0, 1, 2)), ("tata", (0, 1, 2, 3, 4))):
        folder = tmp_path / name
        folder.mkdir()
        _write(folder, "test", [(r, int(r in flagged), 0) for r in range(8)])
        run = _run(np.ones((10, 300)), labels, index)
        run.meta["data_config"], run.name = {"root": str(folder)}, name
        runs.append(run)
    table = annotation_tests(runs, "data", "_epd", {"tata_box": (-39, -24)}).set_index("run")
    assert table.loc["all", "flagged"] == 3 and table.loc["tata", "flagged"] == 5
    bare = _run(np.ones((10, 300)), labels, index)
    with pytest.raises(ValueError, match="records no data folder"):
        annotation_tests([bare], "data", "_epd", {"tata_box": (-39, -24)})


def test_flags_are_carried_to_the_promoters_whose_sequence_is_a_window_of_an_annotated_promoter(tmp_path):
    """A constructed pair of folders: each target promoter's answer is known by construction."""
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    random = lambda n: "".join(rng.choice(list("ACGT"), n))  # noqa: E731
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir(), target.mkdir()
    rows = {"train": [random(20) for _ in range(3)], "val": [random(20) for _ in range(2)], "test": [random(20)]}
    twin = rows["train"][2][:5] + rows["train"][0][5:]  # same window (8..16) as train row 0, other flags
    rows["test"].append(twin)
    for split, sequences in rows.items():
        labels = [1] * len(sequences)
        annotation_path(source, split, suffix="").write_text(
            "sequence,label\n" + "".join(f"{s},{y}\n" for s, y in zip(sequences, labels)))
    _write(source, "train", [(0, 1, 0), (1, 0, 1), (2, 0, 0)])
    _write(source, "val", [(0, 1, 1), (1, 0, 0)])
    _write(source, "test", [(0, 0, 1), (1, 0, 0)])  # the twin: tata_box 0 where train row 0 says 1, inr alike
    window = lambda s: s[8:16]  # noqa: E731  (source TSS 12, target TSS 4)
    target_rows = {"train": [(window(rows["val"][0]), 1), (window(rows["train"][1]), 0), (random(8), 1)],
                   "val": [(window(rows["test"][0]), 1)],
                   "test": [(window(rows["train"][0]), 1), (window(rows["train"][2]), 1)]}
    for split, pairs in target_rows.items():
        annotation_path(target, split, suffix="").write_text(
            "sequence,label\n" + "".join(f"{s},{y}\n" for s, y in pairs))
    out = tmp_path / "out"
    script = Path(__file__).resolve().parents[1] / "scripts" / "transfer_annotations.py"
    run = subprocess.run([sys.executable, str(script), str(source), "12", str(target), "4", str(out)],
                         capture_output=True, text=True, check=True)
    assert "train: 1 of 2 promoters matched" in run.stdout
    train, dev, test = (read_annotations(annotation_path(out, s)) for s in ("train", "val", "test"))
    assert list(train.index) == [0]  # the negative (row 1) and the unmatched promoter (row 2) stay unannotated
    assert (train.loc[0, "tata_box"], train.loc[0, "inr"]) == (1.0, 1.0)  # from the source's dev split
    assert (dev.loc[0, "tata_box"], dev.loc[0, "inr"]) == (0.0, 1.0)  # from the source's test split
    assert np.isnan(test.loc[0, "tata_box"]) and test.loc[0, "inr"] == 0.0  # the sources disagree on tata_box only
    assert (test.loc[1, "tata_box"], test.loc[1, "inr"]) == (0.0, 0.0)


def test_a_window_the_sequences_cut_is_named_by_the_part_they_hold():
    from glmxai.analysis.annotation_attribution import window_label, window_means, window_slice
    from glmxai.analysis.motif_attribution import scale_scores

    assert window_label(249, (-39, -24), 300) == "-39..-24"
    assert window_label(33, (-39, -24), 70) == "-33..-24 (of -39..-24)"  # prom_core_all: -33..+36
    assert window_label(33, (-120, -60), 70) == "-120..-60" and window_slice(33, (-120, -60), 70) is None
    scores = np.zeros((2, 70))
    scores[:, 0:10] = 1.0  # -33..-24: the part of TATA's window inside, and nothing else
    scores[:, 40] = 10.0
    inside = window_means(scores, 33, (-39, -24))
    np.testing.assert_allclose(inside, scale_scores(scores)[:, 0:10].mean(axis=1))
