"""Cheaper forwards for p(promoter) (``explain.fast``): inference-only transforms of a backbone
that leave its predictions unchanged within ``TOLERANCE``.

A transform takes the backbone (in eval mode) and returns a function from model inputs
(``Backbone.encode``) to logits (B, 2), computed by a transformed copy or a transformed call;
the backbone itself is never changed, so gradient methods and attention maps keep the reference
path. ``FastForward.predict_proba`` replaces ``Backbone.predict_proba`` (same batching, same
softmax in float32).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from glmxai.models.base import Backbone

TOLERANCE = 1e-3  # largest |p_fast - p_reference| of p(promoter) a transform may cause


class FastForwardMismatch(RuntimeError):
    """A cheaper forward moved p(promoter) by more than ``TOLERANCE`` (the ``explain.fast`` guard)."""


Logits = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def compiled(backbone: Backbone) -> Logits:
    """``torch.compile`` (inductor) of the forward, batch size and token count dynamic; it
    compiles on the first call (6-25 s of one busy CPU core for the models measured)."""
    return torch.compile(backbone, dynamic=True)


# Transforms kept for some family (KEPT). Tried and dropped (docs/scale.md, "Cheaper forwards";
# benchmarks/fast_forward.py still measures them): bf16 autocast and dynamic int8 Linear (0.8-2.6x, but
# p(promoter) off by 2.6e-3 to 0.13 on every family), batch-norm folding (CNN) and a frozen TorchScript
# trace (exact to 1.6e-6, but below 1.1x on some checkpoint of every family).
CANDIDATES: dict[str, Callable[[Backbone], Logits]] = {"compile": compiled}

# The transform kept per backbone class: within TOLERANCE on the test split and a median speed-up of
# p(promoter) throughput >= 1.1x on every checkpoint of the family on an idle 2-core CPU, 2 torch threads
# (python benchmarks/fast_forward.py --threads 2, two runs; the shared-CPU runs at 1 thread agree).
# Figures: the idle runs' speed-ups; largest |p_fast - p_reference| on the test split (1000 sequences).
KEPT: dict[str, str] = {
    "DNABERT2Backbone": "compile",  # 1.11, 1.14x; 8.9e-07 (i_dnabert2, synthetic)
    "NTBackbone": "compile",        # 1.25, 1.27x; 3.6e-07 (d_nt, synthetic)
}
# Not kept, exact but short of 1.1x: compile on NT v2 (1.12, 1.02x idle), DNABERT (1.09, 1.12x idle; 1.09x on
# gdb4), HyenaDNA (1.09x), the CNN (1.06x, 0.96x); TorchScript freeze on the CNN (1.12x, 1.06x).


def kept_transform(backbone: Backbone) -> str | None:
    """The name of the transform kept for this backbone's family, None if there is none."""
    return KEPT.get(type(backbone).__name__)


class FastForward:
    """``Backbone.predict_proba`` through transform ``name`` (a ``CANDIDATES`` key, or any name
    with its ``transform`` given)."""

    def __init__(self, backbone: Backbone, name: str, transform: Callable[[Backbone], Logits] | None = None):
        if transform is None and name not in CANDIDATES:
            raise ValueError(f"unknown fast forward {name!r}; choose from {sorted(CANDIDATES)}")
        self.backbone, self.name = backbone.eval(), name
        self.logits = (transform or CANDIDATES[name])(self.backbone)

    def predict_proba(self, codes: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, 2) of integer codes (N, L): ``Backbone.predict_proba`` through the transform."""
        return self.backbone.predict_proba(codes, batch_size=batch_size, logits_of=self.logits)
