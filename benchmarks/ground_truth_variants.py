"""Ground-truth AUROC of explanation settings on synthetic data, measured in one run on the
same checkpoint: per setting, the mean over correctly predicted sequences with a motif mask of
the per-sequence AUROC and AUPRC of |scores| for the planted motif positions (as ``analyze.py``
computes them), the decoy ratio (mean |scores| on motifs planted outside their functional window
over mean |scores| on the motifs that make the label, correctly predicted promoters;
``glmxai.stats.decoy_ratio``), the same ratio for the positions at least 3 bp from every motif
(``background ratio``: what a decoy gets beyond it is the motif), with its cost.

    python benchmarks/ground_truth_variants.py --ckpt CKPT [--n 200] [data=synthetic data.decoys=K] \\
        [--settings "xai=ig xai.baseline=zeros" "xai=ig" "xai=ism" ...]

Hydra overrides for every job go before ``--settings`` (which takes every word after it): e.g.
``data=synthetic data.decoys=8`` explains a model on a grammar with more decoys than it was trained on (the
decoy-rich benchmark of docs/scale.md trains on ``data.decoys=2|4|8``). Each setting is one
explain.py job (space-separated Hydra overrides) on the first ``--n`` test sequences.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from glmxai.allowlist import DATA_MODULES, build
from glmxai.data.datamodule import SyntheticDataModule
from glmxai.data.synthetic import SyntheticPromoterGenerator
from glmxai.explain_runs import load_run
from glmxai.jobs.explain import run as explain
from glmxai.stats import decoy_ratio, mask_metrics, summarize_masks

from common import compose, print_table, quiet_logs

SETTINGS = ["xai=ig xai.baseline=zeros xai.n_steps=50", "xai=ig xai.baseline=zeros xai.n_steps=50 "
            "xai.gradient_correction=true", "xai=ig xai.baseline=background xai.n_steps=50", "xai=ig xai.n_steps=50",
            "xai=ig", "xai=ism"]


def decoy_and_background_masks(run) -> tuple[np.ndarray, np.ndarray]:
    """(N, L) bool each: the explained rows' decoy motifs and their positions at least 3 bp from every
    motif, from the synthetic data the run explained."""
    data = build(run.data_config, DATA_MODULES, str(run.meta_path), "data_config")
    if not isinstance(data, SyntheticDataModule):
        return np.zeros_like(run.masks), np.zeros_like(run.masks)
    table = data.table(str(run.meta["split"]))
    return (SyntheticPromoterGenerator.decoy_masks(table)[run.index],
            SyntheticPromoterGenerator.motif_free_masks(table)[run.index])


def measure(ckpt: Path, folder: Path, setting: str, n: int, overrides: list[str]) -> dict:
    meta = explain(compose("explain", [f"ckpt_path={ckpt}", f"explain.n={n}", *setting.split(), *overrides], folder))
    run = load_run(folder)
    summary = summarize_masks(mask_metrics(run.scores, run.masks, run.labels, run.probs))
    decoys, background = decoy_and_background_masks(run)
    return {"setting": setting, "evals/seq": meta["evaluations_per_sequence"], "s/seq": meta["seconds_per_sequence"],
            "n correct": summary["n_correct"], "GT AUROC": summary["auroc_correct_mean"],
            "GT AUPRC": summary["auprc_correct_mean"],
            "decoy ratio": decoy_ratio(run.scores, run.masks, decoys, run.labels, run.probs),
            "background ratio": decoy_ratio(run.scores, run.masks, background, run.labels, run.probs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="a checkpoint trained on synthetic data")
    parser.add_argument("--n", type=int, default=200, help="test sequences explained per setting")
    parser.add_argument("--settings", nargs="*", default=SETTINGS)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every explain.py job")
    args = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(args.ckpt, Path(tmp, str(i)), setting, args.n, ["logger=none", *args.overrides])
                for i, setting in enumerate(args.settings)]
    print_table(rows, f"ground truth on {args.ckpt}, first {args.n} test sequences, torch threads "
                      f"{torch.get_num_threads()}")


if __name__ == "__main__":
    main()
