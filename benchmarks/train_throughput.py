"""Training and inference throughput (sequences/s) per model.

    python benchmarks/train_throughput.py [--models cnn dnabert dnabert2 nt hyenadna]
        [--steps 20] [--batch-size 32] [hydra overrides, e.g. trainer=gpu model.backbone.size=base]

Training: Lightning fit on synthetic 300-bp sequences, optimizer steps timed after
``--warmup`` steps (forward + backward + AdamW, tokenization included). Inference: the
model's batched ``predict_proba`` on integer codes (the path explanations take), no gradients;
tokenization alone, from strings (``encode``) and from integer codes (``encode_codes``).
"""
from __future__ import annotations

import argparse
import tempfile
import time

import lightning as L
import torch
from hydra.utils import instantiate

from glmxai.data.encoding import to_codes, to_strings
from glmxai.models.build import build_classifier

from common import QUIET, compose, print_table, quiet_logs


class StepTimer(L.Callback):
    """Wall time from the start of batch ``warmup`` to the end of the last batch."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.steps = warmup, None, None, 0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx >= self.warmup:
            self.steps += 1
            self.end = time.perf_counter()


def measure(model: str, steps: int, warmup: int, batch_size: int, infer_n: int, overrides: list[str]) -> dict:
    n_train = batch_size * (steps + warmup)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose("train", [f"model={model}", "logger=none", "callbacks=none", *QUIET,
                                f"data.batch_size={batch_size}", f"data.n_train={n_train}", "data.n_val=64",
                                "data.n_test=64", "trainer.max_epochs=1", "++trainer.limit_val_batches=0",
                                "++trainer.num_sanity_val_steps=0", *overrides], tmp)
        L.seed_everything(0)
        data = instantiate(cfg.data)
        module = build_classifier(cfg.model, data.table("train").sequences)
        timer = StepTimer(warmup)
        trainer = instantiate(cfg.trainer, callbacks=[timer], logger=False)
        trainer.fit(module, datamodule=data)
        train_rate = timer.steps * batch_size / (timer.end - timer.start)
        backbone = module.backbone.eval()
        codes = to_codes(list(data.table("train").sequences[:infer_n]))
        backbone.predict_proba(codes[:batch_size], batch_size=batch_size)  # warm-up
        start = time.perf_counter()
        backbone.predict_proba(codes, batch_size=256)
        infer_rate = len(codes) / (time.perf_counter() - start)
        start = time.perf_counter()
        backbone.tokenizer.encode(to_strings(codes))
        strings_rate = len(codes) / (time.perf_counter() - start)
        start = time.perf_counter()
        backbone.tokenizer.encode_codes(codes)
        codes_rate = len(codes) / (time.perf_counter() - start)
        return {"model": model, "params": f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f}M",
                "device": str(backbone.device), "train seq/s": train_rate, "infer seq/s": infer_rate,
                "tokenize strings seq/s": strings_rate, "tokenize codes seq/s": codes_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "dnabert", "dnabert2", "nt", "hyenadna"])
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--infer-n", type=int, default=1024, help="sequences for the inference figure")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides applied to every model")
    args = parser.parse_args()
    quiet_logs()
    rows = [measure(m, args.steps, args.warmup, args.batch_size, args.infer_n, args.overrides) for m in args.models]
    print_table(rows, f"throughput, 300-bp sequences, batch {args.batch_size}, torch threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
