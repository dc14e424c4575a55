"""The original study's way of explaining versus ours at equal quality: the ground-truth AUROC
and cost of the original LIME (4,000 samples, words deleted) and of a ladder of budgets of each
of our methods, on the same test sequences of one checkpoint trained on synthetic data.

    python benchmarks/original_vs_ours.py --ckpt CKPT [--n 30] [--original-samples 4000] \\
        [--speed-n 2] [--methods lime shap ig ism] [--full-ladder] [explain.threads=1 ...]

Original: ``lime.lime_text.LimeTextExplainer`` with LIME's defaults (bag of words, a masked word
deleted from the text) and 4,000 samples, keeping every word's weight (``num_features`` = all
words, so that it ranks every base); the classifier function turns each perturbed text into
model input on its own and runs the model in batches of 128. Its words:
- a model with tokens (DNABERT): its tokens (overlapping 6-mers) as a space-separated string;
  a perturbed string becomes the kept tokens' ids between the model's special tokens, so every
  token after a deleted one moves up a position;
- a model without tokens (the CNN): the sequence as non-overlapping 6-bp words, as the study
  would have applied it; the kept words are joined and the shortened sequence is padded with N
  at the 3' end back to the model's length (so deletion moves every later base 5'-ward).
A word's weight is shared equally by the bases it covers and summed where words overlap
(overlapping k-mers); with the bag of words, every occurrence of a word carries its weight.
Only the sequences that enter the ground-truth mean (those with a motif mask) are explained
the original way.

Ours: explain.py jobs (``glmxai.jobs.explain.run``) on the first ``--n`` test sequences, each
method's budgets cheapest first (``LADDERS``); a method's ladder stops at the first setting
whose GT AUROC reaches the original's (``--full-ladder``: run every setting). GT AUROC is
analyze.py's (``glmxai.analysis.ground_truth``): the mean over correctly predicted sequences
with a motif mask of the per-sequence AUROC of |score| for the motif positions. speed-up =
original s/seq / the row's s/seq. The row "ours at the original's samples" (LIME at 4,000
samples on the first ``--speed-n`` sequences, timing only) keeps the split into fewer samples
and cheaper evaluations visible.

Hydra overrides (e.g. ``explain.threads=1``) go to every explain.py job; ``explain.threads``
also sets the torch threads of the original way. Without ``--ckpt``, ``--model`` is trained
briefly on synthetic data first. The first 30 test sequences of the synthetic data hold 20 with
a motif mask. On one CPU thread: the CNN about 1 minute (with ``--full-ladder``), DNABERT about
18 minutes, 12 of them the original way (4,000 evaluations of each of 20 sequences).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from lime.lime_text import LimeTextExplainer

from glmxai.explain_runs import load_run
from glmxai.jobs.explain import prepare, torch_threads
from glmxai.jobs.explain import run as explain
from glmxai.stats import mask_metrics, summarize_masks

from common import compose, print_table, quick_checkpoint, quiet_logs

LADDERS = {"lime": [f"xai=lime xai.num_samples={s}" for s in (100, 250, 500, 1000)],
           "shap": [f"xai=shap xai.permutations=1 xai.n_backgrounds={b}" for b in (1, 2, 4, 8)],
           "ig": [f"xai=ig xai.n_steps={s}" for s in (8, 16, 32, 100)],
           "ism": ["xai=ism"]}
WORD = 6  # bp per word of a model without tokens


@dataclass
class Words:
    """A sequence as the original way's words: ``words`` and the [start, end) bases each covers."""

    words: list[str]
    spans: list[tuple[int, int]]

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def base_scores(self, weights: dict[str, float], length: int) -> np.ndarray:
        """Per-base scores (length,): each word's weight shared equally over its span, summed."""
        scores = np.zeros(length)
        for word, (start, end) in zip(self.words, self.spans):
            scores[start:end] += weights.get(word, 0.0) / (end - start)
        return scores


