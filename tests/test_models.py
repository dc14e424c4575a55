"""The four gLM backbones: the shared contract, pretrained folders, and a short training run each."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from hydra.errors import InstantiationException

from glmxai.data.datamodule import SyntheticDataModule
from glmxai.data.encoding import to_codes
from glmxai.models.build import build_backbone, build_classifier, load_classifier
from glmxai.models.dnabert2 import DNABERT2Backbone
from glmxai.models.hyenadna import HyenaDNABackbone, hyena_key
from glmxai.models.tokenizers import CharTokenizer

from conftest import compose_config, random_sequences

MODELS = ["dnabert", "dnabert2", "nt", "hyenadna"]


TRAIN = random_sequences(200, 120)
BATCH = random_sequences(3, 120, seed=1) + ["ACGTN" * 24]


# A train.py run small enough for a test: one training, one validation and one test batch.
TINY_RUN = ["trainer.max_epochs=1", "data.n_train=32", "data.n_val=32", "data.n_test=32", "data.batch_size=32"]


def model_overrides(name: str) -> list[str]:
    return [f"model={name}", "logger=none", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


# The contract tests feed 120-bp sequences to each model's default: a position-wise head
# (pooling: flatten) that reads one length.
AT_120 = ("model.backbone.seq_len=120",)
# The head each published family fine-tunes with (what a pretrained folder round-trips).
PUBLISHED_HEAD = {"dnabert": "cls", "dnabert2": "cls", "nt": "cls", "hyenadna": "mean"}


def published_head(name: str) -> tuple[str, ...]:
    return (f"model.backbone.pooling={PUBLISHED_HEAD[name]}",)


def build(name: str, tmp_path, extra: tuple[str, ...] = ()):
    cfg = compose_config("train", [*model_overrides(name), *AT_120, *extra], tmp_path)
    torch.manual_seed(0)
    return build_backbone(cfg.model, TRAIN).eval()


@pytest.mark.parametrize("name", MODELS)
def test_forward_probabilities_and_token_map(name, tmp_path):
    model = build(name, tmp_path)
    inputs = model.encode(BATCH)
    logits = model(inputs)
    assert logits.shape == (len(BATCH), 2) and torch.isfinite(logits).all()
    proba = model.predict_proba(BATCH, batch_size=3)
    assert proba.shape == (len(BATCH), 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.allclose(proba, torch.softmax(logits, -1).detach().numpy(), atol=1e-5)
    assert np.allclose(model.predict_proba(to_codes(BATCH)), proba, atol=1e-5)  # integer codes path
    spans = model.tokenizer.token_spans(BATCH)
    assert spans.shape[:2] == inputs["input_ids"].shape
    covered = spans[spans[..., 0] >= 0]
    assert covered.min() == 0 and covered.max() == len(BATCH[0])


@pytest.mark.parametrize("name", MODELS)
def test_gradient_path_from_input_embeddings(name, tmp_path):
    model = build(name, tmp_path)
    inputs = model.encode(BATCH)
    embeddings = model.input_embeddings(inputs).detach().requires_grad_(True)
    assert embeddings.shape[:2] == inputs["input_ids"].shape
    logits = model.forward_embeddings(embeddings, inputs)
    assert torch.allclose(logits, model(inputs), atol=1e-5)
    logits[:, 1].sum().backward()
    real = inputs["attention_mask"].bool()
    assert embeddings.grad.shape == embeddings.shape
    assert (embeddings.grad[real].abs().sum(-1) > 0).float().mean() > 0.9


@pytest.mark.parametrize("name, extra", [("dnabert", ()), ("dnabert", ("model.backbone.pooling=cls",)),
                                         ("nt", ()), ("nt", ("model.backbone.pooling=cls",)),
                                         ("nt", ("model.backbone.pooling=mean",)),
                                         ("nt", ("+model.backbone.config.token_dropout=true",))])
def test_differentiable_path_equals_the_library_forward_on_input_ids(name, extra, tmp_path):
    """The attribution path (token embeddings -> logits) is the model the library runs from
    input_ids: positions, token-dropout scaling and padding included. With the published head the
    reference is the library's whole forward; with glmxai's heads (flatten, mean), the library's
    encoder forward read out by that head."""
    model = build(name, tmp_path, extra)
    padded = model.fixed_length is None  # one shorter sequence, padded, where the model reads any length
    inputs = model.encode([*BATCH, BATCH[0][:60]] if padded else BATCH)
    inputs["input_ids"][1, 3] = model.tokenizer.token_to_id.get("<mask>", inputs["input_ids"][1, 3])
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    with torch.no_grad():
        ours = model.forward_embeddings(model.input_embeddings(inputs), inputs)
        if model.readout is None:
            library = model.model(input_ids=ids, attention_mask=mask).logits
        else:
            hidden = model.model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
            library = model.readout(hidden, inputs)
    torch.testing.assert_close(ours, library, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_differentiable_path_sees_token_order(name, tmp_path):
    """Reordering the (non-special) tokens changes the logits: the model sees positions. At
    initialisation every input moves the logits little, so the change is measured against that
    of two other sequences; a bag-of-tokens model gives float noise (~1e-6 of it)."""
    model = build(name, tmp_path)
    inputs, others = model.encode(BATCH[:2]), model.encode(BATCH[2:4])
    real = model.tokenizer.token_spans(BATCH[:2])[0, :, 0] >= 0
    order = torch.arange(real.numel())
    inside = order[real]
    order[real] = inside[torch.randperm(len(inside), generator=torch.Generator().manual_seed(0))]
    shuffled = {k: v[:, order] for k, v in inputs.items()}
    assert torch.equal(shuffled["input_ids"].sort(-1).values, inputs["input_ids"].sort(-1).values)

    def logits(x):
        with torch.no_grad():
            return model.forward_embeddings(model.input_embeddings(x), x)

    reordering = (logits(inputs) - logits(shuffled)).abs().max()
    other_sequences = (logits(inputs) - logits(others)).abs().max()
    assert reordering > 1e-3 * other_sequences


@pytest.mark.parametrize("name", MODELS)
def test_save_and_from_pretrained_round_trip(name, tmp_path):
    model = build(name, tmp_path, published_head(name))
    model.save_pretrained(tmp_path / "saved")
    again = type(model).from_pretrained(str(tmp_path / "saved")).eval()
    assert type(again.tokenizer) is type(model.tokenizer)
    assert torch.equal(again.encode(BATCH)["input_ids"], model.encode(BATCH)["input_ids"])
    with torch.no_grad():
        assert torch.equal(again(again.encode(BATCH)), model(model.encode(BATCH)))
    flat = type(model).from_pretrained(str(tmp_path / "saved"), pooling="flatten", seq_len=120).state_dict()
    body = {k: v for k, v in model.state_dict().items() if not any(h in k for h in ("pooler", "classifier", "score"))}
    assert len(body) > 0.8 * len(model.state_dict()) and all(torch.equal(flat[k], v) for k, v in body.items())


@pytest.mark.parametrize("name", ["dnabert", "nt"])
def test_remote_code_folder_needs_trust(name, tmp_path):
    model = build(name, tmp_path, published_head(name))
    model.save_pretrained(tmp_path / "remote")
    config_file = tmp_path / "remote" / "config.json"
    config = json.loads(config_file.read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    config_file.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="auto_map"):
        type(model).from_pretrained(str(tmp_path / "remote"))
    cfg = compose_config("train", [*model_overrides(name), f"model.pretrained={tmp_path / 'remote'}"], tmp_path)
    with pytest.raises(ValueError, match="trust_remote_code"):
        build_backbone(cfg.model)


def test_dnabert2_loads_published_names_without_remote_code(tmp_path):
    """A folder laid out like zhihan1996/DNABERT-2-117M (BertConfig with auto_map, tokenizer.json,
    pytorch_model.bin of a BertForMaskedLM) loads natively with trust_remote_code false."""
    source = build("dnabert2", tmp_path, published_head("dnabert2"))
    folder = tmp_path / "dnabert2-published"
    source.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(auto_map={"AutoModel": "bert_layers.BertModel"}, architectures=["BertForMaskedLM"])
    (folder / "config.json").write_text(json.dumps(config))
    state = {k: v for k, v in source.state_dict().items() if k.startswith("bert.") and not k.startswith("bert.pooler")}
    expected = {"bert.encoder.layer.1.attention.self.Wqkv.weight", "bert.encoder.layer.0.mlp.gated_layers.weight",
                "bert.encoder.layer.0.mlp.wo.bias", "bert.encoder.layer.0.mlp.layernorm.weight",
                "bert.encoder.layer.0.attention.output.LayerNorm.weight",
                "bert.embeddings.token_type_embeddings.weight"}
    assert expected <= set(state)
    state["cls.predictions.decoder.weight"] = torch.zeros(3, 3)  # the MLM head is not needed
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    for pooling in ("cls", "flatten"):  # the published head, and the position-wise one
        loaded = DNABERT2Backbone.from_pretrained(str(folder), pooling=pooling, seq_len=120)
        for key, value in state.items():
            if key.startswith("bert."):
                assert torch.equal(loaded.state_dict()[key], value), key
    del state["bert.encoder.layer.0.mlp.wo.bias"]
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="missing"):
        DNABERT2Backbone.from_pretrained(str(folder))


@pytest.mark.parametrize("layout", ["hf", "lightning"])
def test_hyenadna_loads_published_names(layout, tmp_path):
    """HF-port (``hyena.backbone.*``, one stored sine frequency per filter) and original Lightning
    (``model.backbone.*`` in weights.ckpt) state dicts load into the native model."""
    torch.manual_seed(0)
    source = HyenaDNABackbone(CharTokenizer(), size="tiny-1k")  # the published tiny-1k
    folder = tmp_path / layout
    folder.mkdir()
    prefix = {"hf": "hyena.backbone.", "lightning": "model.backbone."}[layout]
    state = {prefix + k[len("backbone."):]: v.clone() for k, v in source.state_dict().items()
             if k.startswith("backbone.")}
    if layout == "hf":
        state = {k: v for k, v in state.items() if not k.endswith(("implicit_filter.3.freq", "implicit_filter.5.freq"))}
        state["lm_head.weight"] = torch.zeros(16, 128)
        torch.save(state, folder / "pytorch_model.bin")
    else:
        torch.save({"state_dict": state, "epoch": 3}, folder / "weights.ckpt")
    config = {"d_model": 128, "n_layer": 2, "d_inner": 512, "vocab_size": 12, "max_seq_len": 1026,
              "activation_freq": 10, "auto_map": {"AutoModel": "modeling_hyena.HyenaDNAModel"}}
    (folder / "config.json").write_text(json.dumps(config))
    loaded = HyenaDNABackbone.from_pretrained(str(folder)).eval()
    for key, value in source.state_dict().items():
        if key.startswith("backbone."):
            assert torch.equal(loaded.state_dict()[key], value), key
    assert hyena_key("hyena.backbone.ln_f.weight") == "backbone.ln_f.weight" and hyena_key("lm_head.weight") is None


def test_hyenadna_loads_the_original_layout_beyond_tiny(tmp_path):
    """The original (non-HF) hyenadna-small-32k-seqlen folder: config.json with the sizes on top and
    the operator's settings nested under "layer" (original names), weights.ckpt of a Lightning run."""
    source = HyenaDNABackbone(CharTokenizer(), size="small-32k")
    folder = tmp_path / "hyenadna-small-32k-seqlen"
    folder.mkdir()
    state = {"model.backbone." + k[len("backbone."):]: v for k, v in source.state_dict().items()
             if k.startswith("backbone.")}
    torch.save({"state_dict": {**state, "model.head.output_transform.weight": torch.zeros(2, 256)}},
               folder / "weights.ckpt")
    config = {"d_model": 256, "n_layer": 4, "d_inner": 1024, "vocab_size": 12, "resid_dropout": 0.0,
              "embed_dropout": 0.1, "fused_mlp": False, "fused_dropout_add_ln": True, "residual_in_fp32": True,
              "pad_vocab_size_multiple": 8,
              "layer": {"_name_": "hyena", "emb_dim": 5, "filter_order": 64, "local_order": 3, "l_max": 32770,
                        "modulate": True, "w": 10, "lr": 6e-4, "wd": 0.0, "lr_pos_emb": 0.0}}
    (folder / "config.json").write_text(json.dumps(config))
    loaded = HyenaDNABackbone.from_pretrained(str(folder))
    assert loaded.config["max_seq_len"] == 32770 and loaded.config["n_layer"] == 4
    for key, value in source.state_dict().items():
        if key.startswith("backbone."):
            assert torch.equal(loaded.state_dict()[key], value), key


