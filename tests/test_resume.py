"""Training survives a kill: ``python train.py ... hydra.run.dir=DIR`` killed (SIGKILL) after an
epoch and run again with the same command resumes from ``checkpoints/last.ckpt`` and ends where
a run never interrupted ends; a finished run folder is not trained again."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import QUIET, REPO_ROOT

COMMAND = [sys.executable, str(REPO_ROOT / "train.py"), "data=synthetic", "data.n_train=1500", "data.n_val=200",
           "data.n_test=200", "data.batch_size=32", "data.shift_augment=3", "model=cnn", "model.backbone.dropout=0.3",
           "logger=none", "trainer.max_epochs=3", *QUIET]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}


def _train(folder: Path, kill_after_checkpoint: bool = False) -> subprocess.CompletedProcess | None:
    command = [*COMMAND, f"hydra.run.dir={folder}"]
    if not kill_after_checkpoint:
        return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600, check=True)
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = folder / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return None


def test_a_killed_run_resumes_to_the_metrics_of_an_uninterrupted_one(tmp_path):
    _train(tmp_path / "whole")
    killed = tmp_path / "killed"
    _train(killed, kill_after_checkpoint=True)
    assert (killed / "checkpoints" / "last.ckpt").is_file() and not (killed / "metrics.json").exists()
    interrupted_at = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert interrupted_at < 2  # killed before its last epoch
    resumed = _train(killed)
    assert "resuming the interrupted run" in resumed.stderr + resumed.stdout
    assert not list(killed.rglob(".*.tmp")) and not list(killed.rglob("*.tmp"))

    whole = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    again = json.loads((killed / "metrics.json").read_text())
    assert again["epochs"] == whole["epochs"] == 3
    for key in ("test/acc", "test/f1", "test/mcc", "test/auroc", "test/loss"):
        assert again[key] == pytest.approx(whole[key], abs=1e-5), key
    weights = [torch.load(f / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
               for f in (tmp_path / "whole", killed)]
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=1e-4, atol=1e-5, msg=name)

    before = (killed / "metrics.json").read_bytes()
    finished = _train(killed)  # a finished run folder: its metrics are kept, nothing is trained
    assert "this run is finished already" in finished.stderr + finished.stdout
    assert (killed / "metrics.json").read_bytes() == before


def test_last_checkpoint_is_the_last_epoch_even_when_it_is_not_the_best(tmp_path):
    """ModelCheckpoint's own ``save_last`` writes ``last.ckpt`` only when a best is saved; with a
    learning rate of 0 no epoch beats the first, and ``last.ckpt`` must still hold the third, so a
    kill never makes a resumed run redo epochs."""
    from glmxai.api import train

    best = train(["data=synthetic", "data.n_train=64", "data.n_val=32", "data.n_test=32", "model=cnn",
                  "model.optimizer.lr=0.0", "trainer.max_epochs=3", *QUIET], tmp_path)
    assert torch.load(best, weights_only=True)["epoch"] == 0
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 2
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
