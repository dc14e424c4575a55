"""The shortcut test on constructed cases with known answers: a composition detector (which spots
random chunks) calls composition-kept copies promoters and fails; a model of motif position does
not; shares, intervals and AUROC against their textbook definitions."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy import stats

from glmxai.analysis.shortcut import (
    arrangement_sentence,
    auroc_with_ci,
    chunk_arrangement,
    read_labelled_set,
    shortcut_row,
    shortcut_tests,
    wilson,
)
from glmxai.data.table import SequenceDataError, SequenceTable
from glmxai.jobs.train import run as train

from conftest import compose_config

CHUNK, CHUNKS = 15, 20
MOTIF, AT = "TATAAA", 100


def _promoters(n: int, rng: np.random.Generator) -> list[str]:
    """AC-only sequences (the 'promoter composition') with a TATA box at ``AT``."""
    return ["".join(rng.choice(list("AC"), CHUNK * CHUNKS))[:AT] + MOTIF
            + "".join(rng.choice(list("AC"), CHUNK * CHUNKS))[AT + len(MOTIF):] for _ in range(n)]


def _chunks(sequence: str) -> list[str]:
    return [sequence[i:i + CHUNK] for i in range(0, len(sequence), CHUNK)]


def gue_negative(sequence: str, rng: np.random.Generator) -> str:
    """GUE's recipe: 12 of the 20 chunks replaced by uniform random bases."""
    chunks = _chunks(sequence)
    for k in rng.choice(CHUNKS, 12, replace=False):
        chunks[k] = "".join(rng.choice(list("ACGT"), CHUNK))
    return "".join(chunks)


def permuted_negative(sequence: str, rng: np.random.Generator) -> str:
    """The shifted recipe: 12 of the 20 chunks permuted among themselves (composition kept)."""
    chunks = _chunks(sequence)
    picked = rng.choice(CHUNKS, 12, replace=False)
    for k, j in zip(picked, np.roll(picked, 1)):
        chunks[k] = _chunks(sequence)[j]
    return "".join(chunks)


def composition_detector(sequences: list[str]) -> np.ndarray:
    """'Promoter' when a sequence has (almost) no G or T: it detects GUE's random chunks."""
    return np.array([1.0 if (s.count("G") + s.count("T")) / len(s) < 0.05 else 0.0 for s in sequences])


def position_model(sequences: list[str]) -> np.ndarray:
    """'Promoter' when the TATA box sits at its place: promoter structure."""
    return np.array([1.0 if s[AT:AT + len(MOTIF)] == MOTIF else 0.0 for s in sequences])


def _write_set(path, sequences: list[str], parents: list[int]) -> None:
    path.write_text("sequence,label,parent_split,parent_row\n"
                    + "".join(f"{s},0,test,{p}\n" for s, p in zip(sequences, parents)))


@pytest.fixture
def benchmark(tmp_path):
    """A test split of 60 promoters and their 60 GUE-made negatives, and the composition-kept copies
    of the same promoters as an extra labelled set."""
    rng = np.random.default_rng(0)
    promoters = _promoters(60, rng)
    split = SequenceTable(promoters + [gue_negative(s, rng) for s in promoters], np.r_[np.ones(60), np.zeros(60)]
                          .astype(np.int64), source="test.csv")
    copies = [permuted_negative(s, rng) for s in promoters]
    _write_set(tmp_path / "shuffled_negatives.csv", copies, list(range(60)))
    return {"test": split}, read_labelled_set(tmp_path / "shuffled_negatives.csv", 300), copies


def test_a_random_chunk_detector_fails_the_shortcut_test_and_a_position_model_passes(benchmark):
    splits, labelled, copies = benchmark
    assert labelled.name == "shuffled_negatives" and labelled.parent_split.tolist() == ["test"] * 60
    chunky = shortcut_row("chunks", composition_detector, labelled, splits, "test", n_resamples=200)
    assert chunky["reference_share"] == 0 and chunky["share"] == 1  # GUE's negatives spotted, the copies not
    assert chunky["fisher_p"] < 1e-20 and chunky["pairs"] == 60 and chunky["parent_auroc"] == 0.5
    kept = np.mean([c[AT:AT + len(MOTIF)] == MOTIF for c in copies])  # copies whose TATA box stayed put
    structural = shortcut_row("position", position_model, labelled, splits, "test", n_resamples=200)
    assert structural["share"] == pytest.approx(kept) and kept < 0.5
    assert structural["parent_auroc"] == pytest.approx(1 - kept / 2)  # ties count a half
    assert structural["auroc_ci_low"] <= structural["parent_auroc"] <= structural["auroc_ci_high"]


