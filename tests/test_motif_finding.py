"""DNABERT-viz motif finding: its steps against independent references, and a planted enriched
motif recovered where a motif present in every sequence is not."""
from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pytest
from Bio import Align
from omegaconf import OmegaConf
from scipy.stats import fisher_exact

from glmxai.analysis import motif_finding as mf
from glmxai.explain_runs import ExplainRun
from glmxai.report import Report

from conftest import random_sequences

ENRICHED, UNIFORM = "GATTACAGT", "CCGCGGCCA"


@pytest.mark.parametrize("x,n,k,total", [(10, 12, 50, 100), (3, 3, 10, 200), (1, 40, 50, 100), (0, 5, 20, 60)])
def test_hypergeometric_p_is_the_exact_tail_and_one_sided_fisher(x, n, k, total):
    tail = sum(comb(k, i) * comb(total - k, n - i) for i in range(x, min(n, k) + 1)) / comb(total, n)
    fisher = fisher_exact([[x, k - x], [n - x, total - k - (n - x)]], alternative="greater").pvalue
    p = mf.enrichment_p(np.array([x]), np.array([n]), k, total)[0]
    assert p == pytest.approx(tail, rel=1e-9) and p == pytest.approx(fisher, rel=1e-9)


def test_high_score_regions_follow_both_dnabert_viz_conditions():
    scores = np.array([0, 0, 5, 5, 5, 5, 5, 0, 0, 3, 3, 0], dtype=float)  # mean 2.25, min 0
    assert mf.high_score_regions(scores, min_len=5) == [(2, 7)]  # the 2-bp run at 9..10 is too short
    assert mf.high_score_regions(scores, min_len=2) == [(2, 7), (9, 11)]
    positive = np.array([1, 1, 1, 9, 9, 9, 9, 9, 1, 1], dtype=float)  # above the mean, but not above 10 x min
    assert mf.high_score_regions(positive, min_len=5) == []
    assert mf.high_score_regions(positive, min_len=5, min_factor=5) == [(3, 8)]


def test_ungapped_alignment_scores_as_biopythons_aligner_with_dnabert_viz_settings():
    aligner = Align.PairwiseAligner(match_score=1.0, mismatch_score=0.0, end_gap_score=0.0)  # its defaults in 2020
    aligner.internal_gap_score = -10000.0  # DNABERT-viz's merge_motifs: no internal gaps
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = "".join(rng.choice(list("ACGT"), rng.integers(5, 13)))
        b = "".join(rng.choice(list("ACGT"), rng.integers(5, len(a) + 1)))
        assert mf.ungapped_alignment(a, b)[0] == aligner.score(a, b)
    assert mf.ungapped_alignment("TTACAGG", "GATTACA") == (5, -2)  # GATTACA starts 2 bp before TTACAGG


def test_merging_moves_instances_onto_the_motif_footprint_and_windows_are_centred():
    candidates = {"GATTACA": [(0, 10, 17)], "TTACAGG": [(1, 20, 27)], "CCCCCGGG": [(2, 5, 13)]}
    motifs = mf.merge_candidates(candidates, min_len=5)
    assert [(m.key, m.members) for m in motifs] == [("GATTACA", ["GATTACA", "TTACAGG"]), ("CCCCCGGG", ["CCCCCGGG"])]
    assert motifs[0].instances == [(0, 10, 17), (1, 18, 25)]
    # 7 bp -> 24 bp: 8 bases on the left, 9 on the right; a window past either end is dropped
    assert mf.centred_windows([(0, 10, 17), (1, 2, 9), (2, 20, 27)], [40, 40, 30], 24) == [(0, 2, 26)]


