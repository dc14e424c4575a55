"""Motif probes on toy models with a known answer: where an effect peaks, that controls stay at 0,
that an AND of two motifs shows as an interaction, the statistics against scipy, token frames
and BPE re-segmentation, resuming, bad input, and the ``analyze.py`` path end to end."""
from __future__ import annotations

import json
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch import nn

from glmxai.data.encoding import one_hot, to_codes, to_strings
from glmxai.models.base import Backbone
from glmxai.models.classifier import SequenceClassifier
from glmxai.models.tokenizers import BPETokenizer, NTKmerTokenizer, OneHotTokenizer
from glmxai.motifs import build_motif
from glmxai.predictor import BatchedPredictor
from glmxai.probes import experiments as ex
from glmxai.probes import figures
from glmxai.probes.backgrounds import draw_backgrounds, position_profile
from glmxai.probes.job import ProbeInputError, token_counter, token_frame
from glmxai.probes.patterns import Pattern, build_patterns, core_positions, iupac_matrix, pattern_hits, variants
from glmxai.probes.statistics import cell_statistics, mean_ci, peak_interval
from glmxai.probes.tables import _frame_average, insertion_tables, position_tables, spacing_tables

from conftest import REPO_ROOT, compose_config, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TSS, LENGTH = 249, 300
TATA, CCAAT = "TATAAA", "CCAATC"


def _logits(logit: torch.Tensor) -> torch.Tensor:
    return torch.stack([-logit / 2, logit / 2], dim=-1)


class ExactMotifs(Backbone):
    """One-hot toy: promoter logit +5 when every motif sits exactly at its start, else -5."""

    def __init__(self, motifs: list[tuple[str, int]]):
        super().__init__(OneHotTokenizer())
        self.motifs = [(one_hot(m)[0], start) for m, start in motifs]
        self.scale = nn.Parameter(torch.tensor(10.0))

    def input_embeddings(self, inputs):
        return inputs["one_hot"]

    def forward_embeddings(self, embeddings, inputs):
        present = torch.ones(len(embeddings))
        for pwm, start in self.motifs:
            matches = (embeddings[:, :, start : start + pwm.shape[1]] * pwm).sum(dim=(1, 2))
            present = present * (matches == pwm.shape[1]).float()
        return _logits(self.scale * (present - 0.5))


class AlignedToken(Backbone):
    """NT-tokenized toy: logit +5 when token ``index`` (after <cls>) is the 6-mer ``kmer``, else -5."""

    def __init__(self, kmer: str, start: int):
        super().__init__(NTKmerTokenizer())
        self.index, self.token = 1 + start // 6, self.tokenizer.token_to_id[kmer]
        self.scale = nn.Parameter(torch.tensor(10.0))

    def input_embeddings(self, inputs):
        return (inputs["input_ids"][:, self.index] == self.token).float()

    def forward_embeddings(self, embeddings, inputs):
        return _logits(self.scale * (embeddings - 0.5))


class Constant(Backbone):
    """Any tokenizer; the same prediction for every input (for token counting)."""

    def __init__(self, tokenizer):
        super().__init__(tokenizer)
        self.bias = nn.Parameter(torch.zeros(()))

    def input_embeddings(self, inputs):
        return inputs["input_ids"].float()

    def forward_embeddings(self, embeddings, inputs):
        return _logits(self.bias.expand(len(embeddings)))


def _target(backbone: Backbone) -> ex.Target:
    return ex.Target(BatchedPredictor(backbone, batch_size=2048), TSS, LENGTH, token_frame(backbone.tokenizer),
                     token_counter(backbone.tokenizer, LENGTH))


def _backgrounds(target: ex.Target, n: int, seed: int = 0) -> ex.Backgrounds:
    codes = np.random.default_rng(seed).integers(0, 4, size=(n, LENGTH)).astype(np.int8)
    logit, prob = target.model.promoter_logit_and_p(codes)
    return ex.Backgrounds("random", codes, logit, prob)


