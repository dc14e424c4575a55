"""analyze.py end to end on constructed explain folders and a planted GUE-style data folder:
the report renders with its tables and embedded figures, analyze follows the runs (their TSS,
length and data), runs keep their recorded fields under unique names, and bad inputs fail
clearly."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from glmxai.allowlist import UntrustedConfigError
from glmxai.analysis import discovery
from glmxai.analysis.discovery import runs_of_methods
from glmxai.data.datamodule import SyntheticDataModule
from glmxai.data.synthetic import SyntheticPromoterGenerator
from glmxai.data.table import SequenceTable
from glmxai.explain_runs import ExplainInputError, load_run, load_runs
from glmxai.jobs.analyze import run
from glmxai.report import fmt_p, fmt_signed

from conftest import compose_config

FAST = ["faithfulness.enabled=false", "logger=none"]
SYNTHETIC = "glmxai.data.datamodule.SyntheticDataModule"


def write_job(folder: Path, table, scores, method: str, model: str, checkpoint=None, drop: str | None = None,
              **meta):
    """An explain job folder; ``meta`` adds or replaces meta.json fields (tss 249 by default)."""
    folder.mkdir(parents=True)
    arrays = {"scores": scores.astype(np.float32), "sequences": np.array(table.sequences),
              "labels": table.labels, "probs": np.where(table.labels == 1, 0.9, 0.1).astype(np.float32),
              "index": np.arange(len(table)), "masks": table.masks}
    arrays.pop(drop, None)
    np.savez(folder / "attributions.npz", **arrays)
    (folder / "meta.json").write_text(json.dumps({"method": method, "model": model, "checkpoint": checkpoint,
                                                  "data": "synthetic", "split": "test", "tss": 249, **meta}))


def synthetic_config(**changes) -> dict:
    """A small synthetic data config as explain.py records it in meta.json (100 sequences)."""
    return {"_target_": SYNTHETIC, "n_train": 60, "n_val": 20, "n_test": 20, "data_seed": 5, "tss": 249,
            "seq_len": 300, "batch_size": 64, "num_workers": 0, "seed": 42, **changes}


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
    assert summary["report"] == str(tmp_path / "report.html")
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
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["runs"]["cnn/truth"]["ground_truth"]["auroc_mean"] == gt.loc["cnn/truth", "auroc_mean"]
    assert set(written["runs"]["cnn/truth"]) >= {"tata_share_of_top", "mean_spearman_with_others", "ground_truth"}
    assert written["tss"] == 249
    # meta.json without data_config (an older explain run): no audit, and the report says why
    assert "no data_config" in written["audit"]["skipped"] and "What was not analyzed and why" in html
    assert "dataset audit: 4 of 4 runs record no data_config" in html
    assert not (tmp_path / "tables" / "audit_motif_enrichment.csv").exists()


def test_every_table_is_complete_in_the_page_and_the_report_lists_what_it_left_out(multirun, tmp_path):
    """Four runs give motif_attribution far more than 40 rows: every row, the last run's
    included, is in report.html (not only in the CSV). An unfinished job (chunks, no results)
    and the analyses switched off are listed with their reason; no Python repr reaches the page."""
    inputs = tmp_path / "inputs"
    shutil.copytree(multirun, inputs)
    (inputs / "9" / "chunks").mkdir(parents=True)
    (inputs / "9" / "chunks" / "chunk_00000.npz").write_bytes(b"")
    out = tmp_path / "out"
    summary = run(compose_config("analyze", [f"inputs=[{inputs}]", *FAST], out))
    html = (out / "report.html").read_text()
    for name in ("motif_attribution", "top_kmers", "comparison_motif_attribution", "comparison_runs"):
        table = pd.read_csv(out / "tables" / f"{name}.csv")
        block = html.split(f"<b>Table {name}.</b>")[1].split("</table>")[0]
        assert block.count("<tr>") == len(table) + 1 and f"href='tables/{name}.csv'" in block  # + the header
        assert "<div class='tablewrap'>" in block  # wide tables scroll inside their box
    attribution = pd.read_csv(out / "tables" / "motif_attribution.csv")
    assert len(attribution) > 40 and attribution["run"].iloc[-1] == "toy/noise"
    rows = html.split("<b>Table motif_attribution.</b>")[1].split("</table>")[0].split("<tr>")
    assert "<td>toy/noise</td>" in rows[-1] and "<td>toy/noise</td>" not in "".join(rows[:42])
    # the comparison puts every motif x model x method side by side
    comparison = pd.read_csv(out / "tables" / "comparison_motif_attribution.csv")
    assert set(comparison["model"]) == {"cnn", "toy"} and set(comparison["method"]) == {"truth", "noise"}
    assert comparison.groupby("motif").size().eq(4).all() and comparison["direction"].notna().all()
    left_out = html.split("<h2>What was not analyzed and why</h2>")[1].split("</div>")[0]
    assert "faithfulness: faithfulness.enabled=false" in left_out
    assert "motif discovery (TF-MoDISco): discovery.enabled=false" in left_out
    assert f"explain job {inputs / '9'}: no attributions.npz (1 finished chunk file in chunks/" in left_out
    assert "dataset audit: 4 of 4 runs record no data_config" in left_out
    assert {"what": "faithfulness", "why": "faithfulness.enabled=false"} in summary["not_analyzed"]
    for repr_text in ("np.int64", "np.float", ">None<", "{'", "nan<"):
        assert repr_text not in html


def test_headline_verdicts_state_the_numbers_of_their_table(multirun, tmp_path):
    """The TATA verdict of each run names the table's mean difference and adjusted p, and
    its direction is the table's (the same test); summary.json carries the same numbers."""
    out = tmp_path / "out"
    summary = run(compose_config("analyze", [f"inputs=[{multirun}]", *FAST], out))
    table = pd.read_csv(out / "tables" / "motif_attribution.csv")
    tata = table[(table["motif"] == "TBP/TATA (MA0108)") & (table["group"] == "all")].set_index("run")
    for name, row in tata.iterrows():
        sentence = next(s for s in summary["headline"] if s.startswith(f"{name}: attribution inside"))
        assert fmt_signed(row["mean_diff"]) in sentence and fmt_p(row["ttest_p_adj"]) in sentence
        called = row["ttest_p_adj"] < 0.05
        expected = ("higher than" if row["mean_diff"] > 0 else "lower than") if called else "not distinguishable"
        assert f"is {expected}" in sentence
        assert summary["runs"][name]["tata_ttest_p_adj"] == pytest.approx(row["ttest_p_adj"])
        assert summary["runs"][name]["tata_mean_diff"] == pytest.approx(row["mean_diff"])
    assert summary["n_tests"] == int(table["ttest_p"].notna().sum()) + sum(
        int(pd.read_csv(out / "tables" / f"{name}.csv")[column].notna().sum())
        for name, column in (("top_kmers", "fisher_p"), ("tata_share_of_top_features", "binomial_p")))
    assert "Benjamini-Hochberg" in (out / "report.html").read_text()


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
    assert audit["tss"] == 249 and audit["source"] == "data= on the command line"
    html = (out / "report.html").read_text()
    assert "Table audit_motif_enrichment." in html and "cross the train/dev/test split" in html
    retention = pd.read_csv(out / "tables" / "audit_motif_retention.csv").set_index("motif")
    assert retention.loc["TBP/TATA (MA0108)", "kept_in_derived"] >= 10  # every planted TATA box is kept
    enrichment = pd.read_csv(out / "tables" / "audit_motif_enrichment_in_window.csv").set_index("motif")
    assert enrichment.loc["TBP/TATA (MA0108)", "rate_promoter"] == 1.0
    # the TSS is the data config's: 11 bp further on, the TATA box at index 218 sits at -42, outside -40..-20
    run(compose_config("analyze", ["inputs=[]", "data=gue", f"data.root={data}", "data.tss=260", *FAST],
                       tmp_path / "out260"))
    shifted = pd.read_csv(tmp_path / "out260" / "tables" / "audit_motif_enrichment_in_window.csv").set_index("motif")
    assert shifted.loc["TBP/TATA (MA0108)", "rate_promoter"] < 0.2  # chance TATA-like hits only


