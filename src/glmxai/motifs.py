"""Motif calls with JASPAR position weight matrices (pyjaspar + Bio.motifs).

Matrices ``MA*`` come from the current JASPAR release bundled with pyjaspar; ``POL*``
(the POLII core-promoter collection: Inr, BRE, CCAAT, GC-box, TATA) from JASPAR2020,
the last release that ships that collection. Scores are log2-odds against a uniform
background; a hit is a window whose score reaches the threshold of a p-value
(``pssm.distribution().threshold_fpr``), per strand.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from glmxai.data.encoding import to_codes

CURRENT_RELEASE = "JASPAR2026"
POLII_RELEASE = "JASPAR2020"
HIT_COLUMNS = ["row", "motif", "start", "end", "strand", "score", "rel_start", "rel_center"]


@dataclass
class Motif:
    """A scannable motif: JASPAR ``matrix_id``, display ``name``, ``pssm`` (Bio log-odds
    matrix, width w), ``threshold`` score, ``strands`` ('+' or 'both'), optional expected
    ``window`` [lo, hi] of its start relative to the TSS (bp), ``pvalue`` of the threshold."""

    name: str
    matrix_id: str
    pssm: object
    threshold: float
    strands: str = "both"
    window: tuple[int, int] | None = None
    pvalue: float = 1e-4

    @property
    def width(self) -> int:
        return self.pssm.length

    @property
    def consensus(self) -> str:
        return str(self.pssm.consensus)


@lru_cache(maxsize=4)
def jaspar_db(release: str):
    """The pyjaspar database of ``release`` (bundled sqlite, works offline)."""
    from pyjaspar import jaspardb

    return jaspardb(release=release)


def fetch_jaspar(matrix_id: str):
    """The Bio.motifs.jaspar.Motif of ``matrix_id`` (base id gives the latest version)."""
    release = POLII_RELEASE if matrix_id.upper().startswith("POL") else CURRENT_RELEASE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        motif = jaspar_db(release).fetch_motif_by_id(matrix_id)
    if motif is None:
        raise ValueError(f"JASPAR matrix {matrix_id!r} not found in {release}")
    return motif


@lru_cache(maxsize=256)
def _pssm_and_threshold(matrix_id: str, pvalue: float, pseudocount: float):
    jm = fetch_jaspar(matrix_id)
    pssm = jm.counts.normalize(pseudocounts=pseudocount).log_odds()
    # score distribution on a 0.01-bit grid: exact enough for a threshold, 10x faster than Bio's default
    return jm, pssm, float(pssm.distribution(precision=10**2).threshold_fpr(pvalue))


def build_motif(matrix_id: str, name: str | None = None, pvalue: float = 1e-4, pseudocount: float = 0.5,
                strands: str = "both", window: Sequence[int] | None = None) -> Motif:
    """A ``Motif`` from a JASPAR id with its score threshold at ``pvalue`` (uniform background)."""
    if strands not in ("+", "both"):
        raise ValueError(f"strands must be '+' or 'both', got {strands!r}")
    jm, pssm, threshold = _pssm_and_threshold(matrix_id, float(pvalue), float(pseudocount))
    return Motif(name or jm.name, jm.matrix_id, pssm, threshold, strands, tuple(window) if window else None,
                 float(pvalue))


def build_motifs(specs: Iterable[Mapping], pvalue: float = 1e-4, pseudocount: float = 0.5) -> list[Motif]:
    """Motifs from config entries ``{id, name?, strands?, window?, pvalue?}`` (an entry's
    ``pvalue`` overrides the common one)."""
    return [build_motif(s["id"], s.get("name"), s.get("pvalue", pvalue), pseudocount, s.get("strands", "both"),
                        s.get("window")) for s in specs]


def configured_motifs(options: Mapping) -> list[Motif]:
    """The motifs of a ``motifs:`` config (``list`` of entries, ``pvalue``, ``pseudocount``), as
    analyze.py and the API's probes scan for them."""
    return build_motifs(options["list"], options["pvalue"], options["pseudocount"])


def log_odds_matrix(pssm) -> np.ndarray:
    """A Bio PSSM as a (width, 5) float64 matrix over codes A, C, G, T, N (N: -inf, never a hit)."""
    matrix = np.array([[pssm[base][j] for base in "ACGT"] for j in range(pssm.length)], dtype=np.float64)
    return np.hstack([matrix, np.full((pssm.length, 1), -np.inf)])


