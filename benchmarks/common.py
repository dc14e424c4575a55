"""What the benchmark scripts share: composing the project's Hydra configs outside a Hydra
job, a quickly trained checkpoint to explain, timing batched throughput, and printing a table."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from glmxai.api import config as compose  # conf/<name>.yaml with overrides, its run folder set

QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def quick_checkpoint(model: str, output_dir: str | Path, overrides: tuple[str, ...] = ("trainer.max_epochs=2",),
                     n_train: int = 1000) -> Path:
    """Train ``model`` briefly on small synthetic data; the best checkpoint's path. The cost
    of a model evaluation does not depend on how well the model is trained."""
    from glmxai.jobs.train import run

    cfg = compose("train", [f"model={model}", "logger=none", *QUIET, f"data.n_train={n_train}", "data.n_val=200",
                            "data.n_test=200", *overrides], output_dir)
    return Path(run(cfg)["checkpoint"])


def best_throughput(run: Callable[[int, int], object], n: int, sizes, passes: int = 1,
                    min_seconds: float = 0.0) -> float:
    """Items/s of ``run(first, last)`` over items 0..n in batches of each of ``sizes``, the best over
    sizes and over up to ``passes`` timed passes per size (stopping once ``min_seconds`` are spent),
    each size after a warm-up batch (on a CPU a smaller batch can be faster per item: its
    activations stay in cache)."""
    best = 0.0
    for size in sizes:
        run(0, min(size, n))
        spent = 0.0
        for _ in range(passes):
            start = time.perf_counter()
            for first in range(0, n, size):
                run(first, min(first + size, n))
            seconds = time.perf_counter() - start
            best, spent = max(best, n / seconds), spent + seconds
            if spent >= min_seconds:
                break
    return best


def quiet_logs() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "glmxai"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def print_table(rows: list[dict], title: str) -> None:
    """Rows of equal keys as an aligned text table (floats: 3 significant digits, whole numbers from 100)."""
    print(f"\n{title}")
    if not rows:
        return
    cells = [[_cell(v) for v in row.values()] for row in rows]
    header = list(rows[0])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths)))