def _pattern(consensus: str, position: int, name: str | None = None) -> Pattern:
    return Pattern(name or consensus, iupac_matrix(consensus), position, consensus)


def _results(plan_patterns, target, cells_by_experiment, pairs=()):
    """A ``ProbeResults``-like object for the section's table functions, one model, one kind."""
    from glmxai.probes.job import ProbeModel, ProbePlan, ProbeResults

    options = {"backgrounds": ["random"], "n_bootstrap": 500,
               "spacing": {"pairs": [[a.name, b.name] for a, b in pairs]}}
    plan = ProbePlan(options, list(plan_patterns), [ProbeModel("toy", Path("toy.ckpt"), "0" * 64, target, None, "",
                                                               Path("."))], seed=0)
    return ProbeResults(plan, cells={("toy", name, "random"): cells for name, cells in cells_by_experiment.items()})


def test_position_scan_peaks_where_the_model_reads_the_motif_and_the_shuffles_do_nothing():
    target = _target(ExactMotifs([(TATA, TSS - 31)]))
    backgrounds = _backgrounds(target, 30)
    pattern = _pattern(TATA, -31)
    cells = ex.position_scan(target, backgrounds, [pattern], stride=1, span=None, seed=0)
    meta, logit = cells.cells, cells.arrays["logit"]
    consensus = (meta["variant"] == "consensus").to_numpy()
    positions = meta.loc[consensus, "position"].to_numpy()
    curve = logit[consensus].mean(axis=1)
    assert positions[0] == -TSS and positions[-1] == LENGTH - len(TATA) - TSS
    assert positions[curve.argmax()] == -31 and curve.max() == pytest.approx(10.0, abs=0.5)
    assert np.abs(np.delete(curve, curve.argmax())).max() < 0.5  # nothing anywhere else
    shuffled = logit[~consensus]
    at_canonical = meta.loc[~consensus, "position"].to_numpy() == -31
    assert np.abs(shuffled[at_canonical]).max() == 0  # a shuffle of TATAAA is never TATAAA
    assert np.abs(shuffled.mean(axis=1)).max() < 0.5  # nor anywhere else, but by chance with the background
    peak, low, high = peak_interval(logit[consensus].T, positions, 200, seed=0)
    assert (peak, low, high) == (-31, -31, -31)


def test_a_model_that_needs_two_motifs_shows_the_interaction_not_the_single_effects():
    a, b = _pattern(TATA, -31, "TATA"), _pattern(CCAAT, -90, "CCAAT")
    target = _target(ExactMotifs([(TATA, TSS - 31), (CCAAT, TSS - 90)]))
    backgrounds = _backgrounds(target, 40)
    cells = ex.spacing(target, backgrounds, [(a, b)], radius=2, stride=1, seed=0)
    grid, canonical = spacing_tables(_results([a, b], target, {"spacing": cells}, pairs=[(a, b)]))
    row = canonical.iloc[0]
    assert abs(row["delta_a"]) < 0.3 and abs(row["delta_b"]) < 0.3
    assert row["delta_ab"] == pytest.approx(10.0, abs=0.3) and row["mean"] == pytest.approx(10.0, abs=0.3)
    assert row["prob_interaction"] > 0.9 and abs(row["prob_delta_a"]) < 0.01
    assert row["wilcoxon_p"] < 1e-6 and row["shuffled_mean"] == 0 and row["vs_shuffled_p"] < 1e-6
    elsewhere = grid[(grid["a_position"] != -31) | (grid["b_position"] != -90)]
    assert len(grid) == 25 and np.abs(elsewhere["interaction"]).max() < 0.5


