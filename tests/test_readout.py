"""The position-wise head (pooling: flatten) of the token models: every base reads the token that
covers it, whatever the tokenization, and the head is what the models train and reload with."""
from __future__ import annotations

import pytest
import torch

from glmxai.models.build import build_backbone
from glmxai.models.readout import MeanReadout, covering_token
from glmxai.models.tokenizers import BPETokenizer, CharTokenizer, KmerTokenizer, NTKmerTokenizer

from conftest import compose_config, random_sequences

LENGTH = 120
SEQUENCES = random_sequences(6, LENGTH, seed=3) + ["ACGTN" * 24, "N" * 7 + "ACGTAC" * 18 + "GATTACANN"[: LENGTH - 115]]


def bpe() -> BPETokenizer:
    tokenizer = BPETokenizer(vocab_size=300)
    tokenizer.fit(random_sequences(200, LENGTH))
    return tokenizer


TOKENIZERS = {"kmer": lambda: KmerTokenizer(6), "nt": lambda: NTKmerTokenizer(6), "bpe": bpe, "char": CharTokenizer}


@pytest.mark.parametrize("name", sorted(TOKENIZERS))
def test_every_base_reads_the_token_that_covers_it(name):
    """Checked against ``token_spans`` (the tokenizer's own offsets: pieces, or HF tokenizers'),
    not against the ``token_advance`` arithmetic the head uses. Overlapping k-mers: base p reads the
    k-mer starting at p, the last k-1 bases the last k-mer."""
    tokenizer = TOKENIZERS[name]()
    sequences = [s[:LENGTH] for s in SEQUENCES]
    assert {len(s) for s in sequences} == {LENGTH}
    ids = tokenizer.encode(sequences)["input_ids"]
    spans = tokenizer.token_spans(sequences)
    index = covering_token(ids, torch.as_tensor(tokenizer.token_advance()), LENGTH)
    assert index.shape == (len(sequences), LENGTH)
    start, end = spans[..., 0].gather(1, index), spans[..., 1].gather(1, index)
    base = torch.arange(LENGTH).expand_as(index)
    assert ((start <= base) & (base < end)).all()
    if name == "kmer":
        assert torch.equal(start, base.clamp(max=LENGTH - tokenizer.k))


def test_special_and_padding_tokens_are_never_read():
    tokenizer = NTKmerTokenizer(6)
    batch = tokenizer.encode([SEQUENCES[0], SEQUENCES[1][:60]])  # the second padded after 10 tokens
    index = covering_token(batch["input_ids"], torch.as_tensor(tokenizer.token_advance()), LENGTH)
    read = batch["input_ids"].gather(1, index)
    specials = [tokenizer.token_to_id[t] for t in tokenizer.SPECIALS]
    assert not torch.isin(read, torch.tensor(specials)).any()
    assert index[1].max() == 10  # past its end the short sequence reads its last token


@pytest.mark.parametrize("name", ["dnabert", "dnabert2", "nt", "nt2"])
def test_from_scratch_default_reads_every_position(name, tmp_path):
    """The default from-scratch head: position-specific weights over the data's length; the
    published head stays one override away; a model with no fixed length is refused by name."""
    cfg = compose_config("train", [f"model={name}", "logger=none"], tmp_path)
    model = build_backbone(cfg.model, random_sequences(100, 300)).eval()
    assert model.pooling == "flatten" and model.fixed_length == 300
    assert model.readout.dense.in_features == 300 * model.readout.project.out_features
    # the head itself reads positions: the same token state at an early or a late token gives other
    # logits, where the mean-pooling head (the control) cannot tell them apart
    inputs = model.encode(random_sequences(1, 300, seed=9))
    tokens = int(inputs["attention_mask"].sum())
    hidden_size = model.readout.project.in_features
    state = torch.randn(hidden_size, generator=torch.Generator().manual_seed(0))
    mean_head = MeanReadout(hidden_size).eval()
    logits = {}
    for head in (model.readout, mean_head):
        for token in (2, tokens - 3):
            hidden = torch.zeros(1, inputs["input_ids"].shape[1], hidden_size)
            hidden[0, token] = state
            with torch.no_grad():
                logits[head, token] = head(hidden, inputs)
    moved = (logits[model.readout, 2] - logits[model.readout, tokens - 3]).abs().max()
    assert moved > 1e-3 * logits[model.readout, 2].abs().max()
    torch.testing.assert_close(logits[mean_head, 2], logits[mean_head, tokens - 3], rtol=0, atol=1e-7)
    cls = compose_config("train", [f"model={name}", "logger=none", "model.backbone.pooling=cls"], tmp_path)
    assert build_backbone(cls.model, random_sequences(100, 300)).fixed_length is None
    with pytest.raises(Exception, match="needs one input length"):
        build_backbone(compose_config("train", [f"model={name}", "data.seq_len=null"], tmp_path).model,
                       random_sequences(100, 300))


@pytest.mark.parametrize("name", ["nt", "dnabert", "dnabert2", "hyenadna"])
def test_chunks_reads_the_mean_of_each_15_bp_window(name, tmp_path):
    """pooling=chunks equals the per-base head whose dense weights are the window's weights / 15 at
    each of its bases (mean then linear = linear with spread weights): the windows are 0-14, 15-29, ..."""
    cfg = compose_config("train", [f"model={name}", "logger=none", "model.backbone.pooling=chunks"], tmp_path)
    model = build_backbone(cfg.model, random_sequences(100, 300)).eval()
    assert model.fixed_length == 300 and model.readout.dense.in_features == 20 * model.readout.project.out_features
    per_base = build_backbone(compose_config("train", [f"model={name}", "logger=none"], tmp_path).model,
                              random_sequences(100, 300)).readout.eval()
    per_base.project.load_state_dict(model.readout.project.state_dict())
    per_base.out_proj.load_state_dict(model.readout.out_proj.state_dict())
    features = model.readout.project.out_features
    windowed = model.readout.dense.weight.detach().view(-1, 20, features)
    spread = (windowed.repeat_interleave(15, dim=1) / 15).reshape(-1, 300 * features)
    per_base.dense.weight.data.copy_(spread)
    per_base.dense.bias.data.copy_(model.readout.dense.bias)
    inputs = model.encode(random_sequences(3, 300, seed=5))
    hidden = torch.randn(3, inputs["input_ids"].shape[1], model.readout.project.in_features)
    with torch.no_grad():
        torch.testing.assert_close(model.readout(hidden, inputs), per_base(hidden, inputs), rtol=1e-4, atol=1e-5)
    with pytest.raises(Exception, match="needs one input length"):
        build_backbone(compose_config("train", [f"model={name}", "model.backbone.pooling=chunks", "data.seq_len=null"],
                                      tmp_path).model, random_sequences(100, 300))