def test_bad_inputs_fail_clearly(multirun, tmp_path):
    with pytest.raises(ExplainInputError, match="not found"):
        run(compose_config("analyze", [f"inputs=[{tmp_path / 'nowhere'}]", *FAST], tmp_path / "o1"))
    with pytest.raises(ExplainInputError, match=f"{tmp_path / 'nowhere'}: input folder not found"):
        # one folder, no list
        run(compose_config("analyze", [f"inputs={tmp_path / 'nowhere'}", *FAST], tmp_path / "o1"))
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
    assert table["n"].tolist() == [20] and table["deletion_aoc"].notna().all()
    assert (out / "figures" / "faithfulness_curves.png").is_file()


def test_discovery_methods_select_runs_and_reject_unknown_names(multirun, tmp_path):
    runs = load_runs([multirun])
    chosen = runs_of_methods(runs, ["truth"])
    assert sorted(r.name for r in chosen) == ["cnn/truth", "toy/truth"]
    assert len(runs_of_methods(runs, None)) == 4
    with pytest.raises(ValueError, match=r"\['ism'\].*inputs hold \['noise', 'truth'\]"):
        runs_of_methods(runs, ["ism"])
    with pytest.raises(ValueError, match="discovery.methods"):  # before any analysis writes a file
        run(compose_config("analyze", [f"inputs=[{multirun}]", "discovery.enabled=true", "discovery.methods=[ism]",
                                       *FAST], tmp_path))
    assert not any(tmp_path.iterdir())