def test_cell_statistics_are_scipys():
    rng = np.random.default_rng(3)
    values = rng.normal(0.4, 1.0, size=(3, 60))
    control = values + rng.normal(-0.3, 0.5, size=values.shape)
    values[2] = 0.0  # no change at all: 0 as CI, no test
    table = cell_statistics(values, control, n_resamples=999, seed=5)
    for i in range(2):
        assert table["wilcoxon_p"].iat[i] == pytest.approx(stats.wilcoxon(values[i]).pvalue, rel=1e-12)
        assert table["vs_control_p"].iat[i] == pytest.approx(stats.wilcoxon(values[i] - control[i]).pvalue, rel=1e-12)
        reference = stats.bootstrap((values[i],), np.mean, n_resamples=999, rng=np.random.default_rng(5))
        assert (table["ci_low"].iat[i], table["ci_high"].iat[i]) == pytest.approx(
            (reference.confidence_interval.low, reference.confidence_interval.high), rel=1e-9)
        assert table["fraction_positive"].iat[i] == (values[i] > 0).mean()
        assert table["mean"].iat[i] == pytest.approx(values[i].mean())
    assert (table["ci_low"].iat[2], table["ci_high"].iat[2]) == (0, 0)
    assert np.isnan(table["wilcoxon_p"].iat[2]) and np.isfinite(table["vs_control_p"].iat[2])
    low, high = mean_ci(values[:2], 999, seed=5)
    assert low == pytest.approx(table["ci_low"][:2]) and high == pytest.approx(table["ci_high"][:2])


def test_substitution_keeps_length_and_every_other_base():
    codes = np.random.default_rng(0).integers(0, 4, size=(5, LENGTH)).astype(np.int8)
    options = to_codes(["AAAA", "CCCC"])
    planted = ex.plant(codes, [(options, 100)])
    assert planted.shape == codes.shape
    assert np.array_equal(np.delete(planted, np.s_[100:104], axis=1), np.delete(codes, np.s_[100:104], axis=1))
    assert to_strings(planted[:, 100:104]) == ["AAAA", "CCCC", "AAAA", "CCCC", "AAAA"]  # background i: i mod V
    with pytest.raises(ValueError, match="does not fit"):
        ex.plant(codes, [(options, LENGTH - 3)])


def test_variants_and_controls():
    motif = build_motif("MA0108", pvalue=1e-3)  # TBP, TATAAAA
    pattern = build_patterns([{"motif": "MA0108", "position": -31}], [motif])[0]
    assert pattern.consensus_text == motif.consensus and pattern.probs.sum(axis=1) == pytest.approx(1.0)
    shuffled = variants(pattern, "shuffled", 200, seed=0)
    assert all(sorted(row) == sorted(pattern.consensus) and not np.array_equal(row, pattern.consensus)
               for row in shuffled)
    mutated = variants(pattern, "core_mutated", 1, seed=0)[0]
    core = core_positions(pattern.probs)
    assert len(core) == 2 and np.flatnonzero(mutated != pattern.consensus).tolist() == core.tolist()
    assert (mutated[core] == pattern.probs[core].argmin(axis=1)).all()
    kmers = variants(pattern, "random_kmer", 200, seed=0)
    assert set(np.unique(kmers)) <= set(pattern.consensus.tolist())
    assert not any(np.array_equal(k, pattern.consensus) for k in kmers)
    instances = variants(pattern, "instances", 4000, seed=0)
    frequencies = np.stack([(instances == base).mean(axis=0) for base in range(4)], axis=1)
    assert np.abs(frequencies - pattern.probs).max() < 0.03
    assert np.array_equal(variants(pattern, "shuffled", 50, seed=0), shuffled[:50])  # the same in every experiment
    assert iupac_matrix("W").tolist() == [[0.5, 0, 0, 0.5]]
    with pytest.raises(ValueError, match="IUPAC"):
        iupac_matrix("TATAX")


