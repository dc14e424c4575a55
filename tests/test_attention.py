"""xai=attention: DNABERT-viz's [CLS] row and attention rollout, the attention maps each
transformer exposes, checked against references computed independently, and the refusal of
models without attention."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertModel, EsmModel

import glmxai.models.dnabert2 as dnabert2
import glmxai.models.nt2 as nt2
from glmxai.analysis import faithfulness
from glmxai.data.encoding import to_codes
from glmxai.jobs import explain as xai_job
from glmxai.models.base import Backbone
from glmxai.models.cnn import CNNBackbone
from glmxai.models.dnabert import DNABERTBackbone
from glmxai.models.hyenadna import HyenaDNABackbone
from glmxai.models.nt import NTBackbone
from glmxai.models.tokenizers import BPETokenizer, CharTokenizer, KmerTokenizer, NTKmerTokenizer, OneHotTokenizer
from glmxai.predictor import BatchedPredictor
from glmxai.xai.attention import spread_mean
from glmxai.xai.registry import build_method

from conftest import SMALL_DATA, compose_config, random_sequences, save_checkpoint
from xai_toys import save_toy_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class FixedAttention(Backbone):
    """A backbone over 3-mers whose attention maps are given: ``maps`` (layers, heads, T, T)."""

    def __init__(self, maps: np.ndarray):
        super().__init__(KmerTokenizer(k=3))
        self.maps = torch.tensor(maps, dtype=torch.float32)
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def attention_probabilities(self, inputs):
        return tuple(m.expand(len(inputs["input_ids"]), -1, -1, -1) for m in self.maps)


def _attention_scores(backbone: Backbone, codes: np.ndarray, **params) -> np.ndarray:
    method = build_method({"name": "attention", **params}, BatchedPredictor(backbone), tss=0)
    method.check_length(codes.shape[1])
    return np.stack([r.scores for r in method.explain(codes, np.zeros(len(codes)), [None] * len(codes))])


def test_kmer_scores_spread_to_bases_as_dnabert_viz_worked_by_hand():
    """ACGTAC, 3-mers: [CLS] ACG CGT GTA TAC [SEP]. The last layer's [CLS] row, heads summed,
    gives the k-mers 1, 2, 3, 4 ([CLS] and [SEP] get none). Each base takes the mean over the
    k-mers covering it: 1/1, (1+2)/2, (1+2+3)/3, (2+3+4)/3, (3+4)/2, 4/1, then the vector is
    divided by its L2 norm sqrt(1 + 2.25 + 4 + 9 + 12.25 + 16)."""
    by_hand = np.array([1.0, 1.5, 2.0, 3.0, 3.5, 4.0]) / math.sqrt(44.5)
    maps = np.full((2, 2, 6, 6), 0.01)  # layer 0 is ignored (layer=last); each head carries part of the row
    maps[1, 0, 0] = [0.3, 0.5, 1.5, 1.0, 3.0, 0.2]
    maps[1, 1, 0] = [0.4, 0.5, 0.5, 2.0, 1.0, 0.3]
    scores = _attention_scores(FixedAttention(maps), to_codes(["ACGTAC"]))
    np.testing.assert_allclose(scores[0], by_hand, rtol=1e-6)
    spans = KmerTokenizer(k=3).token_spans(["ACGTAC"])[0].numpy()
    np.testing.assert_allclose(spread_mean(np.array([9.0, 1, 2, 3, 4, 9]), spans, 6), by_hand * math.sqrt(44.5))


def test_rollout_multiplies_the_layers_with_the_residual_as_abnar_and_zuidema():
    """Rollout = (0.5 A2 + 0.5 I)(0.5 A1 + 0.5 I) with each head-averaged A row-normalised;
    the [CLS] row, spread over the bases and L2-normalised."""
    rng = np.random.default_rng(0)
    maps = rng.random((2, 3, 6, 6))
    maps /= maps.sum(-1, keepdims=True)
    a1, a2 = maps[0].mean(0), maps[1].mean(0)
    joint = (0.5 * a2 + 0.5 * np.eye(6)) @ (0.5 * a1 + 0.5 * np.eye(6))
    kmers = joint[0, 1:5]
    per_base = np.array([kmers[0], kmers[:2].mean(), kmers[:3].mean(), kmers[1:4].mean(), kmers[2:].mean(), kmers[3]])
    expected = per_base / np.linalg.norm(per_base)
    for heads in ("mean", "sum"):  # the same once rows are normalised
        scores = _attention_scores(FixedAttention(maps), to_codes(["ACGTAC"]), mode="rollout", heads=heads)
        np.testing.assert_allclose(scores[0], expected, rtol=1e-5)
    mean_row = _attention_scores(FixedAttention(maps), to_codes(["ACGTAC"]), mode="rollout", query="mean")[0]
    kmers = joint.mean(0)[1:5]
    per_base = np.array([kmers[0], kmers[:2].mean(), kmers[:3].mean(), kmers[1:4].mean(), kmers[2:].mean(), kmers[3]])
    np.testing.assert_allclose(mean_row, per_base / np.linalg.norm(per_base), rtol=1e-5)


MOTIF, START = "GATTAC", 120


def _forced_dnabert(motif_id: int) -> DNABERTBackbone:
    """A 2-layer DNABERT whose every query attends to the token ``motif_id``: constant queries,
    keys that project each token's embedding on the motif token's, no positions, and attention
    outputs and feed-forwards zeroed so that each layer passes its input on unchanged."""
    torch.manual_seed(0)
    backbone = DNABERTBackbone(KmerTokenizer(k=6), config={"hidden_size": 64, "num_attention_heads": 2,
                                                            "intermediate_size": 64}, pooling="cls").eval()
    bert = backbone.model.bert
    direction = torch.tensor([1.0, -1.0] * 32)  # mean 0, variance 1: LayerNorm leaves it as is
    with torch.no_grad():
        bert.embeddings.word_embeddings.weight[motif_id] = direction
        bert.embeddings.position_embeddings.weight.zero_()
        bert.embeddings.token_type_embeddings.weight.zero_()
        for layer in bert.encoder.layer:
            attention = layer.attention.self
            attention.query.weight.zero_()
            attention.query.bias.fill_(0.5)
            attention.key.weight.copy_(direction.expand(64, -1) / 8)
            attention.key.bias.zero_()
            for dense in (layer.attention.output.dense, layer.intermediate.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
    return backbone


@pytest.mark.parametrize("params", [{"mode": "cls_row"}, {"mode": "rollout"}, {"mode": "cls_row", "query": "mean"},
                                    {"mode": "rollout", "query": "mean"}, {"mode": "cls_row", "layer": "all",
                                                                          "heads": [1]}])
def test_attention_forced_onto_a_planted_motif_is_recovered(params):
    sequences = [s[:START] + MOTIF + s[START + len(MOTIF):] for s in random_sequences(4, 300, seed=3)]
    assert all(s.count(MOTIF) == 1 for s in sequences)
    backbone = _forced_dnabert(KmerTokenizer(k=6).token_to_id[MOTIF])
    maps, _ = BatchedPredictor(backbone).attentions(to_codes(sequences[:1]))
    assert (maps[-1][0, :, 0].argmax(-1) == 1 + START).all()  # [CLS] attends to the motif's k-mer (token 1 + START)
    model = BatchedPredictor(backbone)
    method = build_method({"name": "attention", **params}, model, tss=249)
    results = method.explain(to_codes(sequences), np.zeros(4), [None] * 4)
    assert model.evaluations == len(sequences)  # one attention pass per sequence
    for result in results:
        assert result.scores.shape == (300,) and result.scores.dtype == np.float32
        assert (result.scores >= 0).all() and np.linalg.norm(result.scores) == pytest.approx(1.0, rel=1e-5)
        assert set(np.argsort(-result.scores, kind="stable")[: len(MOTIF)]) == set(range(START, START + len(MOTIF)))


SEQUENCES = random_sequences(2, 60, seed=1)
SEQUENCES[1] = SEQUENCES[1][:48]  # two lengths: the shorter one is padded


@pytest.mark.parametrize("family", ["dnabert", "nt"])
def test_hf_attentions_equal_transformers_own_output_attentions(family):
    torch.manual_seed(0)
    backbone = (DNABERTBackbone(KmerTokenizer()) if family == "dnabert" else NTBackbone(NTKmerTokenizer())).eval()
    inputs = backbone.encode(SEQUENCES)
    logits = backbone(inputs)
    with torch.no_grad():
        maps = backbone.attention_probabilities(inputs)
    assert backbone.model.config._attn_implementation == "sdpa"  # restored: the fast path stays the default
    torch.testing.assert_close(backbone(inputs), logits)
    config = copy.deepcopy(backbone.model.config)
    reference = (BertModel if family == "dnabert" else EsmModel)(config, add_pooling_layer=False)
    reference.set_attn_implementation("eager")
    missing, _ = reference.load_state_dict(backbone.model.base_model.state_dict(), strict=False)
    assert not missing
    expected = reference.eval()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                output_attentions=True).attentions
    assert len(maps) == len(expected) == config.num_hidden_layers
    t = inputs["input_ids"].shape[1]
    for ours, theirs in zip(maps, expected):
        assert ours.shape == (2, config.num_attention_heads, t, t)
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)
    padding = ~inputs["attention_mask"][1].bool()
    assert padding.any() and float(maps[0][1][..., padding].abs().max()) < 1e-6  # no attention to padding keys


def _count_sdpa(monkeypatch, module) -> list[int]:
    calls = [0]
    fused = torch.nn.functional.scaled_dot_product_attention

    def counting(*args, **kwargs):
        calls[0] += 1
        return fused(*args, **kwargs)

    monkeypatch.setattr(module.F, "scaled_dot_product_attention", counting)
    return calls


def test_dnabert2_attention_probabilities_equal_softmax_with_alibi_and_padding(monkeypatch):
    tokenizer = BPETokenizer(vocab_size=40)
    tokenizer.fit(random_sequences(50, 60))
    torch.manual_seed(0)
    backbone = dnabert2.DNABERT2Backbone(tokenizer, pooling="mean").eval()
    calls = _count_sdpa(monkeypatch, dnabert2)
    inputs = backbone.encode(SEQUENCES)
    with torch.no_grad():
        logits = backbone(inputs)
        assert calls[0] == 2  # the default forward: the fused kernel in each layer
        maps = backbone.attention_probabilities(inputs)
        assert calls[0] == 2  # the attention path does not use it
        torch.testing.assert_close(backbone(inputs), logits)
        x = backbone.bert.embeddings(backbone.input_embeddings(inputs))
        mask = inputs["attention_mask"]
        hidden, _ = backbone.bert.encoder(x, mask, output_attentions=True)
        torch.testing.assert_close(hidden, backbone.bert.encoder(x, mask))
    slopes = torch.tensor([1 / 4, 1 / 16, 1 / 64, 1 / 256])  # ALiBi, 4 heads: 2^(-8/4 * h), h = 1..4
    t = mask.shape[1]
    distance = (torch.arange(t)[None, :] - torch.arange(t)[:, None]).abs()
    bias = -slopes[:, None, None] * distance + torch.where(mask.bool(), 0.0, -math.inf)[:, None, None, :]
    with torch.no_grad():
        for layer, probs in zip(backbone.bert.encoder.layer, maps):
            d = x.shape[-1]
            q, k, _ = (x @ layer.attention.self.Wqkv.weight.T + layer.attention.self.Wqkv.bias).split(d, dim=-1)
            q, k = (z.view(2, t, 4, d // 4).transpose(1, 2) for z in (q, k))
            expected = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // 4) + bias, dim=-1)
            torch.testing.assert_close(probs, expected, atol=1e-6, rtol=1e-5)
            x = layer(x, bias.to(x.dtype))[0]


def test_nt2_attention_probabilities_equal_softmax_with_rotary_and_padding(monkeypatch):
    torch.manual_seed(0)
    backbone = nt2.NT2Backbone(NTKmerTokenizer(), pooling="mean").eval()
    calls = _count_sdpa(monkeypatch, nt2)
    inputs = backbone.encode(SEQUENCES)
    mask = inputs["attention_mask"]
    with torch.no_grad():
        logits = backbone(inputs)
        maps = backbone.attention_probabilities(inputs)
        assert calls[0] == 2
        torch.testing.assert_close(backbone(inputs), logits)
        x = backbone.esm.embeddings(backbone.input_embeddings(inputs), inputs["input_ids"], mask)
    t, d, heads = mask.shape[1], x.shape[-1], 4
    half = d // heads // 2
    inv_freq = 10000.0 ** (-torch.arange(half) * 2 / (d // heads))
    angles = torch.arange(t)[:, None] * inv_freq[None, :]
    cos, sin = angles.cos().repeat(1, 2), angles.sin().repeat(1, 2)

    def rotary(z):  # (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)
        z1, z2 = z[..., :half], z[..., half:]
        return z * cos + torch.cat((-z2, z1), dim=-1) * sin

    with torch.no_grad():
        for layer, probs in zip(backbone.esm.encoder.layer, maps):
            h = layer.attention.LayerNorm(x)
            attention = layer.attention.self
            q, k = (proj(h).view(2, t, heads, d // heads).transpose(1, 2) for proj in (attention.query, attention.key))
            scores = rotary(q) @ rotary(k).transpose(-1, -2) / math.sqrt(d // heads)
            expected = torch.softmax(scores.masked_fill(~mask.bool()[:, None, None, :], -math.inf), dim=-1)
            torch.testing.assert_close(probs, expected, atol=1e-6, rtol=1e-5)
            x = layer(x, mask.bool()[:, None, None, :], cos, sin)[0]


@pytest.mark.parametrize("build", [lambda: CNNBackbone(OneHotTokenizer(), seq_len=60),
                                   lambda: HyenaDNABackbone(CharTokenizer())], ids=["cnn", "hyenadna"])
def test_models_without_attention_are_refused_by_name(build):
    backbone = build()
    with pytest.raises(ValueError, match=f"{type(backbone).__name__} has no attention layers.*ism") as error:
        build_method({"name": "attention"}, BatchedPredictor(backbone), tss=249)
    assert "dnabert, dnabert2, nt or nt2" in str(error.value)


def test_bad_options_are_clear_errors():
    model = BatchedPredictor(FixedAttention(np.full((2, 2, 6, 6), 1 / 6)))
    for params, message in [({"mode": "flow"}, "xai.mode"), ({"heads": "max"}, "xai.heads"),
                            ({"layer": "first"}, "xai.layer"), ({"query": "sep"}, "xai.query"),
                            ({"layer": []}, "xai.layer")]:
        with pytest.raises(ValueError, match=message):
            build_method({"name": "attention", **params}, model, tss=0)
    for params, message in [({"layer": 2}, r"xai.layer=\[2\].*2 layers"), ({"heads": [0, -3]}, "2 attention heads")]:
        with pytest.raises(ValueError, match=message):
            build_method({"name": "attention", **params}, model, tss=0).check_length(6)


def test_faithfulness_ranks_unsigned_scores_as_they_are_for_predicted_negatives():
    """Attention carries no direction: for a sequence predicted non-promoter the most attended
    positions must still be deleted first, not last."""
    rng = np.random.default_rng(0)
    site, start, n, length = "TATAAAAG", 40, 8, 100
    codes = rng.integers(0, 4, (n, length)).astype(np.int8)
    codes[:, start:start + len(site)] = to_codes(site)
    site_codes = to_codes(site)

    def predict(x):  # the site present -> confident non-promoter
        return 0.95 - 0.9 * (x[:, start:start + len(site)] == site_codes).mean(axis=1)

    attention = np.full((n, length), 0.01, np.float32)
    attention[:, start:start + len(site)] = 1.0
    background = faithfulness.backgrounds(codes, "dinuc_shuffle", seed=1)
    _, unsigned = faithfulness.perturbation_curves(predict, codes, attention, background, steps=20, signed=False)
    _, flipped = faithfulness.perturbation_curves(predict, codes, attention, background, steps=20)
    assert faithfulness.summarize_areas(unsigned)["deletion_aoc_gain"] > 0.2
    assert faithfulness.summarize_areas(flipped)["deletion_aoc_gain"] < 0


def _dnabert_checkpoint(path: Path) -> Path:
    """A glmxai checkpoint of a small untrained DNABERT with its published [CLS] head."""
    from glmxai.models.classifier import SequenceClassifier

    model_cfg = {"name": "dnabert", "tokenizer": {"_target_": "glmxai.models.tokenizers.KmerTokenizer", "k": 6},
                 "backbone": {"_target_": "glmxai.models.dnabert.DNABERTBackbone", "size": "small",
                              "config": {"hidden_size": 16, "num_attention_heads": 2, "intermediate_size": 32},
                              "pooling": "cls"}}
    torch.manual_seed(0)
    backbone = DNABERTBackbone(KmerTokenizer(k=6), config=model_cfg["backbone"]["config"], pooling="cls")
    return save_checkpoint(SequenceClassifier(backbone, model_cfg=model_cfg), path)


@pytest.mark.parametrize("mode", ["cls_row", "rollout"])
def test_explain_job_writes_attention_with_its_units_and_one_pass_per_sequence(tmp_path, mode):
    ckpt = _dnabert_checkpoint(tmp_path / "dnabert.ckpt")
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "explain.n=5", "explain.chunk_size=2",
                                     "xai=attention", f"xai.mode={mode}"], tmp_path / "job")
    meta = xai_job.run(cfg)
    scores = np.load(tmp_path / "job" / "attributions.npz")["scores"]
    assert scores.shape == (5, 300) and (scores >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(scores, axis=1), 1.0, rtol=1e-5)
    assert meta["method"] == "attention" and meta["params"]["mode"] == mode and meta["signed"] is False
    assert meta["score_units"].startswith("attention")
    assert meta["evaluations_per_sequence"] == 2  # the unperturbed prediction and one attention pass


def test_explain_job_refuses_attention_for_a_model_without_it_before_any_work(tmp_path):
    ckpt = save_toy_checkpoint(tmp_path / "toy.ckpt")
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "explain.n=5", "xai=attention"],
                         tmp_path / "job")
    with pytest.raises(ValueError, match="MotifDetector has no attention layers"):
        xai_job.run(cfg)
    assert not (tmp_path / "job" / "chunks").exists()
