"""What the report says must follow from its tables: p-values adjusted over the whole report
(Benjamini-Hochberg, against known values), verdicts that state the table's own statistic,
k-mer rows below the minimum count kept out of verdicts, plain number formatting, and figures
that mark only what the data's motif calls support."""
import html
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from glmxai import figures
from glmxai.analysis.kmer_tables import flag_counts, kmer_findings, kmer_tables
from glmxai.analysis.motif_attribution import attribution_verdict, observed_positions, summarize_hits
from glmxai.report import Report, adjust_pvalues, fmt, fmt_p, fmt_signed
from glmxai.stats import bh_adjust

# Benjamini & Hochberg (1995), section 4.1: 15 p-values; at q = 0.05 the first four are rejected.
BH_1995 = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528,
           0.7590, 1.0]
# their adjusted values, worked by hand: min over j >= i of p_(j) * 15 / j
BH_1995_ADJUSTED = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0298 * 15 / 7, 0.0298 * 15 / 7, 0.0645, 0.0765, 0.486,
                    0.4262 * 15 / 11, 0.5719 * 15 / 12, 0.6528 * 15 / 13, 0.7590 * 15 / 14, 1.0]


def _bh_by_definition(p: np.ndarray) -> np.ndarray:
    """The step-up definition, written out: adjusted p_i = min over p_j >= p_i of p_j m / rank_j."""
    m = len(p)
    ranks = stats.rankdata(p, method="max")
    return np.array([min(1.0, min(p[j] * m / ranks[j] for j in range(m) if p[j] >= p[i])) for i in range(m)])


def test_benjamini_hochberg_matches_known_values_and_the_definition():
    adjusted = bh_adjust(BH_1995)
    np.testing.assert_allclose(adjusted, BH_1995_ADJUSTED, rtol=1e-12)
    assert (adjusted <= 0.05).sum() == 4  # the paper's four rejections
    rng = np.random.default_rng(0)
    shuffled = np.concatenate([rng.uniform(0, 1, 40), rng.uniform(0, 0.01, 10)])
    rng.shuffle(shuffled)
    np.testing.assert_allclose(bh_adjust(shuffled), _bh_by_definition(shuffled), rtol=1e-12)
    # no test (NaN) stays NaN and does not count: the same as adjusting the tested ones alone
    np.testing.assert_allclose(bh_adjust([0.01, np.nan, 0.04, 0.03]), [0.03, np.nan, 0.04, 0.04], rtol=1e-12)


def test_report_adjusts_every_table_together(tmp_path):
    """Two tables, three tests: each adjusted p counts all three, whatever table it is in; the
    report refuses a table of tests that was not adjusted, and a second adjustment."""
    a = pd.DataFrame({"x": [1, 2], "fisher_p": [0.01, 0.04]})
    b = pd.DataFrame({"x": [3, 4], "ttest_p": [0.03, np.nan]})
    report = Report(tmp_path, "t", n_tests=adjust_pvalues([(a, None), (b, ["ttest_p"])]))
    with pytest.raises(ValueError, match=r"p-values \['wilcoxon_p'\] were not adjusted"):
        report.table("late", pd.DataFrame({"wilcoxon_p": [0.2]}), "a test after the adjustment")
    with pytest.raises(ValueError, match="adjusted before"):
        adjust_pvalues([(a, None)])
    report.table("a", a, "first")
    report.table("b", b, "second")
    report.table("c", pd.DataFrame({"pvalue": [0.5]}), "a match score, not a test", pvalues=[])
    report.write()
    assert report.n_tests == 3 and "3 tests in this report" in (tmp_path / "report.html").read_text()
    np.testing.assert_allclose(report.tables["a"]["fisher_p_adj"], [0.03, 0.04])
    np.testing.assert_allclose(report.tables["b"]["ttest_p_adj"], [0.04, np.nan])
    assert list(report.tables["a"].columns) == ["x", "fisher_p", "fisher_p_adj"]  # beside the raw p
    assert "pvalue_adj" not in report.tables["c"]
    written = pd.read_csv(tmp_path / "tables" / "a.csv")
    np.testing.assert_allclose(written["fisher_p_adj"], [0.03, 0.04])


def _per_hit(inside: np.ndarray, control: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"row": np.arange(len(inside)), "motif": "TATA", "start": 10, "inside": inside,
                         "control": control, "diff": inside - control})


def _verdict_of(per_hit: pd.DataFrame) -> tuple[pd.Series, str]:
    table = summarize_hits(per_hit, np.ones(len(per_hit), int), np.full(len(per_hit), 0.9))
    table["ttest_p_adj"] = bh_adjust(table["ttest_p"])
    row = table.set_index("group").loc["all"]
    return row, attribution_verdict("cnn/ism", "TATA", row)


