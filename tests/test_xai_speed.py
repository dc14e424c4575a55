"""Speed-ups that must not change results: fast ISM equals full ISM."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from glmxai.models.cnn import CNNBackbone
from glmxai.models.tokenizers import OneHotTokenizer
from glmxai.models.toys import MotifDetector
from glmxai.xai.model import CountingModel
from glmxai.xai.registry import build_method
from glmxai.xai.saturation_mutagenesis import ReceptiveFieldISM

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trained_looking_cnn(seed: int, **architecture) -> CNNBackbone:
    """A CNN with random weights and non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    backbone = CNNBackbone(OneHotTokenizer(), seq_len=300, **architecture)
    for module in backbone.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return backbone.eval()


@pytest.mark.parametrize("architecture", [
    {},  # the default CNN: kernels 15, 5; pools 4, 4
    {"channels": (8, 8, 8), "kernel_sizes": (7, 3, 9), "pool_sizes": (2, 3, 2), "hidden": 16},
    {"channels": (8,), "kernel_sizes": (21,), "pool_sizes": (5,), "hidden": 8},
])
def test_fast_ism_equals_full_ism(architecture):
    backbone = _trained_looking_cnn(0, **architecture)
    assert ReceptiveFieldISM.supports(backbone)
    codes = np.random.default_rng(1).integers(0, 4, size=(2, 300)).astype(np.int8)
    codes[1, [0, 1, 150, 299]] = 4  # N at both ends and inside: 4 alternatives there
    results = {}
    for fast in (False, True):
        model = CountingModel(backbone, batch_size=128)
        method = build_method({"name": "ism", "fast": fast}, model, tss=249)
        assert (method.receptive_field is not None) == fast
        probs = model.p_promoter(codes)
        results[fast] = [method.explain_one(c, p, np.random.default_rng(0)) for c, p in zip(codes, probs)]
        assert model.evaluations == len(codes) + sum(3 * 300 + (c == 4).sum() for c in codes)
    for full, fast in zip(results[False], results[True]):
        assert np.abs(full.arrays["delta"]).max() > 1e-3  # the mutants do change the prediction
        np.testing.assert_allclose(fast.arrays["delta"], full.arrays["delta"], rtol=0, atol=1e-6)
        np.testing.assert_allclose(fast.scores, full.scores, rtol=0, atol=1e-6)


def test_fast_ism_falls_back_to_full_evaluation_for_other_models():
    model = CountingModel(MotifDetector(OneHotTokenizer()))
    assert build_method({"name": "ism"}, model, tss=249).receptive_field is None
    backbone = _trained_looking_cnn(0, channels=(8,), kernel_sizes=(4,), pool_sizes=(2,), hidden=8)  # even kernel
    assert not ReceptiveFieldISM.supports(backbone)
