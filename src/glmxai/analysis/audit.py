"""Dataset audit: does a motif separate the classes, and are negatives derived from positives?

- ``motif_enrichment``: per motif, presence by label, odds ratio with 95% CI (conditional
  MLE, ``scipy.stats.contingency.odds_ratio``), Fisher's exact test (two-sided; adjusted with
  every other test of the report), and the balanced accuracy of the rule "motif present
  -> promoter", which says directly how well the motif alone could separate the classes.
- ``position_histogram``: hit positions relative to the TSS by label, in bins.
- ``audit_tables`` reads every split of a data set, scans it and tests each motif;
  ``audit_section`` writes them (after the report's p-values are adjusted) with the related
  pairs of ``derived_pairs`` (negatives derived from promoters) and how many cross the splits.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy import stats

from glmxai import figures
from glmxai.analysis import derived_pairs as related
from glmxai.analysis.provenance import AuditData
from glmxai.data.table import SequenceDataError
from glmxai.motifs import Motif, presence, scan
from glmxai.report import Report, fmt, p_clause

log = logging.getLogger(__name__)


# Above this many sequences the odds ratio is the sample one with its Woolf interval: the conditional
# MLE's interval costs ~7 s a motif at 53,000 rows (scipy sums the noncentral hypergeometric), and
# the two agree to the third digit at such sizes.
CONDITIONAL_OR_MAX_N = 10_000


def motif_enrichment(present: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """present: (N, motifs) bool; labels: (N,) 0/1. One row per motif with counts, rates,
    odds ratio (+CI; ``or_kind``: conditional MLE up to ``CONDITIONAL_OR_MAX_N`` sequences, the
    sample odds ratio beyond), Fisher p and balanced accuracy."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    kind = "conditional" if n_pos + n_neg <= CONDITIONAL_OR_MAX_N else "sample"
    rows = []
    for name in present.columns:
        has = present[name].to_numpy(bool)
        a, b = int((has & labels).sum()), int((has & ~labels).sum())
        table = [[a, b], [n_pos - a, n_neg - b]]
        odds = stats.contingency.odds_ratio(table, kind=kind)
        ci = odds.confidence_interval(0.95)
        p = float(stats.fisher_exact(table).pvalue)
        rows.append({"motif": name, "n_promoter": n_pos, "n_nonpromoter": n_neg,
                     "with_motif_promoter": a, "with_motif_nonpromoter": b,
                     "rate_promoter": a / max(n_pos, 1), "rate_nonpromoter": b / max(n_neg, 1),
                     "odds_ratio": float(odds.statistic), "or_ci_low": float(ci.low), "or_ci_high": float(ci.high),
                     "or_kind": kind,
                     "fisher_p": p, "balanced_accuracy": 0.5 * (a / max(n_pos, 1) + 1 - b / max(n_neg, 1))})
    return pd.DataFrame(rows)


def verdict(row: Mapping, alpha: float = 0.05) -> str:
    """A plain sentence on whether the motif can separate the classes, on the Fisher test's
    adjusted p-value (``fisher_p_adj``)."""
    p = row["fisher_p_adj"]
    rates = (f"present in {fmt(100 * row['rate_promoter'], 3)}% of promoters vs "
             f"{fmt(100 * row['rate_nonpromoter'], 3)}% of non-promoters (OR {fmt(row['odds_ratio'], 3)}, 95% CI "
             f"{fmt(row['or_ci_low'], 3)} to {fmt(row['or_ci_high'], 3)}; Fisher p {p_clause(p)}, adjusted)")
    bacc = row["balanced_accuracy"]
    if not p < alpha:
        return f"{row['motif']}: not associated with the label: {rates}; it cannot separate the classes."
    direction = "enriched in promoters" if row["odds_ratio"] > 1 else "depleted in promoters"
    strength = "a weak" if abs(bacc - 0.5) < 0.1 else "a usable"
    return (f"{row['motif']}: {direction}: {rates}; alone it is {strength} separator "
            f"(balanced accuracy of 'motif present -> promoter' {fmt(bacc, 2)}).")


def position_histogram(hits: pd.DataFrame, labels: np.ndarray, bin_size: int = 10,
                       span: tuple[int, int] = (-249, 50)) -> pd.DataFrame:
    """Hit counts per motif x label x bin of ``rel_start`` (bin = its left edge, bp vs TSS),
    normalized by the number of sequences of that label (``per_sequence``)."""
    labels = np.asarray(labels)
    edges = np.arange(span[0], span[1] + bin_size, bin_size)
    rows = []
    for motif, group in hits.groupby("motif"):
        for label in (0, 1):
            pos = group.loc[labels[group["row"].to_numpy()] == label, "rel_start"].to_numpy()
            counts, _ = np.histogram(pos, bins=edges)
            n = max(int((labels == label).sum()), 1)
            rows += [{"motif": motif, "label": label, "bin_start": int(e), "hits": int(c), "per_sequence": c / n}
                     for e, c in zip(edges[:-1], counts)]
    return pd.DataFrame(rows, columns=["motif", "label", "bin_start", "hits", "per_sequence"])