def test_attribution_25_times_higher_inside_tata_hits_reads_as_higher_with_its_effect_size():
    rng = np.random.default_rng(0)
    control = 0.2 + rng.normal(0, 0.02, 30)
    row, sentence = _verdict_of(_per_hit(25 * control + rng.normal(0, 0.1, 30), control))
    assert row["ratio"] == pytest.approx(25, rel=0.05) and row["ttest_p_adj"] < 1e-10
    assert "is higher than in matched windows" in sentence
    for number in (fmt(row["mean_inside"]), fmt(row["mean_control"]), fmt_signed(row["mean_diff"]),
                   fmt(row["diff_ci_low"]), fmt(row["ratio"], 2), fmt_p(row["ttest_p_adj"])):
        assert number in sentence  # the table's own numbers, in the table's units
    assert f"{fmt(row['ratio'], 2)} times the control" in sentence and "25" in fmt(row["ratio"], 2)


def test_a_few_strong_hits_make_the_mean_higher_and_the_verdict_says_so():
    """The case of the issue: most hits slightly below their control, a few far above. The
    median difference is negative (a median-based verdict said 'not distinguishable'), the mean
    is far higher; the verdict states the mean, its direction and the test of the mean."""
    rng = np.random.default_rng(1)
    control = np.full(30, 0.1) + rng.normal(0, 0.005, 30)
    inside = control - 0.2
    inside[:6] = control[:6] + 20
    row, sentence = _verdict_of(_per_hit(inside, control))
    assert row["median_diff"] < 0 < row["mean_diff"] and row["ttest_p_adj"] < 0.05
    assert "higher than" in sentence and fmt_signed(row["mean_diff"]) in sentence
    assert f"inside higher for {fmt(100 * row['share_inside_higher'], 2)}% of hits" in sentence  # 20%: the spread
    # and a difference whose CI spans 0 is not called a direction
    row, sentence = _verdict_of(_per_hit(control + rng.normal(0, 0.05, 30), control))
    assert row["ttest_p_adj"] > 0.05 and "not distinguishable from" in sentence and "higher than" not in sentence
    _, sentence = _verdict_of(_per_hit(control[:3] + 1, control[:3]))
    assert "not tested" in sentence


def test_kmer_minimum_count_keeps_a_two_count_row_out_of_the_verdicts(tmp_path):
    """A rare k-mer twice among top features (its only two occurrences) has a small p-value,
    even adjusted; with kmers.min_count=5 it is shown, flagged, and no verdict names it."""
    rng = np.random.default_rng(0)
    n, length = 40, 80
    seqs = ["".join(rng.choice(list("ACT"), length)) for _ in range(n)]  # no G: GGGGGG occurs only where planted
    seqs = [s[:30] + "TATAAA" + s[36:] for s in seqs]
    seqs[:2] = [s[:60] + "GGGGGG" + s[66:] for s in seqs[:2]]
    scores = rng.normal(0, 0.1, (n, length))
    scores[:20, 30:36] += 2.0
    scores[:2, 60:66] += 3.0
    labels = np.r_[np.ones(20, int), np.zeros(20, int)]
    _, top = kmer_tables(seqs, scores, labels, k=6, top=2, n_top_kmers=5)
    top_kmers = flag_counts(top.assign(run="toy/ism"), "n_top_positive", 5)
    adjust_pvalues([(top_kmers, None)])
    table = top_kmers.set_index(["label", "kmer"])
    rare = table.loc[(1, "GGGGGG")]
    assert rare["n_top_positive"] == 2 and rare["n_occurrences"] == 2 and rare["fisher_p_adj"] < 0.05
    assert not rare["finding"] and rare["flag"] == "count < 5: not a finding"
    assert table.loc[(1, "TATAAA"), "finding"]
    sentences = kmer_findings(top_kmers, min_count=5)
    assert any("TATAAA" in s for s in sentences) and not any("GGGGGG" in s for s in sentences)
    assert "not a finding" in sentences[0]  # the flagged row is accounted for, not silently dropped
    assert any("GGGGGG" in s for s in kmer_findings(top_kmers, min_count=2))  # the count decides


def test_plain_number_formatting():
    assert fmt(np.int64(4736)) == "4,736" and fmt({"train": np.int64(4736), "test": 592}) == "train 4,736, test 592"
    assert fmt(None) == "n/a" and fmt(np.nan, missing="") == "" and fmt(np.float32(0.5)) == "0.5"
    assert fmt((-40, -20)) == "-40, -20" and fmt(np.bool_(True)) == "yes"
    assert fmt(1.23456e-5) == "1.23e-05" and fmt(1e-4, 4) == "1e-04" and fmt(0.017) == "0.017"
    assert fmt(3.0) == "3" and fmt(12345.6) == "12,346" and fmt_signed(0.5) == "+0.5" and fmt_signed(-0.5) == "-0.5"


