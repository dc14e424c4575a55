"""Dataset audit: enrichment statistics, planted derived negatives and split leakage."""
import numpy as np
import pandas as pd
import pytest

from glmxai.analysis import audit
from glmxai.analysis import derived_pairs as related
from glmxai.report import adjust_pvalues

L, CHUNK = 300, 15


def _random_seqs(n, rng):
    return ["".join("ACGT"[c] for c in rng.integers(0, 4, L)) for _ in range(n)]


def _derive(parent: str, rng, n_replaced: int) -> str:
    """GUE-style negative: replace ``n_replaced`` of the 20 aligned 15 bp chunks at random."""
    seq = list(parent)
    for c in rng.choice(L // CHUNK, n_replaced, replace=False):
        seq[c * CHUNK:(c + 1) * CHUNK] = rng.choice(list("ACGT"), CHUNK)
    return "".join(seq)


@pytest.fixture()
def planted():
    """40 promoters, 40 unrelated negatives, 10 negatives derived from promoters 0..9;
    derived negatives 0..3 sit in another split than their parent."""
    rng = np.random.default_rng(0)
    positives, negatives = _random_seqs(40, rng), _random_seqs(40, rng)
    derived = [_derive(positives[i], rng, 8) for i in range(10)]
    negatives[0] = positives[20][:CHUNK] + negatives[0][CHUNK:]  # one shared chunk: a coincidence, not a pair
    sequences = positives + negatives + derived
    labels = np.array([1] * 40 + [0] * 50)
    splits = np.array(["train"] * 90, dtype=object)
    splits[80:84] = "test"
    return sequences, labels, splits


def test_derived_negatives_and_split_leakage_are_detected(planted):
    sequences, labels, splits = planted
    pairs = related.derived_pairs(sequences, labels, splits)
    derived = pairs[pairs["kind"] == "promoter->non-promoter"]
    assert sorted(zip(derived["i"], derived["j"])) == [(i, 80 + i) for i in range(10)]
    assert len(pairs) == 10  # unrelated sequences are not paired
    assert derived["cross_split"].sum() == 4
    assert (derived["shared_chunks"] == 12).all()
    assert (derived["identity"] > 0.6).all()
    summary = related.pair_summary(pairs, labels, splits).set_index("what")
    assert summary.loc["pairs: promoter->non-promoter", "count"] == 10
    assert summary.loc["test: non-promoters with a promoter relative", "count"] == 4
    assert summary.loc["test: non-promoters with a promoter relative", "cross_split"] == 4
    assert summary.loc["train: non-promoters with a promoter relative", "cross_split"] == 0


def test_motif_retention_counts_kept_hits(planted):
    sequences, labels, splits = planted
    pairs = related.derived_pairs(sequences, labels, splits)
    hits = pd.DataFrame({"row": [0, 80, 1, 2], "motif": ["TATA"] * 4, "start": [10, 10, 10, 10],
                         "strand": ["+"] * 4})
    retention = related.motif_retention(pairs, hits).set_index("motif")
    assert retention.loc["TATA", "parent_hits"] == 3
    assert retention.loc["TATA", "kept_in_derived"] == 1


def test_enrichment_separates_informative_from_uninformative_motifs():
    rng = np.random.default_rng(1)
    labels = np.array([1] * 200 + [0] * 200)
    present = pd.DataFrame({"informative": np.r_[rng.random(200) < 0.6, rng.random(200) < 0.1],
                            "uninformative": rng.random(400) < 0.3})
    table = audit.motif_enrichment(present, labels)
    assert adjust_pvalues([(table, ["fisher_p"])]) == 2
    table = table.set_index("motif")
    good, bad = table.loc["informative"], table.loc["uninformative"]
    assert good["odds_ratio"] > 5 and good["fisher_p_adj"] < 1e-10
    assert good["or_ci_low"] > 1 and good["balanced_accuracy"] > 0.7
    assert "enriched in promoters" in audit.verdict(good.to_dict() | {"motif": "informative"})
    assert bad["fisher_p_adj"] > 0.05 and "cannot separate" in audit.verdict(bad.to_dict() | {"motif": "x"})
    assert good["rate_promoter"] == present["informative"][:200].mean()


def test_position_histogram_counts_by_label():
    hits = pd.DataFrame({"row": [0, 0, 1, 2], "motif": ["M"] * 4, "rel_start": [-31, -29, -31, 5]})
    hist = audit.position_histogram(hits, np.array([1, 1, 0]), bin_size=10, span=(-50, 20))
    pos = hist[(hist["label"] == 1) & (hist["bin_start"] == -40)]
    assert pos["hits"].item() == 2 and pos["per_sequence"].item() == 1.0
    assert hist[(hist["label"] == 0) & (hist["bin_start"] == 0)]["hits"].item() == 1
    assert hist["hits"].sum() == 4


def test_unequal_lengths_are_rejected():
    with pytest.raises(ValueError, match="equal-length"):
        related.derived_pairs(["ACGT" * 5, "ACGT" * 4], np.array([1, 0]), ["train", "train"])


def test_data_without_related_pairs_gives_empty_counts():
    rng = np.random.default_rng(2)
    sequences, labels, splits = _random_seqs(6, rng), np.array([1, 0] * 3), np.array(["train"] * 3 + ["test"] * 3)
    pairs = related.derived_pairs(sequences, labels, splits)
    assert pairs.empty
    summary = related.pair_summary(pairs, labels, splits).set_index("what")
    assert summary.loc["test: non-promoters with a promoter relative", "count"] == 0
    assert summary.loc["test: non-promoters with a promoter relative", "of"] == 2
    assert related.motif_retention(pairs, pd.DataFrame(columns=["row", "motif", "start", "strand"])).empty


def test_enrichment_of_a_large_table_is_the_sample_odds_ratio_with_woolfs_interval():
    """Above 10,000 sequences: the cross-product ratio and its Woolf 95% interval, computed here by
    the textbook formula; below, the conditional MLE (which differs from it slightly)."""
    rng = np.random.default_rng(2)
    for n, kind in ((12_000, "sample"), (2_000, "conditional")):
        labels = np.r_[np.ones(n // 2, int), np.zeros(n // 2, int)]
        present = pd.DataFrame({"m": np.r_[rng.random(n // 2) < 0.3, rng.random(n // 2) < 0.2]})
        row = audit.motif_enrichment(present, labels).iloc[0]
        a, b = row["with_motif_promoter"], row["with_motif_nonpromoter"]
        c, d = n // 2 - a, n // 2 - b
        sample = a * d / (b * c)
        assert row["or_kind"] == kind
        if kind == "sample":
            half = 1.959964 * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
            assert row["odds_ratio"] == pytest.approx(sample, rel=1e-12)
            assert (row["or_ci_low"], row["or_ci_high"]) == pytest.approx(
                (sample * np.exp(-half), sample * np.exp(half)), rel=1e-5)
        else:
            assert row["odds_ratio"] != pytest.approx(sample, rel=1e-6)


def test_negatives_built_both_ways_are_told_apart_and_a_tata_box_at_minus_31_counted_by_class():
    """Promoters with a TATA box at -31 (20 of 40); negatives derived from them by chunk replacement
    (the chunk holding -31 kept in 6 of 10); genomic-like negatives without a parent, 14 of 30 with a
    TATA box planted at -31. The audit must find each class and count the box at -31 in each."""
    from glmxai.motifs import Motif

    tss, tata = 249, "TATAAAAG"
    rng = np.random.default_rng(3)
    plant = lambda s: s[:tss - 31] + tata + s[tss - 31 + len(tata):]  # noqa: E731
    promoters = [plant(s) if i < 20 else s for i, s in enumerate(_random_seqs(40, rng))]
    chunk_of_box = (tss - 31) // CHUNK  # the box lies in chunks 14 and 15 (starts 218, 225)
    derived = []
    for i in range(10):  # children of TATA promoters 0..9; in 6 the chunks holding the box are kept
        replace = [c for c in rng.permutation(20) if (c not in (chunk_of_box, chunk_of_box + 1)) or i >= 6][:12]
        seq = list(promoters[i])
        for c in replace:
            seq[c * CHUNK:(c + 1) * CHUNK] = rng.choice(list("ACGT"), CHUNK)
        derived.append("".join(seq))
    genomic = [plant(s) if i < 14 else s for i, s in enumerate(_random_seqs(30, rng))]
    sequences = promoters + derived + genomic
    labels = np.r_[np.ones(40, int), np.zeros(40, int)]
    pairs = related.derived_pairs(sequences, labels, ["train"] * 80)
    classes = related.sequence_classes(pairs, labels)
    assert (classes[:40] == "promoter").all() and (classes[40:50] == "derived negative").all()
    assert (classes[50:] == "negative without parent").all()
    motif = Motif(name="TATA", matrix_id="MA0108", pssm=None, threshold=0.0, window=(-40, -20))
    # the hits a scan finds: the planted boxes (where the sequence still holds one) at -31
    rows = [i for i, s in enumerate(sequences) if s[tss - 31:tss - 31 + len(tata)] == tata]
    hits = pd.DataFrame({"row": rows, "motif": "TATA", "rel_start": -31, "start": tss - 31})
    # and a few promoters have their box at -29 (the promoters' peak stays -31)
    hits = pd.concat([hits, pd.DataFrame({"row": [20, 21], "motif": "TATA", "rel_start": -29, "start": tss - 29})])
    table = related.motif_by_class(hits, [motif], classes)
    assert sorted(table["start"].unique()) == [-31] and set(table["peak_of"]) == {
        "promoter, derived negative, negative without parent"}
    at = table.set_index("class")
    assert at["at_start"].to_dict() == {"promoter": 20, "derived negative": 6, "negative without parent": 14}
    assert at.loc["promoter", "with_hit"] == 22 and at.loc["negative without parent", "share_at_start"] == \
        pytest.approx(14 / 30)
    sentence = related.class_findings(table)[0]
    assert "starting exactly at -31 bp" in sentence and "more often from a negative (20)" in sentence
    # promoters peaking elsewhere than the negatives: both starts are reported
    shifted = hits.assign(rel_start=np.where(hits["row"] < 40, -29, -31))
    two = related.motif_by_class(shifted, [motif], classes)
    assert dict(two.groupby("start")["peak_of"].first()) == {-31: "derived negative, negative without parent",
                                                              -29: "promoter"}
