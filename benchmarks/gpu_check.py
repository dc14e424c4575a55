"""Does every model train, predict and explain on a CUDA GPU, with the CPU's answers?

    python benchmarks/gpu_check.py [--models cnn dnabert dnabert2 nt nt2 hyenadna] [--methods ism ig]
        [--out DIR] [--train trainer=gpu ...]

Per model: a short fit on small synthetic data through train.py's job (``--train``: its
trainer overrides, by default ``trainer=gpu``, bf16-mixed), then explain.py's job with each method
on the first test sequences (``--n``), the same checkpoint on the GPU and on the CPU in float32.
Printed per model and method: the largest |GPU - CPU| difference of p(promoter) and of the scores
(relative to the largest |score|), and seconds per explained sequence on each
device. The CPU side is the reference: the project's tests run there. cuDNN convolutions use
TF32 on a GPU by default (10-bit mantissa), so differences near 1e-3 of the scale are rounding;
a device bug (a tensor left on the CPU, a mask built on the wrong device) fails or differs at
the scale of the scores. Exits 1, naming them, if any model fails or differs by more than 1e-2.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from glmxai.io import read_json
from glmxai.jobs.explain import run as explain
from glmxai.store import load_npz

from common import compose, print_table, quick_checkpoint, quiet_logs

MODELS = ["cnn", "dnabert", "dnabert2", "nt", "nt2", "hyenadna"]
TOLERANCE = 1e-2  # of the scale compared: well above TF32 rounding, far below a wrong answer


def check_model(model: str, args: argparse.Namespace, folder: Path) -> list[dict]:
    """The rows of one model: fit it, then explain its checkpoint on ``args.device`` and on the CPU."""
    start = time.perf_counter()
    ckpt = quick_checkpoint(model, folder / "train", (f"trainer.max_epochs={args.epochs}", *args.train), args.n_train)
    fit_seconds = time.perf_counter() - start
    metrics = read_json(folder / "train" / "metrics.json")
    rows = []
    for method in args.methods:
        runs = {}
        for side, name in (("gpu", args.device), ("cpu", "cpu")):
            out = folder / f"{method}-{side}"
            meta = explain(compose("explain", [f"ckpt_path={ckpt}", f"xai={method}", f"explain.n={args.n}",
                                               f"explain.device={name}", "logger=none"], out))
            runs[side] = (load_npz(out / "attributions.npz"), meta)
        (gpu, gpu_meta), (cpu, cpu_meta) = runs["gpu"], runs["cpu"]
        scale = float(np.abs(cpu["scores"]).max()) or 1.0
        p_difference = float(np.abs(gpu["probs"] - cpu["probs"]).max())
        score_difference = float(np.abs(gpu["scores"] - cpu["scores"]).max()) / scale
        rows.append({"model": model, "test MCC": metrics.get("test/mcc", float("nan")), "fit s": fit_seconds,
                     "method": method, "max |dp|": p_difference, "max |d score| / scale": score_difference,
                     "GPU s/seq": gpu_meta["seconds_per_sequence"], "CPU s/seq": cpu_meta["seconds_per_sequence"],
                     "ok": p_difference <= TOLERANCE and score_difference <= TOLERANCE})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--methods", nargs="+", default=["ism", "ig"])
    parser.add_argument("--n", type=int, default=8, help="sequences explained per method and device")
    parser.add_argument("--n-train", type=int, default=4000, help="synthetic training sequences of the fit")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the fit (enough for scores above rounding)")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows here as JSON")
    parser.add_argument("--train", nargs="*", default=["trainer=gpu"], help="train.py overrides for the fit")
    parser.add_argument("--device", default="cuda", help="the device compared with the CPU (cpu: a dry run)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check.py: no CUDA device is visible (torch.cuda.is_available() is False)")
    quiet_logs()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            try:
                rows += check_model(model, args, Path(tmp) / model)
            except Exception as error:  # one model's failure is a finding; the others still run
                rows.append({"model": model, "error": f"{type(error).__name__}: {error}"})
                print(f"{model}: {type(error).__name__}: {error}", flush=True)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    print(f"\n{name} against the CPU, torch {torch.__version__}")
    print_table([r for r in rows if "error" not in r], "GPU against CPU: the same checkpoint, float32")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_check.json").write_text(json.dumps(rows, indent=1))
    failed = [f"{r['model']} {r.get('method', '')}".strip() for r in rows if "error" in r or not r["ok"]]
    if failed:
        raise SystemExit(f"gpu_check.py: {len(failed)} failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