def test_backgrounds_keep_what_they_promise():
    rng = np.random.default_rng(1)
    n, length = 3000, 40
    gc = np.linspace(0.2, 0.8, length)  # a GC gradient along the sequence
    draws = rng.random((n, length))
    codes = ((draws >= (1 - gc) / 2).astype(np.int8) + (draws >= 0.5) + (draws >= (1 + gc) / 2)).astype(np.int8)
    labels = (np.arange(n) % 2).astype(np.int64)

    def readout(batch):
        score = (batch == 1).sum(axis=1).astype(float)  # C count: a toy logit
        return score, 1 / (1 + np.exp(-score))

    profile, _, _ = draw_backgrounds("profile", codes, labels, 3000, readout, seed=0)
    assert np.abs(position_profile(profile) - position_profile(codes)).max() < 0.05
    shuffled, _, _ = draw_backgrounds("dinuc_shuffle", codes, labels, 20, readout, seed=0)

    def dinucleotides(row):
        return tuple(sorted(zip(row[:-1].tolist(), row[1:].tolist())))

    training = {dinucleotides(row) for row in codes}
    assert all(dinucleotides(row) in training for row in shuffled)  # each a shuffle of a training sequence
    assert not any(row.tobytes() in {c.tobytes() for c in codes} for row in shuffled)
    negatives, _, _ = draw_backgrounds("negatives", codes, labels, 50, readout, seed=0)
    rows = {r.tobytes() for r in codes[labels == 0]}
    assert all(r.tobytes() in rows for r in negatives)
    kept, logit, _ = draw_backgrounds("profile", codes, labels, 200, readout, seed=0, percentiles=(10, 90))
    pool, pool_logit, _ = draw_backgrounds("profile", codes, labels, 250, readout, seed=0)
    low, high = np.percentile(pool_logit, [10, 90])
    assert len(kept) == 200 and logit.min() >= low and logit.max() <= high
    assert np.array_equal(readout(kept)[0], logit)


def test_frame_average_for_a_model_of_non_overlapping_6mers(tmp_path):
    start = TSS - 33  # 216: a token boundary (216 = 36 * 6)
    target = _target(AlignedToken(TATA, start))
    assert target.frame == 6 and list(ex.frame_offsets(6)) == [-2, -1, 0, 1, 2, 3]
    pattern = _pattern(TATA, -31)
    cells = ex.insertion(target, _backgrounds(target, 30), [pattern], instances=5, seed=0)
    table, frames = insertion_tables(_results([pattern], target, {"insertion": cells}))
    consensus = frames[frames["variant"] == "consensus"].set_index("position")
    assert consensus.index.tolist() == [-33, -32, -31, -30, -29, -28]
    assert consensus.loc[-33, "mean"] == pytest.approx(10.0) and consensus.loc[-33, "frame"] == 0
    assert (consensus.drop(-33)["mean"] == 0).all()
    row = table[table["variant"] == "consensus"].iloc[0]
    assert row["frames"] == "-33..-28 (6 frames)" and row["mean"] == pytest.approx(consensus["mean"].mean())
    assert row["token_change"] == 0  # non-overlapping 6-mers of ACGT: the count never changes
    averaged, kept = _frame_average(np.arange(10.0), np.arange(-5, 5), 6)
    assert kept.tolist() == [-3, -2, -1, 0, 1] and averaged.tolist() == [2.5, 3.5, 4.5, 5.5, 6.5]
    scan = ex.position_scan(target, _backgrounds(target, 20, seed=1), [pattern], stride=1, span=(-45, -20), seed=0)
    results = _results([pattern], target, {"position_scan": scan})
    results.plan.options["position_scan"] = {"stride": 1}
    curves, peaks = position_tables(results)
    consensus = curves[curves["variant"] == "consensus"].set_index("position")
    assert consensus.loc[-33, "mean"] == pytest.approx(10.0) and (consensus.drop(-33)["mean"] == 0).all()
    window = consensus.loc[-36:-31, "frame_average"]  # every frame window that holds -33
    assert window.to_numpy() == pytest.approx(10 / 6) and (consensus.drop(window.index)["frame_average"].fillna(0)
                                                            == 0).all()
    assert peaks["peak_of"].iat[0] == "frame average" and -36 <= peaks["peak"].iat[0] <= -31
    figures.position_curves(curves, pattern.name, pattern.position).savefig(Path(tmp_path, "curve.png"))