def test_hyenadna_rejects_sequences_longer_than_its_filters(tmp_path):
    model = HyenaDNABackbone(CharTokenizer(), config={"max_seq_len": 50})
    with pytest.raises(ValueError, match="max_seq_len"):
        model.predict_proba(random_sequences(1, 60))


def test_hyenadna_default_reads_every_position_of_one_length(tmp_path):
    """The from-scratch recipe: filters fitted to the input (16 bands over L + 2 positions), a
    position-wise head over the 300-bp sequences, 4 epochs; the embedding path is the model's
    forward and sees token order; other lengths are refused by name."""
    cfg = compose_config("train", ["model=hyenadna"], tmp_path)
    assert cfg.trainer.max_epochs == 4
    model = build_backbone(cfg.model).eval()
    assert model.pooling == "flatten" and model.fixed_length == 300 and model.config["max_seq_len"] == 302
    assert model.config["emb_dim"] == 33 and model.readout.project.in_features == 64
    assert model.readout.dense.in_features == 300 * model.readout.project.out_features
    sequences = random_sequences(3, 300)
    inputs = model.encode(sequences)
    with torch.no_grad():
        logits = model.forward_embeddings(model.input_embeddings(inputs), inputs)
        shifted = {k: torch.roll(v, 1, dims=1) for k, v in inputs.items()}
        moved = model.forward_embeddings(model.input_embeddings(shifted), shifted)
    np.testing.assert_allclose(model.predict_proba(sequences), torch.softmax(logits, -1).numpy(), atol=1e-6)
    assert (logits - moved).abs().max() > 1e-4
    with pytest.raises(ValueError, match="exactly 300 bases"):
        model.predict_proba(random_sequences(1, 200))
    with pytest.raises(InstantiationException, match="needs one input length"):
        build_backbone(compose_config("train", ["model=hyenadna", "data.seq_len=null"], tmp_path).model)


