"""Nucleotide Transformer (Dalla-Torre et al. 2024): ESM encoder over non-overlapping 6-mers,
``EsmForSequenceClassification`` (head: dense + tanh + linear on the ``<cls>`` token).

Sizes: ``small`` (2 layers, hidden 128; CPU-friendly) and ``500m`` (24 layers, hidden 1280,
20 heads, learned absolute positions: the published NT 500M v1 models).
"""
from __future__ import annotations

import torch
from transformers import EsmConfig, EsmForSequenceClassification

from glmxai.models.pretrained import SMALL_ENCODER, HFBackbone
from glmxai.models.tokenizers import NTKmerTokenizer

_COMMON = {"max_position_embeddings": 1002, "position_embedding_type": "absolute", "token_dropout": False,
           "emb_layer_norm_before": False, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
           "layer_norm_eps": 1e-12, "mask_token_id": 2}


class NTBackbone(HFBackbone):
    """ESM over ``NTKmerTokenizer`` ids; see ``HFBackbone`` for arguments and shapes."""

    config_class = EsmConfig
    model_class = EsmForSequenceClassification
    tokenizer_class = NTKmerTokenizer
    sizes = {
        "small": {**_COMMON, **SMALL_ENCODER},
        "500m": {**_COMMON, "hidden_size": 1280, "num_hidden_layers": 24, "num_attention_heads": 20,
                 "intermediate_size": 5120},
    }

    def encoder_inputs(self, embeddings: torch.Tensor, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """``EsmModel`` given ``inputs_embeds`` skips its whole embedding layer (positions,
        token-dropout scaling, layer norm), so the token embeddings go through that layer here,
        with the input ids it needs, exactly as the model does from ``input_ids``."""
        return self.model.esm.embeddings(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                         inputs_embeds=embeddings)