def test_the_copies_chunk_arrangement_is_found_and_named(tmp_path):
    """Copies made by one fixed map of chunks (as GENA-LM's set is) but two made otherwise: the map,
    its share, the chunks it keeps and the parent chunk it puts at the TSS are read back."""
    rng = np.random.default_rng(2)
    promoters = _promoters(30, rng)
    fixed = list(range(CHUNKS))
    fixed[16], fixed[0], fixed[3], fixed[5] = 0, 3, 5, 16  # slot 16 (the TSS at 249) holds chunk 0, ...
    copies = ["".join(_chunks(s)[j] for j in fixed) for s in promoters[:28]]
    copies += [permuted_negative(s, rng) for s in promoters[28:]]
    arrangement = chunk_arrangement(copies, promoters)
    assert arrangement.commonest == tuple(fixed) and arrangement.count == 28 and arrangement.distinct == 3
    assert arrangement.kept == [k for k in range(CHUNKS) if k not in (0, 3, 5, 16)]
    split = SequenceTable(promoters + promoters, np.r_[np.ones(30), np.zeros(30)].astype(np.int64), source="test.csv")
    _write_set(tmp_path / "fixed.csv", copies, list(range(30)))
    row = shortcut_row("position", position_model, read_labelled_set(tmp_path / "fixed.csv"), {"test": split},
                       "test", n_resamples=50, tss=249)
    assert (row["arrangements"], row["commonest_share"], row["tss_chunk_from"]) == (3, pytest.approx(28 / 30), 0)
    assert row["kept_chunks"] == ",".join(str(k) for k in arrangement.kept)
    sentence = arrangement_sentence(row)
    assert "15-44, 60-74, 90-239, 255-299 keep their place" in sentence
    assert "the chunk at the TSS holds the parent's bases 0-14" in sentence and "tests a model on that" in sentence


def test_shares_intervals_and_auroc_follow_their_definitions():
    low, high = wilson(7, 20)
    z, p, n = stats.norm.ppf(0.975), 7 / 20, 20  # the Wilson score interval, by its formula
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert (low, high) == pytest.approx((centre - half, centre + half), rel=1e-9)
    rng = np.random.default_rng(1)
    positive, negative = rng.normal(1, 1, 80), rng.normal(0, 1, 80)
    value, lo, hi = auroc_with_ci(positive, negative, n_resamples=300)
    u = stats.mannwhitneyu(positive, negative).statistic  # AUROC = U / (n1 n2)
    assert value == pytest.approx(u / 80 / 80) and lo < value < hi and hi - lo < 0.25


@pytest.mark.parametrize("row, problem", [("ACGT,0,test,x", "parent_row 'x' is not a row number"),
                                          ("ACGT,0,holdout,1", "parent_split 'holdout' is not one of"),
                                          ("ACGT,0,test,99", "parent_row 99 is beyond the 2 rows")])
def test_a_bad_parent_is_named_with_its_file(tmp_path, row, problem):
    path = tmp_path / "extra.csv"
    path.write_text(f"sequence,label,parent_split,parent_row\nACGT,0,test,0\n{row}\n")
    split = SequenceTable(["ACGT", "ACGA"], np.array([1, 0]), source="test.csv")
    with pytest.raises(SequenceDataError, match=f"extra.csv.*{problem}"):
        shortcut_row("m", position_model, read_labelled_set(path), {"test": split}, "test")


