"""Scale: Lightning DDP on 2 CPU processes and Hydra's submitit launchers (docs/scale.md)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF_DIR, QUIET, REPO_ROOT, SMALL_DATA, compose_config


def _train(*overrides: str, multirun: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "train.py", *(["-m"] if multirun else []), *overrides]
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_ddp_on_two_cpu_processes_gathers_exact_test_metrics(tmp_path):
    """DDP trains on 2 processes; rank 0 writes metrics.json; with an odd-sized test split
    (which Lightning's default sampler would pad with a repeated row) the gathered metrics
    equal a single-process evaluation of the same checkpoint. The cheapest real run: one epoch
    of 160 sequences, in the default suite."""
    data = [*SMALL_DATA, "data.n_train=160", "data.n_val=61", "data.n_test=61"]
    _train("trainer=ddp", "trainer.devices=2", "trainer.max_epochs=1", *QUIET, *data, f"hydra.run.dir={tmp_path}")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["trainer"]["strategy"] == "ddp"
    assert Path(metrics["checkpoint"]).is_file()
    assert not list(tmp_path.glob("*.tmp"))

    from glmxai.jobs.train import run

    cfg = compose_config("train", ["train=false", f"ckpt_path={metrics['checkpoint']}", *QUIET, *data],
                         tmp_path / "single")
    single = run(cfg)
    for key in ("test/acc", "test/f1", "test/mcc", "test/auroc", "test/loss"):
        assert metrics[key] == pytest.approx(single[key], abs=1e-6), key


@pytest.mark.slow
def test_submitit_local_launcher_runs_each_job_of_a_multirun(tmp_path):
    _train("hydra/launcher=submitit_local", "trainer=debug", "seed=1,2", *QUIET, *SMALL_DATA,
           f"hydra.sweep.dir={tmp_path}", multirun=True)
    seeds = {json.loads((tmp_path / str(job) / "metrics.json").read_text())["config"]["seed"] for job in (0, 1)}
    assert seeds == {1, 2}
    assert list((tmp_path / ".submitit").glob("*/*_result.pkl")), "jobs did not go through submitit"


@pytest.mark.parametrize("name", ["ddp", "gpu", "debug"])
def test_trainer_configs_instantiate(name):
    import lightning as L
    from hydra.utils import instantiate

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", [f"trainer={name}", "logger=none"])
    assert cfg.trainer.max_epochs >= 1 and "_target_" in cfg.trainer
    if name == "gpu":
        assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
        return  # no GPU here to build it on
    trainer = instantiate(cfg.trainer, logger=False, default_root_dir=None)
    assert isinstance(trainer, L.Trainer)


def test_kmer_codes_path_equals_string_path():
    """DNABERT's table lookup (from codes, and from strings of one length) gives exactly the ids of
    tokenizing k-mer by k-mer through the vocabulary, with N-containing k-mers as [UNK] and for a
    vocabulary in another order."""
    import numpy as np
    import torch

    from glmxai.data.encoding import to_strings
    from glmxai.models.tokenizers import KmerTokenizer, VocabTokenizer

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(16, 40))
    codes[rng.random(codes.shape) < 0.05] = 4
    tokenizer = KmerTokenizer(k=3)
    shuffled = [*tokenizer.vocab[:5], *rng.permutation(tokenizer.vocab[5:])]
    for vocab in (tokenizer.vocab, shuffled):
        tokenizer._set_vocab(list(vocab))
        slow = VocabTokenizer.encode(tokenizer, to_strings(codes))  # k-mer by k-mer through the vocabulary
        for fast in (tokenizer.encode_codes(codes), tokenizer.encode(to_strings(codes))):
            assert fast.keys() == slow.keys()
            assert all(torch.equal(fast[key], slow[key]) for key in slow)
    assert (slow["input_ids"] == tokenizer.unk_token_id).any()


FAKE_SBATCH = """#!/bin/bash
# Fake sbatch: keep the script, run every array task in the background as SLURM would.
cp "$1" "$FAKE_SLURM_DIR/submitted.sh"
array=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\)%.*/\\1/p' "$1")
for task in $(seq 0 "${array:-0}"); do
  SLURM_JOB_ID=1000 SLURM_ARRAY_JOB_ID=1000 SLURM_ARRAY_TASK_ID=$task SLURM_NTASKS=1 SLURM_PROCID=0 \\
  SLURM_LOCALID=0 SLURM_NODEID=0 SLURM_JOB_NUM_NODES=1 SLURM_JOB_NODELIST=localhost SLURM_JOB_NAME=train \\
  bash "$1" > "$FAKE_SLURM_DIR/task$task.log" 2>&1 &
done
echo "Submitted batch job 1000"
"""
FAKE_SRUN = """#!/bin/bash
# Fake srun: drop srun's own options, run the command.
while [[ "$1" == --* ]]; do case "$1" in --output|--error) shift 2;; *) shift;; esac; done
exec "$@"
"""
FAKE_SACCT = """#!/bin/bash
echo "JobID|State|NodeList"
"""


@pytest.mark.slow
def test_slurm_launcher_submits_one_array_with_its_resources(tmp_path):
    """``hydra/launcher=slurm`` against fake sbatch/srun/sacct: one sbatch array of 2 tasks
    with the config's resources, whose tasks run the jobs."""
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"sbatch": FAKE_SBATCH, "srun": FAKE_SRUN, "sacct": FAKE_SACCT}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SLURM_DIR": str(tmp_path)}
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "train.py", "-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
           "trainer=debug", "seed=1,2", *QUIET, *SMALL_DATA, f"hydra.sweep.dir={sweep}"]
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    script = (tmp_path / "submitted.sh").read_text()
    for flag in ("--array=0-1%2", "--partition=gpu", "--gpus-per-node=1", "--cpus-per-task=8", "--mem=64GB",
                 "--time=720", "--ntasks-per-node=1", "--nodes=1"):
        assert f"#SBATCH {flag}\n" in script, flag
    seeds = {json.loads((sweep / str(job) / "metrics.json").read_text())["config"]["seed"] for job in (0, 1)}
    assert seeds == {1, 2}
