"""W&B runs of train, explain and analyze, read back from the offline run files.

wandb 0.31 ships no Python reader of its run files (``wandb.sdk.internal.datastore`` is gone:
the Go core writes them), and an offline run writes no ``files/wandb-summary.json`` or
``files/config.yaml`` either. ``read_offline_run`` therefore parses ``run-<id>.wandb`` itself: a
LevelDB-style log (``:W&B`` header, 32 KiB blocks of CRC-checked chunks) of wandb's own
``wandb_internal_pb2.Record`` protobufs, and replays them into config, history and summary as the
W&B server would on ``wandb sync``. Nothing of glmxai's logging code is used to read them back.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf, open_dict
from sklearn.metrics import average_precision_score, roc_auc_score

from glmxai.jobs import explain as xai_job
from glmxai.jobs.explain_log import explain_summary
from glmxai.jobs.merge import merge_shards
from glmxai.jobs.train import run as train
from glmxai.wandb_log import log_report, numeric_leaves

from conftest import QUIET, REPO_ROOT, compose_config
from xai_toys import save_toy_checkpoint

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    run: object = None                                # RunRecord: project, display_name, job_type, run_group
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # one dict per logged step
    summary: dict = field(default_factory=dict)
    artifacts: list = field(default_factory=list)      # ArtifactRecord
    files: list[str] = field(default_factory=list)
    exited: bool = False


def _key(item) -> str:
    return item.key or ".".join(item.nested_key)  # nested media fields: "attribution_logo._type"


def _records(path: Path):
    """The ``Record`` protobufs of a ``run-<id>.wandb`` file, checksums verified."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path}: not a W&B run file"
    magic, version = struct.unpack("<HB", data[4:HEADER])
    assert (magic, version) == (0xBEE1, 0), (magic, version)
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # the block's tail is padding
            pos += left
            continue
        checksum, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if (checksum, length, kind) == (0, 0, 0):
            pos += left
            continue
        chunk = data[pos + HEADER:pos + HEADER + length]
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) == checksum, f"{path}: bad checksum at {pos}"
        pos += HEADER + length
        if kind == FULL:
            yield pb.Record.FromString(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pb.Record.FromString(pending + chunk)
        else:
            raise AssertionError(f"{path}: unknown chunk type {kind}")


def read_offline_run(folder: Path) -> OfflineRun:
    """Config, history, summary, artifacts and files of one ``offline-run-*`` folder."""
    files = list(folder.glob("run-*.wandb"))
    assert len(files) == 1, files
    out = OfflineRun()
    for record in _records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out.run = record.run
            out.config.update({_key(i): json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            out.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            out.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            out.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
            for item in record.summary.remove:
                out.summary.pop(_key(item), None)
        elif kind == "artifact":
            out.artifacts.append(record.artifact)
        elif kind == "files":
            out.files += [f.path for f in record.files.files]
        elif kind == "exit":
            out.exited = True
    return out


def only_run(out_dir: Path, timeout: float = 60.0) -> OfflineRun:
    """The one offline run under ``out_dir/wandb``, read once wandb's core has written it out:
    ``finish()`` returns before the core flushes its last (buffered, 32 KiB) block, so this waits
    for the exit record and a file size that no longer changes."""
    runs = sorted((out_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, f"expected one offline run in {out_dir / 'wandb'}, found {runs}"
    files = list(runs[0].glob("run-*.wandb"))
    assert len(files) == 1, files
    deadline, size, error = time.monotonic() + timeout, -1, None
    while time.monotonic() < deadline:
        if files[0].stat().st_size == size:
            try:
                run = read_offline_run(runs[0])
                if run.exited:
                    return run
            except AssertionError as partial:  # a chunk still being written
                error = partial
        size = files[0].stat().st_size
        time.sleep(0.2)
    raise AssertionError(f"{files[0]}: no complete run after {timeout} s ({error})")


# --- train ---------------------------------------------------------------------------------------

TINY_TRAIN = ["logger=wandb", "trainer.max_epochs=2", "trainer.log_every_n_steps=1", *QUIET, "data.n_train=64",
              "data.n_val=32", "data.n_test=32", "data.batch_size=32"]


def test_train_run_logs_lr_per_step_and_keeps_best_val_mcc_and_test_metrics(tmp_path, caplog):
    cfg = compose_config("train", TINY_TRAIN, tmp_path)
    with open_dict(cfg):
        cfg.logger.wandb.name = None  # named by the command
    with caplog.at_level(logging.INFO, logger="glmxai.jobs.train"):
        metrics = train(cfg)
    wb = only_run(tmp_path)  # waits for the run's exit record: the run must be finished when the job ends
    assert (wb.run.project, wb.run.job_type, wb.run.display_name) == ("glmxai", "train", "train-cnn-synthetic")
    assert wb.config["model"]["name"] == "cnn" and wb.config["trainer"]["max_epochs"] == 2

    lrs = [(row["trainer/global_step"], row["lr-AdamW"]) for row in wb.history if "lr-AdamW" in row]
    assert [step for step, _ in lrs] == [0, 1, 2, 3]  # 2 batches x 2 epochs, one LR each
    peak = cfg.model.optimizer.lr
    assert max(lr for _, lr in lrs) == pytest.approx(peak) and lrs[-1][1] < peak  # warm-up, then decay

    epochs = [(row["epoch"], row["val/mcc"]) for row in wb.history if "val/mcc" in row]
    assert [epoch for epoch, _ in epochs] == [0, 1]
    best = max(mcc for _, mcc in epochs)
    best_epoch = next(epoch for epoch, mcc in epochs if mcc == best)
    assert wb.summary["val/mcc"] == {"max": pytest.approx(best)}  # not the last epoch's
    assert wb.summary["val/mcc_best"] == pytest.approx(best) and wb.summary["val/mcc_best_epoch"] == best_epoch
    assert "min" in wb.summary["val/loss"]
    for key in ("test/mcc", "test/auroc", "test/acc", "test/f1", "test/loss", "params", "train_seconds"):
        assert wb.summary[key] == pytest.approx(metrics[key]), key
    assert wb.summary["checkpoint"] == metrics["checkpoint"]

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 0", "epoch 1"]
    for line, (_, mcc) in zip(lines, epochs):
        assert f"val/mcc={mcc:.4g}" in line and "val/loss=" in line and "train/loss=" in line and "lr=" in line


def test_train_without_a_logger_still_logs_epochs_and_needs_no_lr_monitor(tmp_path, caplog):
    cfg = compose_config("train", [*TINY_TRAIN, "logger=none", "trainer.max_epochs=1"], tmp_path)
    with caplog.at_level(logging.INFO, logger="glmxai.jobs.train"):
        train(cfg)
    assert not (tmp_path / "wandb").exists()
    assert any(r.getMessage().startswith("epoch 0: val/mcc=") for r in caplog.records)


@pytest.mark.slow  # a fresh Python process importing torch, Lightning and wandb
def test_train_py_writes_epoch_metrics_to_train_log_with_stdout_redirected(tmp_path):
    out = tmp_path / "run"
    with open(tmp_path / "stdout.txt", "w") as stdout:
        done = subprocess.run([sys.executable, "train.py", f"hydra.run.dir={out}", *TINY_TRAIN[1:]], cwd=REPO_ROOT,
                              stdout=stdout, stderr=subprocess.STDOUT, timeout=300)
    assert done.returncode == 0, (tmp_path / "stdout.txt").read_text()[-3000:]
    text = (out / "train.log").read_text()
    assert "epoch 0: val/mcc=" in text and "epoch 1: val/mcc=" in text and "lr=" in text
    assert only_run(out).run.display_name == "train-cnn-synthetic"


# --- explain -------------------------------------------------------------------------------------

# The toy detector of TATAAA at index 218 (TSS - 31) calls some synthetic TATA promoters right,
# so the ground-truth branch has correctly predicted positives to average over.
TOY_START = 218
EXPLAIN_DATA = ["data=synthetic", "data.n_train=16", "data.n_val=16", "data.n_test=40"]


@pytest.fixture(scope="module")
def tata_ckpt(tmp_path_factory) -> Path:
    return save_toy_checkpoint(tmp_path_factory.mktemp("toy") / "tata.ckpt", start=TOY_START)


def _explain_cfg(out: Path, ckpt: Path, *overrides: str):
    if not any(o.startswith("logger") for o in overrides):
        overrides = ("logger=wandb", *overrides)  # explain's default; the test helper defaults to none
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *EXPLAIN_DATA, "xai=ism", "explain.n=12",
                                     "explain.chunk_size=6", *overrides], out)
    if cfg.get("logger") and cfg.logger.get("wandb"):
        with open_dict(cfg):
            cfg.logger.wandb.name = None  # named by the command
    return cfg


def _ground_truth(npz: Path) -> dict:
    """Mean AUROC / AUPRC of |scores| over correctly predicted positives with a partial mask."""
    result = np.load(npz)
    rows = [r for r in range(len(result["labels"])) if result["labels"][r] == 1 and result["probs"][r] >= 0.5
            and 0 < result["masks"][r].sum() < result["masks"].shape[1]]
    return {"n": len(rows),
            "auroc": np.mean([roc_auc_score(result["masks"][r], np.abs(result["scores"][r])) for r in rows]),
            "auprc": np.mean([average_precision_score(result["masks"][r], np.abs(result["scores"][r]))
                              for r in rows])}


def test_explain_job_is_one_wandb_run_with_config_cost_ground_truth_and_a_logo(tmp_path, tata_ckpt):
    meta = xai_job.run(_explain_cfg(tmp_path, tata_ckpt))
    assert meta == json.loads((tmp_path / "meta.json").read_text())
    wb = only_run(tmp_path)
    assert wb.exited
    assert (wb.run.project, wb.run.job_type) == ("glmxai", "explain")
    assert wb.run.display_name == f"explain-ism-toy{TOY_START}-synthetic"
    assert wb.run.run_group == str(tmp_path)  # outside a multirun: the job folder
    for key in ("method", "params", "model", "checkpoint", "checkpoint_sha256", "data", "split"):
        assert wb.config[key] == meta[key], key
    assert wb.config["n"] == 12 and wb.config["params"]["name"] == "ism"

    assert wb.summary["evaluations_per_sequence"] == meta["evaluations_per_sequence"] == 901
    assert wb.summary["seconds_per_sequence"] == meta["seconds_per_sequence"]
    probs = np.load(tmp_path / "attributions.npz")["probs"]
    assert wb.summary["p_promoter_mean"] == pytest.approx(float(probs.mean()), rel=1e-6)
    expected = _ground_truth(tmp_path / "attributions.npz")
    assert expected["n"] >= 1 and wb.summary["ground_truth/n"] == expected["n"]
    assert wb.summary["ground_truth/auroc"] == pytest.approx(expected["auroc"])
    assert wb.summary["ground_truth/auprc"] == pytest.approx(expected["auprc"])

    logos = [row for row in wb.history if row.get("attribution_logo._type") == "image-file"]
    assert len(logos) == 1
    image = tmp_path / "wandb" / "latest-run" / "files" / logos[0]["attribution_logo.path"]
    assert image.is_file() and image.read_bytes()[:4] == b"\x89PNG"


def test_explain_logger_none_and_csv(tmp_path, tata_ckpt):
    xai_job.run(_explain_cfg(tmp_path / "none", tata_ckpt, "logger=none"))
    assert (tmp_path / "none" / "meta.json").is_file()
    assert not (tmp_path / "none" / "wandb").exists() and not (tmp_path / "none" / "csv").exists()

    meta = xai_job.run(_explain_cfg(tmp_path / "csv", tata_ckpt, "logger=csv"))
    assert not (tmp_path / "csv" / "wandb").exists()
    with open(tmp_path / "csv" / "csv" / "summary.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and rows[0]["method"] == "ism" and rows[0]["model"] == f"toy{TOY_START}"
    assert float(rows[0]["evaluations_per_sequence"]) == meta["evaluations_per_sequence"]
    assert float(rows[0]["ground_truth/auroc"]) == pytest.approx(_ground_truth(tmp_path / "csv" /
                                                                               "attributions.npz")["auroc"])


def test_a_wandb_failure_loses_no_explain_results(tmp_path, tata_ckpt, monkeypatch, caplog):
    import wandb

    def broken(*args, **kwargs):
        raise RuntimeError("W&B is down")

    monkeypatch.setattr(wandb, "init", broken)
    with caplog.at_level(logging.WARNING):
        meta = xai_job.run(_explain_cfg(tmp_path, tata_ckpt))
    assert meta == json.loads((tmp_path / "meta.json").read_text())
    assert (tmp_path / "attributions.npz").is_file() and (tmp_path / "ism.npz").is_file()
    assert "W&B is down" in caplog.text


def test_shards_log_nothing_and_the_merge_logs_one_offline_run(tmp_path, tata_ckpt, monkeypatch):
    folders = []
    for shard in range(2):
        folder = tmp_path / f"shard{shard}"
        cfg = _explain_cfg(folder, tata_ckpt, f"explain.shard={shard}", "explain.num_shards=2")
        xai_job.run(cfg)
        with open_dict(cfg):
            cfg.logger.wandb.offline = False  # a saved config cannot send the merged run online
        (folder / ".hydra").mkdir()
        OmegaConf.save(cfg, folder / ".hydra" / "config.yaml")
        folders.append(folder)
        assert not (folder / "wandb").exists(), "a shard must not log a run"
    import wandb

    modes = []
    real_init = wandb.init
    monkeypatch.setattr(wandb, "init", lambda *a, **kw: modes.append(kw.get("mode")) or real_init(*a, **kw))
    meta = merge_shards(folders, tmp_path / "merged")
    assert modes == ["offline"]
    wb = only_run(tmp_path / "merged")
    assert wb.summary["evaluations_per_sequence"] == meta["evaluations_per_sequence"]
    assert wb.summary["n_sequences"] == 12


def test_explain_summary_known_answer():
    masks = np.zeros((4, 10), bool)
    masks[:, 2:4] = True
    scores = np.zeros((4, 10))
    scores[:, 2:4] = -1.0  # perfect ranking by |scores| in every row
    scores[1] = np.arange(10)  # row 1: a poor ranking, but a negative: not averaged
    labels, probs = np.array([1, 0, 1, 1]), np.array([0.9, 0.2, 0.7, 0.1])  # row 3: a missed positive
    meta = {"n_sequences": 4, "evaluations_per_sequence": 3.0, "seconds_per_sequence": 0.5}
    summary = explain_summary(meta, {"scores": scores, "masks": masks, "labels": labels, "probs": probs})
    assert summary["ground_truth/n"] == 2 and summary["ground_truth/auroc"] == 1.0
    assert summary["ground_truth/auprc"] == 1.0 and summary["ground_truth/prevalence"] == pytest.approx(0.2)
    assert summary["p_promoter_mean"] == pytest.approx(0.475) and summary["accuracy"] == 0.75
    assert summary["evaluations_per_sequence"] == 3.0
    no_masks = explain_summary(meta, {"scores": scores, "labels": labels, "probs": probs})
    assert not any(key.startswith("ground_truth/") for key in no_masks)


@pytest.mark.slow  # fresh Python processes importing torch, Lightning and wandb
def test_explain_multirun_groups_its_runs_by_the_sweep(tmp_path, tata_ckpt):
    sweep = tmp_path / "sweep"
    done = subprocess.run([sys.executable, "explain.py", "-m", "xai=ism,ig", f"ckpt_path={tata_ckpt}", *EXPLAIN_DATA,
                           "explain.n=4", f"hydra.sweep.dir={sweep}"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {only_run(sweep / job).run.display_name: only_run(sweep / job).run for job in ("0", "1")}
    assert set(runs) == {f"explain-{m}-toy{TOY_START}-synthetic" for m in ("ism", "ig")}
    assert {r.run_group for r in runs.values()} == {str(sweep)}


# --- analyze -------------------------------------------------------------------------------------

@dataclass
class FakeReport:
    """What ``log_report`` reads of ``glmxai.report.Report`` once it is written."""

    out_dir: Path
    tables: dict
    figures: dict
    headline: list


def _report(out: Path) -> tuple[FakeReport, dict]:
    """A written report folder (report.html, tables/, figures/, summary.json) and its summary."""
    tables = {"runs": pd.DataFrame({"run": ["cnn/ism", "cnn/ig"], "auroc": [0.9, 0.8]})}
    (out / "tables").mkdir(parents=True)
    tables["runs"].to_csv(out / "tables" / "runs.csv", index=False)
    (out / "figures").mkdir()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    fig.savefig(out / "figures" / "curve.png")
    plt.close(fig)
    (out / "report.html").write_text("<!DOCTYPE html><html><body><h1>test report</h1></body></html>")
    report = FakeReport(out, tables, {"curve": out / "figures" / "curve.png"}, ["ISM recovers the planted motifs."])
    summary = {"inputs": ["a", "b"], "tss": 249, "audit": None, "report": str(out / "report.html"),
               "headline": report.headline,
               "runs": {"cnn/ism": {"faithfulness": {"deletion_aoc": 0.21, "significant": True},
                                    "ground_truth": {"auroc_mean": 0.93, "auprc_mean": float("nan"), "n": 7}},
                        "cnn/ig": {"faithfulness": {"deletion_aoc": 0.35, "curve": [0.5, 0.25]}}}}
    (out / "summary.json").write_text(json.dumps(summary))
    return report, summary


def test_analyze_report_logs_tables_figures_headline_scalars_and_the_report(tmp_path):
    report, summary = _report(tmp_path)
    folder = log_report(report, summary, project="glmxai", name="analyze", mode="offline",
                        config={"inputs": ["a", "b"], "seed": 42}, directory=tmp_path)
    wb = only_run(tmp_path)
    assert folder is not None and folder.parent == tmp_path / "wandb" and wb.exited
    assert (wb.run.job_type, wb.run.display_name) == ("analyze", "analyze") and wb.config["seed"] == 42
    assert wb.summary["runs/cnn/ism/faithfulness/deletion_aoc"] == 0.21
    assert wb.summary["runs/cnn/ig/faithfulness/deletion_aoc"] == 0.35
    assert wb.summary["runs/cnn/ism/ground_truth/auroc_mean"] == 0.93
    assert wb.summary["runs/cnn/ism/ground_truth/n"] == 7 and wb.summary["tss"] == 249
    assert wb.summary["runs/cnn/ig/faithfulness/curve/1"] == 0.25
    for skipped in ("inputs/0", "report", "audit", "runs/cnn/ism/faithfulness/significant",
                    "runs/cnn/ism/ground_truth/auprc_mean"):  # text, None, booleans, NaN
        assert skipped not in wb.summary, skipped
    assert wb.summary["headline/0"] == "ISM recovers the planted motifs."

    logged = {key for row in wb.history for key in row}
    assert {"tables/runs._type", "figures/curve._type", "report._type"} <= logged
    types = {key: value for row in wb.history for key, value in row.items() if key.endswith("._type")}
    assert types["tables/runs._type"] == "table-file" and types["figures/curve._type"] == "image-file"
    assert types["report._type"] == "html-file"
    reports = [a for a in wb.artifacts if a.type == "report"]
    assert len(reports) == 1
    assert {"report.html", "summary.json", "tables/runs.csv"} <= {entry.path for entry in reports[0].manifest.contents}


def test_analyze_wandb_failure_is_a_warning(tmp_path, monkeypatch, caplog):
    import wandb

    report, summary = _report(tmp_path)
    monkeypatch.setattr(wandb, "init", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("W&B is down")))
    with caplog.at_level(logging.WARNING):
        assert log_report(report, summary, directory=tmp_path) is None
    assert "W&B is down" in caplog.text and (tmp_path / "report.html").is_file()


def test_numeric_leaves_flattens_numbers_only():
    tree = {"a": {"b": 1, "c": [2.5, "x", None, True, math.inf]}, "d": np.float64(0.5), "e": np.int64(3)}
    assert numeric_leaves(tree) == {"a/b": 1, "a/c/0": 2.5, "d": 0.5, "e": 3}
