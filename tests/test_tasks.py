"""GUE promoter tasks by name (``data=gue_<task>``): length, TSS and task reach training, the
checkpoint, explain, probes and the analysis; a 70-bp core-promoter task whose GC-box and CCAAT
positions lie outside the sequence is analysed with those left out and said so, never shifted."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from glmxai.data.datamodule import GueDataModule
from glmxai.data.negatives import kinds_of
from glmxai.data.table import SequenceTable, write_sequence_csv
from glmxai.motifs import build_motif, scan

from conftest import QUIET, REPO_ROOT, compose_config, random_sequences

TASKS = {"gue_prom_300_all": ("prom_300_all", 300, 249, "prom_300_all_full"),
         "gue_prom_300_tata": ("prom_300_tata", 300, 249, "prom_300_tata"),
         "gue_prom_core_all": ("prom_core_all", 70, 33, "prom_core_all")}


@pytest.mark.parametrize("option", sorted(TASKS))
def test_a_task_config_sets_its_length_tss_and_folder(tmp_path, option):
    task, length, tss, folder = TASKS[option]
    cfg = compose_config("train", [f"data={option}", "model=cnn", "logger=none"], tmp_path)
    assert (cfg.data.task, cfg.data.seq_len, cfg.data.tss) == (task, length, tss)
    assert cfg.data.root.endswith(f"shared/data/gue/{folder}")
    assert cfg.model.backbone.seq_len == length  # the model follows the task's length
    other = compose_config("train", [f"data={option}", "data.root=/elsewhere"], tmp_path)
    assert other.data.root == "/elsewhere" and other.data.tss == tss


def test_any_gue_folder_still_works_with_data_gue(tmp_path):
    cfg = compose_config("train", ["data=gue", "data.root=/some/folder"], tmp_path)
    assert (cfg.data.root, cfg.data.task, cfg.data.seq_len, cfg.data.tss) == ("/some/folder", None, 300, 249)


def test_a_forgotten_tss_is_an_error_never_249(tmp_path):
    motif = build_motif("MA0108", pvalue=1e-3)
    with pytest.raises(TypeError, match="tss"):
        scan(["ACGT" * 20], [motif])
    with pytest.raises(TypeError, match="tss"):
        GueDataModule(root=str(tmp_path), seq_len=300)
    with pytest.raises(ValueError, match="data.tss=80 lies outside sequences of data.seq_len=70"):
        GueDataModule(root=str(tmp_path), seq_len=70, tss=80)
    from glmxai.xai.saturation_mutagenesis import SaturationMutagenesis

    with pytest.raises(TypeError, match="tss"):
        SaturationMutagenesis(None)


def _core_folder(root, seed: int = 0) -> None:
    """A 70-bp GUE-like folder, TSS at 33: promoters carry TATAAAA at -31 (index 2), negatives none."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", 240), ("dev", 60), ("test", 60)):
        sequences = random_sequences(n, 70, seed=seed + n)
        labels = (rng.random(n) < 0.5).astype(np.int64)
        sequences = [s[:2] + "TATAAAA" + s[9:] if y else s for s, y in zip(sequences, labels)]
        write_sequence_csv(SequenceTable(sequences, labels, split), root / f"{split}.csv")


def test_a_70bp_task_flows_through_train_explain_probes_and_analysis(command, tmp_path):
    root = tmp_path / "core"
    root.mkdir()
    _core_folder(root)
    command("train.py", "data=gue_prom_core_all", f"data.root={root}", "model=cnn", "model.backbone.pool_sizes=[2,2]",
            "logger=none", "trainer.max_epochs=3", "data.batch_size=16", *QUIET, "hydra.run.dir=train")
    metrics = json.loads((tmp_path / "train/metrics.json").read_text())
    assert metrics["config"]["data"]["task"] == "prom_core_all" and metrics["test/mcc"] > 0.5
    checkpoint = torch.load(tmp_path / "train/checkpoints/best.ckpt", weights_only=True)
    record = checkpoint["hyper_parameters"]["data"]["config"]
    assert (record["task"], record["seq_len"], record["tss"]) == ("prom_core_all", 70, 33)

    command("explain.py", f"ckpt_path={tmp_path / 'train/checkpoints/best.ckpt'}", "xai=ism", "explain.n=6",
            "logger=none", "hydra.run.dir=explain")
    meta = json.loads((tmp_path / "explain/meta.json").read_text())
    assert meta["tss"] == 33 and meta["sequence_length"] == 70 and meta["data_config"]["task"] == "prom_core_all"

    command("analyze.py", "inputs=[explain]", "faithfulness.enabled=false", "audit.enabled=false",
            "probes.enabled=true", "probes=cpu", "probes.n_backgrounds=12", "probes.instances=3",
            "probes.n_bootstrap=100", "probes.experiments=[insertion,dose,spacing]", "hydra.run.dir=report")
    summary = json.loads((tmp_path / "report/summary.json").read_text())
    assert summary["tss"] == 33
    skipped = {s["what"]: s["why"] for s in summary["not_analyzed"]}
    for name in ("SP1/GC-box (MA0079)", "NFYA/CCAAT (MA0060)", "BREu (POL006)"):
        assert "lies outside the 70-bp sequences" in skipped[f"motif probes of {name}"]
    assert "dose of SP1/GC-box (MA0079)" in skipped
    assert "spacing of SP1/GC-box (MA0079) and NFYA/CCAAT (MA0060)" in skipped
    insertion = pd.read_csv(tmp_path / "report/tables/probes_insertion.csv")
    probed = set(insertion["pattern"])
    assert {"TBP/TATA (MA0108)", "Inr (POL002)"} <= probed and "SP1/GC-box (MA0079)" not in probed
    motifs = pd.read_csv(tmp_path / "report/tables/motifs.csv").set_index("motif")["window_in_sequence"]
    assert motifs["TBP/TATA (MA0108)"] == "partly outside (starts -33..-20)"
    assert motifs["Inr (POL002)"] == "inside" and motifs["SP1/GC-box (MA0079)"] == "no window"
    assert "TBP/TATA (MA0108) in its expected window -40..-20" in skipped


RECIPES = sorted(p.relative_to(REPO_ROOT / "conf/experiment").with_suffix("").as_posix()
                 for task in TASKS.values() for p in (REPO_ROOT / "conf/experiment" / task[0]).glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_task_recipe_trains_its_model_on_its_task(tmp_path, recipe):
    task, model = recipe.split("/")
    cfg = compose_config("train", [f"experiment={recipe}"], tmp_path)
    expected = next(t for t in TASKS.values() if t[0] == task)
    assert (cfg.data.task, cfg.data.seq_len, cfg.data.tss) == expected[:3]
    assert cfg.data.root.endswith(expected[3]) and cfg.model.name == model.removesuffix("_robust")
    kinds = kinds_of(cfg.data.added_negatives) if cfg.data.added_negatives else []
    assert ("chunk_permutation" in kinds) == model.endswith("_robust")  # robust: composition-kept negatives added
    assert cfg.callbacks.last_checkpoint.filename == "last"  # resumable from the last epoch
