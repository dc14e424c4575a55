"""Attention maps as an explanation (``xai=attention``) for the transformers: ``dnabert``,
``dnabert2``, ``nt`` and ``nt2``. Models without attention (CNN, HyenaDNA) are refused by name.

Per layer, the heads are first reduced (``heads``: ``sum``, ``mean`` or the sum over a list of
head indices) to one (T, T) map A, rows = queries, columns = keys. Then, by ``mode``:

- ``cls_row`` (DNABERT-viz, Ji et al. 2021, ``run_finetune.py --do_visualize``): the [CLS]
  token's row of A, i.e. how much [CLS] attends to each token, summed over the chosen layers
  (DNABERT-viz: the last layer, heads summed).
- ``rollout`` (Abnar & Zuidema 2020, "Quantifying attention flow in transformers"): each chosen
  layer's A is row-normalised, the residual connection added as ``0.5 A + 0.5 I``, and the
  layers multiplied in order, ``A_last ... A_first``; the [CLS] row of the product says how much
  of [CLS]'s last representation flows from each input token.

``query=mean`` reads the mean over every real token's row instead of the [CLS] row: the
attention each token receives on average, for models whose head does not read [CLS]
(``pooling: mean`` or ``flatten``). ``layer``: ``last``, ``all``, a layer index or a list of them
(0 = first, negative from the end); null = ``last`` for ``cls_row``, ``all`` for ``rollout``.

Token scores go to nucleotides as DNABERT-viz spreads k-mers: each token's score is added to
every base it covers (``token_spans``), and each base divided by the number of tokens covering
it (the mean over its k-mers); special and padding tokens get no score. As in DNABERT-viz the
per-sequence vector is then divided by its L2 norm. Scores are non-negative and carry no
direction (``signed`` False); one attention pass is one model evaluation per sequence.
"""
from __future__ import annotations

import numpy as np
import torch

from glmxai.data.encoding import to_strings
from glmxai.models.base import Backbone
from glmxai.options import SIZE
from glmxai.predictor import BatchedPredictor
from glmxai.xai.records import Attribution
from glmxai.xai.registry import Method, known_methods, register

MODES = ("cls_row", "rollout")
QUERIES = ("cls", "mean")
HEAD_REDUCTIONS = ("sum", "mean")
LAYER_CHOICES = ("last", "all")


def has_attention(backbone: Backbone) -> bool:
    """True if the backbone implements ``attention_probabilities`` (the transformers)."""
    return type(backbone).attention_probabilities is not Backbone.attention_probabilities


def spread_mean(token_scores: np.ndarray, spans: np.ndarray, length: int) -> np.ndarray:
    """DNABERT-viz's k-mer -> nucleotide mapping: token scores (T,) over spans (T, 2) ->
    per-base scores (L,) float64, each base the mean score of the tokens covering it (0 where
    none does); spans with start < 0 (special and padding tokens) are skipped."""
    totals, counts = np.zeros(length), np.zeros(length)
    for (start, end), score in zip(spans, token_scores):
        if start >= 0 and end > start:
            totals[start:end] += score
            counts[start:end] += 1
    return np.divide(totals, counts, out=np.zeros(length), where=counts > 0)


