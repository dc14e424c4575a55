"""The model comparison (the seed study's Table 1) from training runs' ``metrics.json``: per
model and task its parameters, architecture, tokenizer, test accuracy / F1 / MCC / AUROC,
training minutes and hardware, beside published fine-tuned figures for the same task, each row
labelled pretrained or from scratch."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.data.negatives import kinds_of
from glmxai.io import read_json
from glmxai.report import Report, fmt

log = logging.getLogger(__name__)
METRICS = ("test/acc", "test/f1", "test/mcc", "test/auroc")
COLUMNS = ["model", "origin", "task", "added_negatives", "params", "architecture", "tokenizer", "acc", "f1", "mcc",
           "auroc", "epochs", "train_minutes", "hardware", "source"]


class TrainingRunError(ValueError):
    """A training run that cannot enter the table; names the file and the problem."""


def metrics_files(paths: Sequence[str | Path]) -> list[Path]:
    """Every ``metrics.json`` named: a file itself, or the ``metrics.json`` files under a folder."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            below = sorted(path.rglob("metrics.json"))
            if not below:
                raise TrainingRunError(f"{path}: no metrics.json under this folder (a run of train.py writes one)")
            found += below
        else:
            raise TrainingRunError(f"{path}: no such file or folder")
    return found


def _short(target: object) -> str:
    return str(target or "").rsplit(".", 1)[-1]


def _architecture(model: Mapping) -> str:
    """The backbone class with the arguments that size it (size, pooling, channels, ...)."""
    backbone = model.get("backbone") or {}
    keys = [k for k in ("size", "pooling", "channels", "kernel_sizes", "pool_sizes", "hidden") if k in backbone]
    args = ", ".join(f"{k}={backbone[k]}" for k in keys)
    config = backbone.get("config") or {}
    if isinstance(config, Mapping) and config:
        args += (", " if args else "") + ", ".join(f"{k}={v}" for k, v in sorted(config.items())
                                                   if k in ("d_model", "hidden_size", "num_hidden_layers", "n_layer"))
    return f"{_short(backbone.get('_target_')).removesuffix('Backbone')}({args})"


def _tokenizer(model: Mapping) -> str:
    tokenizer = model.get("tokenizer") or {}
    args = ", ".join(f"{k}={v}" for k, v in tokenizer.items() if k in ("k", "vocab_size"))
    return f"{_short(tokenizer.get('_target_')).removesuffix('Tokenizer')}({args})"


def _added_negatives(data: Mapping) -> str:
    """The kinds of negatives the run added to its training split (``data.added_negatives``), or "none"."""
    added = data.get("added_negatives") or {}
    if not isinstance(added, Mapping) or not added.get("kind"):
        return "none"
    return " + ".join(map(str, kinds_of(added)))


def run_checkpoint(path: Path) -> str | None:
    """The checkpoint a training run's ``metrics.json`` names. Where that path is gone (a run folder
    copied from the machine that trained it), the file of the same name under the run folder's
    ``checkpoints/``; where neither exists, the recorded path, for the reader's error to name."""
    metrics = read_json(path)
    recorded = metrics.get("checkpoint") if isinstance(metrics, dict) else None  # table_row names the problem
    if not recorded or Path(recorded).is_file():
        return recorded
    moved = path.parent / "checkpoints" / Path(recorded).name
    return str(moved) if moved.is_file() else recorded