def test_token_count_change_of_a_bpe_model():
    tokenizer = BPETokenizer(vocab_size=60, min_frequency=2)
    tokenizer.fit(to_strings(np.random.default_rng(0).integers(0, 4, size=(300, LENGTH))))
    target = _target(Constant(tokenizer))
    backgrounds = _backgrounds(target, 20, seed=2)
    pattern = _pattern("GGGGCGGGG", -60)
    cells = ex.insertion(target, backgrounds, [pattern], instances=7, seed=0)

    def count(codes):
        return np.array([len(tokenizer.hf.encode(s).ids) for s in to_strings(codes)])

    expected = [np.mean(count(ex.plant(backgrounds.codes, layout)) - count(backgrounds.codes))
                for layout in [[(variants(pattern, v, 20 if v != "instances" else 7, 0), TSS - 60)]
                               for v in cells.cells["variant"]]]
    assert cells.arrays["tokens"] == pytest.approx(expected)
    assert np.abs(expected).max() > 0  # BPE re-segments around the insertion
    assert token_counter(OneHotTokenizer(), LENGTH) is None


def test_pattern_hits_of_an_iupac_pattern():
    sequences = ["CCTATAAAAG", "TATTTAAACC", "CCCCCCCCCC"]
    hits = pattern_hits(sequences, _pattern("TATAWAWR", 0), tss=2)
    assert hits[["row", "start", "rel_start"]].values.tolist() == [[0, 2, 0]]


def test_necessity_destroys_the_hits_the_model_reads():
    target = _target(ExactMotifs([(TATA, TSS - 31)]))
    codes = np.random.default_rng(4).integers(0, 4, size=(12, LENGTH)).astype(np.int8)
    codes[:8, TSS - 31 : TSS - 25] = to_codes(TATA)  # read by the model
    codes[8:, 100:106] = to_codes(TATA)  # elsewhere: not read
    cells = ex.necessity(target, codes, [_pattern(TATA, -31)], shuffles=4, max_hits=50, window=2, seed=0)
    meta = cells.cells
    read = meta["canonical"].to_numpy()
    assert read.sum() >= 8 and (meta.loc[read, "rel_start"] == -31).all()
    drop = cells.arrays["logit"].mean(axis=1)
    assert drop[read].mean() < -7 and np.abs(drop[~read]).max() < 1e-9
    assert np.abs(cells.arrays["control_logit"][read]).max() < 1e-9  # a random window elsewhere: nothing


# --- analyze.py end to end -------------------------------------------------------------------------------

SMALL = ["probes.enabled=true", "probes=[synthetic,cpu]", "probes.n_backgrounds=24", "probes.instances=5",
         "probes.n_bootstrap=200", "probes.position_scan.n_backgrounds=8", "probes.position_scan.stride=1",
         "probes.spacing.radius=2", "probes.spacing.stride=2", "probes.necessity.n_sequences=12",
         "probes.necessity.shuffles=2", "probes.necessity.max_hits=10", "audit.enabled=false"]
DATA_RECORD = {"config": {"_target_": "glmxai.data.datamodule.SyntheticDataModule", "n_train": 240, "n_val": 20,
                          "n_test": 60, "data_seed": 3, "seq_len": LENGTH, "tss": TSS, "batch_size": 32,
                          "num_workers": 0, "seed": 0}}


def _toy_checkpoint(path: Path, start: int = TSS - 31) -> Path:
    """The allow-listed one-hot MotifDetector (TATAAA at ``start``) with a training data record."""
    from glmxai.models.toys import MotifDetector

    model_cfg = {"name": "toy", "tokenizer": {"_target_": "glmxai.models.tokenizers.OneHotTokenizer"},
                 "backbone": {"_target_": "glmxai.models.toys.MotifDetector", "seq_len": LENGTH, "start": start}}
    return save_checkpoint(SequenceClassifier(MotifDetector(OneHotTokenizer(), start=start), model_cfg=model_cfg),
                           path, DATA_RECORD)


