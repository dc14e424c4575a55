"""Integrated gradients (captum) of p(promoter) along the model's differentiable path.

One-hot models (``OneHotTokenizer``): IG on the one-hot input (1, 4, L); a nucleotide's score
is the sum over its 4 channels. Token models: IG on the input embeddings (1, T, D); a token's
score (sum over D) is shared equally by the nucleotides of its ``token_spans`` interval (a
nucleotide in several overlapping k-mers sums their shares); special tokens get none.

Baselines: ``auto`` (default): ``expected`` for one-hot models and models of single-nucleotide
tokens (HyenaDNA), ``zeros`` for k-mer and BPE token models (measured best on each: docs/explain.md,
docs/scale.md "Decoys"; BPE backgrounds do not tokenise to the sequence's shape); ``expected``:
expected gradients (Erion et al. 2021; captum ``GradientShap``): ``n_steps`` samples, each a random
point on the path from a random one of ``n_steps`` background sequences (token models only when the
backgrounds tokenise to the sequence's shape); ``zeros``: all-``N`` one-hot, or zero embeddings for
the nucleotide tokens with special tokens kept; ``background``: the mean of IG from ``n_backgrounds`` backgrounds.
Completeness: scores sum to about p(x) - p(baseline) (in expectation for ``expected``).

``gradient_correction`` (one-hot models, ``baseline=zeros``): the gradient at every path point
has its mean over the 4 channels of each position removed before it is multiplied by the input
difference (Majdandzic et al. 2023). With a one-hot baseline the input difference sums to 0 over
the channels, so the correction cannot change a nucleotide's score: it is refused there.
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import GradientShap, IntegratedGradients

from glmxai.data import shuffling as bg
from glmxai.data.encoding import to_strings
from glmxai.models.tokenizers import CharTokenizer, OneHotTokenizer
from glmxai.options import SIZE, Number
from glmxai.predictor import BatchedPredictor
from glmxai.xai.features import spread
from glmxai.xai.records import Attribution
from glmxai.xai.registry import Method, numpy_global_seed, register

BASELINES = ("auto", "expected", "zeros", "background")


def channel_centred(one_hot: torch.Tensor) -> torch.Tensor:
    """The same values as ``one_hot`` (B, 4, L) whose gradient is the incoming gradient minus its
    mean over the 4 channels of each position (the one-hot gradient correction)."""
    mean = one_hot.mean(dim=1, keepdim=True)
    return one_hot - mean + mean.detach()


@register("ig")
class IntegratedGradientsMethod(Method):
    """n_steps: points on the path per baseline (model evaluations, each forward + backward; for
    ``expected``: samples and backgrounds in all); null: 100 samples for ``expected``, 50 points
    for a path baseline (on the synthetic DNABERT, 50 and 100 points give the same ground-truth
    AUROC, 0.995, at half the cost; expected gradients on the CNN gain from 100); baseline:
    ``auto`` | ``expected`` | ``zeros`` | ``background``; background: the kind for ``expected``
    and ``background``; n_backgrounds: for ``background``; gradient_correction: remove the
    channel mean of one-hot gradients."""

    reads_predictions = False
    numbers = {"n_steps": Number(low=1, optional=True), "n_backgrounds": SIZE}

    def __init__(self, model: BatchedPredictor, tss: int, n_steps: int | None = None, baseline: str = "auto",
                 background: str = "dinuc_shuffle", n_backgrounds: int = 4, gradient_correction: bool = False):
        super().__init__(model, tss)
        if baseline not in BASELINES:
            raise ValueError(f"unknown ig baseline {baseline!r}; expected one of {BASELINES}")
        bg.check_background(background, n_backgrounds)
        self.one_hot = isinstance(model.backbone.tokenizer, OneHotTokenizer)
        if baseline == "auto":
            baseline = "expected" if self.one_hot or isinstance(model.backbone.tokenizer, CharTokenizer) else "zeros"
        if n_steps is None:
            n_steps = 100 if baseline == "expected" else 50
        if n_steps < 1:
            raise ValueError(f"ig needs n_steps >= 1, got {n_steps}")
        self.n_steps, self.baseline = n_steps, baseline
        self.background, self.n_backgrounds = background, n_backgrounds
        if gradient_correction and not (self.one_hot and baseline == "zeros"):
            raise ValueError("ig gradient_correction needs a one-hot model and xai.baseline=zeros (with a one-hot "
                             "baseline it cannot change the scores; token embeddings have no one-hot constraint)")
        self.gradient_correction = gradient_correction

    def _embed(self, codes: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        with torch.no_grad():
            inputs = self.model.backbone.encode(codes)
            return self.model.backbone.input_embeddings(inputs).detach(), inputs

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        embeddings, inputs = self._embed(codes[None, :])
        spans = None if self.one_hot else self.model.backbone.tokenizer.token_spans(to_strings(codes))[0]
        if self.baseline == "zeros":
            baselines = torch.zeros_like(embeddings)
            if spans is not None:  # keep special tokens, zero the nucleotide tokens
                special = (spans[:, 0] < 0).to(embeddings.device)
                baselines[0, special] = embeddings[0, special]
        else:
            n_backgrounds = self.n_steps if self.baseline == "expected" else self.n_backgrounds
            baselines, _ = self._embed(bg.make_backgrounds(codes, self.background, n_backgrounds, rng))
            if baselines.shape[1:] != embeddings.shape[1:]:
                raise ValueError(f"ig baseline={self.baseline}: the background tokenises to shape "
                                 f"{tuple(baselines.shape[1:])} but the sequence to {tuple(embeddings.shape[1:])}; "
                                 "use xai.baseline=zeros")
        n = len(baselines)
        keys = sorted(inputs)

        def forward(emb: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
            if self.gradient_correction:
                emb = channel_centred(emb)
            return self.model.p_promoter_embeddings(emb, dict(zip(keys, tensors)))

        if self.baseline == "expected":
            with numpy_global_seed(rng):  # captum draws the backgrounds and path points with numpy
                attributions = GradientShap(forward).attribute(
                    embeddings, baselines=baselines, n_samples=self.n_steps,
                    additional_forward_args=tuple(inputs[k] for k in keys))
        else:
            attributions = IntegratedGradients(forward).attribute(
                embeddings.expand(n, *embeddings.shape[1:]).contiguous(), baselines=baselines,
                additional_forward_args=tuple(inputs[k].expand(n, *inputs[k].shape[1:]).contiguous() for k in keys),
                n_steps=self.n_steps, internal_batch_size=self.model.batch_size)
        attributions = attributions.detach().mean(dim=0).cpu().numpy()  # (4, L) or (T, D)
        if self.one_hot:
            return Attribution(attributions.sum(axis=0).astype(np.float32))
        return Attribution(spread(attributions.sum(axis=-1), spans.cpu().numpy(), len(codes)))
