"""Cheaper forwards (``explain.fast``): per candidate transform of each checkpoint's forward, the
speed-up of p(promoter) throughput over the reference ``predict_proba`` (each the best over
batch sizes 32, 64, 256) and the largest |p_fast - p_reference| over the checkpoint's test split
(the data recorded in it, or ``data=`` overrides), and whether the library keeps it
(``glmxai.xai.fast_forward.KEPT``: within 1e-3, and a median speed-up of at least 1.1x over
repeated runs of this script on every checkpoint of the family). The candidates the library
dropped are defined here; figures and decisions: docs/scale.md, "Cheaper forwards".

    python benchmarks/fast_forward.py --ckpt CKPT [--ckpt CKPT ...] [--time-n 128] [--threads 1]
        [--candidates bf16 int8_dynamic ...] [hydra overrides for the data, e.g. data.root=DIR]

Throughput is timed on the first ``--time-n`` test sequences, after one warm-up call per batch
size; building a transform and its first pass over the test split (where torch.compile compiles)
is not in the figure but printed as ``setup s``.
"""
from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from torch import nn

from glmxai.allowlist import DATA_MODULES, build
from glmxai.data.encoding import to_codes
from glmxai.models.base import Backbone
from glmxai.models.build import load_classifier
from glmxai.xai.fast_forward import CANDIDATES, KEPT, TOLERANCE, FastForward

from common import best_throughput, compose, print_table, quiet_logs

BATCH_SIZES = (32, 64, 256)


# Candidates tried and dropped from the library (docs/scale.md), kept here so their figures can be re-measured.
def bf16_autocast(backbone: Backbone):
    """The forward under CPU autocast to bfloat16 (matmuls and convolutions in bf16)."""
    def forward(inputs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return backbone(inputs).float()
    return forward


def int8_dynamic(backbone: Backbone):
    """A copy with every ``nn.Linear`` dynamically quantized to int8 (activations quantized per batch)."""
    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(backbone), {nn.Linear}, dtype=torch.qint8)


def fold_batch_norm(backbone: Backbone):
    """A copy with each eval-mode batch norm folded into the convolution before it (CNN)."""
    folded = copy.deepcopy(backbone)
    for sequential in [m for m in folded.modules() if isinstance(m, nn.Sequential)]:
        layers = list(sequential)
        for i in range(len(layers) - 1):
            if isinstance(layers[i], nn.Conv1d) and isinstance(layers[i + 1], nn.BatchNorm1d):
                sequential[i] = torch.nn.utils.fusion.fuse_conv_bn_eval(layers[i], layers[i + 1])
                sequential[i + 1] = nn.Identity()
    return folded


def jit_frozen(backbone: Backbone):
    """TorchScript trace of the forward (on the first batch), frozen and ``optimize_for_inference``."""
    state = {}

    class Positional(nn.Module):
        def __init__(self, keys):
            super().__init__()
            self.inner, self.keys = backbone, keys

        def forward(self, *tensors):
            return self.inner(dict(zip(self.keys, tensors)))

    def forward(inputs):
        keys = tuple(sorted(inputs))
        if "traced" not in state:
            traced = torch.jit.trace(Positional(keys).eval(), tuple(inputs[k] for k in keys), check_trace=False)
            state["traced"] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        return state["traced"](*(inputs[k] for k in keys))
    return forward


TRANSFORMS = {"bf16": bf16_autocast, "int8_dynamic": int8_dynamic, "fold_bn": fold_batch_norm,
              "jit_freeze": jit_frozen, **CANDIDATES}


def applies(name: str, backbone: Backbone) -> bool:
    """Whether candidate ``name`` changes anything for this backbone."""
    if name == "fold_bn":
        return any(isinstance(m, nn.BatchNorm1d) for m in backbone.modules())
    return True


def predict_throughput(predict, codes: np.ndarray) -> float:
    """Best sequences/s of ``predict(codes, batch_size)`` over ``BATCH_SIZES``, each after a warm-up
    call, the best of up to 10 passes (passes stop once 1 s has been spent)."""
    return best_throughput(lambda first, last: predict(codes[first:last], last - first), len(codes), BATCH_SIZES,
                           passes=10, min_seconds=1.0)


def test_codes(ckpt: Path, overrides: list[str]) -> np.ndarray:
    """Integer codes of the checkpoint's test split: the ``data=`` overrides' data, else the recorded one."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose("explain", [f"ckpt_path={ckpt}", *overrides], tmp)
    if cfg.get("data") is not None:
        datamodule = instantiate(cfg.data)
    else:
        record = load_classifier(ckpt).hparams.get("data") or {}
        datamodule = build(record["config"], DATA_MODULES, str(ckpt), "data.config")
    return to_codes(list(datamodule.table("test").sequences))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, action="append", required=True, help="checkpoint (repeatable)")
    parser.add_argument("--time-n", type=int, default=128, help="test sequences timed per batch size")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--candidates", nargs="+", default=list(TRANSFORMS), choices=list(TRANSFORMS))
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for the data (explain.py's)")
    args = parser.parse_args()
    quiet_logs()
    torch.set_num_threads(args.threads)
    rows = []
    for ckpt in args.ckpt:
        backbone = load_classifier(ckpt).backbone.eval()
        family = type(backbone).__name__
        codes = test_codes(ckpt, args.overrides)
        timed = codes[: args.time_n]
        reference = backbone.predict_proba(codes, batch_size=256)[:, 1]
        base = predict_throughput(lambda c, b, model=backbone: model.predict_proba(c, batch_size=b), timed)
        for name in args.candidates:
            if not applies(name, backbone):
                continue
            start = time.perf_counter()
            try:
                fast = FastForward(backbone, name, TRANSFORMS[name])
                p = fast.predict_proba(codes, batch_size=256)[:, 1]
            except Exception as error:  # a transform that cannot run on this model is a result too
                rows.append({"model": family, "checkpoint": ckpt.parents[1].name, "candidate": name,
                             "seq/s ref": base, "speed-up": float("nan"), "max |dp|": float("nan"),
                             "setup s": float("nan"), "kept": f"fails: {type(error).__name__}"})
                continue
            setup = time.perf_counter() - start
            speed = predict_throughput(fast.predict_proba, timed)
            diff = float(np.abs(p.astype(np.float64) - reference).max())
            rows.append({"model": family, "checkpoint": ckpt.parents[1].name, "candidate": name,
                         "seq/s ref": base, "speed-up": speed / base, "max |dp|": diff, "setup s": setup,
                         "within": "yes" if diff <= TOLERANCE else "no",
                         "kept": "KEPT" if KEPT.get(family) == name else "-"})
            print(rows[-1], flush=True)
    for row in rows:
        row.setdefault("within", "-")
        row["kept"] = row.pop("kept")
    print_table(rows, f"cheaper forwards, test split, p(promoter) tolerance {TOLERANCE}, torch threads "
                      f"{torch.get_num_threads()}, timed on {args.time_n} sequences, batch sizes {BATCH_SIZES}")


if __name__ == "__main__":
    main()
