"""explain.fast: the kept cheaper forwards stay within 1e-3 of the model's own p(promoter), a job
through one gives the reference's attributions, the guard stops a job whose forward is off, and a
family with none kept is left alone."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from glmxai.jobs import explain as xai_job
from glmxai.models.classifier import SequenceClassifier
from glmxai.models.dnabert2 import DNABERT2Backbone
from glmxai.models.nt import NTBackbone
from glmxai.models.tokenizers import BPETokenizer, NTKmerTokenizer
from glmxai.predictor import BatchedPredictor
from glmxai.xai import fast_forward
from glmxai.xai.fast_forward import KEPT, TOLERANCE, FastForward, FastForwardMismatch

from conftest import SMALL_DATA, compose_config, random_sequences, save_checkpoint
from xai_toys import save_toy_checkpoint, trained_looking_cnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CNN_ARCHITECTURE = {"channels": [8, 8], "kernel_sizes": [7, 5], "pool_sizes": [4, 4], "hidden": 16}


def _bpe() -> BPETokenizer:
    tokenizer = BPETokenizer(vocab_size=40)
    tokenizer.fit(random_sequences(50, 60))
    return tokenizer


def _tiny(family: type, tokenizer):
    """A one-layer model of ``family``, random weights, eval mode, with the head of the checkpoints
    measured (flatten: position-wise over the 60 bases)."""
    torch.manual_seed(0)
    return family(tokenizer, config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1},
                  pooling="flatten", seq_len=60).eval()


# every family with a kept transform: a tiny model of it
TINY = {"DNABERT2Backbone": lambda: _tiny(DNABERT2Backbone, _bpe()),
        "NTBackbone": lambda: _tiny(NTBackbone, NTKmerTokenizer())}


def test_every_kept_transform_is_tested_here():
    assert set(KEPT) <= set(TINY)
    assert set(KEPT.values()) <= set(fast_forward.CANDIDATES)


@pytest.mark.parametrize("family", sorted(KEPT))
def test_kept_transform_within_tolerance(family):
    backbone = TINY[family]()
    assert fast_forward.kept_transform(backbone) == KEPT[family]
    codes = np.random.default_rng(0).integers(0, 4, size=(40, 60)).astype(np.int8)
    codes[10:14, :30] = 0  # a low-complexity stretch: fewer BPE tokens in that batch
    codes[20:22, :3] = 4  # N: other k-mer tokens
    reference = backbone.predict_proba(codes, batch_size=8)[:, 1]
    fast = FastForward(backbone, KEPT[family])
    # batches of other sizes (and token counts) than the first, which a compiled forward was built on
    p = np.concatenate([fast.predict_proba(codes[:8], batch_size=8), fast.predict_proba(codes[8:], batch_size=6)])
    assert np.abs(p[:, 1] - reference).max() <= TOLERANCE
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert reference.std() > 1e-4  # the inputs do move the prediction
    counts = {backbone.encode(codes[i : i + 6])["input_ids"].shape[1] for i in range(8, 40, 6)}
    assert family != "DNABERT2Backbone" or len(counts) > 1  # BPE: batches of different token counts


def in_float64(calls: list[int]):
    """A transform for the job's plumbing that is not the model's own forward: the backbone copied
    to float64 (other rounding than the float32 reference, far within the tolerance), counting the
    sequences it runs into ``calls``."""
    def transform(backbone):
        double = copy.deepcopy(backbone).double()

        def forward(inputs):
            calls.append(len(next(iter(inputs.values()))))
            return double({k: v.double() if v.is_floating_point() else v for k, v in inputs.items()}).float()
        return forward
    return transform


def _save_cnn_checkpoint(path: Path) -> Path:
    model_cfg = {"name": "tinycnn", "tokenizer": {"_target_": "glmxai.models.tokenizers.OneHotTokenizer"},
                 "backbone": {"_target_": "glmxai.models.cnn.CNNBackbone", **CNN_ARCHITECTURE}}
    return save_checkpoint(SequenceClassifier(trained_looking_cnn(**CNN_ARCHITECTURE), model_cfg=model_cfg), path)


def _run(out: Path, ckpt: Path, *overrides: str) -> dict:
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "explain.n=3", "explain.chunk_size=2",
                                     *overrides], out)
    return xai_job.run(cfg)


def test_fast_ism_job_equals_the_reference_job(tmp_path, monkeypatch):
    calls: list[int] = []
    monkeypatch.setitem(fast_forward.CANDIDATES, "float64", in_float64(calls))
    monkeypatch.setitem(fast_forward.KEPT, "CNNBackbone", "float64")
    ckpt = _save_cnn_checkpoint(tmp_path / "cnn.ckpt")
    # full ISM: every mutant goes through p_promoter (fastISM computes them from the network's layers)
    metas = {fast: _run(tmp_path / str(fast), ckpt, "xai=ism", "xai.fast=false", f"explain.fast={fast}")
             for fast in ("false", "true")}
    assert sum(calls) == 3 * (1 + 3 * 300)  # the unperturbed (the guard) and every mutant went through it
    reference, fast = (np.load(tmp_path / name / "attributions.npz") for name in ("false", "true"))
    np.testing.assert_array_equal(fast["probs"], reference["probs"])  # the unperturbed: the reference's own
    assert np.abs(reference["scores"]).max() > 1e-3
    assert not np.array_equal(fast["scores"], reference["scores"])  # the mutants took the other path
    np.testing.assert_allclose(fast["scores"], reference["scores"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "true" / "ism.npz")["delta"],
                               np.load(tmp_path / "false" / "ism.npz")["delta"], rtol=0, atol=1e-5)
    assert metas["false"]["fast_forward"] is None and metas["false"]["fast_forward_max_difference"] is None
    assert metas["true"]["fast_forward"] == "float64"
    assert 0 <= metas["true"]["fast_forward_max_difference"] <= 1e-5
    assert json.loads((tmp_path / "true" / "meta.json").read_text())["fast_forward"] == "float64"
    # the guard runs the unperturbed sequences both ways: one evaluation more per sequence
    assert metas["true"]["model_evaluations"] == metas["false"]["model_evaluations"] + 3


def test_guard_stops_a_job_whose_fast_forward_is_off(tmp_path, monkeypatch):
    def off(backbone):  # p(promoter) moved by about 0.01 (logit + 0.05 near p = 0.5)
        return lambda inputs: backbone(inputs) + torch.tensor([0.0, 0.05])

    monkeypatch.setitem(fast_forward.CANDIDATES, "off", off)
    monkeypatch.setitem(fast_forward.KEPT, "CNNBackbone", "off")
    ckpt = _save_cnn_checkpoint(tmp_path / "cnn.ckpt")
    with pytest.raises(FastForwardMismatch, match="explain.fast=false"):
        _run(tmp_path / "job", ckpt, "xai=ism", "explain.fast=true")
    assert not list((tmp_path / "job").glob("chunks/*.npz")) and not (tmp_path / "job" / "meta.json").exists()
    # and a forward off by less than the tolerance passes
    cnn = trained_looking_cnn(**CNN_ARCHITECTURE)
    model = BatchedPredictor(cnn, fast=FastForward(cnn, "off"))
    codes = np.random.default_rng(0).integers(0, 4, size=(4, 300)).astype(np.int8)
    assert model.fast_difference(codes)[1] > TOLERANCE
    monkeypatch.setitem(fast_forward.CANDIDATES, "off", lambda b: (lambda inputs: b(inputs) + torch.tensor([0, 1e-3])))
    assert 0 < BatchedPredictor(cnn, fast=FastForward(cnn, "off")).fast_difference(codes)[1] < TOLERANCE


@pytest.mark.parametrize("case", ["no kept transform", "gradient method"])
def test_fast_that_does_not_apply_changes_nothing(tmp_path, monkeypatch, case):
    calls: list[int] = []
    if case == "no kept transform":
        ckpt, method = save_toy_checkpoint(tmp_path / "toy.ckpt"), "xai=ism"  # MotifDetector: none kept
    else:  # IG reads gradients: the kept transform is not even built
        monkeypatch.setitem(fast_forward.CANDIDATES, "float64", in_float64(calls))
        monkeypatch.setitem(fast_forward.KEPT, "CNNBackbone", "float64")
        ckpt, method = _save_cnn_checkpoint(tmp_path / "cnn.ckpt"), "xai=ig"
    metas = {fast: _run(tmp_path / fast, ckpt, method, f"explain.fast={fast}") for fast in ("false", "true")}
    reference, fast = (np.load(tmp_path / name / "attributions.npz") for name in ("false", "true"))
    for key in reference.files:
        np.testing.assert_array_equal(fast[key], reference[key])
    assert metas["true"]["fast_forward"] is None and not calls
    assert metas["true"]["model_evaluations"] == metas["false"]["model_evaluations"]
