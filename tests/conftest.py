"""Shared fixtures: Hydra config composition and a small trained CNN checkpoint."""
from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hypothesis import HealthCheck, settings
from omegaconf import DictConfig, open_dict

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = str(REPO_ROOT / "conf")
GUE_ROOT = Path(os.environ.get("GLMXAI_GUE_ROOT", REPO_ROOT.parent / "shared/data/gue/prom_300_all"))
# Quiet Lightning output in tests that train.
QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
# A small, fast synthetic data set for tests (explain and analyze name no data by default).
SMALL_DATA = ["data=synthetic", "data.n_train=600", "data.n_val=200", "data.n_test=200", "data.batch_size=32"]


# The fuzz suite (tests/test_fuzz.py): a few cases of each kind from a fixed seed in every run; 1,000 of each
# under python -m pytest -m fuzz.
_FUZZ = {"deadline": None, "derandomize": True, "print_blob": True,
         "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]}
settings.register_profile("ci", max_examples=int(os.environ.get("GLMXAI_FUZZ_CI_EXAMPLES", 15)), **_FUZZ)
settings.register_profile("fuzz", max_examples=int(os.environ.get("GLMXAI_FUZZ_EXAMPLES", 1000)), **_FUZZ)


def pytest_configure(config):
    """The fuzz profile when the run selects the fuzz marker (-m fuzz), else the short fixed-seed one."""
    selected = (config.getoption("markexpr", "") or "").replace("not fuzz", "")
    settings.load_profile("fuzz" if "fuzz" in selected else "ci")


def save_checkpoint(module, path: Path, data: dict | None = None) -> Path:
    """``module`` (a ``SequenceClassifier``) saved as ``train.py``'s checkpoints carry it: its
    hyper-parameters (``data``: a training-data record instead of its own), weights and the
    tokenizer's state (``on_save_checkpoint``); loadable by ``load_classifier``."""
    import torch

    checkpoint = {"hyper_parameters": {**module.hparams, **({"data": data} if data is not None else {})},
                  "state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def random_sequences(n: int, length: int, seed: int = 0) -> list[str]:
    """``n`` uniform random ACGT strings of ``length`` bp, from their own seeded generator."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` as the command line would, with the run folder
    set to ``output_dir`` (Hydra's runtime resolver is not available outside a job)."""
    if config_name == "explain" and not any(o.startswith("logger") for o in overrides):
        overrides = [*overrides, "logger=none"]  # W&B runs only where a test asks for them
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        choices = cfg.hydra.runtime.choices
        if cfg.get("logger") and cfg.logger.get("wandb"):
            cfg.logger.wandb.name = f"test-{choices.get('model')}-{choices.get('data')}"
        del cfg.hydra
    return cfg


@pytest.fixture
def command(tmp_path, monkeypatch):
    """Runs ``python <script> <args>`` in-process with ``tmp_path`` as the working folder (and one
    torch thread, restored afterwards)."""
    import torch

    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def run(script: str, *args: str) -> None:
        monkeypatch.setattr(sys, "argv", [script, *args])
        runpy.run_path(str(REPO_ROOT / script), run_name="__main__")

    yield run
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tests with one torch thread (explanations: many small batched calls)."""
    import torch

    threads = torch.get_num_threads()
    import torch

    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def trained_cnn(tmp_path_factory) -> Path:
    """Path to the best checkpoint of a CNN trained briefly on small synthetic data."""
    from glmxai.jobs.train import run

    out = tmp_path_factory.mktemp("cnn_run")
    cfg = compose_config("train", ["model=cnn", "logger=none", "trainer.max_epochs=3",
                                   "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false",
                                   *SMALL_DATA], out)
    metrics = run(cfg)
    return Path(metrics["checkpoint"])


@pytest.fixture(scope="session")
def gue_root() -> Path:
    """The real GUE prom_300_all subset beside the checkout (``../shared``), or skip."""
    if not (GUE_ROOT / "train.csv").is_file():
        pytest.skip(f"GUE data not found at {GUE_ROOT} (set GLMXAI_GUE_ROOT)")
    return GUE_ROOT
