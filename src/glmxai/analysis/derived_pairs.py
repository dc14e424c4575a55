"""Negatives derived from promoters: related pairs, how many cross the splits, and the motifs
a derived negative keeps.

GUE builds negatives by replacing 15 bp chunks of a promoter with random sequence, so a
derived negative shares its parent's untouched chunks at the same positions. ``derived_pairs``
finds pairs that share aligned chunks, confirmed by sharing at least two chunks or by their
per-position identity (unrelated sequences agree at ~25% of positions).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from glmxai.data.encoding import to_codes


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
    pairs = np.array(sorted(candidates), dtype=np.int64).reshape(-1, 2)  # typed columns even when empty
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


CLASSES = ("promoter", "derived negative", "negative without parent")
_PLURAL = dict(zip(CLASSES, ("promoters", "derived negatives", "negatives without a parent")))


def sequence_classes(pairs: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """(N,) class of every sequence: ``promoter``; ``derived negative``, a negative that shares
    aligned chunks with a promoter (its parent: GUE's chunk replacement); ``negative without
    parent``, any other negative (genomic fragments, or a parent outside the data)."""
    labels = np.asarray(labels)
    classes = np.where(labels == 1, CLASSES[0], CLASSES[2]).astype(object)
    derived = pairs[pairs["kind"] == "promoter->non-promoter"]
    classes[np.where(derived["label_i"].to_numpy() == 0, derived["i"], derived["j"])] = CLASSES[1]
    return classes


def motif_by_class(hits: pd.DataFrame, motifs: Sequence, classes: np.ndarray) -> pd.DataFrame:
    """Per motif with an expected window: the most common start in the window of each class
    (bp from the TSS; ``peak_of`` names the classes whose peak it is), and at each such start, per
    class, its sequences and the counts (and shares) with a hit anywhere, in the window and
    starting exactly there (``at_start``)."""
    rows = []
    members = {c: np.flatnonzero(classes == c) for c in CLASSES}
    for motif in (m for m in motifs if m.window):
        lo, hi = motif.window
        own = hits[hits["motif"] == motif.name]
        window = own[(own["rel_start"] >= lo) & (own["rel_start"] <= hi)].drop_duplicates(["row", "rel_start"])
        window_class = classes[window["row"].to_numpy(int)]
        peaks: dict[int, list[str]] = defaultdict(list)
        for name in CLASSES:
            starts = window.loc[window_class == name, "rel_start"]
            if len(starts):
                peaks[int(starts.mode().min())].append(name)
        for start in sorted(peaks):
            exact = window[window["rel_start"] == start]
            for name, rows_of in members.items():
                n = len(rows_of)
                counts = [len(np.intersect1d(frame["row"].unique(), rows_of)) for frame in (own, window, exact)]
                rows.append({"motif": motif.name, "start": start, "peak_of": ", ".join(peaks[start]), "class": name,
                             "sequences": n, "with_hit": counts[0], "in_window": counts[1], "at_start": counts[2],
                             **{f"share_{k}": c / n if n else np.nan
                                for k, c in zip(("with_hit", "in_window", "at_start"), counts)}})
    return pd.DataFrame(rows, columns=["motif", "start", "peak_of", "class", "sequences", "with_hit", "in_window",
                                       "at_start", "share_with_hit", "share_in_window", "share_at_start"])


def class_findings(table: pd.DataFrame, min_count: int = 20) -> list[str]:
    """Per motif and peak start: how many sequences of each class have a hit exactly there; said
    plainly when negatives carry it there as often as promoters or more often (and at least
    ``min_count`` of them: a handful is chance)."""
    sentences = []
    for (motif, start), g in table.groupby(["motif", "start"], sort=False):
        g = g.set_index("class")
        counts = ", ".join(f"{int(g.loc[c, 'at_start']):,} of {int(g.loc[c, 'sequences']):,} {_PLURAL[c]}"
                           f" ({100 * g.loc[c, 'share_at_start']:.1f}%)" for c in CLASSES if g.loc[c, "sequences"])
        promoters = int(g.loc[CLASSES[0], "at_start"])
        negatives = int(g.loc[CLASSES[1], "at_start"] + g.loc[CLASSES[2], "at_start"])
        sentence = f"{motif} starting exactly at {start:+d} bp (the peak of {g['peak_of'].iloc[0]}): {counts}."
        if negatives >= max(promoters, min_count):
            sentence += (f" A {motif} there comes as often or more often from a negative ({negatives:,}) as from a "
                         f"promoter ({promoters:,}) in this data: a model may learn it as evidence against a "
                         "promoter, a property of the benchmark, not of promoters.")
        sentences.append(sentence)
    return sentences