class OriginalInput:
    """Perturbed texts -> model inputs, one text at a time, the way the original study fed them."""

    def __init__(self, backbone, length: int):
        self.backbone, self.length = backbone, length
        self.tokenizer = backbone.tokenizer
        self.tokens = hasattr(self.tokenizer, "pieces")
        self.evaluations = 0
        if self.tokens:  # the special tokens the tokenizer puts before and after a sequence's tokens
            pieces = self.tokenizer.pieces("A" * length)
            spanned = [i for i, (_, start, _) in enumerate(pieces) if start >= 0]
            ids = self.tokenizer.token_to_id
            self.head = [ids[token] for token, _, _ in pieces[: spanned[0]]]
            self.tail = [ids[token] for token, _, _ in pieces[spanned[-1] + 1 :]]

    def words(self, sequence: str) -> Words:
        if self.tokens:
            pieces = [(token, start, end) for token, start, end in self.tokenizer.pieces(sequence) if start >= 0]
        else:
            pieces = [(sequence[i : i + WORD], i, min(i + WORD, len(sequence))) for i in range(0, len(sequence), WORD)]
        return Words([token for token, _, _ in pieces], [(start, end) for _, start, end in pieces])

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        self.evaluations += len(texts)
        if not self.tokens:
            return self.backbone.encode(["".join(text.split()).ljust(self.length, "N") for text in texts])
        ids, unk, pad = self.tokenizer.token_to_id, self.tokenizer.unk_token_id, self.tokenizer.pad_token_id
        rows = [[*self.head, *(ids.get(word, unk) for word in text.split()), *self.tail] for text in texts]
        input_ids = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
        return {"input_ids": input_ids, "attention_mask": (input_ids != pad).long()}