def test_runs_of_one_model_and_method_get_unique_names_and_keep_their_method(tmp_path, monkeypatch):
    """Two LIME runs of one model: named apart by job folder, meta.json kept as read, and
    discovery.methods=[lime] runs discovery on both."""
    table = SyntheticPromoterGenerator().generate(20, seed=2)
    rng = np.random.default_rng(3)
    for job, method in (("0", "lime"), ("1", "lime"), ("2", "ism")):
        write_job(tmp_path / "sweep" / job, table, table.masks + rng.normal(0, 0.1, table.masks.shape), method, "cnn")
    runs = load_runs([tmp_path / "sweep"])
    assert [r.name for r in runs] == ["cnn/lime@0", "cnn/lime@1", "cnn/ism"]
    assert [r.method for r in runs] == [r.meta["method"] for r in runs] == ["lime", "lime", "ism"]
    write_job(tmp_path / "other" / "0", table, table.masks.astype(float), "lime", "cnn")
    names = [r.name for r in load_runs([tmp_path / "sweep" / "0", tmp_path / "other"])]
    assert names == ["cnn/lime@other/0", "cnn/lime@sweep/0"]  # same job folder name: one more level

    seen = []  # TF-MoDISco replaced by a recorder: which runs' scores discovery is given

    def discover(sequences, scores, trim, **kwargs):
        seen.append(scores)
        return []

    monkeypatch.setattr(discovery, "discover_patterns", discover)
    monkeypatch.setattr(discovery, "jaspar_targets", lambda tax_group: ([], [], []))
    out = tmp_path / "out"
    summary = run(compose_config("analyze", [f"inputs=[{tmp_path / 'sweep'}]", "discovery.enabled=true",
                                             "discovery.methods=[lime]", *FAST], out))
    assert len(seen) == 2 and all(any(np.array_equal(s, r.scores) for s in seen) for r in runs[:2])
    assert {name for name, parts in summary["runs"].items() if "patterns" in parts} == {"cnn/lime@0", "cnn/lime@1"}
    assert pd.read_csv(out / "tables" / "runs.csv")["method"].tolist() == ["lime", "lime", "ism"]
    pairs = pd.read_csv(out / "tables" / "agreement_pairs.csv")
    assert ((pairs["a"] == "cnn/lime@0") & (pairs["b"] == "cnn/lime@1")).sum() == 1


