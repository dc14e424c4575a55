"""The user's flow through the real entry points, in a fresh working folder:
``python train.py [data=...]`` -> ``python explain.py -m xai=...`` -> ``python analyze.py
inputs=multirun/<date>/<time>``, with no data, tss or checkpoint arguments after training:
explain and analyze follow the checkpoint to its data."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from glmxai.data.synthetic import SyntheticPromoterGenerator, write_gue_folder
from glmxai.data.table import SequenceDataError, read_sequence_csv
from glmxai.jobs.explain import resolve_checkpoint

from conftest import CONF_DIR, QUIET

TRAIN_QUICKLY = ["logger=none", "trainer.max_epochs=1", *QUIET]


def _only(pattern: str, root: Path) -> Path:
    found = sorted(root.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_synthetic_flow_needs_no_repeated_arguments(command, tmp_path):
    command("train.py", "data.n_train=300", "data.n_val=100", "data.n_test=100", *TRAIN_QUICKLY)
    checkpoint = _only("outputs/train/*/*/checkpoints/best.ckpt", tmp_path)
    command("explain.py", "-m", "xai=ism,ig", "explain.n=4")
    sweep = _only("multirun/*/*", tmp_path)
    command("analyze.py", f"inputs={sweep.relative_to(tmp_path)}", "faithfulness.n=4", "faithfulness.steps=2")

    metas = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/meta.json"))]
    assert {m["method"] for m in metas} == {"ism", "ig"}
    for meta in metas:
        assert meta["checkpoint"] == str(checkpoint.resolve()) and meta["tss"] == 249
        assert meta["data_config"]["_target_"].endswith("SyntheticDataModule")
        assert meta["data_config"]["n_train"] == 300 and meta["data_config"]["n_test"] == 100
    explained = np.load(sweep / "0" / "attributions.npz")
    test_split = SyntheticPromoterGenerator().generate_split("test", 100, 12345)
    assert explained["sequences"].tolist() == test_split.sequences[:4]
    report = _only("outputs/analyze/*/*/report.html", tmp_path).read_text()
    assert "Dataset audit: synthetic" in report


def test_gue_flow_explains_the_trained_data(command, tmp_path):
    folder = write_gue_folder(SyntheticPromoterGenerator().splits(300, 100, 60, seed=3), tmp_path / "my_gue")
    command("train.py", "data=gue", f"data.root={folder}", *TRAIN_QUICKLY)
    command("explain.py", "-m", "xai=ism", "explain.n=3")
    sweep = _only("multirun/*/*", tmp_path)
    command("analyze.py", f"inputs={sweep.relative_to(tmp_path)}", "faithfulness.enabled=false")

    meta = json.loads((sweep / "0" / "meta.json").read_text())
    assert meta["data_config"]["root"] == str(folder.resolve()) and meta["data"] == f"gue:{folder}"
    explained = np.load(sweep / "0" / "attributions.npz")
    assert explained["sequences"].tolist() == read_sequence_csv(folder / "test.csv").sequences[:3]
    report = _only("outputs/analyze/*/*/report.html", tmp_path).read_text()
    assert f"Dataset audit: gue:{folder}" in report


def test_explaining_other_data_than_trained_names_both(command, tmp_path, trained_cnn):
    """A checkpoint trained on 300-bp sequences (TSS 249), explained on 200-bp data or another TSS."""
    from glmxai.jobs.explain import run

    from conftest import compose_config

    short = write_gue_folder(SyntheticPromoterGenerator(length=200, tss=149).splits(10, 10, 10, seed=1),
                             tmp_path / "short")
    expected = f"{short / 'test.csv'}: 200-bp sequences, but {trained_cnn} was trained on synthetic:train with 300-bp"
    with pytest.raises(SequenceDataError, match=re.escape(expected)):
        run(compose_config("explain", [f"ckpt_path={trained_cnn}", "data=gue", f"data.root={short}",
                                       "data.seq_len=null", "data.tss=149", "explain.n=2"], tmp_path / "a"))
    with pytest.raises(SequenceDataError, match=r"TSS at index 200 \(data.tss\), but .* with the TSS at index 249"):
        run(compose_config("explain", [f"ckpt_path={trained_cnn}", "data=synthetic", "data.n_test=10",
                                       "data.tss=200", "explain.n=2"], tmp_path / "b"))
    assert not (tmp_path / "a" / "chunks").exists() and not (tmp_path / "b" / "chunks").exists()


def test_without_ckpt_path_the_newest_trained_checkpoint_is_explained(tmp_path, monkeypatch):
    """explain.py searches where train.py writes, as the config says: moving ``paths.outputs``
    moves both train.py's run folders and explain's search."""
    monkeypatch.chdir(tmp_path)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        train = compose(config_name="train", overrides=["paths.outputs=runs"], return_hydra_config=True)
        explain = compose(config_name="explain", overrides=["paths.outputs=runs"])
    assert str(train.hydra.run.dir).startswith("runs/train/") and explain.paths.train_runs == "runs/train"
    with pytest.raises(FileNotFoundError, match="no ckpt_path given and no checkpoints/best.ckpt under"):
        resolve_checkpoint(None, explain.paths.train_runs)
    older = tmp_path / "runs/train/2026-01-01/10-00-00/checkpoints/best.ckpt"
    newer = tmp_path / "runs/train/2025-12-31/23-59-59/checkpoints/best.ckpt"  # named earlier, written later
    for path, mtime in ((older, 1_000), (newer, 2_000)):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    assert resolve_checkpoint(None, explain.paths.train_runs) == newer.resolve()
    assert resolve_checkpoint(str(older), "elsewhere") == older.resolve()
