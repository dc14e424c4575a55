"""Files a user is sent (checkpoints, result folders, pretrained folders) cannot run code; remote
code needs the current command's consent; resume never mixes two models. Each hostile file here
is a live exploit (shown by handing it to Hydra's own ``instantiate``) whose marker file must
not appear when glmxai reads it."""
from __future__ import annotations

import io
import json
import os
import pathlib
import runpy
import sys

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from glmxai.allowlist import UntrustedConfigError
from glmxai.explain_runs import ExplainInputError, load_run
from glmxai.jobs import explain as xai_job
from glmxai.jobs.analyze import run as analyze
from glmxai.jobs.merge import merge_shards
from glmxai.jobs.train import run as train
from glmxai.models.build import CheckpointError, RemoteCodeRefused, build_backbone, build_classifier, load_classifier

from conftest import SMALL_DATA, compose_config, save_checkpoint
from xai_toys import save_toy_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Touch:
    """Unpickling this creates ``path``: the payload of a pickle that runs code."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (self.path,)


def pickled_touch(marker: pathlib.Path) -> bytes:
    buffer = io.BytesIO()
    torch.save(Touch(marker), buffer)
    return buffer.getvalue()


def hostile_nodes(marker: pathlib.Path) -> dict[str, tuple[str, dict]]:
    """Config nodes that run code when built by their ``_target_``: (where in model_cfg, node)."""
    return {
        "torch.load over in-config pickle bytes": ("tokenizer", {
            "_target_": "torch.load", "weights_only": False,
            "f": {"_target_": "io.BytesIO", "initial_bytes": pickled_touch(marker)}}),
        "os.system": ("backbone", {"_target_": "os.system", "command": f"touch {marker}"}),
        # constructing it creates its file: a class Hydra's own blocklist lets through
        "a non-glmxai class": ("backbone", {"_target_": "logging.FileHandler", "filename": str(marker)}),
        "a nested _target_ in an allowed class": ("backbone", {
            "_target_": "glmxai.models.toys.MotifDetector",
            "start": {"_target_": "logging.FileHandler", "filename": str(marker)}}),
        "_partial_ on an allowed class": ("backbone", {"_target_": "glmxai.models.toys.MotifDetector",
                                                       "_partial_": True}),
        "_args_ on an allowed class": ("backbone", {"_target_": "glmxai.models.toys.MotifDetector",
                                                    "_args_": [{"_target_": "logging.FileHandler",
                                                                "filename": str(marker)}]}),
    }


def hostile_checkpoint(path: pathlib.Path, where: str, node: dict) -> pathlib.Path:
    """A real toy checkpoint whose stored model config has ``node`` at ``where``."""
    save_toy_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"]["model_cfg"][where] = node
    torch.save(checkpoint, path)
    return path


@pytest.mark.parametrize("case", list(hostile_nodes(pathlib.Path("m"))))
def test_hostile_checkpoint_config_is_refused_before_anything_runs(case, tmp_path):
    marker = tmp_path / "MARKER"
    where, node = hostile_nodes(marker)[case]
    ckpt = hostile_checkpoint(tmp_path / "evil.ckpt", where, node)
    with pytest.raises(UntrustedConfigError, match=rf"{ckpt}: model_cfg\.{where}") as refused:
        load_classifier(ckpt)
    assert not marker.exists()
    print(refused.value)


def test_the_hostile_configs_are_live_exploits(tmp_path):
    """Without the allow-list they run code: Hydra's instantiate creates the marker."""
    marker = tmp_path / "MARKER"
    nodes = hostile_nodes(marker)
    instantiate(nodes["torch.load over in-config pickle bytes"][1])
    assert marker.exists()
    marker.unlink()
    instantiate(nodes["a non-glmxai class"][1]).close()
    assert marker.exists()


def test_explain_train_and_analyze_refuse_a_hostile_checkpoint(tmp_path):
    marker = tmp_path / "MARKER"
    ckpt = hostile_checkpoint(tmp_path / "evil.ckpt", *hostile_nodes(marker)["torch.load over in-config pickle bytes"])
    with pytest.raises(UntrustedConfigError):
        xai_job.run(compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "explain.n=2"], tmp_path / "explain"))
    with pytest.raises(UntrustedConfigError):
        train(compose_config("train", ["train=false", f"ckpt_path={ckpt}", "logger=none", *SMALL_DATA],
                             tmp_path / "train"))
    job = tmp_path / "results" / "job"  # a results folder whose meta.json names the checkpoint
    job.mkdir(parents=True)
    sequences = np.array(["ACGT" * 75] * 5)
    np.savez(job / "attributions.npz", scores=np.ones((5, 300), np.float32), sequences=sequences,
             labels=np.array([0, 1, 0, 1, 0]), probs=np.full(5, 0.5, np.float32), index=np.arange(5))
    (job / "meta.json").write_text(json.dumps({"method": "ism", "model": "toy", "checkpoint": str(ckpt), "tss": 249}))
    with pytest.raises(UntrustedConfigError):
        analyze(compose_config("analyze", [f"inputs=[{job}]", "logger=none", "faithfulness.n=5"], tmp_path / "an"))
    assert not marker.exists()


