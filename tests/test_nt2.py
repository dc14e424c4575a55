"""Nucleotide Transformer v2, native: published folder layout, numerics against an independent
reference (transformers' rotary ESM with the published SwiGLU feed-forward), the differentiable
path, and a fine-tuning round trip through the checkpoint allow-list."""
from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
import torch
from torch import nn
from transformers import EsmConfig, EsmModel

from glmxai.models.build import build_classifier, load_classifier
from glmxai.models.nt2 import NT2Backbone
from glmxai.models.tokenizers import NTKmerTokenizer

from conftest import compose_config, random_sequences, save_checkpoint

BATCH = random_sequences(3, 120, seed=1) + ["ACGTN" * 12 + "ACG"]  # N and a non-multiple of 6: single bases

# The published vocab.txt (InstaDeepAI/nucleotide-transformer-v2-*-multi-species): specials, the
# 4,096 6-mers as itertools.product over "ATCG", then the single bases A T C G N; 4,107 lines,
# no final newline (instadeepai/nucleotide-transformer, nucleotide_transformer/tokenizers.py,
# compute_tokens_to_ids_v2; <cls> = 3, <pad> = 1, AAAAAA = 6, A = 4102 ... N = 4106).
PUBLISHED_VOCAB = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>",
                   *("".join(p) for p in itertools.product("ATCG", repeat=6)), "A", "T", "C", "G", "N"]


