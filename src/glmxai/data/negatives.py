"""Negatives made from the training promoters. ``data.added_negatives`` appends them to the
training split; the checkpoint's data record carries the setting.

The composition-kept kinds stop a model from separating the classes by composition or by spotting
random bases (the shortcut GUE's negatives allow: 12 of 20 chunks replaced by random bases);
``random_chunks`` is that shortcut itself, GUE's own procedure, for a model trained to score on GUE.

Kinds (``kind``: one, or a list of them; per promoter and kind, ``per_promoter`` copies, labelled 0):
- ``chunk_permutation``: ``permuted`` of the sequence's ``chunk``-bp chunks moved among themselves,
  every one to another slot (GENA-LM's negatives): composition and every k-mer within a chunk kept;
  ``moved`` (a list of chunk slots, 0-based) are among them in every copy (e.g. ``[16]``, bases
  240..254 of a prom_300 sequence, -9..+5 around its TSS: every copy has its core displaced);
- ``dinucleotide_shuffle``: a uniform dinucleotide shuffle (composition and dinucleotide counts kept);
- ``random_chunks``: ``replaced`` of the whole chunks but the last filled with uniform random bases
  (GUE's prom_300 negatives, README of the shared data): composition not kept.

``redraw: true`` draws every added negative afresh each epoch, from ``(seed, epoch, row)`` and the
same parent promoter (``Redraw``), so that a model cannot memorise a fixed set of them; the
training split's table (its size, class weights and hash) is the epoch-0 draw.

``balance: true`` weights the two classes of the training loss by N / (2 n_class), so that the
added negatives do not shift the decision threshold of a model evaluated on balanced splits.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from glmxai.data.encoding import to_codes, to_strings
from glmxai.data.shuffling import dinucleotide_shuffle
from glmxai.data.table import SequenceTable

KINDS = ("chunk_permutation", "dinucleotide_shuffle", "random_chunks")


def chunk_permutation(codes: np.ndarray, rng: np.random.Generator, chunk: int = 15, permuted: int = 12,
                      moved: Sequence[int] = ()) -> np.ndarray:
    """codes (L,) -> a copy in which ``permuted`` of its ``L // chunk`` whole chunks (the slots
    ``moved`` and the rest picked at random) are moved cyclically among their own slots, so each of
    them lands elsewhere; the other chunks and a trailing partial chunk stay. Every base is kept,
    only its place changes."""
    slots = len(codes) // chunk
    if not 2 <= permuted <= slots:
        raise ValueError(f"added_negatives.permuted must be 2..{slots} (the whole {chunk}-bp chunks), got {permuted}")
    if not moved:
        picked = rng.choice(slots, permuted, replace=False)
    else:
        forced = np.unique(np.asarray(moved, dtype=np.int64))
        if len(forced) != len(moved) or forced.min() < 0 or forced.max() >= slots or len(forced) > permuted:
            raise ValueError(f"added_negatives.moved must be distinct chunk slots 0..{slots - 1}, at most permuted="
                             f"{permuted} of them, got {list(moved)}")
        rest = rng.choice(np.setdiff1d(np.arange(slots), forced), permuted - len(forced), replace=False)
        picked = rng.permutation(np.r_[forced, rest])
    out = codes.copy()
    for source, target in zip(picked, np.roll(picked, 1)):
        out[target * chunk:(target + 1) * chunk] = codes[source * chunk:(source + 1) * chunk]
    return out


def random_chunks(codes: np.ndarray, rng: np.random.Generator, chunk: int = 15, replaced: int = 12) -> np.ndarray:
    """codes (L,) -> a copy in which ``replaced`` of its whole ``chunk``-bp chunks, picked at random
    among all but the last, hold uniform random bases; the rest stays in place."""
    slots = len(codes) // chunk - 1
    if not 1 <= replaced <= slots:
        raise ValueError(f"added_negatives.replaced must be 1..{slots} (the whole {chunk}-bp chunks but the last), "
                         f"got {replaced}")
    out = codes.copy()
    for slot in rng.choice(slots, replaced, replace=False):
        out[slot * chunk:(slot + 1) * chunk] = rng.integers(0, 4, chunk)
    return out


def kinds_of(options: Mapping) -> list[str]:
    """The kinds an added-negatives setting asks for (``kind``: one or a list), in the order each
    promoter's copies are made."""
    kinds = options["kind"]
    return [kinds] if isinstance(kinds, str) else list(kinds)