def test_malformed_meta_json_names_the_file(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    np.savez(job / "attributions.npz", scores=np.ones((1, 4), np.float32), sequences=np.array(["ACGT"]),
             labels=np.array([1]), probs=np.ones(1, np.float32), index=np.arange(1))
    (job / "meta.json").write_bytes(b"\x1f\x8b not json")
    with pytest.raises(ExplainInputError, match=rf"{job / 'meta.json'}: not valid JSON"):
        load_run(job)
    (job / "meta.json").write_text("[1, 2]")
    with pytest.raises(ExplainInputError, match="expected a JSON object"):
        load_run(job)


def test_merge_refuses_a_hostile_shard_config(tmp_path):
    """A shard folder's saved .hydra/config.yaml is a file like any other: its data _target_ is refused."""
    marker = tmp_path / "MARKER"
    ckpt = save_toy_checkpoint(tmp_path / "toy.ckpt")
    shard = tmp_path / "shard0"
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "explain.n=2"], shard)
    cfg.data = {"_target_": "os.system", "command": f"touch {marker}"}
    (shard / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, shard / ".hydra" / "config.yaml")
    with pytest.raises(UntrustedConfigError, match=r"config\.yaml: data\._target_: 'os\.system'"):
        merge_shards([shard], tmp_path / "merged")
    assert not marker.exists()


def test_allowed_class_with_a_mistyped_argument_is_refused(tmp_path):
    ckpt = hostile_checkpoint(tmp_path / "typed.ckpt", "backbone",
                              {"_target_": "glmxai.models.toys.MotifDetector", "start": "120"})
    with pytest.raises(UntrustedConfigError, match=r"model_cfg\.backbone\.start: expected an integer"):
        load_classifier(ckpt)


def remote_code_folder(tmp_path: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    """A DNABERT folder whose config.json names its own modelling code (auto_map), as the hub's
    remote-code checkpoints do; building that model creates ``marker``."""
    cfg = compose_config("train", ["model=dnabert", "logger=none"], tmp_path)
    folder = tmp_path / "remote"
    build_backbone(cfg.model).save_pretrained(folder)
    (folder / "modeling_marked.py").write_text(
        "import pathlib\nfrom transformers import BertForSequenceClassification\n\n\n"
        "class MarkedBert(BertForSequenceClassification):\n"
        "    def __init__(self, config):\n"
        f"        pathlib.Path({str(marker)!r}).touch()\n"
        "        super().__init__(config)\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_marked.MarkedBert"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_stored_trust_is_not_consent(tmp_path):
    """Fine-tuned with model.trust_remote_code=true; reloading needs the flag again."""
    marker = tmp_path / "MARKER"
    folder = remote_code_folder(tmp_path, marker)
    cfg = compose_config("train", ["model=dnabert", "logger=none", f"model.pretrained={folder}",
                                   "model.trust_remote_code=true"], tmp_path)
    module = build_classifier(cfg.model)
    assert marker.exists() and module.hparams["model_cfg"]["trust_remote_code"] is True
    ckpt = tmp_path / "finetuned.ckpt"
    save_checkpoint(module, ckpt)
    marker.unlink()
    with pytest.raises(RemoteCodeRefused, match="stored in the checkpoint is not consent") as refused:
        load_classifier(ckpt)
    with pytest.raises(RemoteCodeRefused):
        xai_job.run(compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "data.seq_len=null", "explain.n=2"],
                                   tmp_path / "explain"))
    shard = tmp_path / "shard0"  # a shard folder whose saved config says trust_remote_code: true
    shard_cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "data.seq_len=null", "explain.n=2",
                                           "model.trust_remote_code=true"], shard)
    (shard / ".hydra").mkdir(parents=True)
    OmegaConf.save(shard_cfg, shard / ".hydra" / "config.yaml")
    with pytest.raises(RemoteCodeRefused):
        merge_shards([shard], tmp_path / "merged")
    assert not marker.exists()
    print(refused.value)
    again = load_classifier(ckpt, trust_remote_code=True)  # the command's consent
    assert marker.exists()
    seqs = ["ACGT" * 25, "TTGA" * 25]
    np.testing.assert_allclose(again.backbone.predict_proba(seqs), module.backbone.predict_proba(seqs), atol=1e-6)