def window_scores(codes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, L) int8 codes, (w, 5) log-odds -> (N, L - w + 1) score of the window starting at each
    position (what ``pssm.calculate`` gives per sequence, for all sequences at once)."""
    width = len(matrix)
    scores = np.zeros((codes.shape[0], codes.shape[1] - width + 1))
    for j in range(width):
        scores += matrix[j][codes[:, j : j + scores.shape[1]]]
    return scores


def scan(sequences: Sequence[str], motifs: Sequence[Motif], tss: int, batch: int = 4096) -> pd.DataFrame:
    """All hits of ``motifs`` in ``sequences``.

    Returns one row per hit with ``row`` (sequence position in the input), ``motif`` (name),
    ``start``/``end`` (0-based, end exclusive, forward-strand coordinates), ``strand``,
    ``score`` (log2-odds), ``rel_start`` = start - tss and ``rel_center`` = centre - tss.
    Windows containing ``N`` never hit. Sequences of one length are scored together, ``batch``
    rows at a time (vectorised: the same scores as ``pssm.calculate``, in a fraction of the time).
    """
    parts = []
    by_length: dict[int, list[int]] = {}
    for row, sequence in enumerate(sequences):
        by_length.setdefault(len(sequence), []).append(row)
    matrices = [(motif, [("+", log_odds_matrix(motif.pssm))]
                 + ([("-", log_odds_matrix(motif.pssm.reverse_complement()))] if motif.strands == "both" else []))
                for motif in motifs]
    for length, rows in by_length.items():
        for first in range(0, len(rows), batch):
            chunk = np.asarray(rows[first : first + batch])
            codes = to_codes([sequences[i] for i in chunk])  # once per batch, for every motif
            for motif, strands in matrices:
                if length < motif.width:
                    continue
                for strand, matrix in strands:
                    scores = window_scores(codes, matrix)
                    hit_row, hit_start = np.nonzero(scores >= motif.threshold)
                    parts.append(pd.DataFrame({"row": chunk[hit_row], "motif": motif.name, "start": hit_start,
                                               "end": hit_start + motif.width, "strand": strand,
                                               "score": scores[hit_row, hit_start]}))
    hits = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=HIT_COLUMNS[:6])
    hits = hits.sort_values(["row", "motif", "start", "strand"], kind="stable", ignore_index=True)
    hits["rel_start"] = hits["start"] - tss
    hits["rel_center"] = (hits["start"] + hits["end"] - 1) / 2 - tss
    return hits[HIT_COLUMNS].astype({"row": int, "start": int, "end": int, "rel_start": int, "score": float})


def in_window(hits: pd.DataFrame, motifs: Sequence[Motif]) -> pd.Series:
    """True for hits whose ``rel_start`` lies in their motif's expected window (False if none)."""
    windows = {m.name: m.window for m in motifs}
    lo = hits["motif"].map(lambda n: windows[n][0] if windows.get(n) else np.inf)
    hi = hits["motif"].map(lambda n: windows[n][1] if windows.get(n) else -np.inf)
    return (hits["rel_start"] >= lo) & (hits["rel_start"] <= hi)


def presence(hits: pd.DataFrame, n_rows: int, motifs: Sequence[Motif], windowed: bool = False) -> pd.DataFrame:
    """(n_rows, n_motifs) bool: sequence has at least one hit of the motif
    (``windowed``: inside the motif's expected window; motifs without one are dropped)."""
    names = [m.name for m in motifs if not windowed or m.window]
    sel = hits[in_window(hits, motifs)] if windowed else hits
    out = pd.DataFrame(False, index=range(n_rows), columns=names)
    for name, group in sel.groupby("motif"):
        if name in out.columns:
            out.loc[group["row"].unique(), name] = True
    return out


def hit_mask(hits: pd.DataFrame, n_rows: int, length: int, motif: str | None = None) -> np.ndarray:
    """(n_rows, length) bool: positions covered by hits (of ``motif`` only, if given)."""
    mask = np.zeros((n_rows, length), dtype=bool)
    sel = hits if motif is None else hits[hits["motif"] == motif]
    for row, start, end in sel[["row", "start", "end"]].itertuples(index=False):
        mask[row, start:end] = True
    return mask


def window_coverage(motif: Motif, tss: int, length: int) -> str:
    """Where the motif's expected window lies in sequences of ``length`` bp with the TSS at index
    ``tss``: ``inside``, ``partly outside`` (starts lo..hi clipped to those that fit) or ``outside``;
    ``no window`` for motifs without one."""
    if not motif.window:
        return "no window"
    first, last = -tss, length - motif.width - tss  # the starts that fit
    lo, hi = motif.window
    if hi < first or lo > last:
        return "outside"
    return "inside" if first <= lo and hi <= last else f"partly outside (starts {max(lo, first)}..{min(hi, last)})"
