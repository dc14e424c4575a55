"""DNABERT (Ji et al. 2021): BERT over overlapping k-mers, ``BertForSequenceClassification``.

The head is BERT's: pooler (dense + tanh) on the [CLS] token, dropout, linear.
Sizes: ``small`` (2 layers, hidden 128; trains on a CPU in minutes) and ``base``
(12 layers, hidden 768, 12 heads: the published DNABERT-6).
"""
from __future__ import annotations

from transformers import BertConfig, BertForSequenceClassification

from glmxai.models.pretrained import SMALL_ENCODER, HFBackbone
from glmxai.models.tokenizers import KmerTokenizer

_COMMON = {"max_position_embeddings": 512, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
# From scratch on a CPU, no dropout on the 297 x 297 attention maps: sampling and applying it took
# most of a training step, and without it SDPA runs its fused kernel (2.7x the sequences/s).


class DNABERTBackbone(HFBackbone):
    """BERT over ``KmerTokenizer`` ids; see ``HFBackbone`` for arguments and shapes."""

    config_class = BertConfig
    model_class = BertForSequenceClassification
    tokenizer_class = KmerTokenizer
    sizes = {
        "small": {**_COMMON, **SMALL_ENCODER, "attention_probs_dropout_prob": 0.0},
        "base": {**_COMMON, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                 "intermediate_size": 3072},
    }
