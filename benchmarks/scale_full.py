"""Time and peak memory of everything that reads a whole training split, on a GUE folder at the
official size (47,356 training rows):

    python benchmarks/scale_full.py [--root ../shared/data/gue/prom_300_all_full] [--parts data bpe ...]

Each part runs in its own Python process (its peak resident memory is its own, imports included):
- ``data``: the data module reads and checks the three splits and hashes them (a checkpoint's data record);
- ``loader``: one epoch of the training loader (batches of 32 strings, the shuffle and roll of an epoch);
- ``bpe``: DNABERT-2's BPE tokenizer trained on the training split (vocabulary 4,096);
- ``kmer``: DNABERT's 6-mer tokenizer encoding the training split;
- ``pairs``: the audit's search for related pairs (negatives derived from promoters) over all splits;
- ``backgrounds``: the probes' three background kinds (500 each) drawn from the training split;
- ``audit``: ``python analyze.py inputs=[] data=gue data.root=ROOT`` (the whole dataset audit and report).
Prints one line per part: seconds (after glmxai's imports; ``audit`` is a whole command, imports
included) and peak resident MiB.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("data", "loader", "bpe", "kmer", "pairs", "backgrounds", "audit")


def _data(root: str):
    from glmxai.data.datamodule import GueDataModule

    return GueDataModule(root=root, seq_len=300, tss=249, batch_size=32)


def run_part(part: str, root: str) -> None:
    """Run one part in this process (the driver measures it)."""
    import numpy as np

    if part == "audit":
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, str(REPO / "analyze.py"), "inputs=[]", "data=gue", f"data.root={root}",
                            f"hydra.run.dir={out}", "logger=none"], check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        return
    data = _data(root)
    if part == "data":
        data.provenance()
        return
    train = data.table("train")
    if part == "loader":
        data.setup()
        loader = data.train_dataloader()
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(1)
        sum(len(batch["labels"]) for batch in loader)
    elif part == "bpe":
        from glmxai.models.tokenizers import BPETokenizer

        BPETokenizer(vocab_size=4096).fit(train.sequences)
    elif part == "kmer":
        from glmxai.models.tokenizers import KmerTokenizer

        tokenizer = KmerTokenizer(k=6)
        for start in range(0, len(train), 1024):
            tokenizer.encode(train.sequences[start:start + 1024])
    elif part == "pairs":
        from glmxai.analysis.derived_pairs import derived_pairs

        tables = [data.table(s) for s in ("train", "val", "test")]
        sequences = [s for t in tables for s in t.sequences]
        labels = np.concatenate([t.labels for t in tables])
        splits = [name for name, t in zip(("train", "dev", "test"), tables) for _ in range(len(t))]
        pairs = derived_pairs(sequences, labels, splits)
        print(f"  {len(pairs):,} related pairs", file=sys.stderr)
    elif part == "backgrounds":
        from glmxai.data.encoding import to_codes
        from glmxai.probes.backgrounds import KINDS, draw_pool

        codes = to_codes(train.sequences)
        for kind in KINDS:
            draw_pool(kind, codes, train.labels, 500, np.random.default_rng(0))
    else:
        raise ValueError(f"unknown part {part!r}; choose from {PARTS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared/data/gue/prom_300_all_full"))
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import glmxai.analysis.derived_pairs  # noqa: F401  imports before the clock starts
        import glmxai.data.datamodule  # noqa: F401
        import glmxai.models.tokenizers  # noqa: F401
        import glmxai.probes.backgrounds  # noqa: F401

        start = time.perf_counter()
        run_part(args.child, args.root)
        peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        print(json.dumps({"seconds": time.perf_counter() - start, "peak_mib": peak / 1024}))
        return
    print(f"{args.root}: seconds (after imports) and peak resident memory per part")
    for part in args.parts:
        done = subprocess.run([sys.executable, __file__, "--root", args.root, "--child", part], check=True,
                              capture_output=True, text=True, cwd=REPO)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{part:12s} {figures['seconds']:8.1f} s  {figures['peak_mib']:8.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
