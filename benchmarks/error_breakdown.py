"""Where a checkpoint's errors on a GUE split lie: per kind of sequence (promoters; negatives derived
from a promoter by GUE's chunk replacement; negatives without a parent in the folder, such as
prom_300_tata's genomic fragments), per EPD flag of the promoters, and per GC quintile.

    python benchmarks/error_breakdown.py CKPT [--folder ../shared/data/gue/prom_300_all_full] [--split test]

Parents are searched in every split of the folder (``glmxai.analysis.derived_pairs``, as the audit
does); EPD flags come from ``<split>_epd.csv`` when the folder has it. Printed per group: sequences,
errors at p >= 0.5 and the error rate with its 95% Wilson interval.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai import api
from glmxai.analysis.derived_pairs import derived_pairs, sequence_classes
from glmxai.analysis.shortcut import wilson
from glmxai.data.annotations import annotation_path, flag_columns, flags_of, read_annotations
from glmxai.data.table import read_sequence_csv

SPLITS = ("train", "dev", "test")


def rates(errors: pd.Series, groups: pd.Series, title: str) -> None:
    """Print sequences, errors and error rate (95% Wilson CI) per group."""
    print(title)
    for group, err in errors.groupby(groups, observed=True):
        low, high = wilson(int(err.sum()), len(err))
        print(f"  {str(group):<28} {len(err):>6} {int(err.sum()):>5}  {err.mean():.3f} ({low:.3f}-{high:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt")
    parser.add_argument("--folder", default="../shared/data/gue/prom_300_all_full")
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    args = parser.parse_args()
    folder = Path(args.folder)
    tables = {split: read_sequence_csv(folder / f"{split}.csv") for split in SPLITS}
    sequences = [s for t in tables.values() for s in t.sequences]
    labels = np.concatenate([t.labels for t in tables.values()])
    splits = np.repeat(SPLITS, [len(t.labels) for t in tables.values()])
    classes = sequence_classes(derived_pairs(sequences, labels, splits), labels)[splits == args.split]

    table = tables[args.split]
    p = api.predict(api.load_model(args.ckpt), table.sequences)
    rows = pd.DataFrame({"kind": classes, "label": table.labels,
                         "gc": [(s.count("G") + s.count("C")) / len(s) for s in table.sequences]})
    rows["error"] = (p >= 0.5).astype(int) != rows["label"]
    print(f"{args.ckpt} on {folder / args.split}.csv: {int(rows['error'].sum())} errors of {len(rows)}\n"
          f"  {'group':<28} {'n':>6} {'err':>5}  rate (95% CI)")
    rates(rows["error"], rows["kind"], "by kind of sequence")
    for label, name in ((1, "promoters"), (0, "negatives")):
        part = rows[rows["label"] == label]
        rates(part["error"], pd.qcut(part["gc"], 5), f"{name} by GC quintile")
    notes = annotation_path(folder, args.split)
    if notes.exists():
        flags = read_annotations(notes)
        promoters = rows[rows["label"] == 1]
        for flag in flag_columns(flags):
            named = pd.Series(flags_of(flags, promoters.index.to_numpy(), flag), index=promoters.index)
            rates(promoters["error"], named.map({1.0: f"{flag}+", 0.0: f"{flag}-"}), f"promoters by EPD {flag}")


if __name__ == "__main__":
    main()
