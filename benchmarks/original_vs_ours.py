"""The original study's way of explaining a token model versus ours, as a ratio measured
in one run on the same model (DNABERT, overlapping 6-mers, by default).

    python benchmarks/original_vs_ours.py [--ckpt CKPT] [--n 1] [--original-samples 4000]

Original: ``lime.lime_text.LimeTextExplainer`` on the sequence's k-mers as a space-separated
token string, 4,000 samples, masked tokens deleted (LIME's bag-of-words default); the
classifier function makes one tokenizer call per perturbed string and runs the model in
batches of 128. Ours: ``explain.py xai=lime`` (perturbed integer codes, masked 6-bp windows
replaced from a dinucleotide-shuffled background, batches of ``explain.batch_size``,
cached unperturbed prediction, inference mode), at its default sample count and at the
original's, so that the speed-up splits into fewer samples and cheaper evaluations.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from lime.lime_text import LimeTextExplainer

from glmxai.models.build import load_classifier
from glmxai.xai.job import run as explain

from common import compose, print_table, quick_checkpoint, quiet_logs


def original_lime(backbone, sequence: str, num_samples: int, batch_size: int, seed: int) -> int:
    """Explain ``sequence`` the original way; returns the number of model evaluations."""
    tokenizer = backbone.tokenizer
    ids = tokenizer.token_to_id
    cls, sep, unk, pad = ids["[CLS]"], ids["[SEP]"], tokenizer.unk_token_id, tokenizer.pad_token_id
    evaluations = 0

    def tokenize(text: str) -> list[int]:  # one tokenizer call per perturbed token string
        return [cls, *(ids.get(token, unk) for token in text.split()), sep]

    def classifier_fn(texts: list[str]) -> np.ndarray:
        nonlocal evaluations
        evaluations += len(texts)
        out = []
        for start in range(0, len(texts), batch_size):
            rows = [tokenize(text) for text in texts[start : start + batch_size]]
            width = max(len(row) for row in rows)
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            for i, row in enumerate(rows):
                input_ids[i, : len(row)] = torch.tensor(row)
            inputs = {"input_ids": input_ids, "attention_mask": (input_ids != pad).long()}
            with torch.no_grad():
                out.append(torch.softmax(backbone(inputs), dim=-1).numpy())
        return np.concatenate(out)

    text = " ".join(token for token, _, _ in tokenizer.pieces(sequence)[1:-1])
    LimeTextExplainer(random_state=seed).explain_instance(text, classifier_fn, labels=(1,), num_features=10,
                                                          num_samples=num_samples)
    return evaluations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dnabert", help="k-mer model to train briefly when no --ckpt is given")
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--n", type=int, default=1, help="sequences explained each way")
    parser.add_argument("--original-samples", type=int, default=4000)
    parser.add_argument("--original-batch-size", type=int, default=128)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for explain.py")
    args = parser.parse_args()
    quiet_logs()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.ckpt or quick_checkpoint(args.model, Path(tmp, "train"), ("trainer=debug",), n_train=320)
        base = [f"ckpt_path={ckpt}", f"explain.n={args.n}", "xai=lime", *args.overrides]
        cfg = compose("explain", base, tmp)
        backbone = load_classifier(ckpt).backbone.eval()
        sequences = instantiate(cfg.data).table(str(cfg.explain.split)).sequences[: args.n]
        start = time.perf_counter()
        evaluations = sum(original_lime(backbone, seq, args.original_samples, args.original_batch_size, seed)
                          for seed, seq in enumerate(sequences))
        original = {"way": f"original: LimeText, {args.original_samples} samples, deletion, batch "
                           f"{args.original_batch_size}", "evals/seq": evaluations / args.n,
                    "s/seq": (time.perf_counter() - start) / args.n}
        original["evals/s"] = original["evals/seq"] / original["s/seq"]
        rows = [original]
        for samples in dict.fromkeys([int(cfg.xai.num_samples), args.original_samples]):
            meta = explain(compose("explain", [*base, f"xai.num_samples={samples}"], Path(tmp, f"ours{samples}")))
            rows.append({"way": f"ours: lime, {samples} samples, replacement, batch {cfg.explain.batch_size}",
                         "evals/seq": meta["evaluations_per_sequence"], "s/seq": meta["seconds_per_sequence"],
                         "evals/s": meta["evaluations_per_second"]})
        for row in rows:
            row["speed-up"] = original["s/seq"] / row["s/seq"]
        name = backbone.__class__.__name__
    print_table(rows, f"original way vs ours, {name}, {args.n} sequence(s), torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
