"""Read explain.py job folders (``attributions.npz`` + ``meta.json``) into ``ExplainRun``s.

Every field of ``meta.json`` is kept exactly as read; a run's ``data_config`` (the data it
explained, written by explain.py) is checked against ``glmxai.allowlist`` here, before
anything is built from it.
"""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.allowlist import DATA_MODULES, check
from glmxai.data.datamodule import data_identity
from glmxai.io import sha256_file

log = logging.getLogger(__name__)
REQUIRED_FIELDS = ("scores", "sequences", "labels", "probs", "index")
_ACGTN = re.compile(r"[ACGTN]+")
META_TEXT = ("method", "checkpoint", "split", "data", "checkpoint_sha256")  # meta.json fields that must be text
SPLIT_NAMES = ("train", "val", "dev", "test")


class ExplainInputError(ValueError):
    """A missing or malformed explain folder; the message names the path and the problem."""


@dataclass
class ExplainRun:
    """One explain job: ``scores`` (N, L) float32 toward promoter, ``sequences`` N strings,
    ``labels`` (N,) int, ``probs`` (N,) p(promoter), ``index`` (N,) source rows,
    ``masks`` optional (N, L) bool ground truth, ``meta`` the job's meta.json as read, and
    ``name``, the run's label in tables and figures (``model/method``; ``load_runs`` makes it
    unique among the runs analysed together)."""

    path: Path
    scores: np.ndarray
    sequences: list[str]
    labels: np.ndarray
    probs: np.ndarray
    index: np.ndarray
    masks: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.model}/{self.method}"

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
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    @property
    def length(self) -> int:
        return int(self.scores.shape[1])

    @property
    def tss(self) -> int | None:
        """0-based TSS index the run was explained with (meta ``tss``, else its data config's)."""
        tss = self.meta.get("tss")
        return tss if tss is not None else (self.data_config or {}).get("tss")

    @property
    def data_config(self) -> dict | None:
        """The allow-listed data config the sequences came from (None: older explain version)."""
        return self.meta.get("data_config")

    @property
    def data_identity(self) -> dict | None:
        """``data_config`` without the keys that only change how data is served."""
        config = self.data_config
        return None if config is None else data_identity(config)

    @property
    def data_key(self) -> str:
        """What the rows index into: the data (its config, else its description) and split."""
        data = self.data_identity
        data = json.dumps(data, sort_keys=True) if data is not None else self.meta.get("data", "")
        return f"{data}:{self.meta.get('split', '')}"

    def tagged(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with this run's name as its first column, ``run``."""
        return frame.assign(run=self.name)[["run", *frame.columns]]


def model_labels(runs: Iterable[ExplainRun]) -> dict[str, str]:
    """Per checkpoint the runs record: the model's label in tables and figures (its name, with its
    run folder where two checkpoints share a name; ``checkpoint_labels``)."""
    from glmxai.models.build import checkpoint_labels

    named = {str(r.meta.get("checkpoint") or r.path): r.model for r in runs}
    return dict(zip(named, checkpoint_labels([(Path(c), name) for c, name in named.items()])))


def checkpoint_problem(run: ExplainRun, hashes: dict[str, str]) -> str | None:
    """Why the run's checkpoint cannot be used (none recorded, missing, or changed since it
    was explained)."""
    ckpt = run.meta.get("checkpoint")
    if not isinstance(ckpt, str) or not ckpt:
        return f"{run.meta_path} records no checkpoint to re-run the model with"
    if not Path(ckpt).is_file():
        return f"its checkpoint {ckpt} was not found"
    if ckpt not in hashes:
        hashes[ckpt] = sha256_file(ckpt)
    explained_with = run.meta.get("checkpoint_sha256")
    if explained_with and explained_with != hashes[ckpt]:
        return (f"{ckpt} has changed since it was explained (SHA-256 {hashes[ckpt][:12]}..., "
                f"explained with {str(explained_with)[:12]}...)")
    return None


def _read_meta(meta_path: Path) -> dict:
    """meta.json as data (empty if absent), its ``tss`` and ``data_config`` checked."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExplainInputError(f"{meta_path}: not valid JSON ({error}); re-run the explain job or delete the "
                                "file") from error
    if not isinstance(meta, dict):
        raise ExplainInputError(f"{meta_path}: expected a JSON object, found {type(meta).__name__}")
    wrong = next((k for k in META_TEXT if meta.get(k) is not None and not isinstance(meta[k], str)), None)
    if wrong is not None:
        raise ExplainInputError(f"{meta_path}: {wrong} must be text (or null), found {meta[wrong]!r:.60}")
    if "split" in meta and meta["split"] not in SPLIT_NAMES:
        raise ExplainInputError(f"{meta_path}: split {meta['split']!r:.60} is not one of {list(SPLIT_NAMES)}")
    model = meta.get("model")
    if model is not None and not isinstance(model, str) and not (isinstance(model, dict)
                                                                  and isinstance(model.get("name"), str)):
        raise ExplainInputError(f"{meta_path}: model must be a name or a mapping with a name, found {model!r:.60}")
    data_config = meta.get("data_config")
    if data_config is not None:
        check(data_config, DATA_MODULES, str(meta_path), "data_config")  # refuses before anything is built
    tss = meta.get("tss")
    for key, value in (("tss", tss), ("data_config.tss", (data_config or {}).get("tss"))):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ExplainInputError(f"{meta_path}: {key} must be a non-negative integer, found {value!r:.60}")
    if tss is not None and data_config and "tss" in data_config and data_config["tss"] != tss:
        raise ExplainInputError(f"{meta_path}: tss is {tss} but data_config.tss is {data_config['tss']}")
    return meta


# Each array of attributions.npz: its dimensions and the kinds of dtype it may have (numpy dtype.kind).
ARRAYS = {"scores": (2, "fiu"), "sequences": (1, "U"), "labels": (1, "iub"), "probs": (1, "fiu"), "index": (1, "iu"),
          "masks": (2, "biu")}


def _read_arrays(npz_path: Path) -> dict[str, np.ndarray]:
    """The arrays of attributions.npz, each of its dimensions and dtype kind, with finite scores,
    probabilities in [0, 1], labels 0/1, non-negative rows and at least one sequence."""
    try:
        with np.load(npz_path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except Exception as error:  # numpy and zipfile raise many kinds on a damaged file; all mean the same here
        raise ExplainInputError(f"{npz_path}: cannot be read ({type(error).__name__}: {str(error)[:200]}); it may be "
                                "truncated or damaged: re-run the explain job") from None
    missing = [k for k in REQUIRED_FIELDS if k not in data]
    if missing:
        raise ExplainInputError(f"{npz_path}: missing field(s) {missing}; has {sorted(data)}")
    for key, (ndim, kinds) in ARRAYS.items():
        if key in data and (data[key].ndim != ndim or data[key].dtype.kind not in kinds):
            raise ExplainInputError(f"{npz_path}: {key} is a {data[key].ndim}-d array of {data[key].dtype}, expected "
                                    f"{ndim}-d of kind {kinds!r} (numpy dtype.kind)")
    data["scores"] = data["scores"].astype(np.float32)  # as analysed: finite must hold in float32
    problems = [("holds no sequences", len(data["sequences"]) == 0),
                ("a sequence with characters other than ACGTN",
                 not all(_ACGTN.fullmatch(str(s)) for s in data["sequences"])),
                ("scores hold NaN or inf (in float32)", not np.isfinite(data["scores"]).all()),
                ("probs lie outside [0, 1]", not ((data["probs"] >= 0) & (data["probs"] <= 1)).all()),
                ("labels other than 0 and 1", not np.isin(data["labels"], (0, 1)).all()),
                ("a negative row in index", bool((data["index"] < 0).any()))]
    problem = next((text for text, found in problems if found), None)
    if problem:
        raise ExplainInputError(f"{npz_path}: {problem}; re-run the explain job")
    return data


def load_run(folder: str | Path) -> ExplainRun:
    """Load one explain job folder; raises ``ExplainInputError`` naming what is missing, and
    ``glmxai.allowlist.UntrustedConfigError`` for a ``data_config`` outside the allow-list."""
    folder = Path(folder)
    npz_path = folder / "attributions.npz"
    if not folder.is_dir():
        raise ExplainInputError(f"{folder}: explain folder not found")
    if not npz_path.is_file():
        raise ExplainInputError(f"{folder}: no attributions.npz (is this an explain.py job folder?)")
    data = _read_arrays(npz_path)
    scores = data["scores"]
    n = len(data["sequences"])
    if scores.shape[0] != n:
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
    run = ExplainRun(folder, scores, sequences, np.asarray(data["labels"], dtype=np.int64),
                     np.asarray(data["probs"], dtype=np.float32), np.asarray(data["index"], dtype=np.int64),
                     None if masks is None else masks.astype(bool), _read_meta(folder / "meta.json"))
    if run.tss is not None and run.tss >= scores.shape[1]:
        raise ExplainInputError(f"{run.meta_path}: tss {run.tss} lies outside the {scores.shape[1]}-bp sequences "
                                f"of {npz_path.name}")
    return run


def unfinished_jobs(path: Path) -> dict[Path, str]:
    """Explain job folders under ``path`` without ``attributions.npz``, each with what it
    holds: finished chunk files (a job still running, interrupted or sharded) or only a log
    (a job that failed or never started work)."""
    done = {p.parent for p in path.rglob("attributions.npz")}
    found = {}
    for chunks in sorted(path.rglob("chunks")):
        if chunks.is_dir() and chunks.parent not in done:
            n = len(list(chunks.glob("chunk_*.npz")))
            files = f"{n} finished chunk file{'s' if n != 1 else ''}"
            found[chunks.parent] = (f"no attributions.npz ({files} in chunks/, not merged: unfinished, "
                                    "interrupted or a shard still running)")
    for job_log in sorted(path.rglob("explain.log")):
        if job_log.parent not in done and job_log.parent not in found:
            found[job_log.parent] = "no attributions.npz (only its log: failed or never started)"
    return found


def find_run_folders(inputs: Iterable[str | Path], unfinished: dict[Path, str] | None = None) -> list[Path]:
    """Explain job folders under ``inputs`` (each a job folder or a multirun folder holding
    job folders at any depth), sorted; raises if an input does not exist or holds none. Job
    folders without results are skipped with a warning, and added to ``unfinished`` (folder ->
    why) when given."""
    folders: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if not path.exists():
            raise ExplainInputError(f"{path}: input folder not found")
        found = sorted(p.parent for p in path.rglob("attributions.npz"))
        for folder, why in unfinished_jobs(path).items():
            log.warning("explain job %s: %s; skipped", folder, why)
            if unfinished is not None:
                unfinished[folder] = why
        if not found:
            raise ExplainInputError(f"{path}: no attributions.npz in it or below it")
        folders += found
    return sorted(set(folders))


def load_runs(inputs: Iterable[str | Path], unfinished: dict[Path, str] | None = None) -> list[ExplainRun]:
    """Every explain run under ``inputs``, each with a unique ``name``: ``model/method``, and
    for runs that share it, ``model/method@<job folder>`` (with as many trailing folder names
    as it takes to tell them apart). Unfinished job folders go to ``unfinished`` when given."""
    runs = [load_run(f) for f in find_run_folders(inputs, unfinished)]
    for base in {r.name for r in runs}:
        same = [r for r in runs if r.name == base]
        if len(same) < 2:
            continue
        for depth in range(1, max(len(r.path.parts) for r in same) + 1):
            suffixes = ["/".join(r.path.parts[-depth:]) for r in same]
            if len(set(suffixes)) == len(same):
                break
        for run, suffix in zip(same, suffixes):
            run.name = f"{base}@{suffix}"
    return runs