def published_config(hidden: int, layers: int, heads: int, intermediate: int) -> dict:
    """The key set and values of the published 50m config.json, at a given size."""
    return {
        "add_bias_fnn": False,
        "architectures": ["EsmForMaskedLM", "EsmForTokenClassification", "EsmForSequenceClassification"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {"AutoConfig": "esm_config.EsmConfig",
                     "AutoModelForMaskedLM": "modeling_esm.EsmForMaskedLM",
                     "AutoModelForTokenClassification": "modeling_esm.EsmForTokenClassification",
                     "AutoModelForSequenceClassification": "modeling_esm.EsmForSequenceClassification"},
        "emb_layer_norm_before": False, "esmfold_config": None, "hidden_dropout_prob": 0.0,
        "hidden_size": hidden, "initializer_range": 0.02, "intermediate_size": intermediate,
        "is_folding_model": False, "layer_norm_eps": 1e-12, "mask_token_id": 2, "max_position_embeddings": 2050,
        "num_attention_heads": heads, "num_hidden_layers": layers, "pad_token_id": 1,
        "position_embedding_type": "rotary", "tie_word_embeddings": False, "token_dropout": False,
        "torch_dtype": "float32", "transformers_version": "4.32.0.dev0", "use_cache": False, "vocab_list": None,
        "vocab_size": 4107,
    }


def published_state(config: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the parameter names and shapes of the published ``EsmForMaskedLM``
    (remote ``modeling_esm.py``), random values."""
    g = torch.Generator().manual_seed(seed)
    d, inner, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    head_dim = d // config["num_attention_heads"]

    def rnd(*shape):
        return torch.randn(*shape, generator=g) * 0.2

    state = {"esm.embeddings.word_embeddings.weight": rnd(vocab, d),
             "esm.embeddings.position_embeddings.weight": rnd(config["max_position_embeddings"], d)}
    for i in range(config["num_hidden_layers"]):
        p = f"esm.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            state[f"{p}attention.self.{name}.weight"], state[f"{p}attention.self.{name}.bias"] = rnd(d, d), rnd(d)
        state[p + "attention.self.rotary_embeddings.inv_freq"] = 1.0 / (
            10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
        state[p + "attention.output.dense.weight"], state[p + "attention.output.dense.bias"] = rnd(d, d), rnd(d)
        state[p + "attention.LayerNorm.weight"], state[p + "attention.LayerNorm.bias"] = 1 + rnd(d), rnd(d)
        state[p + "intermediate.dense.weight"] = rnd(2 * inner, d)
        state[p + "output.dense.weight"] = rnd(d, inner)
        state[p + "LayerNorm.weight"], state[p + "LayerNorm.bias"] = 1 + rnd(d), rnd(d)
    state["esm.encoder.emb_layer_norm_after.weight"] = 1 + rnd(d)
    state["esm.encoder.emb_layer_norm_after.bias"] = rnd(d)
    state["esm.contact_head.regression.weight"] = rnd(1, config["num_hidden_layers"] * config["num_attention_heads"])
    state["esm.contact_head.regression.bias"] = rnd(1)
    state.update({"lm_head.dense.weight": rnd(d, d), "lm_head.dense.bias": rnd(d),
                  "lm_head.layer_norm.weight": rnd(d), "lm_head.layer_norm.bias": rnd(d),
                  "lm_head.decoder.weight": rnd(vocab, d), "lm_head.bias": rnd(vocab)})
    return state


def write_published(folder, state: dict, config: dict, weights: str = "pytorch_model.bin"):
    """A hub-layout folder: config.json (with auto_map), vocab.txt, one weight file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "vocab.txt").write_text("\n".join(PUBLISHED_VOCAB))
    for name in ("pytorch_model.bin", "model.safetensors"):
        (folder / name).unlink(missing_ok=True)
    if weights == "model.safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(folder / weights))
    else:
        torch.save(state, folder / weights)
    return folder


@pytest.fixture
def published(tmp_path):
    config = published_config(hidden=32, layers=2, heads=4, intermediate=64)
    state = published_state(config)
    return write_published(tmp_path / "nucleotide-transformer-v2-tiny", state, config), state, config


# --- (a) the published folder layout ------------------------------------------------------------

@pytest.mark.parametrize("weights", ["pytorch_model.bin", "model.safetensors"])
def test_loads_published_names_natively_despite_auto_map(weights, published):
    folder, state, config = published
    write_published(folder, state, config, weights)
    model = NT2Backbone.from_pretrained(str(folder))  # trust_remote_code false: auto_map is never followed
    loaded = model.state_dict()
    dropped = ("lm_head.", "esm.contact_head.", "esm.embeddings.position_embeddings.")
    used = {k for k in state if not k.startswith(dropped) and not k.endswith("inv_freq")}
    assert len(used) == 1 + 2 + 2 * 14  # embeddings, final LayerNorm, 14 tensors per layer
    assert used == {k for k in loaded if k.startswith("esm.")}  # every encoder tensor is a published one
    for key in used:
        assert torch.equal(loaded[key], state[key]), key
    assert model.config["hidden_size"] == 32 and model.config["num_hidden_layers"] == 2
    assert model.config["add_bias_fnn"] is False and "auto_map" not in model.config
    assert model.esm.encoder.layer[0].intermediate.dense.bias is None
    assert model.classifier.out_proj.weight.shape == (2, 32)  # fresh 2-class head


def test_published_folder_loads_under_the_position_wise_head(published):
    """pooling=flatten: every published encoder tensor loads, ESM's head is not built, the
    position-wise head starts fresh."""
    folder, state, _ = published
    model = NT2Backbone.from_pretrained(str(folder), pooling="flatten", seq_len=120)
    loaded = model.state_dict()
    for key in (k for k in loaded if k.startswith("esm.")):
        assert torch.equal(loaded[key], state[key]), key
    assert not any(k.startswith("classifier.") for k in loaded) and model.fixed_length == 120
    assert model.readout.dense.in_features == 120 * model.readout.project.out_features


def test_published_vocabulary_tokenizes_like_the_published_tokenizer(published):
    folder, _, _ = published
    tokenizer = NT2Backbone.from_pretrained(str(folder)).tokenizer
    assert tokenizer.vocab == PUBLISHED_VOCAB and tokenizer.pad_token_id == 1
    ids = tokenizer.encode(["AAAAAAT", "TAAAAAA", "ACGTACGNACGTACGT", ""])["input_ids"].tolist()
    kmer = PUBLISHED_VOCAB.index
    assert ids[0][:3] == [3, 6, 4103]  # <cls> AAAAAA T
    assert ids[1][:3] == [3, 1030, 4102]  # <cls> TAAAAA A
    assert ids[2] == [3, kmer("ACGTAC"), 4105, 4106, kmer("ACGTAC"), 4105, 4103]  # ... G N ... G T
    assert ids[3] == [3, 1, 1, 1, 1, 1, 1]  # only <cls>, then padding


def test_published_folder_with_missing_or_foreign_tensors_is_refused(published):
    folder, state, config = published
    incomplete = {k: v for k, v in state.items() if k != "esm.encoder.layer.1.output.dense.weight"}
    write_published(folder, incomplete, config)
    with pytest.raises(ValueError, match="missing .*layer.1.output.dense.weight"):
        NT2Backbone.from_pretrained(str(folder))
    write_published(folder, {**state, "esm.encoder.layer.0.intermediate.dense.bias": torch.zeros(128)}, config)
    with pytest.raises(ValueError, match="unexpected .*intermediate.dense.bias"):
        NT2Backbone.from_pretrained(str(folder))
    wrong_rotary = dict(state)
    wrong_rotary["esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq"] = torch.ones(4)
    write_published(folder, wrong_rotary, config)
    with pytest.raises(ValueError, match="rotary"):
        NT2Backbone.from_pretrained(str(folder))
    write_published(folder, state, {**config, "position_embedding_type": "absolute"})  # an NT v1 folder
    with pytest.raises(ValueError, match="model=nt"):
        NT2Backbone.from_pretrained(str(folder))


def test_biased_feed_forward_when_the_config_asks_for_it(published):
    folder, state, config = published
    biases = {f"esm.encoder.layer.{i}.{name}.dense.bias": torch.randn(size)
              for i in range(2) for name, size in (("intermediate", 128), ("output", 32))}
    write_published(folder, {**state, **biases}, {**config, "add_bias_fnn": True})
    model = NT2Backbone.from_pretrained(str(folder))
    for key, value in biases.items():
        assert torch.equal(model.state_dict()[key], value)


def test_save_pretrained_round_trip(published, tmp_path):
    model = NT2Backbone.from_pretrained(str(published[0])).eval()
    model.save_pretrained(tmp_path / "saved")
    again = NT2Backbone.from_pretrained(str(tmp_path / "saved")).eval()
    assert again.tokenizer.vocab == PUBLISHED_VOCAB and again.config == model.config
    with torch.no_grad():
        assert torch.equal(again(again.encode(BATCH)), model(model.encode(BATCH)))  # the head too


def test_published_50m_preset_has_the_published_parameter_count():
    """The 50m preset plus the tensors the classifier drops is the published checkpoint's
    55,904,972 parameters (the model card of InstaDeepAI/nucleotide-transformer-v2-50m-multi-species)."""
    with torch.device("meta"):
        model = NT2Backbone(NTKmerTokenizer(), size="50m")
    encoder = sum(p.numel() for name, p in model.named_parameters() if name.startswith("esm."))
    d, layers, heads, vocab = 512, 12, 16, 4107
    dropped = 2050 * d + (layers * heads + 1) + (d * d + d + 2 * d + vocab * d + vocab)  # positions, contact, lm_head
    assert encoder + dropped == 55_904_972


# --- (c) numerics against an independent reference ----------------------------------------------

class ReferenceSwiGLU(nn.Module):
    """The published ``EsmIntermediate``, written out: ``x1, x2 = split(dense(x))``, ``silu(x1) * x2``."""

    def __init__(self, dense_weight: torch.Tensor):
        super().__init__()
        gate, value = dense_weight.detach().split(dense_weight.shape[0] // 2, dim=0)
        self.gate, self.value = nn.Parameter(gate.clone()), nn.Parameter(value.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x @ self.gate.T, x @ self.value.T
        return x1 * torch.sigmoid(x1) * x2


def reference_esm(model: NT2Backbone) -> EsmModel:
    """transformers' own ``EsmModel`` (rotary positions, pre-LayerNorm layers, final LayerNorm)
    with each layer's GELU feed-forward replaced by the published bias-free SwiGLU, carrying
    ``model``'s weights."""
    cfg = model.config
    ref = EsmModel(EsmConfig(
        vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=cfg["num_attention_heads"], intermediate_size=cfg["intermediate_size"],
        position_embedding_type="rotary", emb_layer_norm_before=False, token_dropout=cfg["token_dropout"],
        pad_token_id=cfg["pad_token_id"], mask_token_id=cfg["mask_token_id"], layer_norm_eps=cfg["layer_norm_eps"],
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0), add_pooling_layer=False)
    ours = {k[len("esm."):]: v for k, v in model.state_dict().items() if k.startswith("esm.")}
    for i, layer in enumerate(ref.encoder.layer):
        layer.intermediate = ReferenceSwiGLU(ours.pop(f"encoder.layer.{i}.intermediate.dense.weight"))
        layer.output.dense = nn.Linear(cfg["intermediate_size"], cfg["hidden_size"], bias=False)
    missing, unexpected = ref.load_state_dict(ours, strict=False)
    assert not unexpected and all(k.startswith("contact_head.") or "intermediate." in k or k.endswith("inv_freq")
                                  for k in missing), missing
    return ref.eval()


@pytest.mark.parametrize("token_dropout", [False, True])
def test_hidden_states_equal_transformers_rotary_esm_with_swiglu(published, token_dropout):
    """Rotary attention, pre-LN layers, final LayerNorm, SwiGLU gate order, token-dropout scaling and
    padding, from token embeddings, equal the reference run from input_ids."""
    folder, state, config = published
    write_published(folder, state, {**config, "token_dropout": token_dropout})
    model = NT2Backbone.from_pretrained(str(folder)).eval()
    inputs = model.encode(BATCH[:3] + [BATCH[0][:50]])  # the last one is padded
    inputs["input_ids"][1, 4] = 2  # a <mask> token: token dropout rescales this row
    with torch.no_grad():
        ours = model.hidden_states(model.input_embeddings(inputs), inputs)
        reference = reference_esm(model)(input_ids=inputs["input_ids"],
                                         attention_mask=inputs["attention_mask"]).last_hidden_state
    real = inputs["attention_mask"].bool()
    assert ours.abs().mean() > 0.1  # not a degenerate comparison
    torch.testing.assert_close(ours[real], reference[real], rtol=1e-4, atol=1e-5)


def test_swiglu_gates_with_the_first_half():
    """silu(first half) * second half on known numbers (the swapped order gives another value)."""
    tokenizer = NTKmerTokenizer()
    model = NT2Backbone(tokenizer, config={"hidden_size": 2, "num_attention_heads": 1, "intermediate_size": 1})
    intermediate = model.esm.encoder.layer[0].intermediate
    with torch.no_grad():
        intermediate.dense.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # gate <- x[0], value <- x[1]
    out = intermediate(torch.tensor([[2.0, 3.0]]))
    expected = 2.0 / (1 + np.exp(-2.0)) * 3.0  # silu(2) * 3 = 5.2848; silu(3) * 2 = 5.7154
    assert out.item() == pytest.approx(expected, rel=1e-6)


# --- (b) the differentiable path ----------------------------------------------------------------

def test_differentiable_path_is_the_model_and_reaches_every_token(published):
    model = NT2Backbone.from_pretrained(str(published[0])).eval()
    inputs = model.encode(BATCH)
    embeddings = model.input_embeddings(inputs).detach().requires_grad_(True)
    logits = model.forward_embeddings(embeddings, inputs)
    with torch.no_grad():
        reference = model.classifier(reference_esm(model)(**inputs).last_hidden_state)
    torch.testing.assert_close(logits.detach(), reference, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, model(inputs))
    logits[:, 1].sum().backward()
    real = inputs["attention_mask"].bool()
    assert (embeddings.grad[real].abs().sum(-1) > 0).all()
    assert (embeddings.grad[~real] == 0).all()  # padding is zeroed before the encoder


def test_token_order_changes_the_logits_and_padding_does_not(published):
    model = NT2Backbone.from_pretrained(str(published[0])).eval()
    inputs = model.encode(BATCH[:1])
    swapped = {k: v.clone() for k, v in inputs.items()}
    swapped["input_ids"][0, [1, 2]] = inputs["input_ids"][0, [2, 1]]
    assert not torch.equal(swapped["input_ids"], inputs["input_ids"])
    with torch.no_grad():
        logits, reordered = model(inputs), model(swapped)
        alone = model(model.encode([BATCH[0][:60]]))
        batched = model(model.encode([BATCH[0][:60], BATCH[1]]))[:1]
    assert (logits - reordered).abs().max() > 1e-3 * logits.abs().max()  # without positions: equal
    torch.testing.assert_close(alone, batched, rtol=1e-5, atol=1e-6)


# --- (d) fine-tuning through the checkpoint allow-list ------------------------------------------

@pytest.mark.parametrize("source", ["scratch", "published"])
def test_training_step_and_checkpoint_round_trip(source, published, tmp_path):
    overrides = ["model=nt2", "logger=none", "model.backbone.pooling=mean"]  # mean: BATCH has two lengths
    if source == "published":
        overrides.append(f"model.pretrained={published[0]}")
    cfg = compose_config("train", overrides, tmp_path)
    torch.manual_seed(0)
    module = build_classifier(cfg.model)
    assert isinstance(module.backbone, NT2Backbone)
    if source == "published":
        assert module.hparams.model_cfg["pretrained"] is None  # rebuilt from the stored architecture
        assert module.backbone.config["hidden_size"] == 32
    module.train()
    optimizer = module.optimizer_factory(params=module.parameters())
    batch = {"sequences": BATCH, "labels": torch.tensor([0, 1, 0, 1])}
    before = {k: v.clone() for k, v in module.state_dict().items()}
    _, loss = module._step(batch)
    loss.backward()
    optimizer.step()
    changed = [k for k, v in module.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("backbone.esm.encoder.") for k in changed)
    head = "backbone.readout.out_proj.weight" if source == "scratch" else "backbone.classifier.out_proj.weight"
    assert head in changed  # from scratch glmxai's head, fine-tuning the published one

    path = tmp_path / "nt2.ckpt"
    save_checkpoint(module, path)
    if source == "published":
        shutil.rmtree(published[0])  # the checkpoint alone rebuilds the model
    reloaded = load_classifier(path)
    assert reloaded.backbone.config == module.backbone.config
    assert reloaded.backbone.tokenizer.vocab == module.backbone.tokenizer.vocab
    module.eval()
    np.testing.assert_array_equal(reloaded.backbone.predict_proba(BATCH), module.backbone.predict_proba(BATCH))
