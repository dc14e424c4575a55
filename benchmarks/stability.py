"""Stability of LIME and SHAP attributions against their sample budget: Spearman rank
correlation, per sequence, of the feature attributions of two runs that differ only in
``explain.seed`` (the samples and the background pool), with the cost of each budget.

    python benchmarks/stability.py [--model cnn | --ckpt CKPT] [--n 8]
        [--lime-samples 250 500 1000 2000 4000] [--shap-permutations 1 2 4 8]

Correlations are taken over the ``xai.window``-bp features (per-nucleotide scores summed
per window), the units LIME and SHAP attribute to.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from glmxai.xai.job import run as explain
from glmxai.xai.store import load_npz

from common import compose, print_table, quick_checkpoint, quiet_logs


def feature_scores(folder: Path, window: int) -> np.ndarray:
    scores = load_npz(folder / "attributions.npz")["scores"]
    return np.add.reduceat(scores, np.arange(0, scores.shape[1], window), axis=1)


def compare(ckpt: Path, tmp: Path, method: str, budget: str, value: int, n: int, overrides: list[str]) -> dict:
    runs, metas = [], []
    for seed in (0, 1):
        folder = tmp / f"{method}-{value}-{seed}"
        cfg = compose("explain", [f"ckpt_path={ckpt}", f"xai={method}", f"xai.{budget}={value}", f"explain.n={n}",
                                  f"explain.seed={seed}", *overrides], folder)
        metas.append(explain(cfg))
        runs.append(feature_scores(folder, int(cfg.xai.window)))
    rho = np.array([spearmanr(a, b).statistic for a, b in zip(*runs)])
    return {"method": method, "budget": f"{budget}={value}", "evals/seq": metas[1]["evaluations_per_sequence"],
            "s/seq": metas[1]["seconds_per_sequence"],  # the second run: libraries warmed up
            "mean rho": float(np.nanmean(rho)), "min rho": float(np.nanmin(rho))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn", help="model to train briefly when no --ckpt is given")
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--n", type=int, default=8, help="sequences explained per setting and seed")
    parser.add_argument("--lime-samples", type=int, nargs="*", default=[250, 500, 1000, 2000, 4000])
    parser.add_argument("--shap-permutations", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for explain.py")
    args = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = args.ckpt or quick_checkpoint(args.model, tmp / "train")
        rows = [compare(ckpt, tmp, "lime", "num_samples", v, args.n, args.overrides) for v in args.lime_samples]
        rows += [compare(ckpt, tmp, "shap", "permutations", v, args.n, args.overrides) for v in args.shap_permutations]
    print_table(rows, f"seed-to-seed stability, {args.n} sequences, torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
