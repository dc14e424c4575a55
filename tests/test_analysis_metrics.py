"""Agreement, faithfulness, ground truth, attribution at motifs and k-mer tables on
constructed inputs with known answers."""
import numpy as np
import pandas as pd
import pytest

from glmxai.analysis import agreement, faithfulness
from glmxai.analysis.kmer_tables import kmer_tables, motif_share_of_top, top_windows
from glmxai.analysis.motif_attribution import hit_vs_control, positional_profile, summarize_hits
from glmxai.data.encoding import to_codes
from glmxai.predictor import BatchedPredictor, CachedPredictor
from glmxai.stats import decoy_ratio, mask_metrics, summarize_masks


def test_agreement_known_answers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 100))
    keys = np.arange(30)
    pairs = agreement.pairwise_agreement(["a", "same", "reversed", "noise"],
                                         [a, a.copy(), -a, rng.normal(size=(30, 100))], [keys] * 4,
                                         k=10, absolute=False).set_index(["a", "b"])
    assert pairs.loc[("a", "same"), "spearman_mean"] == pytest.approx(1.0)
    assert pairs.loc[("a", "same"), "top10_overlap"] == 1.0
    assert pairs.loc[("a", "reversed"), "spearman_mean"] == pytest.approx(-1.0)
    assert pairs.loc[("a", "reversed"), "top10_overlap"] == 0.0
    assert abs(pairs.loc[("a", "noise"), "spearman_mean"]) < 0.1
    matrix = agreement.agreement_matrix(pairs.reset_index(), ["a", "same", "reversed", "noise"], "spearman_mean")
    assert matrix.loc["reversed", "a"] == matrix.loc["a", "reversed"] == pytest.approx(-1.0)
    assert np.allclose(np.diag(matrix), 1.0)


def test_topk_overlap_of_sparse_attributions_is_chance_not_tie_order():
    """Two runs that mark 4 different positions and leave 296 zeros share no top-20 position
    but by chance; ties broken by position would report 16 of 20 shared."""
    a, b = np.zeros((1, 300)), np.zeros((1, 300))
    a[0, [50, 60, 70, 80]] = 1.0
    b[0, [150, 160, 170, 180]] = 1.0
    assert agreement.topk_overlap(a, b, 20)[0] == pytest.approx(20 / 300, abs=0.01)
    assert agreement.topk_overlap(a, a, 20)[0] == pytest.approx(4 / 20 + 16 / 20 * 16 / 296)
    c = a.copy()
    c[0, 100:116] = 0.5  # fills the 16 slots left: no ties at the 20th value
    assert agreement.topk_overlap(c, c, 20)[0] == 1.0


def test_agreement_aligns_rows_by_key():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 50))
    pairs = agreement.pairwise_agreement(["x", "y"], [a, a[::-1][:3]], [np.arange(5), np.arange(5)[::-1][:3]])
    assert pairs["n"].item() == 3 and pairs["spearman_mean"].item() == pytest.approx(1.0)


def _motif_detector(start: int, site: str):
    """A toy model: p(promoter) = share of the site present at ``start``."""
    codes = to_codes(site)

    def predict(x: np.ndarray) -> np.ndarray:
        return 0.05 + 0.9 * (x[:, start:start + len(site)] == codes).mean(axis=1)

    return predict


def test_faithfulness_true_attribution_beats_random_and_reversed():
    rng = np.random.default_rng(0)
    site, start, n, length = "TATAAAAG", 40, 12, 100
    codes = rng.integers(0, 4, (n, length)).astype(np.int8)
    codes[:, start:start + len(site)] = to_codes(site)
    predict = _motif_detector(start, site)
    truth = np.zeros((n, length), np.float32)
    truth[:, start:start + len(site)] = 1.0
    background = faithfulness.backgrounds(codes, "dinuc_shuffle", seed=1)
    curves, areas = faithfulness.perturbation_curves(predict, codes, truth + 0.01 * rng.random((n, length)),
                                                     background, steps=20, n_random=3)
    good = faithfulness.summarize_areas(areas)
    _, bad_areas = faithfulness.perturbation_curves(predict, codes, -truth, background, steps=20, n_random=3)
    bad = faithfulness.summarize_areas(bad_areas)
    assert good["deletion_aoc"] > good["deletion_aoc_random"] + 0.2
    assert good["insertion_auc"] > good["insertion_auc_random"] + 0.2
    assert good["deletion_aoc_ttest_p"] < 0.01 and good["deletion_aoc_gain_ci_low"] > 0.2
    assert bad["deletion_aoc"] < bad["deletion_aoc_random"]
    deletion = curves[(curves["order"] == "attribution") & (curves["curve"] == "deletion")]
    assert deletion["prob"].iloc[0] > 0.9 and deletion["prob"].iloc[-1] < 0.6  # site destroyed at the end


