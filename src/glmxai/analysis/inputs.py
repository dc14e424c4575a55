"""Read explain.py job folders (``attributions.npz`` + ``meta.json``) into ``ExplainRun``s."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

log = logging.getLogger(__name__)
REQUIRED_FIELDS = ("scores", "sequences", "labels", "probs", "index")


class ExplainInputError(ValueError):
    """A missing or malformed explain folder; the message names the path and the problem."""


@dataclass
class ExplainRun:
    """One explain job: ``scores`` (N, L) float32 toward promoter, ``sequences`` N strings,
    ``labels`` (N,) int, ``probs`` (N,) p(promoter), ``index`` (N,) source rows,
    ``masks`` optional (N, L) bool ground truth, ``meta`` the job's meta.json."""

    path: Path
    scores: np.ndarray
    sequences: list[str]
    labels: np.ndarray
    probs: np.ndarray
    index: np.ndarray
    masks: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def method(self) -> str:
        return str(self.meta.get("method") or self.path.name)

    @property
    def model(self) -> str:
        model = self.meta.get("model")
        if isinstance(model, dict):
            model = model.get("name")
        return str(model or Path(str(self.meta.get("checkpoint", "model"))).stem)

    @property
    def label(self) -> str:
        """``model/method``, the run's name in tables and figures."""
        return f"{self.model}/{self.method}"

    @property
    def data_key(self) -> str:
        """What the rows index into: data source and split."""
        return f"{self.meta.get('data', '')}:{self.meta.get('split', '')}"


def load_run(folder: str | Path) -> ExplainRun:
    """Load one explain job folder; raises ``ExplainInputError`` naming what is missing."""
    folder = Path(folder)
    npz_path = folder / "attributions.npz"
    if not folder.is_dir():
        raise ExplainInputError(f"{folder}: explain folder not found")
    if not npz_path.is_file():
        raise ExplainInputError(f"{folder}: no attributions.npz (is this an explain.py job folder?)")
    with np.load(npz_path, allow_pickle=False) as npz:
        missing = [k for k in REQUIRED_FIELDS if k not in npz.files]
        if missing:
            raise ExplainInputError(f"{npz_path}: missing field(s) {missing}; has {sorted(npz.files)}")
        data = {k: npz[k] for k in npz.files}
    scores = np.asarray(data["scores"], dtype=np.float32)
    n = len(data["sequences"])
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ExplainInputError(f"{npz_path}: scores has shape {scores.shape}, expected ({n}, L)")
    for key in ("labels", "probs", "index"):
        if len(data[key]) != n:
            raise ExplainInputError(f"{npz_path}: {key} has {len(data[key])} rows, sequences has {n}")
    sequences = [str(s) for s in data["sequences"]]
    bad = [i for i, s in enumerate(sequences) if len(s) != scores.shape[1]]
    if bad:
        raise ExplainInputError(f"{npz_path}: sequence {bad[0]} has length {len(sequences[bad[0]])}, "
                                f"scores have {scores.shape[1]} columns")
    masks = data.get("masks")
    if masks is not None and masks.shape != scores.shape:
        raise ExplainInputError(f"{npz_path}: masks has shape {masks.shape}, scores {scores.shape}")
    meta_path = folder / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExplainInputError(f"{meta_path}: not valid JSON ({error}); re-run the explain job or delete the file")
    if not isinstance(meta, dict):
        raise ExplainInputError(f"{meta_path}: expected a JSON object, found {type(meta).__name__}")
    return ExplainRun(folder, scores, sequences, np.asarray(data["labels"], dtype=np.int64),
                      np.asarray(data["probs"], dtype=np.float32), np.asarray(data["index"], dtype=np.int64),
                      None if masks is None else masks.astype(bool), meta)


def find_run_folders(inputs: Iterable[str | Path]) -> list[Path]:
    """Explain job folders under ``inputs`` (each a job folder or a multirun folder holding
    job folders at any depth), sorted; raises if an input does not exist or holds none."""
    folders: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if not path.exists():
            raise ExplainInputError(f"{path}: input folder not found")
        found = sorted(p.parent for p in path.rglob("attributions.npz"))
        for unfinished in sorted({c.parent for c in path.rglob("chunks")} - set(found)):
            log.warning("%s: explain job without attributions.npz (unfinished?); skipped", unfinished)
        if not found:
            raise ExplainInputError(f"{path}: no attributions.npz in it or below it")
        folders += found
    return sorted(set(folders))


def load_runs(inputs: Iterable[str | Path]) -> list[ExplainRun]:
    """Every explain run under ``inputs``; runs with the same ``model/method`` label get the
    job folder name appended so that labels stay unique."""
    runs = [load_run(f) for f in find_run_folders(inputs)]
    labels = [r.label for r in runs]
    for run in runs:
        if labels.count(run.label) > 1:
            run.meta = {**run.meta, "method": f"{run.method}@{run.path.name}"}
    return runs
