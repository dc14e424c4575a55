"""Ground-truth AUROC of explanation settings on synthetic data, measured in one run on the
same checkpoint: per setting, the mean over correctly predicted sequences with a motif mask of
the per-sequence AUROC of |scores| for the planted motif positions (``analysis.ground_truth``,
as ``analyze.py`` computes it), with its cost.

    python benchmarks/ground_truth_variants.py --ckpt CKPT [--n 200] \\
        [--settings "xai=ig xai.baseline=zeros" "xai=ig" "xai=ism" ...]

Hydra overrides for every job go before ``--settings`` (which takes every word after it). Each
setting is one explain.py job (space-separated Hydra overrides) on the first ``--n``
test sequences.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from glmxai.explain_runs import load_run
from glmxai.jobs.explain import run as explain
from glmxai.stats import mask_metrics, summarize_masks

from common import compose, print_table, quiet_logs

SETTINGS = ["xai=ig xai.baseline=zeros xai.n_steps=50", "xai=ig xai.baseline=zeros xai.n_steps=50 "
            "xai.gradient_correction=true", "xai=ig xai.baseline=background xai.n_steps=50", "xai=ig xai.n_steps=50",
            "xai=ig", "xai=ism"]


def measure(ckpt: Path, folder: Path, setting: str, n: int, overrides: list[str]) -> dict:
    meta = explain(compose("explain", [f"ckpt_path={ckpt}", f"explain.n={n}", *setting.split(), *overrides], folder))
    run = load_run(folder)
    summary = summarize_masks(mask_metrics(run.scores, run.masks, run.labels, run.probs))
    return {"setting": setting, "evals/seq": meta["evaluations_per_sequence"], "s/seq": meta["seconds_per_sequence"],
            "n correct": summary["n_correct"], "GT AUROC": summary["auroc_correct_mean"],
            "GT AUPRC": summary["auprc_correct_mean"]}


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