def test_runs_that_disagree_on_tss_or_length_are_refused_naming_both(tmp_path):
    table = SyntheticPromoterGenerator().generate(5, seed=1)
    write_job(tmp_path / "a", table, table.masks.astype(float), "ism", "cnn")
    write_job(tmp_path / "b", table, table.masks.astype(float), "ism", "cnn", tss=200)
    short = SequenceTable([s[:280] for s in table.sequences], table.labels, "short", masks=table.masks[:, :280])
    write_job(tmp_path / "c", short, short.masks.astype(float), "ism", "cnn")  # TSS 249 in both, 280 bp against 300
    write_job(tmp_path / "d", table, table.masks.astype(float), "ism", "cnn", tss=None)
    cases = {"b": rf"disagree on tss: {re.escape(str(tmp_path / 'a'))} has 249, {re.escape(str(tmp_path / 'b'))} "
                  "has 200",
             "c": rf"disagree on sequence length: {re.escape(str(tmp_path / 'a'))} has 300, "
                  rf"{re.escape(str(tmp_path / 'c'))} has 280",
             "d": rf"{re.escape(str(tmp_path / 'd' / 'meta.json'))}: records no tss"}
    for other, message in cases.items():
        out = tmp_path / f"out_{other}"
        with pytest.raises(ExplainInputError, match=message):
            run(compose_config("analyze", [f"inputs=[{tmp_path / 'a'},{tmp_path / other}]", *FAST], out))
        assert not out.exists()  # refused before any analysis wrote a file


def test_without_data_the_audit_reads_the_runs_data_config(tmp_path):
    """Runs whose data configs differ only in how data is served are audited on that data;
    runs of different data are not audited, and the report says so; data= still wins."""
    table = SyntheticDataModule(**{k: v for k, v in synthetic_config().items() if k != "_target_"}).table("test")
    scores = table.masks.astype(float)
    write_job(tmp_path / "runs" / "0", table, scores, "ism", "cnn", data_config=synthetic_config())
    write_job(tmp_path / "runs" / "1", table, scores, "lime", "cnn",
              data_config=synthetic_config(batch_size=8, num_workers=2, seed=1))
    out = tmp_path / "out"
    summary = run(compose_config("analyze", [f"inputs=[{tmp_path / 'runs'}]", *FAST], out))
    assert summary["audit"]["data"] == "synthetic:seed=5" and summary["audit"]["n"] == 100  # 60 + 20 + 20
    assert summary["audit"]["source"].startswith("the runs' data_config")
    switched_off = run(compose_config("analyze", [f"inputs=[{tmp_path / 'runs'}]", "audit.enabled=false", *FAST],
                                      tmp_path / "out_off"))
    assert switched_off["audit"]["skipped"] == "audit.enabled=false"
    enrichment = pd.read_csv(out / "tables" / "audit_motif_enrichment.csv")
    assert enrichment["n_promoter"].iloc[0] + enrichment["n_nonpromoter"].iloc[0] == 100
    assert "Dataset audit: synthetic:seed=5" in (out / "report.html").read_text()

    write_job(tmp_path / "runs" / "2", table, scores, "shap", "cnn", data_config=synthetic_config(data_seed=6))
    out = tmp_path / "out_mixed"
    summary = run(compose_config("analyze", [f"inputs=[{tmp_path / 'runs'}]", *FAST], out))
    assert "different data" in summary["audit"]["skipped"]
    assert "dataset audit: the runs explained different data" in (out / "report.html").read_text()
    assert not (out / "tables" / "audit_motif_enrichment.csv").exists()

    out = tmp_path / "out_explicit"
    summary = run(compose_config("analyze", [f"inputs=[{tmp_path / 'runs'}]", "data=synthetic", "data.n_train=30",
                                             "data.n_val=10", "data.n_test=10", *FAST], out))
    assert summary["audit"]["source"] == "data= on the command line" and summary["audit"]["n"] == 50
    summary = run(compose_config("analyze", [f"inputs=[{tmp_path / 'runs'}]", "data=synthetic", "audit.enabled=false",
                                             *FAST], tmp_path / "out_explicit_off"))
    assert summary["audit"]["skipped"] == "audit.enabled=false"  # switched off wins over data=
    assert not (tmp_path / "out_explicit_off" / "tables" / "audit_motif_enrichment.csv").exists()


