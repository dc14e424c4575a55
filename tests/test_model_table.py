"""The model comparison (the seed's Table 1) from the ``metrics.json`` of real training runs:
table, CSV, bar chart beside published figures, and the W&B table."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from test_wandb_runs import only_run

from glmxai.analysis.model_table import TrainingRunError, model_table, published_table, run_checkpoint
from glmxai.jobs.train import run as train

from conftest import QUIET, SMALL_DATA, compose_config


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Metrics files of a CNN and a DNABERT (k=3, mean pooling), each trained one epoch on small data."""
    root = tmp_path_factory.mktemp("runs")
    for name, overrides in (("cnn", ["model=cnn"]),
                            ("dnabert", ["model=dnabert", "model.tokenizer.k=3", "model.backbone.pooling=mean",
                                         "data.n_train=96", "data.n_val=32", "data.n_test=32"])):
        train(compose_config("train", [*SMALL_DATA, *overrides, "logger=none", "trainer.max_epochs=1", *QUIET],
                             root / name))
    return root


def test_the_table_holds_what_each_runs_metrics_say(two_runs):
    table = model_table([two_runs])
    assert sorted(table["model"]) == ["cnn", "dnabert"]
    for row in table.itertuples():
        metrics = json.loads((two_runs / row.model / "metrics.json").read_text())
        assert (row.acc, row.f1, row.mcc, row.auroc) == (metrics["test/acc"], metrics["test/f1"],
                                                         metrics["test/mcc"], metrics["test/auroc"])
        assert row.params == metrics["params"] > 0 and row.epochs == 1 and row.task == "synthetic"
        assert row.origin == "from scratch" and row.hardware.startswith("CPU ")
        assert row.train_minutes == pytest.approx(metrics["train_seconds"] / 60, abs=0.05)
    dnabert = table.set_index("model").loc["dnabert"]
    assert dnabert.tokenizer == "Kmer(k=3)" and dnabert.architecture.startswith("DNABERT(size=small, pooling=mean")
    assert list(table["mcc"]) == sorted(table["mcc"], reverse=True)  # best first within the task
    cnn = table.set_index("model").loc["cnn"]
    assert "pool_sizes=[" in cnn.architecture and set(table["added_negatives"]) == {"none"}


def test_the_negatives_a_run_added_are_named_in_its_row(two_runs, tmp_path):
    metrics = json.loads((two_runs / "cnn" / "metrics.json").read_text())
    metrics["config"]["data"]["added_negatives"] = {"kind": ["random_chunks", "chunk_permutation"], "per_promoter": 1}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert model_table([tmp_path])["added_negatives"].tolist() == ["random_chunks + chunk_permutation"]


def test_analyze_writes_the_comparison_beside_published_figures_and_logs_it_to_wandb(two_runs, tmp_path):
    from glmxai.jobs.analyze import run

    published = ["published=[{model: DNABERT-6, task: synthetic, mcc: 90.48, source: paper}, "
                 "{model: NT, task: other_task, mcc: 91.0, source: paper}]"]
    cfg = compose_config("analyze", [f"train_runs=[{two_runs / 'cnn'},{two_runs / 'dnabert/metrics.json'}]",
                                     "audit.enabled=false", "logger=wandb", *published], tmp_path / "out")
    summary = run(cfg)
    out = tmp_path / "out"
    csv = pd.read_csv(out / "tables" / "model_comparison.csv")
    assert sorted(csv["model"]) == ["cnn", "dnabert"]
    shown = pd.read_csv(out / "tables" / "published.csv")
    assert list(shown["model"]) == ["DNABERT-6"] and shown["mcc"].iat[0] == pytest.approx(0.9048)  # same task only
    assert (out / "figures" / "model_comparison.png").stat().st_size > 10_000
    assert "Model comparison" in (out / "report.html").read_text()
    assert {v["model"] for v in summary["models"].values()} == {"cnn", "dnabert"}
    logged = {key for row in only_run(out).history for key in row}
    assert "tables/model_comparison._type" in logged


def test_runs_without_test_metrics_are_refused_by_name(tmp_path):
    bad = tmp_path / "metrics.json"
    bad.write_text(json.dumps({"test/mcc": 0.5, "params": 3}))
    with pytest.raises(TrainingRunError, match=r"metrics.json: no test metrics \['test/acc', 'test/f1', 'test/auroc'"):
        model_table([bad])
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingRunError, match="no metrics.json under this folder"):
        model_table([tmp_path / "empty"])
    assert published_table([{"model": "m", "task": "t", "mcc": 86.77}])["mcc"].iat[0] == pytest.approx(0.8677)


def test_a_run_folder_copied_from_another_machine_finds_its_own_checkpoint(tmp_path):
    """metrics.json records the checkpoint's absolute path on the machine that trained it."""
    trained_here, copied = tmp_path / "here", tmp_path / "copied"
    for run in (trained_here, copied):
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "best.ckpt").write_bytes(b"weights")
    here = trained_here / "checkpoints" / "best.ckpt"
    (trained_here / "metrics.json").write_text(json.dumps({"checkpoint": str(here)}))
    (copied / "metrics.json").write_text(json.dumps({"checkpoint": "/elsewhere/runs/nt/checkpoints/best.ckpt"}))
    (tmp_path / "metrics.json").write_text(json.dumps({"checkpoint": "/elsewhere/runs/nt/checkpoints/best.ckpt"}))

    assert run_checkpoint(trained_here / "metrics.json") == str(here)
    assert run_checkpoint(copied / "metrics.json") == str(copied / "checkpoints" / "best.ckpt")
    assert run_checkpoint(tmp_path / "metrics.json") == "/elsewhere/runs/nt/checkpoints/best.ckpt"  # for the error
