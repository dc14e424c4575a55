"""Write negatives made from the promoters of one split of a GUE folder, as a labelled set for the
shortcut test (``analyze.py shortcut.sets=[CSV]``): a control whose construction you choose, e.g.
chunk permutations whose moved chunks vary from copy to copy, against GENA-LM's set (one
arrangement for every promoter; the report names it).

    python scripts/make_negatives.py ../shared/data/gue/prom_300_all_full test runs/controls/permuted_test.csv \\
        --kind chunk_permutation [--moved 16] [--permuted 12] [--seed 0]

One copy per promoter (``glmxai.data.negatives.add_negatives``, as ``data.added_negatives`` makes them for training),
labelled 0, with ``parent_split`` and ``parent_row`` (the promoter's row in the split's CSV). The file is
written atomically; parents are paired by the shortcut test only for a set inside the model's data folder.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.data.negatives import KINDS, add_negatives
from glmxai.data.table import read_sequence_csv
from glmxai.io import atomic_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("split", choices=["train", "dev", "test"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--kind", choices=KINDS, default="chunk_permutation")
    parser.add_argument("--permuted", type=int, default=12, help="chunks moved (chunk_permutation)")
    parser.add_argument("--moved", type=int, nargs="*", default=[], help="chunk slots every copy moves")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    table = read_sequence_csv(args.folder / f"{args.split}.csv")
    extended = add_negatives(table, {"kind": args.kind, "per_promoter": 1, "seed": args.seed,
                                     "permuted": args.permuted, "moved": args.moved})
    out = pd.DataFrame({"sequence": extended.sequences[len(table):], "label": 0, "parent_split": args.split,
                        "parent_row": np.flatnonzero(table.labels == 1)})
    with atomic_path(args.out) as tmp:
        out.to_csv(tmp, index=False)
    print(f"{len(out)} {args.kind} negatives of the {args.split} promoters of {args.folder} -> {args.out}")


if __name__ == "__main__":
    main()