def test_runs_whose_data_is_not_on_this_machine_are_analysed_without_audit(tmp_path):
    table = SyntheticPromoterGenerator().generate(5, seed=1)
    gone = tmp_path / "gue_elsewhere"
    config = {"_target_": "glmxai.data.datamodule.GueDataModule", "root": str(gone), "seq_len": 300, "tss": 249,
              "batch_size": 64, "num_workers": 0, "seed": 42}
    write_job(tmp_path / "job", table, table.masks.astype(float), "ism", "cnn", data_config=config)
    summary = run(compose_config("analyze", [f"inputs=[{tmp_path / 'job'}]", *FAST], tmp_path / "out"))
    assert "could not be read" in summary["audit"]["skipped"] and str(gone) in summary["audit"]["skipped"]
    assert summary["runs"]["cnn/ism"]["ground_truth"]["n"] > 0  # the runs are analysed all the same
    with pytest.raises(ValueError, match="data folder not found"):  # data= named on the command line: an error
        run(compose_config("analyze", [f"inputs=[{tmp_path / 'job'}]", "data=gue", f"data.root={gone}", *FAST],
                           tmp_path / "out2"))


@pytest.mark.parametrize("node, key", [
    ({"_target_": "os.system", "command": "touch {marker}"}, "data_config._target_"),
    (synthetic_config(n_train={"_target_": "os.system", "command": "touch {marker}"}), "data_config.n_train"),
], ids=["target", "nested"])
def test_a_data_config_outside_the_allow_list_is_refused_naming_the_file(tmp_path, node, key):
    marker = tmp_path / "MARKER"
    node = json.loads(json.dumps(node).replace("{marker}", str(marker)))
    table = SyntheticPromoterGenerator().generate(5, seed=1)
    job = tmp_path / "job"
    write_job(job, table, table.masks.astype(float), "ism", "cnn", data_config=node)
    for data in ([], ["data=synthetic"]):  # refused even when data= chooses the audited data
        with pytest.raises(UntrustedConfigError, match=re.escape(f"{job / 'meta.json'}: {key}")):
            run(compose_config("analyze", [f"inputs=[{job}]", *data, *FAST], tmp_path / "out"))
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_annotations_reach_the_report_and_its_attribution_table(multirun, tmp_path):
    """annotations.dir: a per-row flag table of the runs' split joins their rows; the report gains
    the attribution-by-annotation table and the motif table its flag groups; no checkpoint, so
    necessity is not run (its runs are skipped), and nothing else changes."""
    flags = tmp_path / "flags"
    flags.mkdir()
    (flags / "test_epd.csv").write_text("row,tata_box,inr,ccaat_box,gc_box\n"
                                        + "".join(f"{r},{r % 2},0,1,{r % 3 == 0:d}\n" for r in range(60)))
    out = tmp_path / "report"
    summary = run(compose_config("analyze", [f"inputs=[{multirun}]", *FAST, f"annotations.dir={flags}"], out))
    table = pd.read_csv(out / "tables" / "attribution_by_annotation.csv")
    assert sorted(set(table["run"])) == sorted(summary["runs"])
    assert set(table["flag"]) == {"tata_box", "inr", "ccaat_box", "gc_box"}
    assert "ttest_p_adj" in table and "Attribution by annotation" in (out / "report.html").read_text()
    groups = set(pd.read_csv(out / "tables" / "motif_attribution.csv")["group"])
    assert {"tata_box=1 promoters", "tata_box=0 promoters"} <= groups
    assert summary["necessity_by_annotation"]["rows"] == []
    page = (out / "report.html").read_text()
    evidence = pd.read_csv(out / "tables" / "answer_evidence.csv")
    assert set(evidence["evidence"]) == {"attribution"} and set(evidence["motif"]) == {"TATA", "Inr", "CCAAT", "GC-box"}
    assert (out / "figures" / "answer.png").is_file() and summary["tracks"] >= 1
    # the answer first: its figure, then the tracks, then the verdict sentences
    assert page.index("Figure answer.") < page.index("Attribution tracks of a tata_box promoter") \
        < page.index("What the evidence supports")
