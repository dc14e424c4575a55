"""Negatives made from the training promoters that keep their composition exactly, so that a
model cannot separate the classes by composition or by spotting random bases (the shortcut GUE's
negatives allow: 12 of 20 chunks replaced by random bases). ``data.added_negatives`` appends them
to the training split; the checkpoint's data record carries the setting.

Kinds (per promoter, ``per_promoter`` copies, labelled 0):
- ``chunk_permutation``: ``permuted`` of the sequence's ``chunk``-bp chunks moved among themselves,
  every one to another slot (GENA-LM's negatives): composition and every k-mer within a chunk kept;
- ``dinucleotide_shuffle``: a uniform dinucleotide shuffle (composition and dinucleotide counts kept).

``redraw: true`` draws every added negative afresh each epoch, from ``(seed, epoch, row)`` and the
same parent promoter (``Redraw``), so that a model cannot memorise a fixed set of them; the
training split's table (its size, class weights and hash) is the epoch-0 draw.

``balance: true`` weights the two classes of the training loss by N / (2 n_class), so that the
added negatives do not shift the decision threshold of a model evaluated on balanced splits.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from glmxai.data.encoding import to_codes, to_strings
from glmxai.data.shuffling import dinucleotide_shuffle
from glmxai.data.table import SequenceTable

KINDS = ("chunk_permutation", "dinucleotide_shuffle")


def chunk_permutation(codes: np.ndarray, rng: np.random.Generator, chunk: int = 15, permuted: int = 12) -> np.ndarray:
    """codes (L,) -> a copy in which ``permuted`` of its ``L // chunk`` whole chunks (picked at
    random) are moved cyclically among their own slots, so each of them lands elsewhere; the other
    chunks and a trailing partial chunk stay. Every base is kept, only its place changes."""
    slots = len(codes) // chunk
    if not 2 <= permuted <= slots:
        raise ValueError(f"added_negatives.permuted must be 2..{slots} (the whole {chunk}-bp chunks), got {permuted}")
    picked = rng.choice(slots, permuted, replace=False)
    out = codes.copy()
    for source, target in zip(picked, np.roll(picked, 1)):
        out[target * chunk:(target + 1) * chunk] = codes[source * chunk:(source + 1) * chunk]
    return out


def check_added_negatives(options: Mapping | None) -> None:
    """Refuse an unknown kind or a count below 1 (``data.added_negatives``), before any data is read."""
    if options is None:
        return
    unknown = sorted(set(options) - {"kind", "per_promoter", "seed", "chunk", "permuted", "balance", "redraw"})
    if unknown or options.get("kind") not in KINDS:
        raise ValueError(f"data.added_negatives: kind must be one of {KINDS} (with per_promoter, seed, chunk, "
                         f"permuted, balance, redraw), got {dict(options)}")
    if int(options.get("per_promoter", 1)) < 1:
        raise ValueError(f"data.added_negatives.per_promoter must be >= 1, got {options.get('per_promoter')}")


def _negative(codes: np.ndarray, options: Mapping, rng: np.random.Generator) -> np.ndarray:
    """One composition-kept negative of the promoter ``codes`` (L,), of ``options["kind"]``."""
    if options["kind"] == "chunk_permutation":
        return chunk_permutation(codes, rng, int(options.get("chunk", 15)), int(options.get("permuted", 12)))
    return dinucleotide_shuffle(codes, rng)


def add_negatives(table: SequenceTable, options: Mapping) -> SequenceTable:
    """``table`` with ``per_promoter`` negatives of ``kind`` appended for each of its promoters
    (label 1), drawn from ``seed``; the source names what was added."""
    rng = np.random.default_rng(int(options.get("seed", 0)))
    kind, per = options["kind"], int(options.get("per_promoter", 1))
    promoters = [table.sequences[i] for i in np.flatnonzero(table.labels == 1)]
    made = [_negative(codes, options, rng) for codes in (to_codes(s) for s in promoters) for _ in range(per)]
    added = to_strings(np.stack(made)) if made else []
    return SequenceTable(table.sequences + list(added), np.r_[table.labels, np.zeros(len(added), np.int64)],
                         f"{table.source} + {len(added)} {kind} negatives of its promoters")


class Redraw:
    """The added negatives of ``extended = add_negatives(table, options)`` drawn afresh for an epoch:
    an added row r of ``extended`` is a new negative of the same parent promoter, from
    ``(seed, epoch, r)`` alone, so a resumed run serves the same rows as an uninterrupted one."""

    def __init__(self, extended: SequenceTable, options: Mapping):
        self.options = dict(options)
        promoters = np.flatnonzero(extended.labels == 1)  # the added rows are negatives: these are the parents
        self.parents = np.repeat(promoters, int(options.get("per_promoter", 1)))
        self.first = len(extended) - len(self.parents)
        self.sequences = extended.sequences

    def __call__(self, row: int, epoch: int) -> str | None:
        """The negative at ``row`` in ``epoch`` (None: ``row`` is not an added negative)."""
        if row < self.first:
            return None
        rng = np.random.default_rng([int(self.options.get("seed", 0)), epoch, row])
        parent = to_codes(self.sequences[self.parents[row - self.first]])
        return to_strings(_negative(parent, self.options, rng)[None])[0]
