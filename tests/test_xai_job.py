"""explain.py jobs: output contract, resume, input errors and the Hydra multirun."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glmxai.data.datamodule import SyntheticDataModule
from glmxai.data.selection import select_rows
from glmxai.data.table import SequenceDataError
from glmxai.jobs import explain as xai_job
from glmxai.models.build import load_classifier
from glmxai.models.toys import MOTIF, START

from conftest import SMALL_DATA, compose_config
from xai_toys import save_toy_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"wall_seconds", "seconds_per_sequence", "evaluations_per_second"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def toy_ckpt(tmp_path_factory) -> Path:
    return save_toy_checkpoint(tmp_path_factory.mktemp("toy") / "toy.ckpt")


def _cfg(out: Path, ckpt, *overrides: str, data=tuple(SMALL_DATA)):
    return compose_config("explain", [f"ckpt_path={ckpt}", *data, "explain.n=5", "explain.chunk_size=2",
                                      *overrides], out)


def test_output_contract(tmp_path, toy_ckpt):
    meta = xai_job.run(_cfg(tmp_path, toy_ckpt, "xai=ism", "explain.selection=stratified"))
    out = np.load(tmp_path / "attributions.npz")
    table = SyntheticDataModule(n_test=200).table("test")
    index = out["index"]
    assert index.dtype == np.int64 and len(index) == 5 and (np.diff(index) > 0).all()
    assert out["scores"].shape == (5, 300) and out["scores"].dtype == np.float32
    assert out["sequences"].tolist() == [table.sequences[i] for i in index]
    np.testing.assert_array_equal(out["labels"], table.labels[index])
    np.testing.assert_array_equal(out["masks"], table.masks[index])
    expected = load_classifier(toy_ckpt).backbone.predict_proba(list(out["sequences"]))[:, 1]
    assert out["probs"].dtype == np.float32
    np.testing.assert_allclose(out["probs"], expected, rtol=1e-5)
    ism = np.load(tmp_path / "ism.npz")
    assert ism["delta"].shape == (5, 4, 300)
    np.testing.assert_array_equal(ism["index"], index)
    assert meta == json.loads((tmp_path / "meta.json").read_text())
    assert meta["method"] == "ism" and meta["model"] == "toy120" and meta["checkpoint"] == str(toy_ckpt)
    assert meta["data"].startswith("synthetic") and meta["split"] == "test"
    assert meta["model_evaluations"] == 5 * (1 + 3 * 300) and meta["evaluations_per_sequence"] == 901
    assert meta["wall_seconds"] > 0 and meta["evaluations_per_second"] > 0


def test_records_files_sit_beside_the_scores(tmp_path, toy_ckpt):
    xai_job.run(_cfg(tmp_path, toy_ckpt, "xai=lime", "xai.num_samples=40", "explain.n=3"))
    lines = [json.loads(line) for line in (tmp_path / "features.jsonl").read_text().splitlines()]
    index = np.load(tmp_path / "attributions.npz")["index"]
    assert [line["index"] for line in lines] == index.tolist()
    assert len(lines[0]["features"]) == 50 and {"site", "position", "weight"} <= set(lines[0]["features"][0])


def test_interrupted_run_resumes_to_identical_files(tmp_path, toy_ckpt, monkeypatch):
    overrides = ("xai=lime", "xai.num_samples=40")
    xai_job.run(_cfg(tmp_path / "whole", toy_ckpt, *overrides))

    calls = {"n": 0}

    def crash_on_second_chunk(method_explain):
        def explain(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
            return method_explain(*args, **kwargs)
        return explain

    real_prepare = xai_job.prepare

    def prepare(cfg):
        job = real_prepare(cfg)
        job.method.explain = crash_on_second_chunk(job.method.explain)
        return job

    monkeypatch.setattr(xai_job, "prepare", prepare)
    with pytest.raises(KeyboardInterrupt):
        xai_job.run(_cfg(tmp_path / "resumed", toy_ckpt, *overrides))
    monkeypatch.setattr(xai_job, "prepare", real_prepare)
    resumed = tmp_path / "resumed"
    assert sorted(p.name for p in (resumed / "chunks").iterdir()) == ["chunk_00000.npz"]
    assert not (resumed / "attributions.npz").exists()
    first_chunk = (resumed / "chunks" / "chunk_00000.npz").read_bytes()

    xai_job.run(_cfg(resumed, toy_ckpt, *overrides))
    assert (resumed / "chunks" / "chunk_00000.npz").read_bytes() == first_chunk  # not recomputed
    for name in ("attributions.npz", "features.jsonl"):
        assert (resumed / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    whole_meta = json.loads((tmp_path / "whole" / "meta.json").read_text())
    resumed_meta = json.loads((resumed / "meta.json").read_text())
    assert {k: v for k, v in resumed_meta.items() if k not in TIMING} == \
           {k: v for k, v in whole_meta.items() if k not in TIMING}


def test_other_settings_in_the_same_folder_are_refused(tmp_path, toy_ckpt):
    xai_job.run(_cfg(tmp_path, toy_ckpt, "xai=lime", "xai.num_samples=40", "explain.n=2"))
    with pytest.raises(ValueError, match="other settings"):
        xai_job.run(_cfg(tmp_path, toy_ckpt, "xai=lime", "xai.num_samples=41", "explain.n=2"))


def test_bad_inputs_fail_before_any_work(tmp_path, toy_ckpt):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        xai_job.run(_cfg(tmp_path / "a", tmp_path / "missing.ckpt"))
    with pytest.raises(ValueError, match="unknown explanation method 'nope'"):
        xai_job.run(_cfg(tmp_path / "b", toy_ckpt, "xai.name=nope"))
    short = tmp_path / "short.csv"
    short.write_text("sequence,label\n" + "ACGT" * 75 + ",1\n" + "ACGT" * 50 + ",0\n")
    with pytest.raises(SequenceDataError, match="length 200, the model needs exactly 300"):
        xai_job.run(_cfg(tmp_path / "c", toy_ckpt, "data=csv", f"data.path={short}", "data.seq_len=null",
                         "explain.n=null", data=()))
    assert not any((tmp_path / d / "chunks").exists() for d in "abc")


def test_parameters_that_cannot_work_fail_before_any_work(tmp_path, toy_ckpt):
    with pytest.raises(ValueError, match=r"explain\.n=5000, but the test split \(synthetic.*\) has only 200 rows"):
        xai_job.run(_cfg(tmp_path / "n", toy_ckpt, "explain.n=5000"))
    with pytest.raises(ValueError, match=r"xai\.window=1000 makes one feature of a whole 300-bp sequence"):
        xai_job.run(_cfg(tmp_path / "w", toy_ckpt, "xai=lime", "xai.window=1000"))
    with pytest.raises(ValueError, match=r"xai\.window=300 makes one feature"):
        xai_job.run(_cfg(tmp_path / "w", toy_ckpt, "xai=shap", "xai.window=300"))
    assert not (tmp_path / "n").exists() and not (tmp_path / "w").exists()
    meta = xai_job.run(_cfg(tmp_path / "all", toy_ckpt, "explain.n=null", "xai=ig", "xai.n_steps=2",
                            "explain.chunk_size=100"))
    assert meta["n_sequences"] == 200 and meta["selection"]["n"] is None


def test_selection_first_random_stratified():
    labels = np.array([0] * 8 + [1] * 2)
    np.testing.assert_array_equal(select_rows(labels, 3, "first", 0), [0, 1, 2])
    random = select_rows(labels, 4, "random", 1)
    assert len(set(random.tolist())) == 4 and np.array_equal(random, select_rows(labels, 4, "random", 1))
    stratified = select_rows(labels, 6, "stratified", 0)
    assert labels[stratified].sum() == 2 and len(stratified) == 6  # all positives, negatives fill in
    assert labels[select_rows(labels, 4, "stratified", 0)].sum() == 2
    with pytest.raises(ValueError, match="unknown explain.selection"):
        select_rows(labels, 3, "best", 0)


# a fresh Python process importing torch, shap, lime and captum: the real explain.py -m, in the default suite
def test_multirun_two_methods_by_two_checkpoints(tmp_path):
    ckpts = [save_toy_checkpoint(tmp_path / f"toy{start}.ckpt", start=start) for start in (START, 60)]
    sweep = tmp_path / "sweep"
    command = [sys.executable, "explain.py", "-m", "xai=ism,ig", f"ckpt_path={ckpts[0]},{ckpts[1]}",
               "explain.n=2", "explain.selection=random", "explain.threads=1", *SMALL_DATA,
               f"hydra.sweep.dir={sweep}"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and (p / "meta.json").exists())
    assert len(jobs) == 4
    seen = set()
    for folder in jobs:
        meta = json.loads((folder / "meta.json").read_text())
        seen.add((meta["method"], meta["checkpoint"]))
        start = int(meta["model"].removeprefix("toy"))
        scores = np.abs(np.load(folder / "attributions.npz")["scores"])
        motif = np.arange(start, start + len(MOTIF))
        assert np.delete(scores, motif, axis=1).max() == 0 and scores[:, motif].max() > 0
    assert seen == {(m, str(c)) for m in ("ism", "ig") for c in ckpts}


def test_explain_threads_hold_for_the_job_only(tmp_path, toy_ckpt, monkeypatch):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    seen = []
    real = xai_job.explain_chunks
    monkeypatch.setattr(xai_job, "explain_chunks", lambda job, ids: (seen.append(torch.get_num_threads()),
                                                                      real(job, ids)))
    try:
        xai_job.run(_cfg(tmp_path, toy_ckpt, "xai=ism", "explain.threads=1"))
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_changed_training_file_is_warned_about_whatever_the_serving_settings(tmp_path, caplog):
    """The checkpoint's own data, edited since training, is named; serving it with another batch
    size (not part of the data's identity) must not silence that."""
    import logging

    from glmxai.data.datamodule import GueDataModule
    from glmxai.data.synthetic import SyntheticPromoterGenerator, write_gue_folder
    from glmxai.models.classifier import SequenceClassifier
    from glmxai.models.tokenizers import OneHotTokenizer
    from glmxai.models.toys import LENGTH, MotifDetector

    from conftest import save_checkpoint

    root = write_gue_folder(SyntheticPromoterGenerator().splits(20, 10, 10, seed=2), tmp_path / "gue")
    record = GueDataModule(root=str(root), seq_len=LENGTH, tss=249, batch_size=64).provenance()
    model_cfg = {"name": "toy", "tokenizer": {"_target_": "glmxai.models.tokenizers.OneHotTokenizer"},
                 "backbone": {"_target_": "glmxai.models.toys.MotifDetector", "seq_len": LENGTH, "start": START}}
    ckpt = save_checkpoint(SequenceClassifier(MotifDetector(OneHotTokenizer()), model_cfg=model_cfg),
                           tmp_path / "toy.ckpt", record)
    test = root / "test.csv"
    lines = test.read_text().splitlines()
    lines[1] = "A" + lines[1][1:]  # one base of the first test sequence edited after training
    test.write_text("\n".join(lines) + "\n")
    for n, batch_size in enumerate((64, 7)):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="glmxai.jobs.explain"):
            xai_job.run(_cfg(tmp_path / f"job{n}", ckpt, "explain.n=2",
                             data=("data=gue", f"data.root={root}", f"data.batch_size={batch_size}")))
        assert f"{test} has changed since {ckpt} was trained on it" in caplog.text
