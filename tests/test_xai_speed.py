"""Speed-ups that must not change results: fast ISM equals full ISM; the batch size of the
model calls changes no attribution beyond float rounding."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from glmxai.models.nt import NTBackbone
from glmxai.models.tokenizers import NTKmerTokenizer, OneHotTokenizer
from glmxai.models.toys import MotifDetector
from glmxai.predictor import BatchedPredictor
from glmxai.xai.registry import build_method
from glmxai.xai.saturation_mutagenesis import ReceptiveFieldISM

from xai_toys import trained_looking_cnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("architecture", [
    {},  # the default CNN: kernels 15, 5; pools 4, 4
    {"channels": (8, 8, 8), "kernel_sizes": (7, 3, 9), "pool_sizes": (2, 3, 2), "hidden": 16},
    {"channels": (8,), "kernel_sizes": (21,), "pool_sizes": (5,), "hidden": 8},
])
@pytest.mark.parametrize("link", ["identity", "logit"])
def test_fast_ism_equals_full_ism(architecture, link):
    backbone = trained_looking_cnn(0, **architecture)
    assert ReceptiveFieldISM.supports(backbone)
    codes = np.random.default_rng(1).integers(0, 4, size=(2, 300)).astype(np.int8)
    codes[1, [0, 1, 150, 299]] = 4  # N at both ends and inside: 4 alternatives there
    results = {}
    for fast in (False, True):
        model = BatchedPredictor(backbone, batch_size=128)
        method = build_method({"name": "ism", "fast": fast, "link": link}, model, tss=249)
        assert (method.receptive_field is not None) == fast
        probs = model.p_promoter(codes)
        results[fast] = [method.explain_one(c, p, np.random.default_rng(0)) for c, p in zip(codes, probs)]
        reference_calls = 2 if link == "logit" else 1  # the log-odds of x is evaluated again, at full precision
        assert model.evaluations == reference_calls * len(codes) + sum(3 * 300 + (c == 4).sum() for c in codes)
    atol = 1e-6 if link == "identity" else 1e-4  # log-odds are O(1-10), p is in [0, 1]
    for full, fast in zip(results[False], results[True]):
        assert np.abs(full.arrays["delta"]).max() > 1e-3  # the mutants do change the prediction
        np.testing.assert_allclose(fast.arrays["delta"], full.arrays["delta"], rtol=0, atol=atol)
        np.testing.assert_allclose(fast.scores, full.scores, rtol=0, atol=atol)


def test_fast_ism_falls_back_to_full_evaluation_for_other_models():
    model = BatchedPredictor(MotifDetector(OneHotTokenizer()))
    assert build_method({"name": "ism"}, model, tss=249).receptive_field is None
    backbone = trained_looking_cnn(0, channels=(8,), kernel_sizes=(4,), pool_sizes=(2,), hidden=8)  # even kernel
    assert not ReceptiveFieldISM.supports(backbone)


# anchors are left out: on these random models their rule is empty and every score 0
BUDGETS = {"ism": {"fast": False}, "ig": {"n_steps": 12}, "lime": {"num_samples": 120}, "shap": {"n_backgrounds": 2}}


def _tiny_nt(codes: np.ndarray) -> NTBackbone:
    """A one-layer NT whose promoter probability varies by a few percent between sequences, around
    0.5 on ``codes``: untrained, its outputs differ by ~1e-5, at the float32 resolution of p
    (~6e-8 near 0.5), where no attribution is more than rounding. Its head is scaled 300-fold and
    centred instead."""
    torch.manual_seed(0)
    backbone = NTBackbone(NTKmerTokenizer(), config={"hidden_size": 32, "intermediate_size": 64,
                                                     "num_hidden_layers": 1}, seq_len=300).eval()
    head = backbone.model.classifier.out_proj
    with torch.no_grad():
        head.weight.mul_(300)
        head.bias.mul_(300)
        logits = backbone(backbone.encode(codes))
        head.bias[1] -= (logits[:, 1] - logits[:, 0]).mean()
    return backbone


@pytest.mark.parametrize("name", sorted(BUDGETS))
@pytest.mark.parametrize("family", ["cnn", "nt"])
def test_batch_size_of_model_calls_changes_no_attribution(name, family):
    """Each method on a one-hot and a token model, with model calls of 7 sequences and of 512:
    the same scores to float rounding (rngs are per sequence, so only the batching differs).
    Rounding: batched matmuls sum in an order that depends on the batch size, so each p(promoter)
    may move by a few float32 steps (1.2e-7 at 1, 6e-8 at 0.5); a score is a sum of such
    differences. The tolerance is 1e-4 of the largest score, never below 16 float32 steps at 1,
    and the scores must be 50 times larger than that floor for the comparison to mean anything."""
    codes = np.random.default_rng(3).integers(0, 4, size=(2, 300)).astype(np.int8)
    backbone = trained_looking_cnn(2) if family == "cnn" else _tiny_nt(codes)
    floor = 16 * float(np.finfo(np.float32).eps)
    results = []
    for batch_size in (7, 512):
        model = BatchedPredictor(backbone, batch_size=batch_size)
        method = build_method({"name": name, **BUDGETS[name]}, model, tss=249)
        probs = model.p_promoter(codes)
        results.append(method.explain(codes, probs, [np.random.default_rng([0, i]) for i in range(len(codes))]))
    for small, large in zip(*results):
        scale = np.abs(large.scores).max()
        assert scale > 50 * floor  # real signal, far above float32 resolution
        np.testing.assert_allclose(small.scores, large.scores, rtol=1e-4, atol=max(1e-4 * scale, floor))
