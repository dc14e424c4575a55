"""Stability of LIME and SHAP attributions against their sample budget and estimator: per
sequence, the Spearman rank correlation and the top-k overlap of the feature attributions of
two runs that differ only in ``explain.seed`` (``--vary seed``: the samples; the background pool
too where ``xai.background_seed=null``), only in ``xai.background_seed`` (``--vary
background``: the shared background pool, same samples' seed) or in both (``--vary both``:
every random choice), with the cost of each setting.

    python benchmarks/stability.py [--model cnn | --ckpt CKPT] [--n 8] [--top-k 5] [--vary seed|background|both]
        [--settings "xai=lime xai.num_samples=1000" "xai=shap xai.permutations=1" ...]

Hydra overrides for every job go before ``--settings`` (which takes every word after it). Each
setting is space-separated Hydra overrides of one explain.py job. Correlations are taken
over the ``xai.window``-bp features (per-nucleotide scores summed per window), the units LIME
and SHAP attribute to; top-k overlap is |top k of run 1 & top k of run 2| / k by |attribution|.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from glmxai.jobs.explain import run as explain
from glmxai.store import load_npz

from common import compose, print_table, quick_checkpoint, quiet_logs

SETTINGS = ["xai=lime xai.link=identity xai.background_seed=null xai.n_backgrounds=16 xai.interactions=0", "xai=lime",
            "xai=lime xai.n_backgrounds=1 xai.interactions=0", "xai=lime xai.n_backgrounds=1",
            "xai=shap xai.link=identity xai.background_seed=null", "xai=shap"]
VARIED = {"seed": ("explain.seed",), "background": ("xai.background_seed",),
          "both": ("explain.seed", "xai.background_seed")}


def feature_scores(folder: Path, window: int) -> np.ndarray:
    scores = load_npz(folder / "attributions.npz")["scores"]
    return np.add.reduceat(scores, np.arange(0, scores.shape[1], window), axis=1)


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Shared share of the k features of largest |attribution| in ``a`` and in ``b``."""
    top = [set(np.argsort(-np.abs(x), kind="stable")[:k].tolist()) for x in (a, b)]
    return len(top[0] & top[1]) / k


def compare(ckpt: Path, folder: Path, setting: str, n: int, top_k: int, vary: str, overrides: list[str]) -> dict:
    runs, metas = [], []
    for seed in (0, 1):
        varied = [f"{key}={seed}" for key in VARIED[vary]]
        cfg = compose("explain", [f"ckpt_path={ckpt}", *setting.split(), f"explain.n={n}", *varied, "logger=none",
                                  *overrides], folder / str(seed))
        metas.append(explain(cfg))
        runs.append(feature_scores(folder / str(seed), int(cfg.xai.window)))
    rho = np.array([spearmanr(a, b).statistic for a, b in zip(*runs)])
    overlap = np.array([top_k_overlap(a, b, top_k) for a, b in zip(*runs)])
    return {"setting": setting, "evals/seq": metas[1]["evaluations_per_sequence"],
            "s/seq": metas[1]["seconds_per_sequence"],  # the second run: libraries warmed up
            "mean rho": float(np.nanmean(rho)), "min rho": float(np.nanmin(rho)),
            f"top-{top_k} overlap": float(overlap.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn", help="model to train briefly when no --ckpt is given")
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--n", type=int, default=8, help="sequences explained per setting and seed")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--vary", choices=tuple(VARIED), default="seed",
                        help="what differs between the two runs: explain.seed, xai.background_seed or both")
    parser.add_argument("--settings", nargs="*", default=SETTINGS)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every explain.py job")
    args = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = args.ckpt or quick_checkpoint(args.model, tmp / "train")
        rows = [compare(ckpt, tmp / str(i), setting, args.n, args.top_k, args.vary, args.overrides)
                for i, setting in enumerate(args.settings)]
    print_table(rows, f"stability across {' and '.join(VARIED[args.vary])}, "
                      f"{args.n} sequences, torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