def _analyze(tmp_path: Path, monkeypatch, *args: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["analyze.py", *args])
    runpy.run_path(str(REPO_ROOT / "analyze.py"), run_name="__main__")


def test_analyze_probes_a_named_checkpoint_end_to_end_and_resumes(tmp_path, monkeypatch):
    checkpoint = _toy_checkpoint(tmp_path / "toy.ckpt")
    out = tmp_path / "report"
    two = ["probes.patterns=[{consensus: TATAWAWR, name: TATA, position: -31}, "
           "{consensus: YYANWYY, name: Inr, position: -2}]", "probes.spacing.pairs=[[TATA, Inr]]",
           "probes.dose.pattern=TATA", "probes.dose.positions=[-31, -60]"]
    args = [*SMALL, *two, f"probes.checkpoints=[{checkpoint}]", f"hydra.run.dir={out}"]
    _analyze(tmp_path, monkeypatch, *args)
    summary = json.loads((out / "summary.json").read_text())
    cost = summary["probes"]["models"]["toy"]["cost"]
    assert cost["evaluations"] > 0 and cost["parts_reused"] == 0
    peaks = pd.read_csv(out / "tables" / "probes_position_peaks.csv")
    tata = peaks[peaks["pattern"] == "TATA"]
    assert len(tata) == 3 and (tata["peak"] == -31).all()  # every background kind
    insertion = pd.read_csv(out / "tables" / "probes_insertion.csv")
    row = insertion[(insertion["pattern"] == "TATA") & (insertion["variant"] == "consensus")].iloc[0]
    assert row["mean"] > 5 and row["wilcoxon_p_adj"] < 0.05
    assert any("inserting TATA (TATAAAAA) at -31" in s for s in summary["headline"])
    # every p-value of the report, the probes' among them, adjusted together (Benjamini-Hochberg)
    raw, adjusted = [], []
    for csv in sorted((out / "tables").glob("*.csv")):
        table = pd.read_csv(csv)
        for column in [c for c in table.columns if c.endswith("_p") and f"{c}_adj" in table]:
            raw.append(table[column].to_numpy(float))
            adjusted.append(table[f"{column}_adj"].to_numpy(float))
    raw, adjusted = np.concatenate(raw), np.concatenate(adjusted)
    tested = np.isfinite(raw)
    assert tested.sum() == summary["n_tests"] > 20
    assert adjusted[tested] == pytest.approx(stats.false_discovery_control(raw[tested]))
    assert (out / "figures" / "probes_overview_toy.png").is_file() and (out / "probes" / "position_scan.csv").is_file()
    first = {p.name: p.read_bytes() for p in (out / "tables").glob("probes_*.csv") if p.name != "probes_cost.csv"}
    _analyze(tmp_path, monkeypatch, *args)  # the same command into the same folder: resumes
    cost = json.loads((out / "summary.json").read_text())["probes"]["models"]["toy"]["cost"]
    assert cost["evaluations"] == 0 and cost["parts_run"] == 0 and cost["evaluations_total"] > 0
    assert {name: (out / "tables" / name).read_bytes() for name in first} == first
    with pytest.raises(ProbeInputError, match=re.escape(str(out / "probes")) + ".*other settings"):
        _run(tmp_path, *args[:-1], "probes.n_backgrounds=25", output=out)


def _run(tmp_path: Path, *overrides: str, output: Path | None = None) -> dict:
    """``analyze.run`` on a composed config (errors arrive as raised, not as Hydra's exit)."""
    from glmxai.jobs.analyze import run

    return run(compose_config("analyze", list(overrides), output or tmp_path / "report"))


