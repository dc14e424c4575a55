"""Dataset audit: does a motif separate the classes, and are negatives derived from positives?

- ``motif_enrichment``: per motif, presence by label, odds ratio with 95% CI (conditional
  MLE, ``scipy.stats.contingency.odds_ratio``), Fisher's exact test (two-sided,
  Bonferroni-adjusted over motifs), and the balanced accuracy of the rule "motif present
  -> promoter", which says directly how well the motif alone could separate the classes.
- ``position_histogram``: hit positions relative to the TSS by label, in bins.
- ``derived_pairs``: pairs of sequences that share aligned chunks (GUE builds negatives by
  replacing 15 bp chunks of a promoter with random sequence), confirmed by sharing at least two
  chunks or by their per-position identity (unrelated sequences agree at ~25% of positions).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from glmxai.data.encoding import to_codes


def motif_enrichment(present: pd.DataFrame, labels: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """present: (N, motifs) bool; labels: (N,) 0/1. One row per motif with counts, rates,
    odds ratio (+CI), Fisher p (raw and Bonferroni), balanced accuracy and a verdict."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    rows = []
    for name in present.columns:
        has = present[name].to_numpy(bool)
        a, b = int((has & labels).sum()), int((has & ~labels).sum())
        table = [[a, b], [n_pos - a, n_neg - b]]
        odds = stats.contingency.odds_ratio(table)
        ci = odds.confidence_interval(0.95)
        p = float(stats.fisher_exact(table).pvalue)
        rows.append({"motif": name, "n_promoter": n_pos, "n_nonpromoter": n_neg,
                     "with_motif_promoter": a, "with_motif_nonpromoter": b,
                     "rate_promoter": a / max(n_pos, 1), "rate_nonpromoter": b / max(n_neg, 1),
                     "odds_ratio": float(odds.statistic), "or_ci_low": float(ci.low), "or_ci_high": float(ci.high),
                     "fisher_p": p, "balanced_accuracy": 0.5 * (a / max(n_pos, 1) + 1 - b / max(n_neg, 1))})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["fisher_p_bonferroni"] = np.minimum(out["fisher_p"] * len(out), 1.0)
    out["verdict"] = [verdict(r, alpha) for r in out.to_dict("records")]
    return out


def verdict(row: Mapping, alpha: float = 0.05) -> str:
    """A plain sentence on whether the motif can separate the classes."""
    rates = (f"present in {row['rate_promoter']:.1%} of promoters vs {row['rate_nonpromoter']:.1%} of "
             f"non-promoters (OR {row['odds_ratio']:.2f}, Fisher p={row['fisher_p_bonferroni']:.2g} adj.)")
    bacc = row["balanced_accuracy"]
    if row["fisher_p_bonferroni"] >= alpha:
        return f"{row['motif']}: not associated with the label: {rates}; it cannot separate the classes."
    direction = "enriched in promoters" if row["odds_ratio"] > 1 else "depleted in promoters"
    strength = "a weak" if abs(bacc - 0.5) < 0.1 else "a usable"
    return (f"{row['motif']}: {direction}: {rates}; alone it is {strength} separator "
            f"(balanced accuracy of 'motif present -> promoter' {bacc:.2f}).")


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