def test_hyenadna_pretrained_keeps_the_published_architecture(tmp_path):
    """model=hyenadna model.pretrained=... takes its architecture from the folder, not the recipe."""
    published = HyenaDNABackbone(CharTokenizer(), size="tiny-1k")
    published.save_pretrained(tmp_path / "published")
    cfg = compose_config("train", ["model=hyenadna", f"model.pretrained={tmp_path / 'published'}"], tmp_path)
    loaded = build_backbone(cfg.model)
    assert loaded.config == published.config and loaded.pooling == "mean"
    cfg = compose_config("train", ["model=hyenadna", f"model.pretrained={tmp_path / 'published'}",
                                   "+model.pretrained_kwargs.pooling=flatten", "+model.pretrained_kwargs.seq_len=300"],
                         tmp_path)
    flat = build_backbone(cfg.model)
    assert flat.config["d_model"] == 128 and flat.readout.project.in_features == 128 and flat.readout.seq_len == 300


@pytest.mark.parametrize("name", MODELS)
def test_train_run(name, tmp_path):
    """train.py's run on small synthetic data: test metrics written, and the best checkpoint reloads."""
    from glmxai.jobs.train import run

    cfg = compose_config("train", [*model_overrides(name), *TINY_RUN], tmp_path)
    metrics = run(cfg)
    module = load_classifier(metrics["checkpoint"])
    assert metrics["params"] == sum(p.numel() for p in module.parameters())
    test = SyntheticDataModule(n_train=32, n_val=32, n_test=32).table("test")
    predicted = module.backbone.predict_proba(test.sequences).argmax(1)
    assert metrics["test/acc"] == pytest.approx((predicted == test.labels).mean(), abs=1e-6)


