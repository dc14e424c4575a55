"""train.py: config composition for every group, a tiny end-to-end run, evaluation of a checkpoint."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import get_method
from omegaconf import OmegaConf
from sklearn.metrics import matthews_corrcoef

from glmxai.data.synthetic import SyntheticPromoterGenerator, write_gue_folder
from glmxai.data.table import SequenceDataError
from glmxai.jobs.train import run
from glmxai.models.build import load_classifier
from glmxai.models.classifier import MatthewsCorrCoef

from conftest import CONF_DIR, QUIET, REPO_ROOT, SMALL_DATA, compose_config


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


def _targets(node) -> list[str]:
    """Every ``_target_`` in a (nested) plain config."""
    if isinstance(node, dict):
        found = [node["_target_"]] if "_target_" in node else []
        return found + [t for v in node.values() for t in _targets(v)]
    if isinstance(node, list):
        return [t for v in node for t in _targets(v)]
    return []


@pytest.mark.parametrize(
    "group, option",
    [(g, o) for g in ("data", "model", "trainer", "logger", "callbacks", "paths") for o in _options(g)]
    + [("experiment", o) for o in _options("experiment")],
)
def test_every_config_option_composes_and_its_targets_import(tmp_path, group, option):
    cfg = compose_config("train", [f"{group}={option}"], tmp_path)
    plain = OmegaConf.to_container(cfg, resolve=True)  # mandatory values (data.root: ???) stay as "???"
    chosen = plain.get(group, plain)  # experiments are global
    assert _targets(chosen) or group in ("paths", "experiment") or option == "none", f"{group}={option} builds nothing"
    for target in _targets(plain):
        assert callable(get_method(target)), target


@pytest.mark.parametrize("option", _options("xai"))
def test_every_xai_config_builds_its_registered_method(tmp_path, option):
    from glmxai.models.tokenizers import OneHotTokenizer
    from glmxai.models.toys import MotifDetector
    from glmxai.predictor import BatchedPredictor
    from glmxai.xai.registry import build_method
    from glmxai.xai.registry import get_method as registered

    backbone = MotifDetector(OneHotTokenizer())
    if option == "attention":  # transformers only (the toy's refusal: tests/test_attention.py)
        from glmxai.models.dnabert import DNABERTBackbone
        from glmxai.models.tokenizers import KmerTokenizer

        backbone = DNABERTBackbone(KmerTokenizer(), config={"hidden_size": 16, "num_attention_heads": 2,
                                                            "intermediate_size": 32})
    cfg = compose_config("explain", [f"xai={option}"], tmp_path)
    method = build_method(OmegaConf.to_container(cfg.xai), BatchedPredictor(backbone), tss=249)
    assert type(method) is registered(option) and method.name == option


@pytest.mark.parametrize("config, overrides", [("explain", []), ("explain", ["data=gue"]), ("analyze", []),
                                               ("analyze", ["data=synthetic"])])
def test_explain_and_analyze_configs_keep_the_tss_in_the_data_config(tmp_path, config, overrides):
    cfg = compose_config(config, overrides, tmp_path)
    assert "tss" not in cfg and "tss" not in cfg.get("explain", {})
    assert cfg.model.trust_remote_code is False
    if overrides:
        assert cfg.data.tss == 249
    else:
        assert cfg.get("data") is None  # explain: the checkpoint's own data; analyze: the runs' data


def _tiny_run(tmp_path: Path, *extra: str) -> dict:
    cfg = compose_config("train", ["logger=csv", "trainer.max_epochs=2", *QUIET, "data.n_train=200",
                                   "data.n_val=64", "data.n_test=64", "data.batch_size=32", *extra], tmp_path)
    return run(cfg)


def test_tiny_training_run_writes_checkpoint_and_metrics_and_is_reproducible(tmp_path):
    first = _tiny_run(tmp_path / "a")
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    for key in ("test/acc", "test/f1", "test/mcc", "test/auroc", "params", "train_seconds", "config"):
        assert key in saved
    assert saved["params"] > 1000 and saved["config"]["model"]["name"] == "cnn"
    assert Path(first["checkpoint"]).is_file() and Path(first["checkpoint"]).name == "best.ckpt"
    assert (tmp_path / "a" / "csv").is_dir()
    second = _tiny_run(tmp_path / "b")
    for key in ("test/acc", "test/mcc", "test/auroc"):
        assert first[key] == pytest.approx(second[key], abs=1e-6)


def test_evaluate_checkpoint_on_gue_folder_without_training(tmp_path, trained_cnn):
    folder = write_gue_folder(SyntheticPromoterGenerator().splits(10, 10, 150, seed=99), tmp_path / "gue")
    cfg = compose_config("train", ["train=false", f"ckpt_path={trained_cnn}", "data=gue", f"data.root={folder}",
                                   "logger=none", *QUIET], tmp_path / "eval")
    metrics = run(cfg)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["test/mcc"] == pytest.approx(metrics["test/mcc"])
    assert saved["train_seconds"] == 0 and saved["checkpoint"] == str(trained_cnn)
    # the figure equals MCC computed directly from the model's predictions on DIR/test.csv
    model = load_classifier(trained_cnn)
    test = SyntheticPromoterGenerator().splits(10, 10, 150, seed=99)["test"]
    preds = model.backbone.predict_proba(test.sequences).argmax(1)
    assert saved["test/mcc"] == pytest.approx(matthews_corrcoef(test.labels, preds), abs=1e-4)


def test_evaluation_errors_before_work(tmp_path, trained_cnn):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        run(compose_config("train", ["train=false", "ckpt_path=/nonexistent/best.ckpt", "logger=none", *QUIET,
                                     *SMALL_DATA], tmp_path))
    with pytest.raises(ValueError, match="needs ckpt_path"):
        run(compose_config("train", ["train=false", "logger=none", *QUIET, *SMALL_DATA], tmp_path))
    short = tmp_path / "short"
    short.mkdir()
    (short / "test.csv").write_text("sequence,label\n" + "ACGT" * 10 + ",1\n")
    with pytest.raises(SequenceDataError, match="the model needs exactly 300"):
        run(compose_config("train", ["train=false", f"ckpt_path={trained_cnn}", "data=csv",
                                     f"data.path={short / 'test.csv'}", "data.seq_len=null", "logger=none",
                                     *QUIET], tmp_path / "eval"))


def test_training_on_a_single_class_split_is_refused_before_training(tmp_path):
    folder = write_gue_folder(SyntheticPromoterGenerator().splits(40, 20, 20, seed=5), tmp_path / "gue")
    train_csv = folder / "train.csv"
    lines = train_csv.read_text().splitlines()
    train_csv.write_text("\n".join([lines[0]] + [line[:-1] + "1" for line in lines[1:]]) + "\n")
    with pytest.raises(SequenceDataError, match=r"train\.csv: every label of the train split is 1 \(40 rows\)"):
        run(compose_config("train", ["data=gue", f"data.root={folder}", "logger=none", *QUIET], tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_reloaded_best_checkpoint_scores_what_the_model_scored_in_training(trained_cnn):
    """The validation MCC that made the checkpoint the best one was computed by the model in memory,
    during training (torchmetrics); the reloaded checkpoint must give it again on the same split
    (recomputed here with scikit-learn)."""
    from sklearn.metrics import matthews_corrcoef

    from glmxai.data.recorded import job_data

    stored = torch.load(trained_cnn, weights_only=True)
    best = [float(state["best_model_score"]) for name, state in stored["callbacks"].items()
            if name.startswith("ModelCheckpoint") and "'monitor': 'val/mcc'" in name]
    module = load_classifier(trained_cnn)
    val = job_data(None, module.hparams["data"], trained_cnn).table("val")
    probs = module.backbone.predict_proba(val.sequences)
    assert np.allclose(probs.sum(1), 1)
    assert best and 0.2 < best[0] == pytest.approx(matthews_corrcoef(val.labels, probs.argmax(1)), abs=1e-6)


@pytest.mark.slow  # a fresh Python process importing torch, Lightning and wandb, like its explain twin
def test_train_py_command_line_with_offline_wandb(tmp_path):
    """The real entry point: Hydra run folder, offline W&B files, metrics.json."""
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "train.py", f"hydra.run.dir={out}", "trainer.max_epochs=1", *QUIET, "data.n_train=128",
         "data.n_val=32", "data.n_test=32"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "metrics.json").is_file() and (out / "checkpoints" / "best.ckpt").is_file()
    assert list((out / "wandb").glob("offline-run-*")), "wandb should log offline by default"
    assert (out / ".hydra" / "config.yaml").is_file()


@pytest.mark.parametrize("predicted", [0, 1])
def test_mcc_of_a_constant_predictor_is_zero(predicted):
    """torchmetrics alone reports +-0.085 here; a model that learned nothing must read 0."""
    labels = torch.tensor([1] * 78 + [0] * 422)
    metric = MatthewsCorrCoef(num_classes=2)
    metric.update(torch.full((500,), predicted), labels)
    assert metric.compute().item() == 0.0
    preds = torch.from_numpy(np.random.default_rng(0).integers(0, 2, 500))
    metric.reset()
    metric.update(preds, labels)
    assert metric.compute().item() == pytest.approx(matthews_corrcoef(labels.numpy(), preds.numpy()), abs=1e-6)