def derived_pairs(sequences: Sequence[str], labels: np.ndarray, splits: Sequence[str], chunk: int = 15,
                  min_identity: float = 0.5, min_shared_chunks: int = 2, max_bucket: int = 50) -> pd.DataFrame:
    """Pairs of sequences related by chunk replacement.

    Candidates share at least one aligned ``chunk``-bp block (blocks on the grid 0, chunk, ...;
    blocks shared by more than ``max_bucket`` sequences, i.e. low-complexity repeats, are
    ignored); a candidate is kept if it shares ``>= min_shared_chunks`` aligned chunks (by chance
    4^-15 per chunk) or the sequences agree at ``>= min_identity`` of positions.
    Returns rows ``i < j`` with labels, splits, ``identity``, ``shared_chunks`` and ``kind``
    ('promoter->non-promoter', 'non-promoter siblings', 'promoter duplicates') and ``cross_split``.
    """
    labels = np.asarray(labels)
    lengths = {len(s) for s in sequences}
    if len(lengths) != 1:
        raise ValueError(f"derived-pair detection needs equal-length sequences, found lengths {sorted(lengths)}")
    length = lengths.pop()
    buckets: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, seq in enumerate(sequences):
        for start in range(0, length - chunk + 1, chunk):
            block = seq[start:start + chunk]
            if "N" not in block:
                buckets[(start, block)].append(i)
    candidates = set()
    for members in buckets.values():
        if 1 < len(members) <= max_bucket:
            candidates.update((a, b) for k, a in enumerate(members) for b in members[k + 1:])
    columns = ["i", "j", "label_i", "label_j", "split_i", "split_j", "identity", "shared_chunks", "kind",
               "cross_split"]
    if not candidates:
        return pd.DataFrame(columns=columns)
    pairs = np.array(sorted(candidates))
    codes = to_codes(list(sequences))
    same = codes[pairs[:, 0]] == codes[pairs[:, 1]]
    identity = same.mean(axis=1)
    n_chunks = length // chunk
    shared = same[:, : n_chunks * chunk].reshape(len(pairs), n_chunks, chunk).all(axis=2).sum(axis=1)
    keep = (shared >= min_shared_chunks) | (identity >= min_identity)
    pairs, identity, shared = pairs[keep], identity[keep], shared[keep]
    li, lj = labels[pairs[:, 0]], labels[pairs[:, 1]]
    kind = np.where(li != lj, "promoter->non-promoter",
                    np.where(li == 0, "non-promoter siblings", "promoter duplicates"))
    splits = np.asarray(splits)
    si, sj = splits[pairs[:, 0]], splits[pairs[:, 1]]
    return pd.DataFrame({"i": pairs[:, 0], "j": pairs[:, 1], "label_i": li, "label_j": lj, "split_i": si,
                         "split_j": sj, "identity": identity, "shared_chunks": shared, "kind": kind,
                         "cross_split": si != sj}, columns=columns)


def pair_summary(pairs: pd.DataFrame, labels: np.ndarray, splits: Sequence[str]) -> pd.DataFrame:
    """Counts per pair kind: pairs, pairs crossing splits, and split combinations; plus, per
    split, how many of its non-promoters have a promoter relative at all and in another split."""
    rows = [{"what": f"pairs: {kind}", "count": int(len(g)), "cross_split": int(g["cross_split"].sum())}
            for kind, g in pairs.groupby("kind")]
    splits = np.asarray(splits)
    labels = np.asarray(labels)
    derived = pairs[pairs["kind"] == "promoter->non-promoter"]
    neg_of = np.where(derived["label_i"].to_numpy() == 0, derived["i"], derived["j"])
    pos_of = np.where(derived["label_i"].to_numpy() == 0, derived["j"], derived["i"])
    for split in pd.unique(splits):
        negs = (labels == 0) & (splits == split)
        with_parent = set(neg_of[splits[neg_of] == split])
        with_other = set(neg_of[(splits[neg_of] == split) & (splits[pos_of] != split)])
        rows.append({"what": f"{split}: non-promoters with a promoter relative", "count": len(with_parent),
                     "cross_split": len(with_other), "of": int(negs.sum())})
    for (a, b), g in pairs[pairs["cross_split"]].groupby(["split_i", "split_j"]):
        rows.append({"what": f"cross-split pairs {a}-{b}", "count": int(len(g)), "cross_split": int(len(g))})
    return pd.DataFrame(rows, columns=["what", "count", "cross_split", "of"])


def motif_retention(pairs: pd.DataFrame, hits: pd.DataFrame) -> pd.DataFrame:
    """For promoter->non-promoter pairs: of the promoter's motif hits, the share found in the
    derived non-promoter at the same start and strand, per motif."""
    derived = pairs[pairs["kind"] == "promoter->non-promoter"]
    if derived.empty or hits.empty:
        return pd.DataFrame(columns=["motif", "parent_hits", "kept_in_derived", "share_kept"])
    parent = np.where(derived["label_i"].to_numpy() == 1, derived["i"], derived["j"])
    child = np.where(derived["label_i"].to_numpy() == 1, derived["j"], derived["i"])
    links = pd.DataFrame({"row": parent, "child": child})
    parent_hits = hits.merge(links, on="row")
    child_hits = hits.rename(columns={"row": "child"})[["child", "motif", "start", "strand"]].drop_duplicates()
    joined = parent_hits.merge(child_hits, on=["child", "motif", "start", "strand"], how="left", indicator=True)
    out = joined.groupby("motif").agg(parent_hits=("row", "size"),
                                      kept_in_derived=("_merge", lambda s: int((s == "both").sum())))
    out["share_kept"] = out["kept_in_derived"] / out["parent_hits"]
    return out.reset_index()
