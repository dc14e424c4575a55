"""What the probes plant: a pattern is a base-probability matrix (a JASPAR motif of the
analysis, or an IUPAC string such as the synthetic generator's ``TATAWAWR``) with its canonical
position, planted as its consensus or as instances sampled from the matrix, beside three
controls of the same width: the consensus shuffled, a core-mutated copy and a random k-mer of
the consensus' composition. Every variant is a row of codes (w,) that replaces w bases."""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from glmxai.data.encoding import ALPHABET, IUPAC, to_codes
from glmxai.motifs import Motif, scan

VARIANTS = ("consensus", "instances", "shuffled", "core_mutated", "random_kmer")


@dataclass
class Pattern:
    """A pattern to plant: ``name``; ``probs`` (w, 4) probability of A, C, G, T per position;
    ``position``: canonical start of its first base relative to the TSS (bp); ``source``: its
    JASPAR id or IUPAC string; ``motif``: the analysis' ``Motif`` it came from (None for an
    IUPAC string)."""

    name: str
    probs: np.ndarray
    position: int
    source: str
    motif: Motif | None = None

    @property
    def width(self) -> int:
        return len(self.probs)

    @property
    def consensus(self) -> np.ndarray:
        """(w,) codes of the most likely base per position (the first of equally likely ones)."""
        return self.probs.argmax(axis=1).astype(np.int8)

    @property
    def consensus_text(self) -> str:
        return "".join(ALPHABET[c] for c in self.consensus)

    def identity(self) -> dict:
        """What determines this pattern's results (for fingerprints)."""
        return {"name": self.name, "probs": np.round(self.probs, 6).tolist(), "position": self.position,
                "source": self.source, "threshold": self.motif.threshold if self.motif else None,
                "strands": self.motif.strands if self.motif else "+"}


def iupac_matrix(text: str) -> np.ndarray:
    """An IUPAC string -> (w, 4) probabilities, uniform over the bases each letter allows."""
    unknown = sorted({c for c in text.upper() if c not in IUPAC})
    if not text or unknown:
        raise ValueError(f"pattern {text!r}: expected IUPAC letters {''.join(IUPAC)}, found {unknown or 'nothing'}")
    return np.array([[float(b in IUPAC[c]) / len(IUPAC[c]) for b in ALPHABET] for c in text.upper()])


def motif_matrix(motif: Motif) -> np.ndarray:
    """A JASPAR motif's base probabilities (w, 4): its counts with the analysis' pseudocount,
    recovered from the log2-odds PSSM against the uniform background."""
    log_odds = np.array([[motif.pssm[b][i] for b in ALPHABET] for i in range(motif.width)])
    probs = 0.25 * np.exp2(log_odds)
    return probs / probs.sum(axis=1, keepdims=True)


def build_patterns(entries: Sequence[Mapping], motifs: Sequence[Motif]) -> list[Pattern]:
    """Patterns from config entries ``{motif: <motifs.list name or JASPAR id>, position}`` or
    ``{consensus: <IUPAC>, name, position}``; raises ValueError naming a bad entry."""
    by_name = {m.name: m for m in motifs} | {m.matrix_id: m for m in motifs} | \
              {m.matrix_id.split(".")[0]: m for m in motifs}
    patterns = []
    for entry in entries:
        entry = dict(entry)
        where = f"probes.patterns entry {entry}"
        if ("motif" in entry) == ("consensus" in entry):
            raise ValueError(f"{where}: give either motif: <a motifs.list name> or consensus: <IUPAC string>")
        position = entry.get("position")
        if not isinstance(position, int) or isinstance(position, bool):
            raise ValueError(f"{where}: position (start of the pattern relative to the TSS, bp) must be an integer")
        if "motif" in entry:
            motif = by_name.get(str(entry["motif"]))
            if motif is None:
                raise ValueError(f"{where}: unknown motif {entry['motif']!r}; motifs.list has "
                                 f"{[m.name for m in motifs]}")
            patterns.append(Pattern(str(entry.get("name") or motif.name), motif_matrix(motif), position,
                                    motif.matrix_id, motif))
        else:
            name = entry.get("name") or entry["consensus"]
            patterns.append(Pattern(str(name), iupac_matrix(str(entry["consensus"])), position,
                                    str(entry["consensus"]).upper()))
    names = [p.name for p in patterns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"probes.patterns: names must be unique, {repeated} repeated")
    return patterns


