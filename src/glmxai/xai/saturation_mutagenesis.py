"""In-silico saturation mutagenesis (ISM): every position x its 3 alternative bases
(4 at an ``N``), all single mutants evaluated in one batched call.

Score of position i: f(x) - mean over alternatives b of f(x with i -> b), i.e. how much the
observed base supports the promoter class, where f is p(promoter) (``link: identity``) or the
promoter log-odds (``link: logit``: a saturated model, p = 0.99999, still shows how much each
base moves it). Extra array ``delta`` (4, L): f(mutant) - f(x) for base b at position i (0 at the
observed base), written to ``ism.npz``.

``fast`` (default): on the CNN (``CNNBackbone``), each mutant recomputes only the part of every
conv block that its substitution can change (fastISM, Nair et al. 2022), with the same results
to float rounding; other models run every mutant in full.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from glmxai.data.encoding import codes_to_one_hot
from glmxai.models.cnn import CNNBackbone
from glmxai.predictor import BatchedPredictor, promoter_log_odds
from glmxai.xai.perturbation import score_units_of
from glmxai.xai.records import Attribution
from glmxai.xai.registry import Method, register


def single_mutants(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All single-base substitutions of ``codes`` (L,) to A/C/G/T: mutants (M, L), and for each
    its position (M,) and new base (M,)."""
    positions, bases = np.nonzero(np.arange(4)[None, :] != codes[:, None])  # (L, 4) grid, observed base left out
    mutants = np.repeat(codes[None, :], len(positions), axis=0)
    mutants[np.arange(len(positions)), positions] = bases
    return mutants, positions, bases


class ReceptiveFieldISM:
    """fastISM (Nair et al. 2022) for ``CNNBackbone``: a substitution changes only a window of
    each conv block's output (conv, batch norm, ReLU, max-pool), so each mutant recomputes
    that window alone from the unmutated activations, and the dense head in full.
    ``supports(backbone)``: whether the model has that structure."""

    def __init__(self, backbone: CNNBackbone):
        self.backbone = backbone
        self.blocks = [tuple(backbone.convs[i : i + 4]) for i in range(0, len(backbone.convs), 4)]

    @staticmethod
    def supports(backbone) -> bool:
        if not isinstance(backbone, CNNBackbone) or len(backbone.convs) % 4:
            return False
        for i in range(0, len(backbone.convs), 4):
            conv, norm, relu, pool = backbone.convs[i : i + 4]
            k = conv.kernel_size[0]
            if not (isinstance(conv, nn.Conv1d) and isinstance(norm, nn.BatchNorm1d) and isinstance(relu, nn.ReLU)
                    and isinstance(pool, nn.MaxPool1d) and k % 2 == 1 and conv.padding == (k // 2,)
                    and conv.stride == (1,) and conv.dilation == (1,) and conv.groups == 1
                    and pool.kernel_size == pool.stride and pool.padding == 0 and pool.dilation == 1
                    and not pool.ceil_mode):
                return False
        return True

    @torch.inference_mode()
    def logits(self, codes: np.ndarray, positions: np.ndarray, bases: np.ndarray, batch_size: int) -> np.ndarray:
        """Logits (M, 2) of the mutants of ``codes`` (L,) with ``bases`` (M,) at ``positions`` (M,)."""
        was_training = self.backbone.training
        self.backbone.eval()
        try:
            device = next(self.backbone.parameters()).device
            activations = [codes_to_one_hot(codes[None, :]).to(device)]
            for block in self.blocks:
                activations.append(nn.Sequential(*block)(activations[-1]))
            out = [self._batch(activations, torch.as_tensor(positions[s : s + batch_size], device=device),
                               torch.as_tensor(bases[s : s + batch_size], device=device))
                   for s in range(0, len(positions), batch_size)]
        finally:
            self.backbone.train(was_training)
        return np.concatenate(out)

    def _batch(self, activations: list[torch.Tensor], positions: torch.Tensor, bases: torch.Tensor) -> np.ndarray:
        window = torch.nn.functional.one_hot(bases.long(), 4).float()[:, :, None]  # (B, 4, 1): the new base
        start = positions.long()  # first position of ``window`` in the block's input
        for (conv, norm, relu, pool), before, after in zip(self.blocks, activations, activations[1:]):
            pad, stride, length = conv.padding[0], pool.stride, after.shape[-1]
            width = min((window.shape[-1] + 2 * pad + stride - 2) // stride + 1, length)  # changed pooled outputs
            out_start = ((start - pad).clamp(min=0) // stride).clamp(max=length - width)
            span = width * stride + 2 * pad  # block inputs that those outputs read, in padded coordinates
            index = out_start[:, None] * stride + torch.arange(span, device=start.device)  # (B, span)
            padded = torch.nn.functional.pad(before[0], (pad, pad))  # (C, L + 2 pad)
            inputs = padded[:, index].permute(1, 0, 2).clone()  # (B, C, span)
            offset = start[:, None] + pad - index[:, :1] + torch.arange(window.shape[-1], device=start.device)
            inside = (offset >= 0) & (offset < span)  # changed inputs this window reads
            rows = torch.arange(len(start), device=start.device)[:, None].expand_as(offset)
            inputs.permute(0, 2, 1)[rows[inside], offset[inside]] = window.permute(0, 2, 1)[inside]
            hidden = torch.nn.functional.conv1d(inputs, conv.weight, conv.bias)
            window, start = pool(relu(norm(hidden))), out_start
        final = activations[-1].expand(len(start), -1, -1).clone()
        index = start[:, None] + torch.arange(window.shape[-1], device=start.device)
        final.permute(0, 2, 1)[torch.arange(len(start), device=start.device)[:, None], index] = window.permute(0, 2, 1)
        return self.backbone.head(final).float().cpu().numpy()


@register("ism")
class SaturationMutagenesis(Method):
    """L x 3 model evaluations per sequence; fast: receptive-field recomputation on the CNN."""

    def __init__(self, model: BatchedPredictor, tss: int, fast: bool = True, link: str = "identity"):
        super().__init__(model, tss)
        self.link, self.score_units = link, score_units_of(link)
        self.receptive_field = ReceptiveFieldISM(model.backbone) \
            if fast and ReceptiveFieldISM.supports(model.backbone) else None

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        mutants, positions, bases = single_mutants(codes)
        delta = np.zeros((4, len(codes)), dtype=np.float64)
        reference = prob if self.link == "identity" else self.model.promoter_logit_and_p(codes[None])[0][0]
        delta[bases, positions] = self._outputs(codes, mutants, positions, bases) - reference
        n_alternatives = np.bincount(positions, minlength=len(codes))
        scores = -delta.sum(axis=0) / n_alternatives
        return Attribution(scores.astype(np.float32), arrays={"delta": delta.astype(np.float32)})

    def _outputs(self, codes: np.ndarray, mutants: np.ndarray, positions: np.ndarray, bases: np.ndarray) -> np.ndarray:
        """The explained output (M,) float64 of the ``mutants`` (M, L) of ``codes`` (L,) with ``bases`` (M,)
        at ``positions`` (M,): p(promoter) or its log-odds; on the CNN computed by receptive field."""
        if self.receptive_field is None:
            logit, p = self.model.promoter_logit_and_p(mutants)
            return logit if self.link == "logit" else p
        self.model.evaluations += len(mutants)
        logits = self.receptive_field.logits(codes, positions, bases, self.model.batch_size)
        probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
        return promoter_log_odds(probs) if self.link == "logit" else probs[:, 1].astype(np.float64)
