"""Test helpers around the known-answer toy models of ``glmxai.models.toys``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from glmxai.data.encoding import to_codes
from glmxai.models.classifier import SequenceClassifier
from glmxai.models.cnn import CNNBackbone
from glmxai.models.tokenizers import OneHotTokenizer
from glmxai.models.toys import LENGTH, MOTIF, START, MotifDetector

from conftest import save_checkpoint


def trained_looking_cnn(seed: int = 0, seq_len: int = 300, **architecture) -> CNNBackbone:
    """A CNN with random weights and non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(seed)
    backbone = CNNBackbone(OneHotTokenizer(), seq_len=seq_len, **architecture)
    for module in backbone.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return backbone.eval()


def toy_sequences(n: int, seed: int = 0, length: int = LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Random codes (n, L) with the motif planted at START in the first half; labels (n,)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.int8)
    labels = (np.arange(n) < n // 2).astype(np.int64)
    codes[labels == 1, START : START + len(MOTIF)] = to_codes(MOTIF)
    return codes, labels


def save_toy_checkpoint(path: Path, start: int = START) -> Path:
    """A glmxai checkpoint of the one-hot toy, loadable by ``load_classifier``."""
    model_cfg = {"name": f"toy{start}", "tokenizer": {"_target_": "glmxai.models.tokenizers.OneHotTokenizer"},
                 "backbone": {"_target_": "glmxai.models.toys.MotifDetector", "seq_len": LENGTH, "start": start}}
    return save_checkpoint(SequenceClassifier(MotifDetector(OneHotTokenizer(), start=start), model_cfg=model_cfg), path)


