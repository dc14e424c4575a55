"""Integrated gradients (captum) of p(promoter) along the model's differentiable path.

One-hot models (``OneHotTokenizer``): IG on the one-hot input (1, 4, L); a nucleotide's score
is the sum over its 4 channels. Token models: IG on the input embeddings (1, T, D); a token's
score (sum over D) is shared equally by the nucleotides of its ``token_spans`` interval (a
nucleotide in several overlapping k-mers sums their shares); special tokens get none.

Baselines: ``zeros`` (default): all-``N`` one-hot, or zero embeddings for the nucleotide
tokens with special tokens kept; ``background``: the mean of IG from ``n_backgrounds``
background sequences (token models only when the background tokenises to the same shape).
Completeness: scores sum to about p(x) - p(baseline).
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import IntegratedGradients

from glmxai.data.encoding import to_strings
from glmxai.models.tokenizers import OneHotTokenizer
from glmxai.xai import background as bg
from glmxai.xai.features import spread
from glmxai.xai.model import CountingModel
from glmxai.xai.records import Attribution
from glmxai.xai.registry import Method, register

BASELINES = ("zeros", "background")


@register("ig")
class IntegratedGradientsMethod(Method):
    """n_steps: points on the path (model evaluations per baseline, each forward + backward);
    baseline: ``zeros`` | ``background``; background, n_backgrounds: for ``baseline=background``."""

    def __init__(self, model: CountingModel, tss: int = 249, n_steps: int = 50, baseline: str = "zeros",
                 background: str = "dinuc_shuffle", n_backgrounds: int = 4):
        super().__init__(model, tss)
        if baseline not in BASELINES:
            raise ValueError(f"unknown ig baseline {baseline!r}; expected one of {BASELINES}")
        bg.check_background(background, n_backgrounds)
        self.n_steps, self.baseline = n_steps, baseline
        self.background, self.n_backgrounds = background, n_backgrounds
        self.one_hot = isinstance(model.backbone.tokenizer, OneHotTokenizer)

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
            baselines, _ = self._embed(bg.make_backgrounds(codes, self.background, self.n_backgrounds, rng))
            if baselines.shape[1:] != embeddings.shape[1:]:
                raise ValueError(f"ig baseline=background: the background tokenises to shape "
                                 f"{tuple(baselines.shape[1:])} but the sequence to {tuple(embeddings.shape[1:])}; "
                                 "use xai.baseline=zeros")
        n = len(baselines)
        keys = sorted(inputs)

        def forward(emb: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model.p_promoter_embeddings(emb, dict(zip(keys, tensors)))

        ig = IntegratedGradients(forward)
        attributions = ig.attribute(embeddings.expand(n, *embeddings.shape[1:]).contiguous(), baselines=baselines,
                                    additional_forward_args=tuple(inputs[k].expand(n, *inputs[k].shape[1:]).contiguous()
                                                                  for k in keys),
                                    n_steps=self.n_steps, internal_batch_size=self.model.batch_size)
        attributions = attributions.detach().mean(dim=0).cpu().numpy()  # (4, L) or (T, D)
        if self.one_hot:
            return Attribution(attributions.sum(axis=0).astype(np.float32))
        return Attribution(spread(attributions.sum(axis=-1), spans.cpu().numpy(), len(codes)))
