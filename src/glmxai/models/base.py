"""The one contract every model (backbone) and tokenizer follows.

Explainers, evaluation and analysis see a model only through this contract:

- ``Tokenizer.encode(sequences) -> dict[str, Tensor]``: a padded batch of model inputs;
- ``Tokenizer.token_spans(sequences) -> (B, T, 2)`` long: the nucleotide interval
  [start, end) each token covers, (-1, -1) for special and padding tokens;
- ``Tokenizer.token_advance() -> (V,)``: bases each token id moves the sequence on (0 for
  special tokens), from which a model maps its tokens back onto nucleotide positions;
- ``Backbone.forward(inputs) -> (B, 2)`` logits;
- ``Backbone.input_embeddings(inputs) -> Tensor`` and
  ``Backbone.forward_embeddings(embeddings, inputs) -> (B, 2)``: the differentiable path
  (one-hot (B, 4, L) for one-hot models, token embeddings (B, T, D) for token models);
- ``Backbone.attention_probabilities(inputs)``: per layer (B, heads, T, T), transformers only;
- ``Backbone.predict_proba(sequences | codes) -> (N, 2)`` numpy: batched, no gradients.

Models that can start from published weights also implement ``Backbone.from_pretrained``,
``save_pretrained`` and ``architecture`` (the constructor arguments that rebuild the network
without the pretrained folder, stored in fine-tuned checkpoints).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from glmxai.data.encoding import to_strings


class Tokenizer:
    """Turns DNA strings into model inputs. Subclasses implement ``encode`` and ``token_spans``."""

    vocab_size: int = 0
    pad_token_id: int = 0
    needs_fit: bool = False  # True: ``fit(train_sequences)`` must run before use

    def fit(self, sequences: Sequence[str]) -> None:
        """Learn a vocabulary from training sequences (only tokenizers with ``needs_fit``)."""

    def encode(self, sequences: Sequence[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def encode_codes(self, codes: np.ndarray) -> dict[str, torch.Tensor]:
        """Integer codes (N, L) -> model inputs; override to skip the string round trip."""
        return self.encode(to_strings(codes))

    def token_spans(self, sequences: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError

    def token_advance(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no token ids")

    def state_dict(self) -> dict:
        """Plain-Python state saved in checkpoints (a trained vocabulary, say)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""


class Backbone(nn.Module):
    """A sequence classifier network that owns its tokenizer.

    fixed_length: the only input length the network accepts (None: any length).
    """

    fixed_length: int | None = None
    num_classes: int = 2

    def __init__(self, tokenizer: Tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    def encode(self, sequences: Sequence[str] | np.ndarray) -> dict[str, torch.Tensor]:
        """Strings, or integer codes (N, L), -> model inputs on the model's device. A network that
        reads one length only (``fixed_length``) refuses any other here, by name."""
        if self.fixed_length is not None:
            lengths = {sequences.shape[1]} if isinstance(sequences, np.ndarray) else {len(s) for s in sequences}
            if lengths - {self.fixed_length}:
                raise ValueError(f"{type(self).__name__} reads sequences of exactly {self.fixed_length} bases "
                                 f"(its position-wise layers were built for that length); got lengths "
                                 f"{sorted(lengths - {self.fixed_length})[:5]}")
        if isinstance(sequences, np.ndarray):
            inputs = self.tokenizer.encode_codes(sequences)
        else:
            inputs = self.tokenizer.encode(list(sequences))
        device = self.device
        return {k: v.to(device) for k, v in inputs.items()}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.forward_embeddings(self.input_embeddings(inputs), inputs)

    def input_embeddings(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def forward_embeddings(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def attention_probabilities(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The attention probabilities of every layer, first layer first, each (B, heads, T, T) with
        rows = queries and columns = keys (each row sums to 1 over the real tokens), as the forward
        computes them. Only transformers have them; other models raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} has no attention layers")

    @classmethod
    def from_pretrained(cls, path: str, trust_remote_code: bool = False, **kwargs) -> Backbone:
        """Tokenizer and weights from a hub id or folder; remote code runs only if trusted."""
        raise NotImplementedError(f"{cls.__name__} cannot load pretrained weights")

    def save_pretrained(self, path: str) -> None:
        """Write a folder that ``from_pretrained`` reads back to the same model."""
        raise NotImplementedError(f"{type(self).__name__} cannot save a pretrained folder")

    def architecture(self) -> dict | None:
        """Keyword arguments (besides ``tokenizer``) rebuilding this network's shape from config;
        None when only the pretrained source can rebuild it (remote code)."""
        return None

    @torch.inference_mode()
    def predict_proba(self, sequences: Sequence[str] | np.ndarray, batch_size: int = 256,
                      logits_of: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None) -> np.ndarray:
        """Class probabilities (N, 2) for strings or integer codes (N, L), in batches; ``logits_of``
        (model inputs -> logits) replaces the forward (``explain.fast``'s cheaper forwards)."""
        was_training = self.training
        self.eval()
        forward = self if logits_of is None else logits_of
        out = []
        for start in range(0, len(sequences), batch_size):
            logits = forward(self.encode(sequences[start : start + batch_size]))
            out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.num_classes), dtype=np.float32)