def _planted(n: int = 60, length: int = 100, seed: int = 0):
    """n positives with ENRICHED and n negatives, all with UNIFORM, at random places; scores 1 on
    both planted motifs and below 0.01 elsewhere (attention-like, non-negative)."""
    rng = np.random.default_rng(seed)
    sequences, scores = random_sequences(2 * n, length, seed=seed), rng.random((2 * n, length)) * 0.01
    labels = np.repeat([1, 0], n)
    for i in range(2 * n):
        planted = [(UNIFORM, rng.integers(0, 35))] + ([(ENRICHED, rng.integers(50, 85))] if labels[i] else [])
        for motif, start in planted:
            sequences[i] = sequences[i][:start] + motif + sequences[i][start + len(motif):]
            scores[i, start:start + len(motif)] = 1.0
    return sequences, labels, scores


def test_a_planted_enriched_motif_is_found_and_a_uniformly_present_one_is_not():
    sequences, labels, scores = _planted()
    motifs, candidates = mf.find_motifs(sequences, labels, scores)
    table = candidates.set_index("candidate")
    assert table.loc[UNIFORM, "all_with"] == 120 and table.loc[UNIFORM, "hypergeom_p"] == pytest.approx(1.0)
    assert not table.loc[UNIFORM, "kept"]
    assert table.loc[ENRICHED, "kept"] and table.loc[ENRICHED, "hypergeom_q"] < 1e-10
    assert len(motifs) == 1
    motif = motifs[0]
    assert motif["key"] == ENRICHED and motif["instances"] == 60 and motif["sequences"] == 60
    assert motif["ppm"].shape == (4, 24) and np.allclose(motif["ppm"].sum(0), 1)
    assert motif["consensus"][7:16] == ENRICHED  # (24 - 9) // 2 = 7 bases of flank on the left
    assert not any(UNIFORM in m["consensus"] for m in motifs)


def test_section_reports_the_motif_with_its_tomtom_match(tmp_path, monkeypatch):
    sequences, labels, scores = _planted(seed=1)
    onehot = np.array([[float(b == base) for b in ENRICHED] for base in "ACGT"]) * 0.97 + 0.01
    decoy = np.full((4, 8), 0.25)
    monkeypatch.setattr(mf, "jaspar_targets", lambda tax_group: (["X1", "X2"], ["PLANTED", "FLAT"], [onehot, decoy]))
    run = ExplainRun(Path(tmp_path), scores.astype(np.float32), sequences, labels, np.full(120, 0.5, np.float32),
                     np.arange(120), meta={"method": "attention", "model": "toy"})
    options = OmegaConf.create({"window_size": 24, "min_len": 5, "min_factor": 10, "pval_cutoff": 0.005,
                                "min_n_motif": 3, "align_all_ties": False, "n_best": 1, "tax_group": "vertebrates",
                                "logos": 1})
    report = Report(tmp_path, "motifs")
    summary = mf.motif_finding_section(report, [run], options)
    assert summary == {"toy/attention": {"motif_finding": {"candidates": len(set(_candidates(sequences, scores,
                                                                                             labels))),
                                                           "enriched": 1, "motifs": 1}}}
    row = report.tables["motif_finding"].iloc[0]
    assert row["run"] == "toy/attention" and row["motif"] == ENRICHED and row["best_match_name"] == "PLANTED"
    assert row["tomtom_qvalue"] < 0.05 and len(report.figures) == 1
    report.write()
    assert "motif_finding" in (tmp_path / "report.html").read_text()


def _candidates(sequences, scores, labels):
    return [sequences[i][s:e] for i in np.flatnonzero(labels == 1) for s, e in mf.high_score_regions(scores[i])]


def test_flat_attention_gives_no_candidate_at_dnabert_viz_default_and_the_report_says_why():
    sequences, labels, peaked = _planted(seed=2)
    flat = 0.05 + 0.02 * peaked  # max / min about 1.4, as the small models' attention on the synthetic data
    assert len(mf.find_motifs(sequences, labels, flat)[1]) == 0
    assert "min_factor=0" in mf.flat_scores_note(flat[labels == 1], 10)
    motifs, _ = mf.find_motifs(sequences, labels, flat, min_factor=0)
    assert [m["key"] for m in motifs] == [ENRICHED]
