"""Motif discovery (slow: TF-MoDISco clustering and TOMTOM against all of JASPAR CORE)."""
import numpy as np
import pytest

from glmxai.analysis import discovery
from glmxai.data.synthetic import SyntheticPromoterGenerator


def _discover(n: int, leiden_runs: int) -> list[dict]:
    table = SyntheticPromoterGenerator().generate(n, seed=1)
    scores = np.random.default_rng(0).normal(0, 0.1, table.masks.shape).astype(np.float32)
    scores[table.masks] += 1.0  # attribution exactly on the functional motifs
    return discovery.discover_patterns(table.sequences, scores, min_metacluster_size=20, final_min_cluster_size=10,
                                       n_leiden_runs=leiden_runs)


def test_real_modisco_and_tomtom_name_the_planted_tata_box():
    """The cheapest real run, in the default suite: TF-MoDISco on 100 sequences, TOMTOM against all of
    JASPAR CORE."""
    matches = discovery.match_patterns(_discover(100, 2), discovery.jaspar_targets(), n_best=3)
    best = matches[matches["rank"] == 1]
    assert set(best[best["qvalue"] < 0.05]["match_name"].str.upper()) & {"TATA-BOX", "TBP"}


@pytest.mark.slow
def test_modisco_recovers_planted_motifs_and_tomtom_names_them():
    patterns = _discover(200, 5)
    # (4, w) probability matrices: each position's A, C, G, T sum to 1 (a transposed matrix would not)
    assert patterns and all(np.allclose(p["ppm"].sum(axis=0), 1.0) for p in patterns)
    matches = discovery.match_patterns(patterns, discovery.jaspar_targets(), n_best=3)
    best = matches[matches["rank"] == 1]
    names = set(best[best["qvalue"] < 0.05]["match_name"].str.upper())
    assert names & {"TATA-BOX", "TBP"}
    assert any(n.startswith(("SP", "KLF", "GC-BOX", "NFY", "CCAAT")) for n in names)


def test_core_trimming():
    strength = np.array([0.1, 0.5, 0.2, 0.9, 1.0, 0.4, 0.1, 0.8])
    assert discovery.core_span(strength, 0.3) == (3, 6)