class DropoutModes(L.Callback):
    """Records, per training and validation batch, whether every dropout module is in train mode."""

    def __init__(self):
        self.train_batches, self.val_batches = [], []

    @staticmethod
    def _modes(module) -> set[bool]:
        return {m.training for m in module.modules() if isinstance(m, torch.nn.Dropout)}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.train_batches.append(self._modes(pl_module))

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.val_batches.append(self._modes(pl_module))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("source", ["scratch", "pretrained"])
def test_training_runs_in_train_mode_and_evaluation_in_eval_mode(name, source, tmp_path):
    """Fine-tuning from model.pretrained (which returns modules in eval mode) trains with dropout on."""
    extra = ()
    if source == "pretrained":  # a published-like folder for the 300-bp data
        source_model = build(name, tmp_path, (*published_head(name), "model.backbone.seq_len=300"))
        source_model.save_pretrained(tmp_path / "source")
        extra = (f"model.pretrained={tmp_path / 'source'}",)
    cfg = compose_config("train", [*model_overrides(name), *extra], tmp_path)
    module = build_classifier(cfg.model, TRAIN)
    recorder = DropoutModes()
    data = SyntheticDataModule(n_train=16, n_val=8, n_test=8, batch_size=8)
    trainer = L.Trainer(max_steps=2, callbacks=[recorder], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=1)
    trainer.fit(module, datamodule=data)
    assert recorder.train_batches and all(modes == {True} for modes in recorder.train_batches)
    assert recorder.val_batches and all(modes == {False} for modes in recorder.val_batches)


