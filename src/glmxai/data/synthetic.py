"""Seeded generator of promoter-like sequences whose labels come from motif *grammar*.

Layout follows GUE prom_300: 300 bp spanning -249..+50, TSS at 0-based index 249.
Every sequence, positive or negative, carries exactly one instance of each of four
core-promoter motifs, so motif *counts* (and therefore any bag-of-k-mers) carry no
label information. What decides the label is where the motifs sit:

- module A: TATA box at -31 (+-2) AND Inr spanning the TSS (+-1);
- module B: GC-box at -60 (+-5) AND CCAAT box at -90 (+-5).

A sequence is a promoter (label 1) iff at least one module has both of its motifs in
their functional windows. Negatives get, for each module, one or both motifs displaced
to a random decoy position, so single motifs often sit at the right place in negatives
too. With ``displace=False`` a motif not in its window is left out instead of displaced: then
no motif outside its window tells the label (below). ``masks`` marks the positions of the motifs of
the satisfied module(s) (all False for negatives); ``motifs`` lists every planted instance with its role.

``decoys`` (default 0) adds that many more motif copies to every sequence of both classes, each one
of the four motifs at random, at random positions outside its functional window: motifs the model
must learn to ignore, so that an explanation can be scored on how little it puts on them
(``decoy_masks``; benchmarks/ground_truth_variants.py). In the default grammar a motif outside its
window is more often a negative's displaced motif than an extra decoy, so a model gains by responding
to it; with ``displace=False`` the copies outside the windows are the ``decoys`` alone, drawn alike in
both classes, and a model gains nothing by responding to them.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glmxai.data.encoding import IUPAC, to_codes, to_strings
from glmxai.data.table import SequenceTable, write_sequence_csv


@dataclass(frozen=True)
class MotifSpec:
    """A planted motif: IUPAC consensus, functional offset of its first base relative to
    the TSS, and the jitter (+-bp) allowed in its functional window."""

    name: str
    consensus: str
    offset: int
    jitter: int


TATA = MotifSpec("TATA", "TATAWAWR", -31, 2)
INR = MotifSpec("Inr", "YYANWYY", -2, 1)
GC_BOX = MotifSpec("GC-box", "GGGGCGGGG", -60, 5)
CCAAT = MotifSpec("CCAAT", "RRCCAATSR", -90, 5)
MODULES = ((TATA, INR), (GC_BOX, CCAAT))
ALL_MOTIFS = (TATA, INR, GC_BOX, CCAAT)


class SyntheticPromoterGenerator:
    """Generate ``SequenceTable`` splits with ground-truth masks.

    length/tss: sequence length and 0-based TSS index; gc_range: per-sequence GC
    fraction of the background, drawn uniformly (same for both classes);
    positive_fraction: share of label-1 sequences; decoys: extra motif copies per sequence outside
    their windows; displace: plant a module's motifs that are not in their window elsewhere (True)
    or leave them out (False). The default layout is GUE prom_300's (LENGTH,
    TSS), in which the motifs above are placed.
    """

    LENGTH, TSS = 300, 249

    def __init__(self, length: int = LENGTH, tss: int = TSS, gc_range=(0.35, 0.65), positive_fraction: float = 0.5,
                 decoys: int = 0, displace: bool = True):
        if not isinstance(displace, bool):
            raise ValueError(f"data.displace must be true or false, got {displace!r}")
        if not isinstance(decoys, int) or isinstance(decoys, bool) or not 0 <= decoys <= 16:
            raise ValueError(f"data.decoys must be an integer in 0..16 (extra decoy motifs per sequence), "
                             f"got {decoys!r}")
        self.length, self.tss, self.decoys, self.displace = length, tss, decoys, displace
        self.gc_range = tuple(gc_range)
        self.positive_fraction = positive_fraction
        for spec in (m for module in MODULES for m in module):
            start = tss + spec.offset
            if start - spec.jitter < 0 or start + spec.jitter + len(spec.consensus) > length:
                raise ValueError(f"the synthetic {spec.name} window does not fit in sequences of data.seq_len={length} "
                                 f"with data.tss={tss}")

    def generate(self, n: int, seed: int, source: str = "synthetic") -> SequenceTable:
        """n sequences from ``seed``; the same arguments give the same table."""
        rng = np.random.default_rng(seed)
        labels = (rng.random(n) < self.positive_fraction).astype(np.int64)
        codes = np.empty((n, self.length), dtype=np.int8)
        masks = np.zeros((n, self.length), dtype=bool)
        motifs: list[dict] = []
        gc = rng.uniform(*self.gc_range, size=(n, 1))
        draws = rng.random((n, self.length))  # base = A, C, G, T by cumulative probability
        codes[:] = (draws >= (1 - gc) / 2).astype(np.int8) + (draws >= 0.5) + (draws >= (1 + gc) / 2)
        for row in range(n):
            for record in self._plant(codes[row], bool(labels[row]), rng):
                record["row"] = row
                motifs.append(record)
                if record["functional"] and record["module_satisfied"]:
                    masks[row, record["start"] : record["end"]] = True
        return SequenceTable(to_strings(codes), labels, source, masks=masks, motifs=motifs)

    def _plant(self, seq_codes: np.ndarray, positive: bool, rng: np.random.Generator) -> list[dict]:
        """Plant one instance of each motif in place; return their records."""
        if positive:  # which module(s) are satisfied: A, B or both
            satisfied = [(True, False), (False, True), (True, True)][rng.choice(3, p=[0.4, 0.4, 0.2])]
        else:
            satisfied = (False, False)
        occupied = np.zeros(self.length, dtype=bool)
        placements: list[tuple[MotifSpec, bool, bool]] = []  # (spec, functional, module satisfied)
        for module, ok in zip(MODULES, satisfied):
            if ok:
                functional = (True, True)
            else:  # at least one motif of the module is displaced
                functional = [(False, True), (True, False), (False, False)][rng.integers(3)]
                if positive and rng.random() < 0.5:  # decoy of an unsatisfied module in a positive
                    functional = (False, False)
            placements += [(spec, f, ok) for spec, f in zip(module, functional)]
        records = []
        for spec, functional, ok in placements:  # functional sites first, decoys after
            if not functional:
                continue
            start = self.tss + spec.offset + int(rng.integers(-spec.jitter, spec.jitter + 1))
            records.append(self._write(seq_codes, occupied, spec, start, True, ok, rng))
        for spec, functional, ok in placements:
            if functional or not self.displace:
                continue
            decoy = self._decoy_start(spec, occupied, rng)
            records.append(self._write(seq_codes, occupied, spec, decoy, False, ok, rng))
        for _ in range(self.decoys):  # extra decoys, in both classes
            spec = ALL_MOTIFS[int(rng.integers(len(ALL_MOTIFS)))]
            records.append(self._write(seq_codes, occupied, spec, self._decoy_start(spec, occupied, rng), False, False,
                                       rng))
        return records

    def _decoy_start(self, spec: MotifSpec, occupied: np.ndarray, rng: np.random.Generator) -> int:
        """A random start outside the motif's functional window (+-10 bp) and free of other motifs."""
        width = len(spec.consensus)
        home = self.tss + spec.offset
        for _ in range(1000):
            start = int(rng.integers(0, self.length - width + 1))
            if abs(start - home) > spec.jitter + 10 and not occupied[max(0, start - 2) : start + width + 2].any():
                return start
        raise RuntimeError(f"no room for a decoy {spec.name}")

    @staticmethod
    def _write(seq_codes, occupied, spec: MotifSpec, start: int, functional: bool, ok: bool, rng) -> dict:
        choices = rng.random(len(spec.consensus))
        site = "".join(IUPAC[c][int(u * len(IUPAC[c]))] for c, u in zip(spec.consensus, choices))
        end = start + len(site)
        seq_codes[start:end] = to_codes(site)
        occupied[start:end] = True
        return {"motif": spec.name, "site": site, "start": start, "end": end,
                "functional": functional, "module_satisfied": ok}

    def generate_split(self, split: str, n: int, seed: int) -> SequenceTable:
        """Split ``split`` (train/val/test) of the data set ``seed``: each split has its own stream."""
        offset = ("train", "val", "test").index(split)
        return self.generate(n, seed=seed * 1000 + offset, source=f"synthetic:{split}")

    @staticmethod
    def _motif_masks(table: SequenceTable, decoys_only: bool, margin: int = 0) -> np.ndarray:
        """(N, L) bool: the positions of the planted motifs of ``table`` (only those outside their window
        if ``decoys_only``), each widened by ``margin`` bp on both sides, from its ``motifs`` records."""
        masks = np.zeros((len(table), len(table.sequences[0]) if len(table) else 0), dtype=bool)
        for motif in table.motifs:
            if not (decoys_only and motif["functional"]):
                masks[motif["row"], max(0, motif["start"] - margin):motif["end"] + margin] = True
        return masks

    @staticmethod
    def decoy_masks(table: SequenceTable) -> np.ndarray:
        """(N, L) bool: the positions of every motif of ``table`` planted outside its functional window
        (decoys: displaced motifs and the extra ``decoys``), from its ``motifs`` records."""
        return SyntheticPromoterGenerator._motif_masks(table, decoys_only=True)

    @staticmethod
    def motif_free_masks(table: SequenceTable, margin: int = 3) -> np.ndarray:
        """(N, L) bool: the positions at least ``margin`` bp from every planted motif of ``table`` (the
        background against which a decoy's attribution is read)."""
        return ~SyntheticPromoterGenerator._motif_masks(table, decoys_only=False, margin=margin)

    def splits(self, n_train: int, n_val: int, n_test: int, seed: int) -> dict[str, SequenceTable]:
        """train/val/test tables of the data set ``seed``."""
        sizes = {"train": n_train, "val": n_val, "test": n_test}
        return {name: self.generate_split(name, n, seed) for name, n in sizes.items()}


