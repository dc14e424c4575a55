"""Peak memory of explain.py against the number of sequences explained: it must be bounded by a
chunk (explain.chunk_size sequences), not by the split, beyond the output arrays (the merge holds
them once: scores, sequences, the method's extras and records, while it reads one chunk at a time).

    python benchmarks/explain_memory.py [--root ../shared/data/gue/prom_300_all_full] [--sizes 100 2960]
                                        [--methods ism ig lime shap anchor]

Each (method, n) runs the real explain job in its own Python process on the test split of ROOT
(GUE prom_300_all's 2,960 rows), with a known-answer toy model (glmxai.models.toys.MotifDetector)
so that the cost is the method's, not a network's; the process's peak resident memory
(ru_maxrss, imports included) is printed beside the size of its outputs in memory (every array of
its .npz files, and its records file).
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))


def toy_checkpoint(path: Path) -> Path:
    """The one-hot toy as a glmxai checkpoint (no training data recorded: the job names its data)."""
    import torch

    from glmxai.models.classifier import SequenceClassifier
    from glmxai.models.tokenizers import OneHotTokenizer
    from glmxai.models.toys import MotifDetector

    model_cfg = {"name": "toy", "tokenizer": {"_target_": "glmxai.models.tokenizers.OneHotTokenizer"},
                 "backbone": {"_target_": "glmxai.models.toys.MotifDetector", "seq_len": 300, "start": 218}}
    module = SequenceClassifier(MotifDetector(OneHotTokenizer(), start=218), model_cfg=model_cfg)
    checkpoint = {"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def run_one(method: str, n: int, root: str, ckpt: str, out: str) -> None:
    """One explain job in this process; prints a JSON line with its cost."""
    from glmxai.jobs.explain import run

    from common import compose

    start = time.perf_counter()
    cfg = compose("explain", [f"ckpt_path={ckpt}", f"xai={method}", "data=gue_prom_300_all", f"data.root={root}",
                              f"explain.n={n}", "explain.threads=1", "logger=none"], out)
    meta = run(cfg)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    output = 0  # bytes of every output array in memory, and of the records file
    for name in meta["files"]:
        path = Path(out) / name
        if path.suffix == ".npz":
            with np.load(path) as arrays:
                output += sum(arrays[key].nbytes for key in arrays.files)
        else:
            output += path.stat().st_size
    print(json.dumps({"method": method, "n": n, "seconds": round(time.perf_counter() - start, 1),
                      "peak_mib": round(peak, 1), "output_mib": round(output / 2**20, 2)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared/data/gue/prom_300_all_full"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 2960])
    parser.add_argument("--methods", nargs="+", default=["ism", "ig", "lime", "shap", "anchor"])
    parser.add_argument("--one", nargs=4, metavar=("METHOD", "N", "CKPT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, n, ckpt, out = args.one
        run_one(method, int(n), args.root, ckpt, out)
        return
    with tempfile.TemporaryDirectory() as folder:
        ckpt = toy_checkpoint(Path(folder) / "toy.ckpt")
        print(f"{'method':8} {'n':>6} {'seconds':>8} {'peak MiB':>9} {'output MiB':>11}")
        for method in args.methods:
            for n in args.sizes:
                one = [method, str(n), str(ckpt), str(Path(folder) / f"{method}-{n}")]
                done = subprocess.run([sys.executable, __file__, "--root", args.root, "--one", *one],
                                      capture_output=True, text=True, cwd=REPO)
                if done.returncode:
                    sys.exit(f"{method} n={n} failed:\n{done.stderr[-2000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{method:8} {n:6d} {row['seconds']:8.1f} {row['peak_mib']:9.1f} {row['output_mib']:11.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
