"""Carry per-promoter flags (EPD's ``*_epd.csv``) from one GUE folder to another whose promoters
are windows of the first's, matched by exact sequence: prom_core_all (70 bp, -33..+36) has no EPD
flags, but most of its promoters are the core of a prom_300_all promoter (-249..+50), which has.

    python scripts/transfer_annotations.py ../shared/data/gue/prom_300_all_full 249 \\
        ../shared/data/gue/prom_core_all 33 runs/annotations/prom_core_all

Arguments: the source folder and its TSS index, the target folder and its TSS index, the output
folder (outside the data: never written into the shared folders). The target window starts at
source TSS - target TSS in every source sequence; the source's annotated rows of every split are
searched, so a target promoter takes the flags of the same promoter in any source split. Writes
``<split>_epd.csv`` (``row`` and the flags; promoters without a match are left out, as negatives
are) per target split, each atomically, and prints how many promoters were matched.
"""
import argparse
from pathlib import Path

import pandas as pd

from glmxai.data.annotations import annotation_path, read_annotations, transferred_annotations
from glmxai.data.table import read_sequence_csv
from glmxai.io import atomic_path

SPLITS = ("train", "dev", "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("source_tss", type=int)
    parser.add_argument("target", type=Path)
    parser.add_argument("target_tss", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    start = args.source_tss - args.target_tss
    if start < 0:
        parser.error(f"the target's TSS index {args.target_tss} exceeds the source's {args.source_tss}")
    sequences, tables = [], []
    for split in SPLITS:
        path = annotation_path(args.source, split)
        if path.is_file():
            table = read_annotations(path)
            table.index = table.index + len(sequences)  # rows of all source splits, one after another
            tables.append(table)
            sequences += read_sequence_csv(annotation_path(args.source, split, suffix="")).sequences
    if not tables:
        raise SystemExit(f"{args.source}: no <split>_epd.csv to carry flags from")
    source_table = pd.concat(tables)
    for split in SPLITS:
        target = read_sequence_csv(annotation_path(args.target, split, suffix=""))
        flags = transferred_annotations(sequences, source_table, start, target.sequences, target.labels)
        with atomic_path(annotation_path(args.out, split)) as tmp:
            flags.astype("Int64").to_csv(tmp)  # 0/1, empty where unannotated
        print(f"{split}: {len(flags)} of {int(target.labels.sum())} promoters matched "
              f"-> {annotation_path(args.out, split)}")


if __name__ == "__main__":
    main()