def table_row(path: Path) -> dict:
    """One row of the model table from one ``metrics.json``."""
    try:
        metrics = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TrainingRunError(f"{path}: not a readable metrics.json ({error})") from None
    if not isinstance(metrics, dict):
        raise TrainingRunError(f"{path}: expected a JSON object")
    missing = [k for k in METRICS if not isinstance(metrics.get(k), (int, float))]
    if missing:
        raise TrainingRunError(f"{path}: no test metrics {missing} (a run with test=true writes them)")
    config = metrics.get("config") if isinstance(metrics.get("config"), dict) else {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    pretrained = model.get("pretrained") or model.get("pretrained_from")
    task = data.get("task") or Path(str(data.get("root") or data.get("path") or "")).name or metrics.get("data")
    seconds = metrics.get("train_seconds")
    origin = f"fine-tuned from {pretrained}" if pretrained else "from scratch"
    return {"model": model.get("name", "?"), "origin": origin, "task": task,
            "added_negatives": _added_negatives(data), "params": metrics.get("params"),
            "architecture": _architecture(model),
            "tokenizer": _tokenizer(model), "acc": metrics["test/acc"], "f1": metrics["test/f1"],
            "mcc": metrics["test/mcc"], "auroc": metrics["test/auroc"], "epochs": metrics.get("epochs"),
            "train_minutes": round(seconds / 60, 1) if isinstance(seconds, (int, float)) else None,
            "hardware": metrics.get("hardware", "not recorded"), "source": str(path)}


def model_table(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The model table of the runs under ``paths`` (see ``metrics_files``), ordered by task and MCC."""
    rows = [table_row(p) for p in metrics_files(paths)]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["task", "mcc"], ascending=[True, False],
                                                            ignore_index=True)


def published_table(published: Sequence[Mapping]) -> pd.DataFrame:
    """Published fine-tuned figures ``{model, task, mcc (in %), source}`` as table rows (MCC 0-1)."""
    return pd.DataFrame([{"model": p["model"], "origin": "pretrained, fine-tuned (published)", "task": p["task"],
                          "mcc": float(p["mcc"]) / 100, "source": p.get("source", "")} for p in published],
                        columns=["model", "origin", "task", "mcc", "source"])


def comparison_figure(ours: pd.DataFrame, published: pd.DataFrame):
    """Bars of test MCC per task: our runs (from scratch, or fine-tuned here) beside published
    fine-tuned models (hatched), one panel per task."""
    import matplotlib.pyplot as plt

    tasks = sorted(set(ours["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(5.0, 4.2 * len(tasks)), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        mine = ours[ours["task"] == task]
        theirs = published[published["task"] == task]
        labels = [f"{m}{'' if a == 'none' else ' + ' + a}\n({'scratch' if o == 'from scratch' else 'fine-tuned'})"
                  for m, o, a in zip(mine["model"], mine["origin"], mine["added_negatives"])]
        labels += [f"{m}\n(published)" for m in theirs["model"]]
        values = [*mine["mcc"], *theirs["mcc"]]
        colors = ["#4c72b0" if o == "from scratch" else "#55a868" for o in mine["origin"]] + ["#dd8452"] * len(theirs)
        bars = ax.bar(np.arange(len(values)), values, color=colors)
        for bar in bars[len(mine):]:
            bar.set_hatch("//")
        for x, v in enumerate(values):
            ax.text(x, v + 0.01, f"{v:.3f}", ha="center", fontsize=7)
        ax.set_xticks(np.arange(len(values)), labels, rotation=60, ha="right", fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{task}: test MCC", fontsize=9)
        ax.set_ylabel("MCC")
    fig.tight_layout()
    return fig


def model_table_section(report: Report, paths: Sequence[str | Path], published: Sequence[Mapping]) -> dict:
    """Section "Model comparison": the table (also ``tables/model_comparison.csv``), published
    figures of the same tasks and the bar chart. Returns per run its task and test MCC."""
    ours = model_table(paths)
    theirs = published_table(published)
    theirs = theirs[theirs["task"].isin(set(ours["task"]))]
    report.section("Model comparison", f"{len(ours)} training runs (their metrics.json), tested on the test split of "
                                       "their data; published figures are fine-tuned pretrained models on the "
                                       "task's official test split, which is not the test split here (see "
                                       "docs/models.md): compare them as a range, not to the third digit.")
    report.table("model_comparison", ours, "Per training run: negatives it added to its training split, parameters, "
                                           "architecture, tokenizer, test metrics, epochs trained and training time "
                                           "on the hardware it ran on.")
    if len(theirs):
        report.table("published", theirs, "Published fine-tuned figures (MCC on the official test split).")
    report.figure("model_comparison", comparison_figure(ours, theirs),
                  "Test MCC per task: blue, trained here from scratch; green, fine-tuned here from pretrained "
                  "weights; orange hatched, published fine-tuned pretrained models.")
    best = ours.loc[ours.groupby("task")["mcc"].idxmax()]
    report.findings([f"{r.task}: best test MCC {fmt(r.mcc)} ({r.model}, {r.origin}, {fmt(r.train_minutes)} min)."
                     for r in best.itertuples()])
    return {r.source: {"model": r.model, "task": r.task, "mcc": r.mcc} for r in ours.itertuples()}