def _index_list(value, name: str, allowed: tuple[str, ...]) -> str | list[int]:
    """A choice of ``allowed``, or indices: one integer or a non-empty list of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, str):
        if value not in allowed:
            raise ValueError(f"xai.{name} must be one of {allowed} or a list of indices, got {value!r}")
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(i, int) and not isinstance(i, bool)
                                                          for i in value):
        return list(value)
    raise ValueError(f"xai.{name} must be one of {allowed} or a non-empty list of integer indices, got {value!r}")


def _resolve(indices: list[int], count: int, key: str, noun: str) -> list[int]:
    """Indices (negative from the end) -> sorted distinct indices in [0, count); ValueError if out of range."""
    bad = [i for i in indices if not -count <= i < count]
    if bad:
        raise ValueError(f"xai.{key}={indices}: {bad} out of range, the model has {count} {noun}s "
                         f"(0..{count - 1}, or negative from the end)")
    return sorted({i % count for i in indices})


@register("attention")
class AttentionMethod(Method):
    """mode: ``cls_row`` | ``rollout``; layer: ``last`` | ``all`` | an index or a list of them |
    None (the mode's default); heads: ``sum`` | ``mean`` | head indices (summed); query: ``cls`` |
    ``mean``; batch_size: sequences per attention pass (every layer's (heads, T, T) maps are
    held at once)."""

    score_units = "attention (non-negative, L2-normalised per sequence; importance without a direction)"
    signed = False
    reads_predictions = False
    numbers = {"batch_size": SIZE}

    def __init__(self, model: BatchedPredictor, tss: int, mode: str = "cls_row", layer=None, heads="sum",
                 query: str = "cls", batch_size: int = 16):
        super().__init__(model, tss)
        if not has_attention(model.backbone):
            others = ", ".join(m for m in known_methods() if m != "attention")
            raise ValueError(f"xai=attention reads a transformer's attention maps, but {type(model.backbone).__name__} "
                             f"has no attention layers; explain it with {others}, or explain a dnabert, dnabert2, "
                             "nt or nt2 checkpoint with attention")
        if mode not in MODES:
            raise ValueError(f"xai.mode must be one of {MODES}, got {mode!r}")
        if query not in QUERIES:
            raise ValueError(f"xai.query must be one of {QUERIES}, got {query!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"xai.batch_size must be a positive integer, got {batch_size!r}")
        if layer is None:
            layer = "last" if mode == "cls_row" else "all"
        self.mode, self.query, self.batch_size = mode, query, batch_size
        self.layer = _index_list(layer, "layer", LAYER_CHOICES)
        self.heads = _index_list(heads, "heads", HEAD_REDUCTIONS)

    def check_length(self, length: int) -> None:
        """One attention pass over a sequence of ``length`` bp, so that layer and head indices
        beyond the model's are refused before any work."""
        self._layers_and_heads(self.model.attentions(np.zeros((1, length), dtype=np.int8))[0])

    def _layers_and_heads(self, maps: tuple[torch.Tensor, ...]) -> tuple[list[int], list[int] | None]:
        n_layers, n_heads = len(maps), maps[0].shape[1]
        if self.layer == "last":
            layers = [n_layers - 1]
        elif self.layer == "all":
            layers = list(range(n_layers))
        else:
            layers = _resolve(self.layer, n_layers, "layer", "layer")
        heads = None if isinstance(self.heads, str) else _resolve(self.heads, n_heads, "heads", "attention head")
        return layers, heads

    def token_scores(self, maps: tuple[torch.Tensor, ...], mask: torch.Tensor) -> torch.Tensor:
        """Every layer's attention (B, H, T, T) and the attention mask (B, T) -> token scores (B, T)."""
        layers, heads = self._layers_and_heads(maps)
        reduced = []
        for index in layers:
            attention = maps[index] if heads is None else maps[index][:, heads]
            reduced.append(attention.mean(1) if self.heads == "mean" else attention.sum(1))
        if self.mode == "cls_row":
            return sum(self._read_row(a, mask) for a in reduced)
        identity = torch.eye(mask.shape[1], device=mask.device)
        joint = None
        for attention in reduced:
            attention = attention / attention.sum(-1, keepdim=True).clamp_min(torch.finfo(attention.dtype).tiny)
            attention = 0.5 * attention + 0.5 * identity
            joint = attention if joint is None else attention @ joint
        return self._read_row(joint, mask)

    def _read_row(self, attention: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, T) -> (B, T): the [CLS] (first) query row, or the mean over the real tokens' rows."""
        if self.query == "cls":
            return attention[:, 0, :]
        weights = mask.to(attention.dtype)
        return (attention * weights[:, :, None]).sum(1) / weights.sum(1, keepdim=True)

    def explain(self, codes: np.ndarray, probs: np.ndarray, rngs: list[np.random.Generator]) -> list[Attribution]:
        tokenizer = self.model.backbone.tokenizer
        results = []
        for start in range(0, len(codes), self.batch_size):
            batch = codes[start : start + self.batch_size]
            maps, inputs = self.model.attentions(batch)
            scores = self.token_scores(maps, inputs["attention_mask"]).cpu().numpy()
            spans = tokenizer.token_spans(to_strings(batch)).cpu().numpy()
            if self.query == "cls" and (spans[:, 0, 0] >= 0).any():
                raise ValueError(f"xai.query=cls reads the [CLS] (first) token's row, but {type(tokenizer).__name__} "
                                 "starts with a nucleotide token; use xai.query=mean")
            for token_scores, token_spans in zip(scores, spans):
                per_base = spread_mean(token_scores, token_spans, batch.shape[1])
                norm = np.linalg.norm(per_base)
                results.append(Attribution((per_base / norm if norm > 0 else per_base).astype(np.float32)))
        return results

    def explain_one(self, codes: np.ndarray, prob: float, rng: np.random.Generator) -> Attribution:
        return self.explain(codes[None, :], np.array([prob]), [rng])[0]