def test_resume_refuses_another_model_of_the_same_size_at_the_same_path(tmp_path):
    ckpt = save_toy_checkpoint(tmp_path / "model.ckpt")
    out = tmp_path / "explain"
    cfg = compose_config("explain", [f"ckpt_path={ckpt}", *SMALL_DATA, "xai=ism", "explain.n=4",
                                     "explain.chunk_size=2"], out)
    xai_job.run(cfg)
    (out / "chunks" / "chunk_00001.npz").unlink()  # as if interrupted after the first chunk
    first_chunk = (out / "chunks" / "chunk_00000.npz").read_bytes()
    retrained = torch.load(ckpt, weights_only=True)  # "retrained into the same run folder"
    retrained["state_dict"]["backbone.scale"] = torch.tensor(-4.0)
    size = ckpt.stat().st_size
    torch.save(retrained, ckpt)
    assert ckpt.stat().st_size == size  # what the old size-based fingerprint compared
    with pytest.raises(ValueError, match="computed with another model") as refused:
        xai_job.run(cfg)
    assert (out / "chunks" / "chunk_00000.npz").read_bytes() == first_chunk
    assert not (out / "chunks" / "chunk_00001.npz").exists()
    print(refused.value)


@pytest.mark.parametrize("damage", ["empty", "truncated", "LFS pointer", "text", "pickled object"])
def test_damaged_checkpoints_name_the_file(damage, tmp_path):
    marker = tmp_path / "MARKER"
    ckpt = save_toy_checkpoint(tmp_path / "model.ckpt")
    whole = ckpt.read_bytes()
    if damage == "empty":
        ckpt.write_bytes(b"")
    elif damage == "truncated":
        ckpt.write_bytes(whole[: len(whole) // 2])
    elif damage == "LFS pointer":
        ckpt.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1234\n")
    elif damage == "text":
        ckpt.write_text("sequence,label\nACGT,1\n")
    else:
        torch.save({"hyper_parameters": {}, "payload": Touch(marker)}, ckpt)
    with pytest.raises(CheckpointError, match=str(ckpt)) as refused:
        load_classifier(ckpt)
    assert not marker.exists()
    expected = {"empty": "empty file", "truncated": "truncated or corrupted", "LFS pointer": "Git LFS pointer",
                "text": "cannot be read as a PyTorch checkpoint",
                "pickled object": "refused: it holds pickled Python objects"}
    assert expected[damage] in str(refused.value)
    print(refused.value)


def test_failed_rerun_keeps_the_folder_config_and_logs_the_error(tmp_path, monkeypatch):
    """Through the real Hydra entry point: a re-run into a folder of other settings is refused,
    the folder's .hydra/config.yaml still describes its results, and explain.log has the error."""
    ckpt = save_toy_checkpoint(tmp_path / "toy.ckpt")
    out = tmp_path / "job"
    common = [f"ckpt_path={ckpt}", "xai=lime", "explain.n=2", *SMALL_DATA, f"hydra.run.dir={out}"]
    script = str(pathlib.Path(__file__).resolve().parents[1] / "explain.py")
    monkeypatch.setattr(sys, "argv", ["explain.py", *common, "xai.num_samples=40"])
    runpy.run_path(script, run_name="__main__")
    saved = (out / ".hydra" / "config.yaml").read_text()
    assert "num_samples: 40" in saved and (out / ".hydra" / "overrides.yaml").is_file()
    monkeypatch.setattr(sys, "argv", ["explain.py", *common, "xai.num_samples=41"])
    with pytest.raises(SystemExit):
        runpy.run_path(script, run_name="__main__")
    assert (out / ".hydra" / "config.yaml").read_text() == saved
    log = (out / "explain.log").read_text()
    assert "job failed: StaleResultError" in log and "other settings" in log


def test_umask_modes_for_results(tmp_path):
    """Reports, tables and figures are shareable on a group server (umask-based, not 0600)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from glmxai.io import write_json_atomic
    from glmxai.report import Report

    old = os.umask(0o002)
    try:
        report = Report(tmp_path, "modes")
        report.table("t", pd.DataFrame({"a": [1]}), "a table")
        report.figure("f", plt.figure(), "a figure")
        write_json_atomic({"a": 1}, tmp_path / "summary.json")
        files = [report.write(), tmp_path / "tables" / "t.csv", tmp_path / "figures" / "f.png",
                 tmp_path / "summary.json"]
    finally:
        os.umask(old)
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(0o664)}
    assert not list(tmp_path.rglob("*.tmp"))
