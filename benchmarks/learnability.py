"""Which models learn what from scratch: test MCC after a fixed, small training budget on
three labellings of the same synthetic sequences.

    python benchmarks/learnability.py [--models cnn hyenadna] [--tasks composition fixed_motif grammar]
        [--n-train 3000] [--epochs 3] [hydra overrides, e.g. model.optimizer.lr=0.002]

Tasks, from easy to hard (the sequences are the same; only the labels differ):
- composition: label 1 iff the sequence's GC fraction is above 0.5 (no position involved);
- fixed_motif: label 1 iff the TATA core ``TATA`` sits at -31..-28 (one motif, one position);
- grammar: the generator's own labels (two motifs, each at its position, for either module).

Each model trains through the project's own ``train.py`` path (``data=gue`` on a folder
written to a temporary directory). Models and overrides are those of ``conf/``; a model
that cannot pick up ``fixed_motif`` will not learn ``grammar`` at that budget either.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from glmxai.data.encoding import ALPHABET, to_codes
from glmxai.data.synthetic import TATA, SyntheticPromoterGenerator, write_gue_folder
from glmxai.data.table import SequenceTable

from common import QUIET, compose, print_table, quiet_logs

TASKS = ("composition", "fixed_motif", "grammar")


def relabel(table: SequenceTable, task: str, tss: int) -> SequenceTable:
    """``table`` with the labels of ``task`` (one of ``TASKS``); masks and motifs dropped (they
    describe ``grammar``)."""
    if task == "grammar":
        return table
    codes = to_codes(table.sequences)
    if task == "composition":
        labels = np.isin(codes, [ALPHABET.index("C"), ALPHABET.index("G")]).mean(axis=1) > 0.5
    elif task == "fixed_motif":  # the TATA core at the TATA box's own position
        start = tss + TATA.offset
        labels = (codes[:, start:start + 4] == to_codes("TATA")).all(axis=1)
    else:
        raise ValueError(f"unknown task {task!r}; choose from {TASKS}")
    return SequenceTable(list(table.sequences), labels.astype(np.int64), table.source)


def measure(model: str, task: str, root: Path, epochs: int, overrides: list[str]) -> dict:
    from glmxai.jobs.train import run

    with tempfile.TemporaryDirectory() as out:
        cfg = compose("train", [f"model={model}", "data=gue", f"data.root={root}", "logger=none", *QUIET,
                                f"trainer.max_epochs={epochs}", *overrides], out)
        start = time.perf_counter()
        metrics = run(cfg)
        seconds = time.perf_counter() - start
    return {"model": model, "task": task, "test MCC": metrics["test/mcc"], "test AUROC": metrics["test/auroc"],
            "run s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "hyenadna"])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-eval", type=int, default=500, help="validation and test sequences each")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12345)
    args, overrides = parser.parse_known_args()
    quiet_logs()
    generator = SyntheticPromoterGenerator()
    splits = generator.splits(args.n_train, args.n_eval, args.n_eval, args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            relabelled = {name: relabel(table, task, generator.tss) for name, table in splits.items()}
            positives = relabelled["train"].labels.mean()
            root = write_gue_folder(relabelled, Path(tmp) / task)
            for model in args.models:
                row = measure(model, task, root, args.epochs, overrides)
                rows.append({**row, "train positives": positives})
                print_table(rows[-1:], f"{model} / {task}")
    print_table(rows, f"Test MCC after {args.epochs} epochs on {args.n_train} sequences")


if __name__ == "__main__":
    main()