def checked_added_negatives(options: Mapping | None) -> dict | None:
    """``data.added_negatives`` as plain Python data (a list of kinds as a list, never a config node,
    so that checkpoints recording it load with ``weights_only=True``); refuses an unknown kind or a
    count below 1 before any data is read."""
    if options is None:
        return None
    options = {key: value if isinstance(value, (str, int, float, bool)) or value is None else list(value)
               for key, value in options.items()}
    unknown = sorted(set(options) - {"kind", "per_promoter", "seed", "chunk", "permuted", "moved", "replaced",
                                   "balance", "redraw"})
    if unknown or not options.get("kind") or any(kind not in KINDS for kind in kinds_of(options)):
        raise ValueError(f"data.added_negatives: kind must be one of {KINDS} or a list of them (with per_promoter, "
                         f"seed, chunk, permuted, moved, replaced, balance, redraw), got {options}")
    if int(options.get("per_promoter", 1)) < 1:
        raise ValueError(f"data.added_negatives.per_promoter must be >= 1, got {options.get('per_promoter')}")
    return options


def _negative(codes: np.ndarray, kind: str, options: Mapping, rng: np.random.Generator) -> np.ndarray:
    """One negative of ``kind`` made from the promoter ``codes`` (L,)."""
    if kind == "chunk_permutation":
        return chunk_permutation(codes, rng, int(options.get("chunk", 15)), int(options.get("permuted", 12)),
                                 [int(slot) for slot in options.get("moved") or ()])
    if kind == "random_chunks":
        return random_chunks(codes, rng, int(options.get("chunk", 15)), int(options.get("replaced", 12)))
    return dinucleotide_shuffle(codes, rng)


def add_negatives(table: SequenceTable, options: Mapping) -> SequenceTable:
    """``table`` with ``per_promoter`` negatives of each ``kind`` appended for each of its promoters
    (label 1), drawn from ``seed``; the source names what was added."""
    rng = np.random.default_rng(int(options.get("seed", 0)))
    kinds, per = kinds_of(options), int(options.get("per_promoter", 1))
    promoters = [table.sequences[i] for i in np.flatnonzero(table.labels == 1)]
    made = [_negative(codes, kind, options, rng) for codes in (to_codes(s) for s in promoters)
            for kind in kinds for _ in range(per)]
    added = to_strings(np.stack(made)) if made else []
    return SequenceTable(table.sequences + list(added), np.r_[table.labels, np.zeros(len(added), np.int64)],
                         f"{table.source} + {len(added)} {' and '.join(kinds)} negatives of its promoters")


class Redraw:
    """The added negatives of ``extended = add_negatives(table, options)`` drawn afresh for an epoch:
    an added row r of ``extended`` is a new negative of the same parent promoter, from
    ``(seed, epoch, r)`` alone, so a resumed run serves the same rows as an uninterrupted one."""

    def __init__(self, extended: SequenceTable, options: Mapping):
        self.options = dict(options)
        promoters = np.flatnonzero(extended.labels == 1)  # the added rows are negatives: these are the parents
        self.kinds, self.per = kinds_of(options), int(options.get("per_promoter", 1))
        self.parents = np.repeat(promoters, self.per * len(self.kinds))
        self.first = len(extended) - len(self.parents)
        self.sequences = extended.sequences

    def __call__(self, row: int, epoch: int) -> str | None:
        """The negative at ``row`` in ``epoch`` (None: ``row`` is not an added negative)."""
        if row < self.first:
            return None
        rng = np.random.default_rng([int(self.options.get("seed", 0)), epoch, row])
        added = row - self.first
        parent = to_codes(self.sequences[self.parents[added]])
        kind = self.kinds[added // self.per % len(self.kinds)]
        return to_strings(_negative(parent, kind, self.options, rng)[None])[0]
