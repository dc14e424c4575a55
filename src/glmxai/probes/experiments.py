"""The five probe experiments. Each plants variants of patterns into backgrounds by substitution
(w bases replaced at a start; length and every other position kept) and measures the change of
the promoter logit and p(promoter) per background:

- ``insertion``: every variant of every pattern at its canonical position (models read in a
  frame of non-overlapping k-mers: at the k starts around it, one per frame);
- ``position_scan``: the consensus and its shuffles at every start (``stride``);
- ``spacing``: two patterns on a grid of starts around their canonical ones, each alone and
  both, for the interaction delta(AB) - delta(A) - delta(B);
- ``dose``: 1, 2, ... copies of a pattern at the given positions;
- ``necessity``: in real promoters, each hit of a pattern replaced by the same window of
  dinucleotide shuffles of its sequence, beside a random window of the same width.

Positions in the results are starts relative to the TSS (bp).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glmxai.data.encoding import to_strings
from glmxai.data.shuffling import dinucleotide_shuffles
from glmxai.predictor import BatchedPredictor
from glmxai.probes.patterns import VARIANTS, Pattern, pattern_hits, variants

log = logging.getLogger(__name__)
EXPERIMENTS = ("insertion", "position_scan", "spacing", "dose", "necessity")
CHUNK_BASES = 1 << 25  # bases of modified sequences built at a time
Placement = tuple[np.ndarray, int]  # variants (V, w) and the 0-based start they replace


@dataclass
class Target:
    """The model as the probes see it: ``model`` (counted batched calls), ``tss`` (0-based index),
    ``length`` (bp), ``frame`` (period of its token frame: k for non-overlapping k-mers, else 1)
    and ``count_tokens`` (codes (n, L) -> tokens per sequence (n,); None: no tokens)."""

    model: BatchedPredictor
    tss: int
    length: int
    frame: int = 1
    count_tokens: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class Backgrounds:
    """One kind of background: ``codes`` (n, L) int8 and their ``logit`` and ``prob`` (n,)."""

    kind: str
    codes: np.ndarray
    logit: np.ndarray
    prob: np.ndarray


@dataclass
class Cells:
    """One experiment's results: ``cells``, one row per planted layout (what, where), and
    ``arrays``: ``logit``/``prob`` (C, n) changes per background (modified - background) and, for
    insertion, ``tokens`` (C,) the mean change of the token count (NaN: no tokens); necessity:
    ``logit``/``prob`` (C, S) per hit and shuffle, ``control_logit``/``control_prob`` likewise."""

    cells: pd.DataFrame
    arrays: dict[str, np.ndarray]


def plant(codes: np.ndarray, placements: Sequence[Placement]) -> np.ndarray:
    """codes (n, L) -> a copy with background i carrying row i mod V of each placement's
    variants (V, w) at its start."""
    out = codes.copy()
    rows = np.arange(len(codes))
    for options, start in placements:
        width = options.shape[1]
        if start < 0 or start + width > codes.shape[1]:
            raise ValueError(f"a {width}-bp pattern at index {start} does not fit in {codes.shape[1]} bp")
        out[:, start : start + width] = options[rows % len(options)]
    return out


def measure(target: Target, backgrounds: Backgrounds, layouts: Sequence[Sequence[Placement]],
            tokens: bool = False) -> dict[str, np.ndarray]:
    """Plant each layout into every background; ``logit``/``prob`` (C, n): change per background;
    with ``tokens``, ``tokens`` (C,): mean change of the token count (NaN without tokens)."""
    n = len(backgrounds.codes)
    if not layouts:
        empty = {"logit": np.zeros((0, n)), "prob": np.zeros((0, n))}
        return {**empty, "tokens": np.zeros(0)} if tokens else empty
    per_chunk = max(1, CHUNK_BASES // max(1, backgrounds.codes.size))
    logit, prob, token_change = [], [], []
    base_tokens = target.count_tokens(backgrounds.codes) if tokens and target.count_tokens else None
    for start in range(0, len(layouts), per_chunk):
        if start:
            log.info("probes: %s of %s layouts on %d %s backgrounds measured", f"{start:,}", f"{len(layouts):,}", n,
                     backgrounds.kind)
        part = layouts[start : start + per_chunk]
        modified = np.concatenate([plant(backgrounds.codes, layout) for layout in part])
        values, probs = target.model.promoter_logit_and_p(modified)
        logit.append(values.reshape(len(part), n) - backgrounds.logit)
        prob.append(probs.reshape(len(part), n) - backgrounds.prob)
        if base_tokens is not None:
            token_change.append((target.count_tokens(modified).reshape(len(part), n) - base_tokens).mean(axis=1))
    out = {"logit": np.concatenate(logit), "prob": np.concatenate(prob)}
    if tokens:
        out["tokens"] = np.concatenate(token_change) if base_tokens is not None else np.full(len(layouts), np.nan)
    return out


def frame_offsets(frame: int) -> range:
    """Offsets from a canonical start that cover every frame once: 0 alone for frame 1;
    -2..+3 for 6-mers."""
    return range(-((frame - 1) // 2), frame // 2 + 1)


def insertion(target: Target, backgrounds: Backgrounds, patterns: Sequence[Pattern], instances: int,
              seed: int) -> Cells:
    """Every variant of every pattern at its canonical position (and the frame offsets)."""
    rows, layouts = [], []
    for pattern in patterns:
        for kind in VARIANTS:
            options = variants(pattern, kind, instances if kind == "instances" else len(backgrounds.codes), seed)
            for offset in frame_offsets(target.frame):
                position = pattern.position + offset
                rows.append({"pattern": pattern.name, "variant": kind, "canonical": pattern.position,
                             "position": position, "frame_offset": offset})
                layouts.append([(options, target.tss + position)])
    return Cells(pd.DataFrame(rows), measure(target, backgrounds, layouts, tokens=True))


def scan_positions(pattern: Pattern, tss: int, length: int, stride: int, span: Sequence[int] | None) -> np.ndarray:
    """Starts relative to the TSS on a grid of ``stride`` through the canonical start, within
    ``span`` [lo, hi] (default: the whole sequence) and the sequence."""
    low, high = -tss, length - pattern.width - tss
    if span is not None:
        low, high = max(low, span[0]), min(high, span[1])
    first = pattern.position - ((pattern.position - low) // stride) * stride
    return np.arange(first, high + 1, stride)


def position_scan(target: Target, backgrounds: Backgrounds, patterns: Sequence[Pattern], stride: int,
                  span: Sequence[int] | None, seed: int) -> Cells:
    """The consensus of each pattern and its shuffles at every scan start."""
    rows, layouts = [], []
    for pattern in patterns:
        for kind in ("consensus", "shuffled"):
            options = variants(pattern, kind, len(backgrounds.codes), seed)
            for position in scan_positions(pattern, target.tss, target.length, stride, span):
                rows.append({"pattern": pattern.name, "variant": kind, "position": int(position)})
                layouts.append([(options, target.tss + int(position))])
    return Cells(pd.DataFrame(rows), measure(target, backgrounds, layouts))


def overlap(start_a: int, width_a: int, start_b: int, width_b: int) -> bool:
    """Whether [start_a, start_a + width_a) and [start_b, start_b + width_b) share a base."""
    return start_a < start_b + width_b and start_b < start_a + width_a


def spacing(target: Target, backgrounds: Backgrounds, pairs: Sequence[tuple[Pattern, Pattern]], radius: int,
            stride: int, seed: int) -> Cells:
    """For each pair (A, B): A alone and B alone at each start within ``radius`` of their
    canonical ones (``stride``), both together wherever they do not overlap; the shuffled copies
    alone and together at the canonical starts (the control of the interaction)."""
    rows, layouts = [], []
    n = len(backgrounds.codes)
    offsets = range(-radius, radius + 1, stride)

    def fits(pattern: Pattern, position: int) -> bool:
        return 0 <= target.tss + position <= target.length - pattern.width

    for first, second in pairs:
        pair = f"{first.name} + {second.name}"
        for kind in ("consensus", "shuffled"):
            a, b = variants(first, kind, n, seed), variants(second, kind, n, seed)
            a_starts = [first.position + o for o in offsets if fits(first, first.position + o)]
            b_starts = [second.position + o for o in offsets if fits(second, second.position + o)]
            if kind == "shuffled":
                a_starts, b_starts = [first.position], [second.position]
            for pa in a_starts:
                rows.append({"pair": pair, "planted": "A", "variant": kind, "a_position": pa, "b_position": np.nan})
                layouts.append([(a, target.tss + pa)])
            for pb in b_starts:
                rows.append({"pair": pair, "planted": "B", "variant": kind, "a_position": np.nan, "b_position": pb})
                layouts.append([(b, target.tss + pb)])
            for pa in a_starts:
                for pb in b_starts:
                    if not overlap(pa, first.width, pb, second.width):
                        rows.append({"pair": pair, "planted": "AB", "variant": kind, "a_position": pa,
                                     "b_position": pb})
                        layouts.append([(a, target.tss + pa), (b, target.tss + pb)])
    return Cells(pd.DataFrame(rows), measure(target, backgrounds, layouts))


def dose(target: Target, backgrounds: Backgrounds, pattern: Pattern, positions: Sequence[int], seed: int) -> Cells:
    """1, 2, ... copies of the consensus (and, as the control, of its shuffles) at the first
    1, 2, ... of ``positions``."""
    rows, layouts = [], []
    for kind in ("consensus", "shuffled"):
        options = variants(pattern, kind, len(backgrounds.codes), seed)
        for copies in range(1, len(positions) + 1):
            rows.append({"pattern": pattern.name, "variant": kind, "copies": copies,
                         "positions": ", ".join(str(p) for p in positions[:copies])})
            layouts.append([(options, target.tss + int(p)) for p in positions[:copies]])
    return Cells(pd.DataFrame(rows), measure(target, backgrounds, layouts))


def _control_start(rng: np.random.Generator, occupied: np.ndarray, width: int) -> int:
    """A random start of a ``width`` window overlapping no occupied position (-1: none)."""
    free = np.convolve(occupied.astype(int), np.ones(width, dtype=int), mode="valid") == 0
    starts = np.flatnonzero(free)
    return int(rng.choice(starts)) if len(starts) else -1


def necessity(target: Target, codes: np.ndarray, patterns: Sequence[Pattern], shuffles: int, max_hits: int,
              window: int, seed: int) -> Cells:
    """codes (N, L): real promoters. For each pattern, up to ``max_hits`` hits (a random subset
    when there are more); each hit's window is replaced by the same window of ``shuffles``
    dinucleotide shuffles of its sequence, and so is a control window of the same width at a
    random place that overlaps no hit of the pattern. ``canonical``: the hit starts within
    ``window`` bp of the pattern's canonical start."""
    strings = to_strings(codes)
    base_logit, base_prob = target.model.promoter_logit_and_p(codes) if len(codes) else (np.zeros(0), np.zeros(0))
    shuffled: dict[int, np.ndarray] = {}

    def shuffles_of(row: int) -> np.ndarray:
        if row not in shuffled:
            rng = np.random.default_rng([seed, row])
            shuffled[row] = dinucleotide_shuffles(codes[row], shuffles, rng)
        return shuffled[row]

    rows, modified, controls = [], [], []
    for index, pattern in enumerate(patterns):
        rng = np.random.default_rng([seed, 7, index])
        hits = pattern_hits(strings, pattern, target.tss)
        if len(hits) > max_hits:
            hits = hits.iloc[np.sort(rng.choice(len(hits), max_hits, replace=False))]
        for row, group in hits.groupby("row", sort=True):
            occupied = np.zeros(codes.shape[1], dtype=bool)
            for start, end in group[["start", "end"]].itertuples(index=False):
                occupied[start:end] = True
            for hit in group.itertuples(index=False):
                control = _control_start(rng, occupied, hit.end - hit.start)
                if control < 0:
                    continue
                background = shuffles_of(int(row))
                destroyed = np.repeat(codes[row][None], shuffles, axis=0)
                destroyed[:, hit.start : hit.end] = background[:, hit.start : hit.end]
                moved = np.repeat(codes[row][None], shuffles, axis=0)
                moved[:, control : control + hit.end - hit.start] = background[:, control : control + hit.end -
                                                                                hit.start]
                modified.append(destroyed)
                controls.append(moved)
                rows.append({"pattern": pattern.name, "row": int(row), "start": int(hit.start), "end": int(hit.end),
                             "rel_start": int(hit.rel_start), "control_start": control - target.tss,
                             "canonical": abs(int(hit.rel_start) - pattern.position) <= window})
    cells = pd.DataFrame(rows, columns=["pattern", "row", "start", "end", "rel_start", "control_start", "canonical"])
    arrays = {name: np.zeros((0, shuffles)) for name in ("logit", "prob", "control_logit", "control_prob")}
    if rows:
        origin = cells["row"].to_numpy()[:, None]
        for prefix, batch in (("", modified), ("control_", controls)):
            values, probs = target.model.promoter_logit_and_p(np.concatenate(batch))
            arrays[f"{prefix}logit"] = values.reshape(len(rows), shuffles) - base_logit[origin]
            arrays[f"{prefix}prob"] = probs.reshape(len(rows), shuffles) - base_prob[origin]
    return Cells(cells, arrays)