def _rng(seed: int, pattern: Pattern, kind: str) -> np.random.Generator:
    """The generator of one pattern's variants of one kind (the same in every experiment)."""
    return np.random.default_rng([seed, zlib.crc32(pattern.name.encode()), VARIANTS.index(kind)])


def core_positions(probs: np.ndarray) -> np.ndarray:
    """The most informative third of a matrix's positions (at least 2; ties: the first), by
    information content 2 + sum p log2 p."""
    information = 2 + np.sum(probs * np.log2(np.clip(probs, 1e-12, None)), axis=1)
    count = min(len(probs), max(2, round(len(probs) / 3)))
    return np.sort(np.argsort(-information, kind="stable")[:count])


def _differing(draw, reference: np.ndarray, tries: int = 100) -> np.ndarray:
    """A draw unlike ``reference`` (a copy of it only when ``tries`` draws all equal it)."""
    for _ in range(tries):
        candidate = draw()
        if not np.array_equal(candidate, reference):
            return candidate
    return candidate


def variants(pattern: Pattern, kind: str, n: int, seed: int) -> np.ndarray:
    """(V, w) int8 codes of one kind of variant; background i gets row i mod V.

    consensus and core_mutated: one row; instances: ``n`` samples from the matrix; shuffled:
    ``n`` permutations of the consensus; random_kmer: ``n`` k-mers drawn base by base with the
    consensus' composition. Shuffles and random k-mers never equal the consensus (unless every
    draw must, as for a run of one base)."""
    consensus = pattern.consensus
    rng = _rng(seed, pattern, kind)
    if kind == "consensus":
        return consensus[None]
    if kind == "instances":
        cumulative = np.cumsum(pattern.probs, axis=1)
        draws = rng.random((n, pattern.width, 1))
        return np.minimum((draws > cumulative[None]).sum(axis=2), 3).astype(np.int8)
    if kind == "shuffled":
        return np.stack([_differing(lambda: rng.permutation(consensus), consensus) for _ in range(n)])
    if kind == "core_mutated":
        mutated = consensus.copy()
        core = core_positions(pattern.probs)
        mutated[core] = pattern.probs[core].argmin(axis=1)
        return mutated[None]
    if kind == "random_kmer":
        composition = np.bincount(consensus, minlength=4) / pattern.width
        return np.stack([_differing(lambda: rng.choice(4, pattern.width, p=composition).astype(np.int8), consensus)
                         for _ in range(n)])
    raise ValueError(f"unknown variant {kind!r}; expected one of {VARIANTS}")


def pattern_hits(sequences: Sequence[str], pattern: Pattern, tss: int) -> pd.DataFrame:
    """Hits of a pattern in ``sequences``, one row per distinct window: ``row``, ``start``,
    ``end``, ``rel_start`` (start - tss). A JASPAR pattern is scanned as the analysis scans it
    (its threshold and strands); an IUPAC pattern hits where every base is one it allows
    (forward strand)."""
    if pattern.motif is not None:
        hits = scan(sequences, [pattern.motif], tss=tss)
    else:
        allowed = pattern.probs > 0  # (w, 4)
        records = []
        if len(sequences):
            codes = to_codes(list(sequences)).astype(np.int64)
            if codes.shape[1] >= pattern.width:
                windows = np.lib.stride_tricks.sliding_window_view(codes, pattern.width, axis=1)  # (N, S, w)
                ok = (windows < 4) & allowed[np.arange(pattern.width), np.minimum(windows, 3)]
                rows, starts = np.nonzero(ok.all(axis=2))
                records = [(int(r), int(s), int(s) + pattern.width) for r, s in zip(rows, starts)]
        hits = pd.DataFrame.from_records(records, columns=["row", "start", "end"])
        hits["rel_start"] = hits["start"] - tss
    columns = ["row", "start", "end", "rel_start"]
    return hits[columns].drop_duplicates(["row", "start", "end"]).astype(int).reset_index(drop=True)
