"""Per-row annotation tables: read and checked, and an explain selection stratified by a flag."""
from __future__ import annotations

import numpy as np
import pytest

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
    table = read_annotations(path)
    np.testing.assert_array_equal(flags_of(table, np.array([0, 1, 3]), "tata_box"), [1.0, np.nan, 0.0])
    with pytest.raises(KeyError, match="'epdnew_ids' is not one of"):
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
