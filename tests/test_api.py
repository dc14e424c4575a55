"""The Python API (glmxai.api) on tiny inputs: each function against an independent answer (the
toy's known logit, explain.py's own job, the probes' known peak) and with the command line's errors."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from test_probes import SMALL, TSS, _toy_checkpoint

from glmxai import api
from glmxai.allowlist import UntrustedConfigError
from glmxai.data.encoding import to_strings
from glmxai.data.table import SequenceDataError
from glmxai.models.toys import MOTIF, START

from conftest import SMALL_DATA, compose_config
from xai_toys import toy_sequences

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _known_p(codes: np.ndarray) -> np.ndarray:
    """The toy's p(promoter) by its formula: sigmoid(4 (matching motif bases at START - 4.5))."""
    matches = (codes[:, START:START + len(MOTIF)] == np.array(["ACGT".index(b) for b in MOTIF])).sum(axis=1)
    return 1 / (1 + np.exp(-4.0 * (matches - (len(MOTIF) - 1.5))))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return _toy_checkpoint(tmp_path_factory.mktemp("api") / "toy.ckpt", start=START)


def test_load_model_reads_the_data_record_and_predict_is_the_models_probability(toy):
    model = api.load_model(toy)
    assert (model.name, model.tss, model.length, model.checkpoint) == ("toy", TSS, 300, toy)
    codes, _ = toy_sequences(6)
    sequences = to_strings(codes)
    np.testing.assert_allclose(api.predict(model, sequences), _known_p(codes), rtol=1e-5)
    np.testing.assert_allclose(api.predict(model, [s.lower() for s in sequences]), _known_p(codes), rtol=1e-5)


@pytest.mark.parametrize(("sequences", "message"), [
    (["ACGT" * 75, "ACGU" + "A" * 296], "sequence 1: invalid character 'U' at position 3"),
    (["A" * 300, "A" * 299], "one length"), (["A" * 299], "the model needs exactly 300"),
    ("A" * 300, "not one string"), ([], "not nothing")])
def test_bad_sequences_are_refused_by_name(toy, sequences, message):
    with pytest.raises((SequenceDataError, ValueError), match=message):
        api.predict(api.load_model(toy), sequences)


def test_explain_equals_explain_py_on_the_same_rows_with_the_shipped_defaults(toy, tmp_path):
    """LIME is random: equal scores mean the same defaults (conf/xai/lime.yaml), the same seeds
    per row and the same code path as the explain job."""
    run = api.explain_split(toy, "lime", tmp_path / "lime", [*SMALL_DATA, "explain.n=3", "explain.seed=7"])
    assert run.method == "lime" and run.scores.shape == (3, 300)
    same = api.explain(api.load_model(toy), list(run.sequences), "lime", seed=7, rows=run.index)
    np.testing.assert_array_equal(same.scores, run.scores)
    np.testing.assert_allclose(same.probs, run.probs, rtol=1e-6)
    assert len(same.records) == 3 and same.tss == run.tss == TSS
    other = api.explain(api.load_model(toy), list(run.sequences), "lime", {"num_samples": 200}, seed=7, rows=run.index)
    assert not np.array_equal(other.scores, run.scores)
    assert api.read_results(tmp_path / "lime").scores.tobytes() == run.scores.tobytes()


def test_explain_ism_puts_the_attribution_on_the_toys_motif(toy):
    codes, labels = toy_sequences(4)
    result = api.explain(api.load_model(toy), to_strings(codes), "ism")
    assert result.scores.shape == (4, 300) and result.arrays["delta"].shape == (4, 4, 300)
    inside = np.abs(result.scores[:, START:START + len(MOTIF)]).sum(axis=1)
    assert (inside >= 0.999 * np.abs(result.scores).sum(axis=1)).all()  # the toy reads nothing else
    with pytest.raises(ValueError, match="rows: expected one row number per sequence"):
        api.explain(api.load_model(toy), to_strings(codes), "ism", rows=[0, 1])


def test_plant_moves_the_logit_by_the_toys_known_amount(toy):
    codes, _ = toy_sequences(6)
    model = api.load_model(toy)
    planted = api.plant(model, to_strings(codes), MOTIF, START - TSS)
    known = _known_p(codes)
    np.testing.assert_allclose(planted.logit, 4.0 * 1.5 - np.log(known / (1 - known)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(planted.prob, 1 / (1 + np.exp(-6.0)) - known, atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        api.plant(model, to_strings(codes), MOTIF, 60)
    with pytest.raises(ValueError, match="expected bases A, C, G, T"):
        api.plant(model, to_strings(codes), "TATAWA", -31)


def test_probe_finds_the_toys_motif_at_its_position(tmp_path):
    checkpoint = _toy_checkpoint(tmp_path / "tata.ckpt")  # TATAAA read at -31
    patterns = ["probes.patterns=[{consensus: TATAWAWR, name: TATA, position: -31}]",
                "probes.experiments=[insertion,position_scan]"]
    tables = api.probe(checkpoint, tmp_path / "probes", [*SMALL[1:-1], *patterns])
    consensus = tables.insertion[(tables.insertion["variant"] == "consensus")].iloc[0]
    assert consensus["mean"] > 5 and (tables.peaks["peak"] == -31).all() and tables.grid is None


def test_the_api_keeps_the_command_lines_security_rules(tmp_path):
    """A checkpoint naming a class off the allow-list is refused by name, as on the command line."""
    from glmxai.models.build import read_checkpoint

    checkpoint = _toy_checkpoint(tmp_path / "toy.ckpt")
    stored = read_checkpoint(checkpoint)
    stored["hyper_parameters"]["model_cfg"]["backbone"]["_target_"] = "os.system"
    torch.save(stored, tmp_path / "hostile.ckpt")
    with pytest.raises(UntrustedConfigError, match="hostile.ckpt"):
        api.load_model(tmp_path / "hostile.ckpt")
    cfg = compose_config("explain", [f"ckpt_path={checkpoint}", "xai=ism"], tmp_path / "x")
    assert api.config("explain", [f"ckpt_path={checkpoint}", "xai=ism", "logger=none"]).xai == cfg.xai


def test_train_load_split_and_logo_on_a_tiny_run(tmp_path):
    """train is train.py's job (its run folder and best checkpoint); load_split gives the data the
    checkpoint records (synthetic: with masks and motifs); logo draws the report's attribution logo."""
    ckpt = api.train(["data.n_train=200", "data.n_val=60", "data.n_test=40", "trainer.max_epochs=1",
                      "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"], tmp_path / "run")
    assert ckpt.is_file() and json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"] == 1
    model = api.load_model(ckpt)
    test = api.load_split(model, "test")
    assert len(test) == 40 and test.masks.shape == (40, 300) and test.motifs
    result = api.explain(model, test.sequences[:2], "ism")
    hits = [{"start": m["start"], "end": m["end"], "motif": m["motif"], "strand": "+"} for m in test.motifs
            if m["row"] == 0]
    figure = api.logo(result, 0, pd.DataFrame(hits), span=(-100, 10))
    assert figure.axes[0].get_title().startswith("ism, sequence 0") and len(figure.axes[0].texts) >= 1