def split_tables(datamodule) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All sequences, labels (N,) and split names (N,) of a data module (a file served as
    every split counts once)."""
    sequences, labels, splits, seen = [], [], [], set()
    for split in ("train", "val", "test"):
        table = datamodule.table(split)
        if table.source in seen:
            continue
        seen.add(table.source)
        sequences += table.sequences
        labels.append(table.labels)
        splits += [split] * len(table)
    return sequences, np.concatenate(labels), np.asarray(splits)


@dataclass
class AuditTables:
    """What the audit computed before any section is written: the audited ``data`` (its
    ``datamodule`` None when nothing is audited, with the reason), the sequences with their
    ``labels`` (N,) and ``splits`` (N,), the ``motifs`` and their ``hits``, the tests of each
    motif's presence anywhere (``enrichment``) and in its expected window (``windowed``), and,
    for sequences of one length, the related ``pairs`` (``derived_pairs``) with each sequence's
    ``classes`` (N,) (``sequence_classes``: promoter, derived negative, negative without parent)."""

    data: AuditData
    sequences: list[str] = field(default_factory=list)
    labels: np.ndarray | None = None
    splits: np.ndarray | None = None
    hits: pd.DataFrame | None = None
    enrichment: pd.DataFrame | None = None
    windowed: pd.DataFrame | None = None
    motifs: Sequence[Motif] = ()
    pairs: pd.DataFrame | None = None
    classes: np.ndarray | None = None

    def classes_of(self, split: str, index: np.ndarray, sequences: Sequence[str]) -> np.ndarray | None:
        """(N,) classes of rows ``index`` of ``split``, or None when the audit did not classify them
        or its rows of that split are not these ``sequences`` (another data set was audited)."""
        if self.classes is None:
            return None
        rows = np.flatnonzero(self.splits == ("val" if split == "dev" else split))
        index = np.asarray(index, dtype=np.int64)
        if len(index) and (index.min() < 0 or index.max() >= len(rows)):
            return None
        rows = rows[index]
        if any(self.sequences[r] != s for r, s in zip(rows, sequences)):
            return None
        return self.classes[rows]

    @property
    def tests(self) -> list[tuple[pd.DataFrame, list[str]]]:
        """The tables of tests, for the report-wide adjustment."""
        return [(t, ["fisher_p"]) for t in (self.enrichment, self.windowed) if t is not None and not t.empty]


def audit_tables(data: AuditData, motifs: Sequence[Motif], options: Mapping) -> AuditTables:
    """Read every split of ``data``, scan it for ``motifs``, test each motif's presence against
    the label and find the negatives derived from promoters (``options``: ``cfg.audit``). Data
    that cannot be read is an error when named explicitly (``data.explicit``), else left
    unaudited with the reason. ``audit.enabled=false`` audits nothing, even of data named with ``data=``
    (which still sets the report's layout)."""
    if data.datamodule is not None and not options.get("enabled", True):
        data = AuditData(None, data.source, "audit.enabled=false")
    if data.datamodule is not None:
        log.info("analyze: audit of %s, from %s", data.datamodule.describe(), data.source)
        try:
            sequences, labels, splits = split_tables(data.datamodule)
        except (SequenceDataError, OSError) as error:
            if data.explicit:
                raise
            data = AuditData(None, data.source, f"the runs' data could not be read ({error}); pass data=<group> "
                                                "to audit a copy of it")
    if data.datamodule is None:
        log.info("analyze: no dataset audit: %s", data.reason)
        return AuditTables(data)
    hits = scan(sequences, motifs, tss=int(data.datamodule.tss))
    pairs = classes = None
    if len({len(s) for s in sequences}) == 1:
        pairs = related.derived_pairs(sequences, labels, splits, options["chunk"], options["min_identity"],
                                      options["min_shared_chunks"])
        classes = related.sequence_classes(pairs, labels)
    return AuditTables(data, sequences, labels, splits, hits,
                       motif_enrichment(presence(hits, len(sequences), motifs), labels),
                       motif_enrichment(presence(hits, len(sequences), motifs, windowed=True), labels), motifs,
                       pairs, classes)


def audit_section(report: Report, audit: AuditTables, options: DictConfig, tata: str) -> dict:
    """Write the audit (its tests adjusted): motif enrichment, position histograms, derived
    negatives and split leakage; returns the audit's summary (``skipped`` with the reason when
    nothing is audited). options: ``cfg.audit``; tata: the motif whose verdicts go to the headline."""
    data = audit.data
    if data.datamodule is None:
        report.skip("dataset audit", data.reason)
        return {"skipped": data.reason}
    sequences, labels, splits, hits = audit.sequences, audit.labels, audit.splits, audit.hits
    name, tss = data.datamodule.describe(), int(data.datamodule.tss)
    split_counts = pd.Series(splits).value_counts()
    report.section(f"Dataset audit: {name}",
                   f"{fmt(len(sequences))} sequences ({fmt(int(labels.sum()))} promoters) over splits "
                   f"{', '.join(f'{k} {fmt(int(v))}' for k, v in split_counts.items())}; data from {data.source}, "
                   f"TSS at index {tss}.")
    verdicts = [verdict(r, report.alpha) for r in audit.enrichment.to_dict("records")]
    if not audit.windowed.empty:
        verdicts += [f"(in its expected window) {verdict(r, report.alpha)}" for r in audit.windowed.to_dict("records")]
    report.findings(verdicts)
    report.findings([v for v in verdicts if tata in v], headline=True, here=False)
    report.table("audit_motif_enrichment", audit.enrichment,
                 "Presence of each motif anywhere in the sequence by label; odds ratio (95% CI; or_kind: conditional "
                 "MLE, or the sample odds ratio above 10,000 sequences), "
                 "Fisher's exact test (two-sided; fisher_p_adj: adjusted over the report), "
                 "balanced accuracy of 'motif present -> promoter'.")
    if not audit.windowed.empty:
        report.table("audit_motif_enrichment_in_window", audit.windowed,
                     "The same for hits that start inside the motif's expected window relative to the TSS.")
    hist = position_histogram(hits, labels, options.bin_size, (-tss, len(sequences[0]) - tss))
    report.table("audit_position_histogram", hist, "Motif hits per sequence by start position bin and label.")
    report.figure("audit_position_histograms", figures.position_histograms(hist),
                  "Where each motif's hits start relative to the TSS, per sequence of each label.")
    summary = {"data": name, "source": data.source, "tss": tss, "n": len(sequences),
               "enrichment": audit.enrichment.to_dict("records")}
    if audit.pairs is None:
        report.skip("derived-pair detection", "the audited sequences differ in length (pairs are found by aligned "
                                              "chunks)")
        return summary
    return {**summary, **_derived_pairs_part(report, audit, options)}


def _derived_pairs_part(report: Report, audit: AuditTables, options: DictConfig) -> dict:
    pairs, labels, splits, classes = audit.pairs, audit.labels, audit.splits, audit.classes
    pair_counts = related.pair_summary(pairs, labels, splits)
    report.table("audit_pair_summary", pair_counts,
                 f"Related pairs: sequences sharing >= {options.min_shared_chunks} aligned {options.chunk} bp "
                 f"chunks, or one with >= {options.min_identity:.0%} identical positions (unrelated: ~25%).")
    report.table("audit_related_pairs", pairs, "Every related pair (rows of the concatenated splits).")
    report.table("audit_motif_retention", related.motif_retention(pairs, audit.hits),
                 "Of a promoter's motif hits, the share its derived non-promoter keeps at the same place and strand.")
    by_class = related.motif_by_class(audit.hits, audit.motifs, classes)
    report.findings(related.class_findings(by_class), headline=True)
    report.table("audit_motif_by_class", by_class,
                 "Each motif by class of sequence: promoters, negatives derived from a promoter (sharing aligned "
                 "chunks with it), negatives without a parent; at each class's most common start in the motif's "
                 "window (peak_of), the share of each class with a hit anywhere, in the window and exactly there.")
    derived = pairs[pairs["kind"] == "promoter->non-promoter"]
    report.findings([f"{fmt(len(derived))} non-promoter/promoter pairs share aligned chunks (negatives derived from "
                     f"positives); {fmt(int(derived['cross_split'].sum()))} of them cross the train/dev/test split; "
                     f"{fmt(int(pairs['cross_split'].sum()))} related pairs of any kind cross it."], headline=True)
    return {"related_pairs": int(len(pairs)), "derived_pairs": int(len(derived)),
            "derived_pairs_cross_split": int(derived["cross_split"].sum()),
            "related_pairs_cross_split": int(pairs["cross_split"].sum()),
            "pair_summary": pair_counts.to_dict("records"), "motif_by_class": by_class.to_dict("records")}
