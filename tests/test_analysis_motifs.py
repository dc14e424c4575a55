"""Motif scanning with JASPAR PWMs: planted consensus found at the right place and strand."""
import numpy as np
import pytest

from glmxai.data.encoding import reverse_complement
from glmxai.motifs import build_motif, hit_mask, in_window, presence, scan

TSS = 249


def _background(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join("ACGT"[c] for c in rng.integers(0, 4, 300)) for _ in range(n)]


def _plant(seq: str, site: str, start: int) -> str:
    return seq[:start] + site + seq[start + len(site):]


@pytest.fixture(scope="module")
def tbp():
    return build_motif("MA0108", "TBP", pvalue=1e-4, strands="both", window=(-40, -20))


@pytest.fixture(scope="module")
def sp1():
    return build_motif("MA0079", "SP1", pvalue=1e-4, strands="both")


def test_consensus_planted_on_both_strands_is_found_at_its_place(tbp, sp1):
    seqs = _background(3, 0)
    seqs[0] = _plant(seqs[0], tbp.consensus, TSS - 31)
    seqs[1] = _plant(seqs[1], reverse_complement(sp1.consensus), TSS - 60)
    hits = scan(seqs, [tbp, sp1], tss=TSS)
    tata = hits[(hits["row"] == 0) & (hits["motif"] == "TBP")]
    assert ((tata["rel_start"] == -31) & (tata["strand"] == "+")).any()
    gc = hits[(hits["row"] == 1) & (hits["motif"] == "SP1")]
    assert ((gc["rel_start"] == -60) & (gc["strand"] == "-")).any()
    assert (gc["end"] - gc["start"] == sp1.width).all()
    # the planted site scores the PSSM maximum
    assert tata["score"].max() == pytest.approx(tbp.pssm.max, rel=1e-6)


def test_plus_strand_only_motif_ignores_reverse_complement():
    tata_plus = build_motif("MA0108", "TBP+", strands="+")
    seq = _plant(_background(1, 1)[0], reverse_complement(tata_plus.consensus), 100)
    hits = scan([seq], [tata_plus], tss=TSS)
    assert not (hits["start"] == 100).any()


def test_threshold_follows_pvalue_and_random_hits_are_rare(tbp):
    loose = build_motif("MA0108", "TBP", pvalue=1e-2)
    assert loose.threshold < tbp.threshold
    seqs = _background(50, 2)
    rate = len(scan(seqs, [tbp], tss=TSS)) / (50 * 2 * (300 - tbp.width + 1))
    assert rate < 5e-4  # close to the nominal 1e-4 per position and strand


def test_windows_presence_and_masks(tbp):
    seqs = _background(2, 3)
    seqs[0] = _plant(seqs[0], tbp.consensus, TSS - 31)
    seqs[1] = _plant(seqs[1], tbp.consensus, 20)
    hits = scan(seqs, [tbp], tss=TSS)
    planted = hits[hits["start"].isin([TSS - 31, 20])]
    assert in_window(planted, [tbp]).tolist() == [s == TSS - 31 for s in planted["start"]]
    present = presence(hits, 2, [tbp], windowed=True)
    assert present["TBP"].tolist() == [True, False]
    mask = hit_mask(planted, 2, 300)
    assert mask[0, TSS - 31:TSS - 31 + tbp.width].all() and mask[1, 20:20 + tbp.width].all()


def test_polii_collection_and_unknown_id():
    inr = build_motif("POL002", strands="+")
    assert inr.matrix_id.startswith("POL002") and inr.width == 8
    with pytest.raises(ValueError, match="not found"):
        build_motif("MA9999")


def test_vectorised_scan_gives_biopythons_scores_and_hits(tbp, sp1):
    """Every hit and score as Bio.motifs' own ``pssm.calculate`` gives them, per sequence and
    strand (Bio scores in float32, here in float64: compared to 4 decimals), on sequences of two lengths
    with N inside (windows with N never hit)."""
    inr = build_motif("POL002", "Inr", pvalue=1e-2, strands="+")
    rng = np.random.default_rng(7)
    seqs = _background(40, 1) + ["".join(rng.choice(list("ACGTN"), 70, p=[0.24] * 4 + [0.04])) for _ in range(30)]
    seqs[0] = _plant(seqs[0], tbp.consensus, 100)
    expected = set()
    for motif in (tbp, sp1, inr):
        strands = [("+", motif.pssm)] + ([("-", motif.pssm.reverse_complement())] if motif.strands == "both" else [])
        for row, seq in enumerate(seqs):
            for strand, pssm in strands:
                scores = np.asarray(pssm.calculate(seq))
                for start in np.flatnonzero(np.nan_to_num(scores, nan=-np.inf) >= motif.threshold):
                    expected.add((row, motif.name, int(start), strand, round(float(scores[start]), 4)))
    hits = scan(seqs, [tbp, sp1, inr], tss=TSS, batch=16)
    found = {(r.row, r.motif, r.start, r.strand, round(r.score, 4)) for r in hits.itertuples()}
    assert len(expected) > 100 and found == expected
    assert (hits["rel_start"] == hits["start"] - TSS).all() and (hits["end"] - hits["start"] > 0).all()
