"""What a checkpoint gives up on GUE's own test split when its threshold is set so that only a share
of composition-kept shuffled negatives is called promoter (the shortcut issue's goal).

    python benchmarks/shortcut_frontier.py CKPT [--folder ../shared/data/gue/prom_300_all_full]
                                                [--shares 0.2 0.15 0.1]

For each share s, the threshold is chosen on dev alone: the (1 - s) quantile of p(promoter) of the
shuffled negatives whose parent is a dev row. Printed per threshold (p >= 0.5 first), on dev and on
test: MCC, promoter recall, the share of GUE's own negatives and of that split's shuffled negatives
called promoter.
"""
import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import matthews_corrcoef

from glmxai import api
from glmxai.analysis.shortcut import SPLITS, read_labelled_set
from glmxai.data.table import read_sequence_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt")
    parser.add_argument("--folder", default="../shared/data/gue/prom_300_all_full")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.2, 0.15, 0.1])
    args = parser.parse_args()
    model = api.load_model(args.ckpt)
    folder = Path(args.folder)
    shuffled = read_labelled_set(folder / "shuffled_negatives.csv")
    p_shuffled = api.predict(model, shuffled.table.sequences)
    splits = {}
    for split in ("dev", "test"):
        table = read_sequence_csv(folder / f"{split}.csv")
        parented = shuffled.parent_split == SPLITS[split]  # the reader names splits as the data modules do
        splits[split] = (table.labels, api.predict(model, table.sequences), p_shuffled[parented])
    thresholds = [0.5] + [float(np.quantile(splits["dev"][2], 1 - share)) for share in args.shares]
    for threshold in thresholds:
        parts = []
        for split, (labels, p, q) in splits.items():
            called = p >= threshold
            parts.append(f"{split}: MCC {matthews_corrcoef(labels, called):.3f}, "
                         f"recall {called[labels == 1].mean():.3f}, own negatives {called[labels == 0].mean():.3f}, "
                         f"shuffled {(q >= threshold).mean():.3f}")
        print(f"p >= {threshold:.3f} | " + " | ".join(parts))


if __name__ == "__main__":
    main()
