"""Explanation cost per method: model evaluations per explained sequence, seconds per
sequence, and achieved evaluations/s against the ceiling, the bare batched
``predict_proba`` throughput of the same model measured right before each method.

    python benchmarks/explain_speed.py [--model cnn | --ckpt CKPT] [--n 8]
        [--methods ism ig lime shap anchor] [hydra overrides for explain.py, e.g. explain.batch_size=512]

Each method runs as ``explain.py`` does (``glmxai.xai.job.run``) into a temporary folder.
IG's evaluations are forward + backward passes, so its ratio to the forward-only ceiling
is naturally below 1.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate

from glmxai.data.encoding import to_codes
from glmxai.models.build import load_classifier
from glmxai.xai.job import run as explain

from common import compose, print_table, quick_checkpoint, quiet_logs


def ceiling(backbone, codes: np.ndarray, batch_size: int) -> float:
    """Sequences/s of bare batched ``predict_proba`` on ``codes``."""
    backbone.predict_proba(codes[:batch_size], batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    backbone.predict_proba(codes, batch_size=batch_size)
    return len(codes) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn", help="model to train briefly when no --ckpt is given")
    parser.add_argument("--ckpt", type=Path, help="checkpoint to explain")
    parser.add_argument("--n", type=int, default=8, help="sequences explained per method")
    parser.add_argument("--methods", nargs="+", default=["ism", "ig", "lime", "shap", "anchor"])
    parser.add_argument("--ceiling-n", type=int, default=1024, help="sequences for the ceiling figure")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for explain.py")
    args = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.ckpt or quick_checkpoint(args.model, Path(tmp, "train"))
        base = [f"ckpt_path={ckpt}", f"explain.n={args.n}", *args.overrides]
        cfg = compose("explain", base, tmp)
        backbone = load_classifier(ckpt).backbone.eval()
        test = instantiate(cfg.data).table(str(cfg.explain.split))
        codes = to_codes(list(test.sequences))
        codes = np.resize(codes, (args.ceiling_n, codes.shape[1]))
        rows = []
        for method in args.methods:
            # warm-up on one sequence (first-call costs of the method's libraries), then timed
            explain(compose("explain", [*base, f"xai={method}", "explain.n=1"], Path(tmp, f"{method}-warmup")))
            top = ceiling(backbone, codes, int(cfg.explain.batch_size))
            meta = explain(compose("explain", [*base, f"xai={method}"], Path(tmp, method)))
            rows.append({"method": method, "evals/seq": meta["evaluations_per_sequence"],
                         "s/seq": meta["seconds_per_sequence"], "evals/s": meta["evaluations_per_second"],
                         "ceiling evals/s": top, "achieved/ceiling": meta["evaluations_per_second"] / top})
        name = backbone.__class__.__name__
    print_table(rows, f"explanation cost, {name}, {args.n} sequences of {codes.shape[1]} bp, "
                      f"batch {cfg.explain.batch_size}, torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