def write_gue_folder(splits: dict[str, SequenceTable], out_dir: str | Path) -> Path:
    """Write splits as a GUE folder (train.csv, dev.csv, test.csv) plus, per split,
    ``<split>_masks.npy`` (N, L) bool and ``<split>_motifs.csv``."""
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in splits.items():
        stem = "dev" if name == "val" else name
        write_sequence_csv(table, out / f"{stem}.csv")
        if table.masks is not None:
            np.save(out / f"{stem}_masks.npy", table.masks)
        pd.DataFrame(table.motifs).to_csv(out / f"{stem}_motifs.csv", index=False)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic promoter data as a GUE-format folder.")
    parser.add_argument("out_dir")
    parser.add_argument("--n-train", type=int, default=16000)
    parser.add_argument("--n-val", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--decoys", type=int, default=0, help="extra decoy motifs per sequence, both classes")
    parser.add_argument("--drop", action="store_true", help="leave out motifs not in their window (displace=False)")
    args = parser.parse_args(argv)
    generator = SyntheticPromoterGenerator(decoys=args.decoys, displace=not args.drop)
    splits = generator.splits(args.n_train, args.n_val, args.n_test, args.seed)
    print(f"wrote {write_gue_folder(splits, args.out_dir)}")


if __name__ == "__main__":
    main()