def test_faithfulness_breaks_ties_at_random_not_upstream_first():
    """An attribution that marks an irrelevant window and ties everywhere else must not look
    faithful because ties happened to put the model's real site (upstream) early."""
    rng = np.random.default_rng(0)
    site, n, length = "TATAAAAG", 12, 100
    codes = rng.integers(0, 4, (n, length)).astype(np.int8)
    codes[:, :len(site)] = to_codes(site)
    sparse = np.zeros((n, length), np.float32)
    sparse[:, 80:88] = 1.0
    background = faithfulness.backgrounds(codes, "dinuc_shuffle", seed=1)
    _, areas = faithfulness.perturbation_curves(_motif_detector(0, site), codes, sparse, background, steps=20,
                                                n_random=3)
    result = faithfulness.summarize_areas(areas)
    assert abs(result["deletion_aoc"] - result["deletion_aoc_random"]) < 0.1


def test_faithfulness_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        faithfulness.perturbation_curves(lambda x: x.mean(1), np.zeros((2, 10), int), np.zeros((2, 9)),
                                         np.zeros((2, 10), int))


def test_backgrounds_keep_length_and_reject_unknown_kinds():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (3, 50))
    shuffled = faithfulness.backgrounds(codes, "dinuc_shuffle", seed=1)
    assert shuffled.shape == codes.shape and (np.sort(shuffled, 1) == np.sort(codes, 1)).all()
    assert (faithfulness.backgrounds(codes, "N") == 4).all()
    with pytest.raises(ValueError, match="unknown background"):
        faithfulness.backgrounds(codes, "zeros")


def test_ground_truth_metrics():
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 50), bool)
    masks[:2, 10:16] = True
    scores = rng.normal(0, 0.1, (3, 50))
    scores[0, 10:16] += 5  # perfect
    scores[1, 10:16] -= 5  # large |score| but pushing away from promoter
    table = mask_metrics(scores, masks, np.array([1, 1, 0]), np.array([0.9, 0.2, 0.1]))
    assert list(table["row"]) == [0, 1]  # empty mask skipped
    assert table["auroc"].tolist() == [1.0, 1.0] and table["auprc"].tolist() == [1.0, 1.0]
    assert table["auroc_signed"].tolist() == [1.0, 0.0]
    summary = summarize_masks(table)
    assert summary["n_correct"] == 1 and summary["prevalence_mean"] == pytest.approx(6 / 50)


def test_attribution_inside_motif_hits_vs_matched_windows():
    rng = np.random.default_rng(0)
    n, length = 30, 120
    scores = rng.normal(0, 1, (n, length))
    scores[:, 50:58] += 3
    hits = pd.DataFrame({"row": np.arange(n), "motif": "M", "start": 50, "end": 58})
    hits = pd.concat([hits, pd.DataFrame({"row": np.arange(n), "motif": "null", "start": 90, "end": 98})])
    per_hit = hit_vs_control(scores, hits, n_controls=10)
    assert (per_hit["control"].notna()).all()
    table = summarize_hits(per_hit, np.ones(n, int), np.full(n, 0.9)).set_index(["motif", "group"])
    assert table.loc[("M", "all"), "ttest_p"] < 1e-4 and table.loc[("M", "all"), "mean_diff"] > 2
    assert table.loc[("M", "all"), "diff_ci_low"] > 2 and table.loc[("M", "all"), "median_diff"] > 1
    assert table.loc[("null", "all"), "ttest_p"] > 0.001
    assert table.loc[("M", "label=0"), "hits"] == 0
    profile = positional_profile(scores, np.ones(n, int), tss=100)
    peak = profile.loc[profile["mean"].idxmax(), "rel_pos"]
    assert -50 <= peak < -42


