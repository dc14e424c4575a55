"""Explanation cost per method: model evaluations per explained sequence, seconds per
sequence, and achieved evaluations/s against the ceiling, the best bare batched throughput
of the same model (over batch sizes up to ``explain.batch_size``) measured right before each
method: ``predict_proba`` (forward) for the perturbation methods, forward + backward to the
input embeddings for IG.

    python benchmarks/explain_speed.py [--model cnn | --ckpt CKPT] [--n 8] [--repeats 5]
        [hydra overrides for explain.py, e.g. explain.batch_size=512] [--methods ism ig lime shap anchor]

(overrides before ``--methods``, which takes every word after it).
Each method runs as ``explain.py`` does (``glmxai.jobs.explain.run``) into a temporary folder,
``--repeats`` times, each run right after its own ceiling; the table gives the medians and the
range of achieved/ceiling (a CPU's throughput drifts by tens of percent between runs).
Fast ISM on the CNN recomputes only part of each mutant's forward pass, so it can pass 1.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate

from glmxai.data.encoding import to_codes
from glmxai.jobs.explain import run as explain
from glmxai.models.build import load_classifier
from glmxai.predictor import BatchedPredictor

from common import best_throughput, compose, print_table, quick_checkpoint, quiet_logs


def ceiling_sizes(batch_size: int) -> list[int]:
    """The batch sizes a ceiling tries: 32, 64, ... below ``batch_size``, and ``batch_size``."""
    return sorted({size for size in (32, 64, 128, 256, 512) if size < batch_size} | {batch_size})


def forward_ceiling(backbone, codes: np.ndarray, batch_size: int) -> float:
    """Best sequences/s of bare batched ``predict_proba`` (integer codes in, as the perturbation
    methods call it)."""
    return best_throughput(lambda first, last: backbone.predict_proba(codes[first:last], batch_size=last - first),
                           len(codes), ceiling_sizes(batch_size))


def gradient_ceiling(backbone, codes: np.ndarray, batch_size: int) -> float:
    """Best path points/s of bare batched forward + backward of p(promoter) to ready input
    embeddings (IG encodes a sequence once, then evaluates its path points)."""
    model = BatchedPredictor(backbone)
    with torch.no_grad():
        inputs = backbone.encode(codes)
        embeddings = backbone.input_embeddings(inputs).detach()

    def run(first: int, last: int) -> None:
        points = embeddings[first:last].clone().requires_grad_()
        batch = {key: value[first:last] for key, value in inputs.items()}
        torch.autograd.grad(model.p_promoter_embeddings(points, batch).sum(), points)

    return best_throughput(run, len(codes), ceiling_sizes(batch_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn", help="model to train briefly when no --ckpt is given")
    parser.add_argument("--ckpt", type=Path, help="checkpoint to explain")
    parser.add_argument("--n", type=int, default=8, help="sequences explained per method")
    parser.add_argument("--methods", nargs="+", default=["ism", "ig", "lime", "shap", "anchor"])
    parser.add_argument("--ceiling-n", type=int, default=1024, help="sequences for the ceiling figure")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per method (medians reported)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for explain.py")
    args = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.ckpt or quick_checkpoint(args.model, Path(tmp, "train"))
        base = [f"ckpt_path={ckpt}", f"explain.n={args.n}", *args.overrides]
        cfg = compose("explain", [*base, f"xai={args.methods[0]}"], tmp)  # method overrides must find their keys
        backbone = load_classifier(ckpt).backbone.eval()
        test = instantiate(cfg.data).table(str(cfg.explain.split))
        codes = to_codes(list(test.sequences))
        codes = np.resize(codes, (args.ceiling_n, codes.shape[1]))
        rows = []
        for method in args.methods:
            # warm-up on one sequence (first-call costs of the method's libraries), then timed
            explain(compose("explain", [*base, f"xai={method}", "explain.n=1"], Path(tmp, f"{method}-warmup")))
            measure = gradient_ceiling if method == "ig" else forward_ceiling
            runs = []
            for repeat in range(args.repeats):
                top = measure(backbone, codes, int(cfg.explain.batch_size))
                meta = explain(compose("explain", [*base, f"xai={method}"], Path(tmp, f"{method}-{repeat}")))
                runs.append((meta["seconds_per_sequence"], meta["evaluations_per_second"], top,
                             meta["evaluations_per_second"] / top))
            seconds, speed, top, ratio = np.median(runs, axis=0)
            ratios = [run[3] for run in runs]
            rows.append({"method": method, "evals/seq": meta["evaluations_per_sequence"], "s/seq": seconds,
                         "evals/s": speed, "ceiling": "fwd+bwd" if method == "ig" else "fwd", "ceiling evals/s": top,
                         "achieved/ceiling": ratio, "range": f"{min(ratios):.2f}-{max(ratios):.2f}"})
        name = backbone.__class__.__name__
    print_table(rows, f"explanation cost, {name}, {args.n} sequences of {codes.shape[1]} bp, "
                      f"batch {cfg.explain.batch_size}, torch threads {torch.get_num_threads()}, "
                      f"medians of {args.repeats} run(s)")


if __name__ == "__main__":
    main()