@pytest.mark.parametrize(("override", "message"), [
    ("probes.patterns=[{motif: TBP, position: -31}]", "unknown motif 'TBP'"),
    ("probes.patterns=[{consensus: TATAAA, name: T, position: -260}]",
     r"no pattern .* inside the sequences: pattern T: its canonical start -260 bp lies outside the 300-bp"),
    (f"probes.patterns=[{{consensus: {'A' * 301}, name: long, position: -249}}]",
     "pattern long: its canonical start -249 bp lies outside the 300-bp"),
    ("probes.dose.positions=[-60, -55]", r"copies of GC-box \(9 bp\) at \[-60, -55\] overlap"),
    ("probes.spacing.pairs=[[TATA, TBP]]", "must name two of probes.patterns"),
    ("probes.experiments=[insertion, wiggle]", r"unknown \['wiggle'\]"),
])
def test_bad_probe_input_is_refused_before_any_model_work(tmp_path, override, message):
    checkpoint = _toy_checkpoint(tmp_path / "toy.ckpt")
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, *SMALL, f"probes.checkpoints=[{checkpoint}]", *(
            ["probes.experiments=[insertion]"] if override.startswith("probes.patterns") else []), override)
    assert not (tmp_path / "report").exists()


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(ProbeInputError, match=r"checkpoint not found: .*nowhere\.ckpt"):
        _run(tmp_path, *SMALL, f"probes.checkpoints=[{tmp_path / 'nowhere.ckpt'}]")


def test_analyze_probes_the_checkpoints_of_explain_runs(tmp_path):
    """inputs= explain runs: their checkpoint is probed; a run whose checkpoint is gone is listed
    as not probed, with the reason."""
    import shutil

    from glmxai.jobs.explain import run as explain

    checkpoint = _toy_checkpoint(tmp_path / "toy.ckpt")
    job = tmp_path / "runs" / "ism"
    explain(compose_config("explain", [f"ckpt_path={checkpoint}", "xai=ism", "explain.n=2"], job))
    moved = tmp_path / "runs" / "ism_moved"
    shutil.copytree(job, moved)
    meta = json.loads((moved / "meta.json").read_text())
    meta["checkpoint"] = str(tmp_path / "gone.ckpt")
    (moved / "meta.json").write_text(json.dumps(meta))
    summary = _run(tmp_path, f"inputs=[{job},{moved}]", *SMALL, "probes.experiments=[insertion]",
                   "faithfulness.enabled=false")
    assert list(summary["probes"]["models"]) == ["toy"]
    assert summary["probes"]["models"]["toy"]["checkpoint"] == str(checkpoint.resolve())
    skipped = [s for s in summary["not_analyzed"] if s["what"].startswith("motif probes of")]
    assert len(skipped) == 1 and "gone.ckpt was not found" in skipped[0]["why"]


def test_data_on_the_command_line_gives_the_backgrounds_and_must_share_the_tss(tmp_path):
    from glmxai.motifs import build_motifs
    from glmxai.probes.job import prepare_probes

    checkpoint = _toy_checkpoint(tmp_path / "toy.ckpt")  # trained on synthetic data with n_train=240
    common = [*SMALL, f"probes.checkpoints=[{checkpoint}]", "data=synthetic", "data.n_train=50", "data.n_val=10",
              "data.n_test=10"]
    cfg = compose_config("analyze", [*common, "data.data_seed=9"], tmp_path / "a")
    motifs = build_motifs([], 1e-4, 0.5)
    plan = prepare_probes(cfg, [], motifs)
    assert plan.models[0].data_source == "synthetic:seed=9" and len(plan.models[0].data.table("train")) == 50
    assert plan.models[0].target.model.evaluations == 0
    cfg = compose_config("analyze", [*common, "data.tss=200"], tmp_path / "b")
    with pytest.raises(ProbeInputError, match="trained with the TSS at index 249, but .* has it at 200"):
        prepare_probes(cfg, [], motifs)