def original_scores(to_inputs: OriginalInput, sequence: str, samples: int, batch_size: int, seed: int) -> np.ndarray:
    """Per-base scores of ``sequence`` explained the original way."""
    backbone = to_inputs.backbone

    def classifier_fn(texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            with torch.no_grad():
                out.append(torch.softmax(backbone(to_inputs(texts[start : start + batch_size])), dim=-1).numpy())
        return np.concatenate(out)

    words = to_inputs.words(sequence)
    explanation = LimeTextExplainer(random_state=seed).explain_instance(
        words.text, classifier_fn, labels=(1,), num_features=len(set(words.words)), num_samples=samples)
    return words.base_scores(dict(explanation.as_list(label=1)), len(sequence))


def original_row(cfg, samples: int, batch_size: int) -> dict:
    """Explain the original way the selected sequences with a motif mask, with ``explain.threads``
    torch threads; the row of the table."""
    with torch_threads(cfg.explain.get("threads")):
        return _original_row(cfg, samples, batch_size)


def _original_row(cfg, samples: int, batch_size: int) -> dict:
    job = prepare(cfg)
    table, backbone = job.table, job.model.backbone
    if table.masks is None:
        raise ValueError(f"{table.source} has no ground-truth masks: explain a checkpoint trained on synthetic data")
    rows = np.flatnonzero(table.masks.any(axis=1) & ~table.masks.all(axis=1))
    if not len(rows):
        raise ValueError(f"none of the first {len(table.sequences)} sequences has a motif mask: raise --n")
    to_inputs = OriginalInput(backbone, job.codes.shape[1])
    start = time.perf_counter()
    scores = np.stack([original_scores(to_inputs, table.sequences[r], samples, batch_size, int(job.rows[r]))
                       for r in rows])
    seconds = (time.perf_counter() - start) / len(rows)
    evaluations = to_inputs.evaluations / len(rows)
    probs = job.model.p_promoter(job.codes[rows])
    words = "tokens" if to_inputs.tokens else f"{WORD}-bp words"
    return {"setting": f"original: LimeText {samples} samples, {words} deleted", "evals/seq": evaluations,
            "s/seq": seconds, **ground_truth(scores, table.masks[rows], table.labels[rows], probs)}


def cost(ckpt: Path, folder: Path, setting: str, n: int, overrides: list[str]) -> dict:
    """Run one explain.py job with ``setting`` (space-separated Hydra overrides); its cost."""
    meta = explain(compose("explain", [f"ckpt_path={ckpt}", f"explain.n={n}", *setting.split(), *overrides], folder))
    return {"setting": setting, "evals/seq": meta["evaluations_per_sequence"], "s/seq": meta["seconds_per_sequence"]}


def ours_row(ckpt: Path, folder: Path, setting: str, n: int, overrides: list[str]) -> dict:
    """One explain.py job's cost and ground truth; the row of the table."""
    row = cost(ckpt, folder, setting, n, overrides)
    run = load_run(folder)
    return {**row, **ground_truth(run.scores, run.masks, run.labels, run.probs)}


def ground_truth(scores: np.ndarray, masks: np.ndarray, labels: np.ndarray, probs: np.ndarray) -> dict:
    """analyze.py's ground-truth means over the correctly predicted sequences with a motif mask."""
    summary = summarize_masks(mask_metrics(scores, masks, labels, probs))
    return {"n correct": summary["n_correct"], "GT AUROC": summary["auroc_correct_mean"],
            "GT AUPRC": summary["auprc_correct_mean"]}


def ladder(settings: list[str], run_one, floor: float, full: bool) -> list[dict]:
    """Rows of ``settings`` run cheapest first, stopping after the first to reach ``floor``
    GT AUROC unless ``full``."""
    rows = []
    for setting in settings:
        rows.append(run_one(setting))
        if rows[-1]["GT AUROC"] >= floor and not full:
            break
    return rows


def cheapest(rows: list[dict], method: str, original: dict) -> dict:
    """The cheapest (fewest evaluations) of ``method``'s rows at the original's GT AUROC or better."""
    matching = [r for r in rows if r["setting"].startswith(f"xai={method}") and r["GT AUROC"] >= original["GT AUROC"]]
    if not matching:
        return {"method": method, "cheapest at GT AUROC >= original": "none in the ladder", "evals/seq": "-",
                "s/seq": "-", "GT AUROC": "-", "speed-up": "-"}
    best = min(matching, key=lambda r: r["evals/seq"])
    return {"method": method, "cheapest at GT AUROC >= original": best["setting"], "evals/seq": best["evals/seq"],
            "s/seq": best["s/seq"], "GT AUROC": best["GT AUROC"], "speed-up": original["s/seq"] / best["s/seq"]}


def our_rows(ckpt: Path, tmp: Path, args, floor: float, overrides: list[str]) -> list[dict]:
    """Each method's ladder on the first ``args.n`` sequences, after an untimed job on one
    sequence that pays the method's one-time costs (imports, first calls)."""
    def run_one(setting: str) -> dict:
        return ours_row(ckpt, tmp / setting.replace(" ", "_"), setting, args.n, overrides)

    rows = []
    for method in args.methods:
        cost(ckpt, tmp / f"warm-up_{method}", LADDERS[method][0], 1, overrides)
        rows += ladder(LADDERS[method], run_one, floor, args.full_ladder)
    return rows


def timing_row(ckpt: Path, folder: Path, samples: int, n: int, overrides: list[str]) -> dict:
    """Our LIME at the original's sample count on the first ``n`` sequences, cost only."""
    setting = f"xai=lime xai.num_samples={samples}"
    return {**cost(ckpt, folder, setting, n, overrides), "setting": f"{setting} (first {n} sequences, timing only)",
            "n correct": "-", "GT AUROC": "-", "GT AUPRC": "-"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dnabert", help="model to train briefly when no --ckpt is given")
    parser.add_argument("--ckpt", type=Path, help="a checkpoint trained on synthetic data")
    parser.add_argument("--n", type=int, default=30, help="first test sequences explained")
    parser.add_argument("--original-samples", type=int, default=4000)
    parser.add_argument("--original-batch-size", type=int, default=128)
    parser.add_argument("--speed-n", type=int, default=2, help="sequences of ours at the original's samples")
    parser.add_argument("--methods", nargs="+", default=list(LADDERS), choices=list(LADDERS))
    parser.add_argument("--full-ladder", action="store_true", help="run every setting, not only up to a match")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every explain.py job")
    args = parser.parse_args()
    quiet_logs()
    overrides = ["logger=none", *args.overrides]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = args.ckpt or quick_checkpoint(args.model, tmp / "train")
        original = original_row(compose("explain", [f"ckpt_path={ckpt}", f"explain.n={args.n}", *overrides],
                                        tmp / "original"), args.original_samples, args.original_batch_size)
        ours = our_rows(ckpt, tmp, args, original["GT AUROC"], overrides)
        rows = [original, *ours, timing_row(ckpt, tmp / "speed", args.original_samples, args.speed_n, overrides)]
    for row in rows:
        row["speed-up"] = original["s/seq"] / row["s/seq"]
    print_table(rows, f"original way vs ours, ground truth on the first {args.n} test sequences of {ckpt}, "
                      f"torch threads {torch.get_num_threads()}")
    print_table([cheapest(ours, method, original) for method in args.methods],
                f"equal quality: each method's cheapest setting with GT AUROC >= the original's "
                f"({original['GT AUROC']:.3f})")


if __name__ == "__main__":
    main()