def test_top_windows_do_not_overlap():
    row = np.array([[0, 5, 6, 0, 0, 4, 0, -1]], float)
    assert top_windows(row, 2, 3)[0].tolist() == [2, 5]  # 1 overlaps 2; non-positive windows never count
    assert top_windows(-row, 2, 3)[0].tolist() == [7]


def test_kmer_tables_and_motif_share():
    rng = np.random.default_rng(0)
    n, length, k = 40, 80, 6
    seqs = ["".join("ACGT"[c] for c in rng.integers(0, 4, length)) for _ in range(n)]
    seqs = [s[:30] + "TATAAA" + s[36:] for s in seqs]
    scores = rng.normal(0, 0.1, (n, length))
    scores[:, 30:36] += 2.0
    labels = np.r_[np.ones(20, int), np.zeros(20, int)]
    by_label, top = kmer_tables(seqs, scores, labels, k=k, top=2, n_top_kmers=3)
    best = top[top["label"] == 1].iloc[0]
    assert best["kmer"] == "TATAAA" and best["n_top_positive"] == 20 and best["fisher_p"] < 1e-10
    assert best["enrichment"] > 10
    row = by_label[(by_label["label"] == 0) & (by_label["kmer"] == "TATAAA")].iloc[0]
    assert row["n_top_positive"] == 20 and row["n_top_negative"] <= 1  # at most a chance occurrence
    mask = np.zeros((n, length), bool)
    mask[:, 30:36] = True
    share = motif_share_of_top(scores, labels, mask, k=k, top=2).set_index("label")
    assert share.loc[1, "overlapping_motif"] >= 20 and share.loc[1, "share"] > share.loc[1, "expected_share"]
    assert share.loc[1, "binomial_p"] < 1e-5


def test_sequences_without_hits_give_empty_tables_with_columns():
    from glmxai.motifs import HIT_COLUMNS

    per_hit = hit_vs_control(np.zeros((3, 50)), pd.DataFrame(columns=HIT_COLUMNS))
    table = summarize_hits(per_hit, np.array([1, 0, 1]), np.array([0.9, 0.1, 0.8]))
    assert table.empty and {"motif", "group", "mean_diff", "ttest_p"} <= set(table.columns)


class _CountT:
    """A backbone whose p(promoter) is the share of T in the sequence."""

    def predict_proba(self, codes: np.ndarray, batch_size: int) -> np.ndarray:
        p = (np.asarray(codes) == 3).mean(axis=1)
        return np.stack([1 - p, p], axis=1)


def test_cached_predictor_runs_the_model_once_per_distinct_input():
    rng = np.random.default_rng(0)
    model = BatchedPredictor(_CountT(), batch_size=4)
    predict = CachedPredictor(model)
    codes = rng.integers(0, 4, (5, 20)).astype(np.int8)
    first = predict(codes)
    np.testing.assert_allclose(first, (codes == 3).mean(axis=1))
    assert predict(codes.copy()) is first and model.evaluations == 5  # equal input: remembered
    assert predict(codes[:, ::-1]).shape == (5,) and model.evaluations == 10  # new input (not contiguous)
    changed = codes.copy()
    changed[0, 0] = (changed[0, 0] + 1) % 4
    predict(changed)
    assert model.evaluations == 15


def test_decoy_ratio_pools_correct_promoters_that_have_both_kinds_of_motif():
    """A constructed case: |score| 2 on the motifs that make the label, 0.5 on decoys and 0.1
    elsewhere gives 0.25; a wrong or negative prediction and a row without decoys are left out."""
    masks, decoys = np.zeros((4, 20), bool), np.zeros((4, 20), bool)
    masks[:, 2:6], decoys[:3, 10:14] = True, True
    scores = np.full((4, 20), 0.1)
    scores[masks], scores[decoys] = -2.0, 0.5
    scores[1, 10:14] = 50.0  # row 1 is mispredicted: its decoys must not count
    scores[3, 15:19] = 50.0  # row 3 has no decoy mask
    labels, probs = np.array([1, 1, 1, 1]), np.array([0.9, 0.3, 0.8, 0.9])
    assert decoy_ratio(scores, masks, decoys, labels, probs) == pytest.approx(0.25)
    assert np.isnan(decoy_ratio(scores, masks, decoys, np.zeros(4, int), probs))