def test_observed_positions_mark_only_where_hits_concentrate():
    """Promoters with a motif at -31 (+-1) and a scattered one: only the first is drawn; the
    same scattered motif in another data set (GUE-like) marks nothing."""
    rng = np.random.default_rng(0)
    keys = [f"s{i}" for i in range(100)]
    labels = pd.Series([1] * 50 + [0] * 50, index=keys)
    rows = [{"key": k, "motif": "TATA", "rel_center": -31 + int(rng.integers(-1, 2))} for k in keys[:30]]
    rows += [{"key": k, "motif": "GC", "rel_center": int(rng.integers(-249, 50))} for k in keys]
    positions = observed_positions(pd.DataFrame(rows), labels, (-249, 50)).set_index(["motif", "label"])
    assert positions.loc[("TATA", 1), "drawn"] and positions.loc[("TATA", 1), "at_peak"] == 30
    assert abs(positions.loc[("TATA", 1), "peak_rel_pos"] + 31) <= 1
    assert not positions.loc[("GC", 1), "drawn"] and not positions.loc[("GC", 0), "drawn"]
    profile = pd.DataFrame({"run": "r", "rel_pos": np.arange(-249, 51), "label": 1, "mean": 0.0})
    fig = figures.positional_profiles(profile, positions[positions["drawn"]].reset_index())
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["TATA", "TSS"]
    fig = figures.positional_profiles(profile, positions[positions["drawn"]].reset_index().iloc[:0])
    assert [t.get_text() for t in fig.axes[0].texts] == ["TSS"]  # no synthetic-generator positions on other data


def test_random_orders_are_drawn_once_per_model_with_their_range():
    """Three methods of one model share their random orders: one dashed mean with a band,
    not three curves on top of each other."""
    rows = []
    for run in ("cnn/ism", "cnn/ig", "cnn/lime"):
        for curve in ("deletion", "insertion"):
            for fraction in (0.0, 0.5, 1.0):
                rows.append({"run": run, "model": "cnn", "order": "attribution", "repeat": 0, "curve": curve,
                             "fraction": fraction, "prob": 0.9 - 0.5 * fraction})
                rows += [{"run": run, "model": "cnn", "order": "random", "repeat": r, "curve": curve,
                          "fraction": fraction, "prob": 0.9 - 0.2 * fraction - 0.05 * r} for r in range(3)]
    fig = figures.perturbation_curves(pd.DataFrame(rows))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert sum("random order" in label for label in labels) == 1 and len(labels) == 4
    assert len(fig.axes[0].collections) == 1  # the band of the random orders


def test_a_p_value_that_underflowed_to_zero_reads_below_1e_300_in_sentences_and_tables(tmp_path):
    """Fisher's exact test of 2,400 of 2,974 against 60 of 1,487 underflows to 0.0 in float64."""
    from glmxai.analysis.shortcut import COLUMNS, shortcut_section
    from glmxai.report import p_clause

    p = stats.fisher_exact([[2400, 574], [60, 1427]]).pvalue
    assert p == 0.0 and fmt_p(p) == "< 1e-300" and p_clause(p) == "< 1e-300"
    assert p_clause(0.01234) == "= 0.012" and fmt_p(0.01234) == "0.012" and fmt_p(np.nan) == "n/a"
    row = dict.fromkeys(COLUMNS, 0) | {"model": "cnn", "set": "copies", "split": "test", "negatives": 2974,
                                       "called_promoter": 2400, "share": 0.807, "reference_negatives": 1487,
                                       "reference_share": 0.04, "fisher_p": p, "fisher_p_adj": p, "pairs": 0}
    report = Report(tmp_path, "shortcut")
    shortcut_section(report, pd.DataFrame([row], columns=[*COLUMNS, "fisher_p_adj"]))
    text = html.unescape("".join(part for part in report.parts if isinstance(part, str)))
    assert "(adjusted p < 1e-300)" in text and "p = 0)" not in text
    table = html.unescape(report._table_html("shortcut_test"))
    cells = dict(zip(re.findall(r"<th>(.*?)</th>", table), re.findall(r"<td>(.*?)</td>", table)))
    assert cells["fisher_p"] == cells["fisher_p_adj"] == "< 1e-300" and cells["negatives"] == "2,974"
