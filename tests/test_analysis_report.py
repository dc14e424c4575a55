"""analyze.py end to end on constructed explain folders and a planted GUE-style data folder:
the report renders with its tables and embedded figures, and bad inputs fail clearly."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import compose_config
from glmxai.analysis.inputs import ExplainInputError, load_run, load_runs
from glmxai.analysis.pipeline import run, runs_of_methods
from glmxai.data.synthetic import SyntheticPromoterGenerator

FAST = ["faithfulness.enabled=false", "logger=none"]


def write_job(folder: Path, table, scores, method: str, model: str, checkpoint=None, drop: str | None = None):
    folder.mkdir(parents=True)
    arrays = {"scores": scores.astype(np.float32), "sequences": np.array(table.sequences),
              "labels": table.labels, "probs": np.where(table.labels == 1, 0.9, 0.1).astype(np.float32),
              "index": np.arange(len(table)), "masks": table.masks}
    arrays.pop(drop, None)
    np.savez(folder / "attributions.npz", **arrays)
    (folder / "meta.json").write_text(json.dumps({"method": method, "model": model, "checkpoint": checkpoint,
                                                  "data": "synthetic", "split": "test"}))


@pytest.fixture(scope="module")
def multirun(tmp_path_factory):
    """Two models x two methods on 60 synthetic sequences: 'truth' attributions follow the
    ground-truth masks, 'noise' attributions are random."""
    table = SyntheticPromoterGenerator().generate(60, seed=7)
    root = tmp_path_factory.mktemp("multirun")
    rng = np.random.default_rng(0)
    for job, (model, method) in enumerate([(m, x) for m in ("cnn", "toy") for x in ("truth", "noise")]):
        noise = rng.normal(0, 0.1, table.masks.shape)
        scores = noise + table.masks if method == "truth" else noise
        write_job(root / str(job), table, scores, method, model)
    return root


def test_report_renders_with_tables_and_embedded_figures(multirun, tmp_path):
    summary = run(compose_config("analyze", [f"inputs=[{multirun}]", *FAST], tmp_path))
    html = (tmp_path / "report.html").read_text()
    for name in ("runs", "motif_attribution", "top_kmers", "tata_share_of_top_features", "agreement_pairs",
                 "ground_truth"):
        assert (tmp_path / "tables" / f"{name}.csv").is_file()
        assert f"Table {name}." in html
    assert html.count("data:image/png;base64,") >= 3 and "src='figures/" not in html
    assert (tmp_path / "figures" / "agreement_spearman_mean.png").is_file()
    gt = pd.read_csv(tmp_path / "tables" / "ground_truth.csv").set_index("run")
    assert gt.loc["cnn/truth", "auroc_mean"] > 0.99 and abs(gt.loc["cnn/noise", "auroc_mean"] - 0.5) < 0.1
    pairs = pd.read_csv(tmp_path / "tables" / "agreement_pairs.csv").set_index(["a", "b"])
    # the motif positions are a small share of each sequence: top-k overlap sees them, Spearman barely
    assert pairs.loc[("cnn/truth", "toy/truth"), "top20_overlap"] > 0.3
    assert pairs.loc[("cnn/noise", "toy/noise"), "top20_overlap"] < 0.15  # chance: 20/300
    assert pairs.loc[("cnn/truth", "toy/truth"), "spearman_mean"] > pairs.loc[("cnn/noise", "toy/noise"),
                                                                              "spearman_mean"] + 0.03
    assert json.loads((tmp_path / "summary.json").read_text())["runs"].keys() == summary["runs"].keys()


def _derived(parent: str, rng) -> str:
    """Replace 6 random 15 bp chunks, never the two holding the TATA box at -31 (chunks 14, 15)."""
    seq = list(parent)
    for c in rng.choice([c for c in range(20) if c not in (14, 15)], 6, replace=False):
        seq[c * 15:(c + 1) * 15] = rng.choice(list("ACGT"), 15)
    return "".join(seq)


def test_audit_only_mode_on_a_data_folder(tmp_path):
    """Promoters with a TATA box at -31; negatives derived from them (keeping the TATA), three
    of them in the test split while their parents are in train."""
    rng = np.random.default_rng(1)
    tata = "TATAAAAG"
    parents = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(30)]
    parents = [p[:218] + tata + p[226:] for p in parents]
    derived = [_derived(p, rng) for p in parents[:10]]
    data = tmp_path / "data"
    data.mkdir()
    splits = {"train": (parents[:20] + derived[:7], [1] * 20 + [0] * 7),
              "dev": (parents[20:25], [1] * 5), "test": (parents[25:] + derived[7:], [1] * 5 + [0] * 3)}
    for name, (seqs, labels) in splits.items():
        pd.DataFrame({"sequence": seqs, "label": labels}).to_csv(data / f"{name}.csv", index=False)
    out = tmp_path / "out"
    summary = run(compose_config("analyze", ["inputs=[]", "data=gue", f"data.root={data}", *FAST], out))
    audit = summary["audit"]
    assert audit["derived_pairs"] == 10 and audit["derived_pairs_cross_split"] == 3
    html = (out / "report.html").read_text()
    assert "Table audit_motif_enrichment." in html and "cross the train/dev/test split" in html
    retention = pd.read_csv(out / "tables" / "audit_motif_retention.csv").set_index("motif")
    assert retention.loc["TBP/TATA (MA0108)", "kept_in_derived"] >= 10  # every planted TATA box is kept
    enrichment = pd.read_csv(out / "tables" / "audit_motif_enrichment_in_window.csv").set_index("motif")
    assert enrichment.loc["TBP/TATA (MA0108)", "rate_promoter"] == 1.0


def test_bad_inputs_fail_clearly(multirun, tmp_path):
    with pytest.raises(ExplainInputError, match="not found"):
        run(compose_config("analyze", [f"inputs=[{tmp_path / 'nowhere'}]", *FAST], tmp_path / "o1"))
    with pytest.raises(ExplainInputError, match=f"{tmp_path / 'nowhere'}: input folder not found"):
        run(compose_config("analyze", [f"inputs={tmp_path / 'nowhere'}", *FAST], tmp_path / "o1"))  # one folder, no list
    with pytest.raises(ValueError, match="nothing to analyze"):
        run(compose_config("analyze", ["inputs=[]", *FAST], tmp_path / "o2"))
    table = SyntheticPromoterGenerator().generate(3, seed=1)
    write_job(tmp_path / "broken", table, np.zeros((3, 300)), "m", "x", drop="probs")
    with pytest.raises(ExplainInputError, match=r"missing field\(s\) \['probs'\]"):
        load_run(tmp_path / "broken")
    with pytest.raises(ExplainInputError, match="no attributions.npz"):
        load_run(multirun)


@pytest.mark.slow
def test_faithfulness_with_a_trained_checkpoint(trained_cnn, tmp_path):
    table = SyntheticPromoterGenerator().generate(20, seed=3)
    scores = table.masks + np.random.default_rng(0).normal(0, 0.1, table.masks.shape)
    write_job(tmp_path / "job", table, scores, "truth", "cnn", checkpoint=str(trained_cnn))
    out = tmp_path / "out"
    run(compose_config("analyze", [f"inputs=[{tmp_path / 'job'}]", "faithfulness.n=20", "faithfulness.steps=5",
                                   "logger=none"], out))
    table = pd.read_csv(out / "tables" / "faithfulness.csv")
    assert table["deletion_aoc"].notna().all() and (out / "figures" / "faithfulness_curves.png").is_file()


def test_discovery_methods_select_runs_and_reject_unknown_names(multirun, tmp_path):
    runs = load_runs([multirun])
    chosen = runs_of_methods(runs, ["truth"])
    assert sorted(r.label for r in chosen) == ["cnn/truth", "toy/truth"]
    assert len(runs_of_methods(runs, None)) == 4
    with pytest.raises(ValueError, match=r"\['ism'\].*inputs hold \['noise', 'truth'\]"):
        runs_of_methods(runs, ["ism"])
    with pytest.raises(ValueError, match="discovery.methods"):  # before any analysis writes a file
        run(compose_config("analyze", [f"inputs=[{multirun}]", "discovery.enabled=true", "discovery.methods=[ism]",
                                       *FAST], tmp_path))
    assert not any(tmp_path.iterdir())