def test_analyze_scores_an_extra_set_against_a_trained_checkpoint(trained_cnn, tmp_path, command):
    """Through analyze.py: the copies of the test promoters, labelled 0, are called promoter exactly
    as often as the model calls those promoters; their parents are not paired, since the set does
    not lie in the model's data folder (synthetic data has none), so its row numbers may not be
    that data's."""
    from glmxai.data.recorded import job_data
    from glmxai.models.build import load_classifier

    module = load_classifier(trained_cnn)
    test = job_data(None, module.hparams["data"], trained_cnn).table("test")
    promoters = np.flatnonzero(test.labels == 1)[:40]
    _write_set(tmp_path / "copies.csv", [test.sequences[i] for i in promoters], promoters.tolist())
    recall = (module.backbone.predict_proba([test.sequences[i] for i in promoters])[:, 1] >= 0.5).mean()
    negatives = [test.sequences[i] for i in np.flatnonzero(test.labels == 0)]
    false_positive = (module.backbone.predict_proba(negatives)[:, 1] >= 0.5).mean()
    command("analyze.py", f"train_runs=[{trained_cnn.parents[1]}]", f"shortcut.sets=[{tmp_path / 'copies.csv'}]",
            "shortcut.n_bootstrap=100", "logger=none", f"hydra.run.dir={tmp_path / 'report'}")
    row = json.loads((tmp_path / "report" / "summary.json").read_text())["shortcut"]["rows"][0]
    assert row["set"] == "copies" and row["negatives"] == 40 and row["pairs"] == 0 and np.isnan(row["parent_auroc"])
    assert row["share"] == pytest.approx(recall) and row["reference_share"] == pytest.approx(false_positive)
    assert 0 <= row["fisher_p_adj"] <= 1
    assert "Shortcut test" in (tmp_path / "report" / "report.html").read_text()


def test_one_checkpoint_named_by_two_paths_is_tested_once(trained_cnn, tmp_path, monkeypatch):
    """A training run's metrics.json and an explain job may name the same checkpoint by a relative
    and an absolute path: one row per set, not two."""
    _write_set(tmp_path / "copies.csv", ["ACGT" * 75] * 3, [0, 1, 2])
    monkeypatch.chdir(trained_cnn.parent)
    options = {"sets": [str(tmp_path / "copies.csv")], "split": "test", "n_bootstrap": 10, "batch_size": 64,
               "device": "cpu"}
    table, _ = shortcut_tests([trained_cnn.name, str(trained_cnn.resolve())], options, 0, False)
    assert len(table) == 1 and table["negatives"].tolist() == [3]


def test_parents_pair_in_the_models_data_folder_and_in_copies_of_it_only(tmp_path):
    """A run trained elsewhere records its data folder's path there; a set beside an identical
    test.csv still indexes the model's test rows, one beside a different test.csv does not."""
    rng = np.random.default_rng(1)
    data = tmp_path / "data"
    data.mkdir()
    for split, n in (("train", 200), ("dev", 40), ("test", 40)):
        promoters = _promoters(n // 2, rng)
        rows = [f"{s},1\n" for s in promoters] + [f"{gue_negative(s, rng)},0\n" for s in promoters]
        (data / f"{split}.csv").write_text("sequence,label\n" + "".join(rows))
    ckpt = train(compose_config("train", ["model=cnn", "data=gue", f"data.root={data}", "logger=none",
                                          "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                                          "trainer.enable_model_summary=false"], tmp_path / "run"))["checkpoint"]
    test = (data / "test.csv").read_text().splitlines()[1:]
    copies = [permuted_negative(line.split(",")[0], rng) for line in test[:20]]
    folders = {"own": data, "copy": tmp_path / "copy", "other": tmp_path / "other"}
    folders["copy"].mkdir()
    shutil.copy(data / "test.csv", folders["copy"] / "test.csv")
    folders["other"].mkdir()
    (folders["other"] / "test.csv").write_text("sequence,label\n" + "\n".join(test[1:] + test[:1]) + "\n")
    for name, folder in folders.items():
        _write_set(folder / f"{name}.csv", copies, list(range(20)))
    options = {"sets": [str(f / f"{n}.csv") for n, f in folders.items()], "split": "test", "n_bootstrap": 10,
               "batch_size": 64, "device": "cpu"}
    table, _ = shortcut_tests([ckpt], options, 0, False)
    assert dict(zip(table["set"], table["pairs"])) == {"own": 20, "copy": 20, "other": 0}