def test_fine_tuned_pretrained_model_reloads_without_its_source(tmp_path):
    """Fine-tune from a pretrained folder, delete the folder: the checkpoint alone rebuilds the model."""
    from glmxai.jobs.train import run

    source = build("dnabert2", tmp_path, ("model.backbone.pooling=mean",))
    source.save_pretrained(tmp_path / "source")
    cfg = compose_config("train", [*model_overrides("dnabert2"), *TINY_RUN, f"model.pretrained={tmp_path / 'source'}",
                                   "+model.pretrained_kwargs.pooling=mean"], tmp_path / "run")
    metrics = run(cfg)
    shutil.rmtree(tmp_path / "source")
    module = load_classifier(metrics["checkpoint"])
    assert module.hparams.model_cfg["pretrained"] is None
    assert module.hparams.model_cfg["pretrained_from"] == str(tmp_path / "source")
    assert module.backbone.pooling == "mean"
    # the test metrics were computed while the source folder existed; without it, the checkpoint
    # alone gives them again (recomputed here with scikit-learn)
    from sklearn.metrics import accuracy_score, matthews_corrcoef

    from glmxai.data.recorded import job_data

    test = job_data(None, module.hparams["data"], Path(metrics["checkpoint"])).table("test")
    predicted = module.backbone.predict_proba(test.sequences).argmax(1)
    assert accuracy_score(test.labels, predicted) == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert matthews_corrcoef(test.labels, predicted) == pytest.approx(metrics["test/mcc"], abs=1e-6)
