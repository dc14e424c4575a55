"""One explanation job (what ``explain.py`` runs): check inputs, explain the selected
sequences chunk by chunk, resume from finished chunks, and merge them into the output files.

Job folder (``paths.output_dir``):
- ``chunks/chunk_<k>.npz``: finished chunk k (rows k*chunk_size ...), written atomically;
  a re-run skips finished chunks. Chunks are the unit of work: ``ExplainJob.chunk_ids``
  takes a shard and a shard count (``explain.shard``, ``explain.num_shards``), and ``merge``
  reads whatever chunk files exist (``glmxai.jobs.merge`` gathers them from shard folders).
- ``attributions.npz``, ``meta.json`` and the method's extras, written by ``merge`` when
  every chunk is done (see docs/explain.md for the contract).
- after the merge, in the merging process only (``logger`` group): ``wandb/offline-run-*``, one
  W&B run per job (``log_run``), or ``csv/summary.csv``; a logging failure never costs results.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from glmxai.allowlist import PLAIN, UntrustedConfigError
from glmxai.data.annotations import annotation_path, flags_of, read_annotations
from glmxai.data.datamodule import data_identity, split_sha256
from glmxai.data.encoding import to_codes
from glmxai.data.recorded import job_data
from glmxai.data.selection import annotated_rows, select_rows
from glmxai.data.table import SequenceDataError, SequenceTable, check_lengths
from glmxai.io import folder_lock, sha256_file, write_json_atomic
from glmxai.job_log import save_run_config
from glmxai.jobs.explain_log import log_run, record_sweep_group
from glmxai.models.build import load_classifier
from glmxai.options import SEED, SIZE, Number, check_numbers
from glmxai.predictor import BatchedPredictor
from glmxai.store import StaleResultError, fingerprint, finished_result, load_npz, save_jsonl, save_npz, save_result
from glmxai.xai.fast_forward import TOLERANCE, FastForward, FastForwardMismatch, kept_transform
from glmxai.xai.records import Attribution
from glmxai.xai.registry import Method, build_method, get_method

log = logging.getLogger(__name__)


@dataclass
class ExplainJob:
    """Everything checked and loaded before any work: method (bound to the counted model),
    the selected sequences (``table``, their source ``rows`` (N,) and ``codes`` (N, L)), where
    results go, and the ``fingerprint`` of the settings that determine them."""

    cfg: DictConfig
    method: Method
    model: BatchedPredictor
    model_name: str
    checkpoint: Path
    checkpoint_sha256: str
    data_source: str
    data_config: dict
    tss: int
    table: SequenceTable
    rows: np.ndarray
    codes: np.ndarray
    out_dir: Path
    fingerprint: str
    config_source: str | None = None  # the file cfg was read from (merging shards), None: the command's own
    finished: set[int] = field(default_factory=set)  # chunks already on disk (and checked) when prepared

    @property
    def chunk_size(self) -> int:
        return int(self.cfg.explain.chunk_size)

    @property
    def n_chunks(self) -> int:
        return math.ceil(len(self.rows) / self.chunk_size)

    def chunk_ids(self, shard: int = 0, num_shards: int = 1) -> list[int]:
        """The chunks shard ``shard`` of ``num_shards`` works on (all of them by default)."""
        return list(range(shard, self.n_chunks, num_shards))

    def chunk_slice(self, k: int) -> slice:
        return slice(k * self.chunk_size, min((k + 1) * self.chunk_size, len(self.rows)))

    def chunk_path(self, k: int) -> Path:
        return self.out_dir / "chunks" / f"chunk_{k:05d}.npz"


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_checkpoint(ckpt_path: str | None, train_runs: str | Path) -> Path:
    """``ckpt_path``, or when it is not given the newest ``best.ckpt`` under ``train_runs``
    (``paths.train_runs``: where ``python train.py`` writes), announced with its run folder."""
    if ckpt_path:
        return Path(ckpt_path).expanduser().resolve()
    train_runs = Path(train_runs)
    found = sorted(train_runs.glob("**/checkpoints/best.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no ckpt_path given and no checkpoints/best.ckpt under {train_runs.resolve()} "
                                "(paths.train_runs): train a model first (python train.py) or pass ckpt_path=PATH")
    newest = found[-1].resolve()
    log.info("no ckpt_path given: explaining the newest checkpoint %s (run folder %s)", newest, newest.parents[1])
    return newest


def _check_against_training(datamodule, split_table: SequenceTable, split: str, length: int, record: dict,
                            checkpoint: Path) -> None:
    """Refuse data whose TSS or sequence length differs from the checkpoint's training data (a
    model of one length, or positions relative to another TSS, explain nothing true); warn if
    the checkpoint's own data has changed since training."""
    trained = record.get("config") or {}
    splits = record.get("splits") or {}
    described = f"{checkpoint} was trained on {(splits.get('train') or {}).get('source', 'data')}"
    trained_length = (splits.get("train") or {}).get("length")
    if trained_length is not None and trained_length != length:
        raise SequenceDataError(split_table.source, f"{length}-bp sequences, but {described} with {trained_length}-bp "
                                                    "sequences; explain sequences of the training length")
    if "tss" in trained and trained["tss"] != datamodule.tss:
        raise SequenceDataError(split_table.source, f"TSS at index {datamodule.tss} (data.tss), but {described} "
                                                    f"with the TSS at index {trained['tss']}; explain data with the "
                                                    "same TSS, or set data.tss to where this data's TSS really is")
    trained_sha = (splits.get(split) or {}).get("sha256")
    if datamodule.identity() == data_identity(trained) and trained_sha \
            and trained_sha != split_sha256(split_table):
        log.warning("%s has changed since %s was trained on it", split_table.source, checkpoint)


EXPLAIN_NUMBERS = {"n": Number(low=1, optional=True), "seed": SEED, "batch_size": SIZE, "chunk_size": SIZE,
                   "threads": Number(low=1, high=4096, optional=True), "shard": Number(), "num_shards": SIZE}


def prepare(cfg: DictConfig, config_source: str | None = None) -> ExplainJob:
    """Check every input and load model and data; raises before any explanation work on a
    missing or unsafe checkpoint, an unknown method or bad parameters, sequences of the wrong
    length or another TSS than the checkpoint's training data, or finished chunks in the output
    folder from other settings or another model.

    config_source: the file ``cfg`` was read from (a shard's saved config, for merging); its
    data config is then built through the allow-list, never by its own ``_target_``. None:
    ``cfg`` is the command's own config.
    """
    options = cfg.explain
    get_method(str(cfg.xai.name))
    check_numbers(options, EXPLAIN_NUMBERS, "explain")
    shard, num_shards = int(options.get("shard", 0)), int(options.get("num_shards", 1))
    if not 0 <= shard < num_shards:
        raise ValueError(f"explain.shard must be in 0..explain.num_shards-1, got shard {shard} of {num_shards}")
    checkpoint = resolve_checkpoint(cfg.get("ckpt_path"), cfg.paths.train_runs)
    module = load_classifier(checkpoint, trust_remote_code=bool(cfg.model.trust_remote_code))
    module = module.to(_device(str(options.device)))
    xai_cfg = OmegaConf.to_container(cfg.xai, resolve=True)
    if config_source is not None and not PLAIN.accepts(xai_cfg):
        raise UntrustedConfigError(config_source, "xai", f"expected {PLAIN.expected}")
    record = module.hparams.get("data") or {}
    datamodule = job_data(cfg.get("data"), record, checkpoint, config_source)
    split_table = datamodule.table(str(options.split))
    if str(options.selection) == "annotated":
        rows = annotated_rows(split_table.labels, _stratifying_flags(options, str(options.split), len(split_table)),
                              options.n, int(options.seed))
    else:
        rows = select_rows(split_table.labels, options.n, str(options.selection), int(options.seed),
                           source=f"the {options.split} split ({split_table.source})")
    table = split_table.subset(rows)
    lengths = sorted({len(s) for s in table.sequences})
    if len(lengths) == 1:  # data unlike the training data: an error naming both
        _check_against_training(datamodule, split_table, str(options.split), lengths[0], record, checkpoint)
    backbone = module.backbone.eval()
    if backbone.fixed_length is not None:
        check_lengths(table, backbone.fixed_length)
    if len(lengths) != 1:
        raise SequenceDataError(table.source, f"explained sequences must share one length, found lengths {lengths}")
    model = BatchedPredictor(backbone, batch_size=int(options.batch_size))
    method = build_method(xai_cfg, model, tss=datamodule.tss)
    if options.get("fast"):
        model.fast = _fast_forward(backbone, method)
    method.check_length(lengths[0])
    settings = {"xai": xai_cfg, "checkpoint": str(checkpoint),
                "checkpoint_sha256": sha256_file(checkpoint), "data": datamodule.describe(),
                "split": str(options.split), "rows": rows.tolist(), "seed": int(options.seed),
                "tss": datamodule.tss, "chunk_size": int(options.chunk_size)}
    job = ExplainJob(cfg=cfg, method=method, model=model, model_name=str(module.hparams["model_cfg"].get("name")),
                     checkpoint=checkpoint, checkpoint_sha256=settings["checkpoint_sha256"],
                     data_source=datamodule.describe(), data_config=datamodule.config(), tss=datamodule.tss,
                     table=table, rows=rows, codes=to_codes(table.sequences),
                     out_dir=Path(cfg.paths.output_dir), fingerprint=fingerprint(settings), config_source=config_source)
    # an existing chunk of other settings, or one no chunk of this job can be, refuses the job now, before any write
    shapes: dict[str, tuple] = {}
    job.finished = {k for k in range(job.n_chunks) if _finished_chunk(job, k, shapes) is not None}
    return job


def _stratifying_flags(options: DictConfig, split: str, n_rows: int) -> np.ndarray:
    """The flag ``explain.stratify_by`` of every row of the split, from ``explain.annotations``
    (a folder with ``<split><suffix>.csv`` tables)."""
    folder, flag = options.get("annotations"), options.get("stratify_by")
    if not folder or not flag:
        raise ValueError("explain.selection=annotated needs explain.annotations=DIR (per-row flag tables such as "
                         "<split>_epd.csv) and explain.stratify_by=<flag>, e.g. tata_box")
    path = annotation_path(folder, split, str(options.get("annotation_suffix", "_epd")))
    table = read_annotations(path)
    if len(table) and int(table.index.max()) >= n_rows:
        raise SequenceDataError(path, f"row {int(table.index.max())} is beyond the {n_rows} rows of the {split} split")
    return flags_of(table, np.arange(n_rows), str(flag))


def _fast_forward(backbone, method: Method) -> FastForward | None:
    """The cheaper forward kept for this backbone's family (``explain.fast``), None (logged) if
    there is none, the model is not on the CPU, where the transforms were measured, or the method
    reads gradients or attention maps (a cheaper forward would only cost its setup and the guard)."""
    if not method.reads_predictions:
        log.info("explain.fast: xai=%s reads gradients or attention maps, which keep the model's own path",
                 method.name)
        return None
    name = kept_transform(backbone)
    if name is None or backbone.device.type != "cpu":
        log.info("explain.fast: no cheaper forward is kept for %s on %s (docs/scale.md); its own forward runs",
                 type(backbone).__name__, backbone.device)
        return None
    log.info("explain.fast: p(promoter) through %s, checked against the reference on each chunk's sequences",
             name)
    return FastForward(backbone, name)


def _finished_chunk(job: ExplainJob, k: int, shapes: dict[str, tuple] | None = None) -> dict[str, np.ndarray] | None:
    """The arrays of finished chunk ``k`` (None: not written yet); raises ``StaleResultError``
    naming the file if it was written with other settings or another model, holds other rows than
    chunk ``k``, or arrays a chunk of this job cannot hold: missing, of the wrong shape or type,
    NaN/inf, records that are not JSON objects. ``shapes`` (array name -> shape of one row) collects
    the shapes of the chunks read with it and refuses a chunk that disagrees with them."""
    path = job.chunk_path(k)
    chunk = finished_result(path, job.fingerprint, job.checkpoint_sha256, _REMEDY)
    if chunk is None:
        return None

    def refuse(problem: str):
        raise StaleResultError(f"{path}: {problem}; {_REMEDY}")

    absent = [key for key in ("index", "scores", "probs", "evaluations", "seconds") if key not in chunk]
    if absent:
        refuse(f"lacks {absent}")
    rows = job.rows[job.chunk_slice(k)]
    if chunk["index"].shape != rows.shape or not np.array_equal(chunk["index"], rows):
        refuse(f"holds other rows than chunk {k} of this job")
    shapes = {} if shapes is None else shapes
    shapes.setdefault("scores", (job.codes.shape[1],))
    shapes.setdefault("probs", ())
    extras = tuple(sorted(x for x in chunk if x.startswith("extra_")))
    if shapes.setdefault("<extras>", extras) != extras:  # the method's extra arrays: the same in every chunk
        refuse(f"its extra arrays {list(extras)} differ from the other chunks' {list(shapes['<extras>'])}")
    for name in ("scores", "probs", *extras):
        array = chunk[name]
        if array.dtype.kind not in ("f" if name in ("scores", "probs") else "fiub") or array.ndim == 0 \
                or len(array) != len(rows):
            refuse(f"its {name} is {array.dtype} of shape {array.shape}, not numbers for the {len(rows)} rows")
        if shapes.setdefault(name, array.shape[1:]) != array.shape[1:]:
            refuse(f"its {name} has rows of shape {array.shape[1:]}, not {shapes[name]}")
        if not np.isfinite(array).all():
            refuse(f"its {name} holds NaN or inf")
    if ((chunk["probs"] < 0) | (chunk["probs"] > 1)).any():
        refuse("its probs lie outside 0..1")
    for key in ("evaluations", "seconds", *(["fast_difference"] if str(chunk.get("fast_forward", "")) else [])):
        value = chunk.get(key)
        if value is None or value.shape != () or value.dtype.kind not in "fiu" or not np.isfinite(value):
            refuse(f"its {key} is not one number")
    if job.method.records_file:
        records = chunk.get("records")
        if records is None or records.dtype.kind != "U" or records.shape != rows.shape:
            refuse(f"its records are not one JSON text for each of the {len(rows)} rows")
        for line in records.tolist():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                refuse(f"a record is not JSON ({error})")
            if not isinstance(record, dict):
                refuse("a record is not a JSON object")
    return chunk


_REMEDY = "explain into a new folder (hydra.run.dir / hydra.sweep.dir) or delete its chunks/"


def explain_rows(method: Method, codes: np.ndarray, probs: np.ndarray, rows: np.ndarray, seed: int
                 ) -> list[Attribution]:
    """``method``'s explanations of sequences ``codes`` (B, L) with p(promoter) ``probs`` (B,), rows
    ``rows`` (B,) of their split: each sequence's random draws come from ``(seed, row)`` alone, so an
    explanation does not depend on the chunk, the shard or the batch it was made in."""
    return method.explain(codes, probs, [np.random.default_rng([seed, int(row)]) for row in rows])


def explain_chunks(job: ExplainJob, chunk_ids: list[int]) -> None:
    """Explain the chunks ``chunk_ids`` not finished when the job was prepared, writing one
    file each."""
    pending = [k for k in chunk_ids if k not in job.finished]
    total = sum(len(job.rows[job.chunk_slice(k)]) for k in chunk_ids)
    todo = sum(len(job.rows[job.chunk_slice(k)]) for k in pending)
    seed = int(job.cfg.explain.seed)
    with tqdm(total=total, initial=total - todo, desc=f"{job.method.name} {job.model_name}", unit="seq") as bar:
        for k in pending:
            part = job.chunk_slice(k)
            start, evaluations = time.perf_counter(), job.model.evaluations
            codes = job.codes[part]
            probs, difference = job.model.fast_difference(codes)  # the reference probabilities either way
            if difference > TOLERANCE:
                raise FastForwardMismatch(
                    f"explain.fast: {job.model.fast.name} moves p(promoter) of the explained sequences (chunk {k}) by "
                    f"up to {difference:.2e} from the model's own forward, more than {TOLERANCE:g}; nothing of this "
                    "chunk was written: run again with explain.fast=false (finished chunks are kept)")
            results = explain_rows(job.method, codes, probs, job.rows[part], seed)
            arrays = {"index": job.rows[part], "probs": probs.astype(np.float32),
                      "scores": np.stack([r.scores for r in results]).astype(np.float32),
                      "fast_forward": np.array("" if job.model.fast is None else job.model.fast.name),
                      "fast_difference": np.array(difference),
                      "device": np.array(str(job.model.backbone.device)),
                      "torch_threads": np.array(torch.get_num_threads())}
            if job.method.records_file:
                arrays["records"] = np.array([json.dumps(r.record) for r in results])
            for name in results[0].arrays:
                arrays[f"extra_{name}"] = np.stack([r.arrays[name] for r in results])
            save_result(job.chunk_path(k), arrays, fingerprint=job.fingerprint,
                        checkpoint_sha256=job.checkpoint_sha256, evaluations=job.model.evaluations - evaluations,
                        seconds=time.perf_counter() - start)
            bar.update(len(codes))


@dataclass
class _Gathered:
    """The chunks of a job read back one at a time: per-row arrays of the whole job (``scores``,
    ``probs``, ``extra_*``: (N, ...)), the method's records as JSON lines, and each chunk's cost."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    records: list[str] = field(default_factory=list)
    evaluations: int = 0
    seconds: float = 0.0
    fast: dict[str, float] = field(default_factory=dict)  # fast forward -> largest difference seen
    devices: set[str] = field(default_factory=set)  # where the chunks were explained
    threads: set[int] = field(default_factory=set)  # with how many torch threads


def _gather(job: ExplainJob) -> _Gathered:
    """Read every chunk file once, check it and copy its rows into arrays of the whole job, so that
    memory holds the output arrays and one chunk, whatever the number of sequences."""
    missing = [k for k in range(job.n_chunks) if not job.chunk_path(k).is_file()]
    if missing:
        raise RuntimeError(f"{job.out_dir}: chunks {missing} are not finished yet")
    gathered, n, shapes = _Gathered(), len(job.rows), {}
    for k in range(job.n_chunks):
        chunk = _finished_chunk(job, k, shapes)  # checked, and of the same shapes as the chunks before it
        if chunk is None:
            raise RuntimeError(f"{job.chunk_path(k)} disappeared while the job was merged")
        for name in ("scores", "probs", *sorted(x for x in chunk if x.startswith("extra_"))):
            dtype = np.float32 if name in ("scores", "probs") else chunk[name].dtype  # as the job writes them
            whole = gathered.arrays.setdefault(name, np.empty((n, *shapes[name]), dtype))
            whole[job.chunk_slice(k)] = chunk[name]
        if job.method.records_file:
            gathered.records.extend(chunk["records"].tolist())
        gathered.evaluations += int(chunk["evaluations"])
        gathered.seconds += float(chunk["seconds"])
        if fast := str(chunk.get("fast_forward", "")):  # a chunk explained through a cheaper forward
            gathered.fast[fast] = max(gathered.fast.get(fast, 0.0), float(chunk["fast_difference"]))
        # chunks written before these were recorded: the merging process's, as meta.json had it then
        gathered.devices.add(str(chunk.get("device", job.model.backbone.device)))
        gathered.threads.add(int(chunk.get("torch_threads", torch.get_num_threads())))
    return gathered


def merge(job: ExplainJob) -> dict:
    """Merge all chunk files into ``attributions.npz``, the method's extras and
    ``meta.json``, then log the job (``log_run``); returns the meta. Every chunk must be finished.
    Chunks are read one at a time (``_gather``): peak memory is the output arrays and one chunk."""
    gathered = _gather(job)
    probs = gathered.arrays["probs"]
    result = {"scores": gathered.arrays["scores"], "sequences": np.array(job.table.sequences),
              "labels": job.table.labels.astype(np.int64), "probs": probs, "index": job.rows.astype(np.int64)}
    if job.table.masks is not None:
        result["masks"] = job.table.masks.astype(bool)
    save_npz(job.out_dir / "attributions.npz", result)
    outputs = ["attributions.npz"]
    if job.method.records_file:
        save_jsonl(job.out_dir / job.method.records_file,
                   ({"index": int(i), "label": int(y), "prob": float(p), **json.loads(r)}
                    for i, y, p, r in zip(job.rows, job.table.labels, probs, gathered.records)))
        outputs.append(job.method.records_file)
    extra_names = [name for name in gathered.arrays if name.startswith("extra_")]
    if extra_names:
        extras = {"index": result["index"], **{name[len("extra_"):]: gathered.arrays[name] for name in extra_names}}
        save_npz(job.out_dir / f"{job.method.name}.npz", extras)
        outputs.append(f"{job.method.name}.npz")
    evaluations, seconds = gathered.evaluations, gathered.seconds
    n = len(job.rows)
    options = job.cfg.explain
    meta = {
        "method": job.method.name,
        "params": OmegaConf.to_container(job.cfg.xai, resolve=True),
        "checkpoint": str(job.checkpoint),
        "checkpoint_sha256": job.checkpoint_sha256,
        "model": job.model_name,
        "data": job.data_source,
        "data_config": job.data_config,
        "split": str(options.split),
        "selection": {"selection": str(options.selection), "n": options.n, "seed": int(options.seed),
                      **({"annotations": str(options.annotations), "stratify_by": str(options.stratify_by)}
                         if str(options.selection) == "annotated" else {})},
        "tss": job.tss,
        "n_sequences": n,
        "sequence_length": int(job.codes.shape[1]),
        "score_units": job.method.score_units,
        "signed": job.method.signed,
        "model_evaluations": evaluations,
        "evaluations_per_sequence": evaluations / n,
        "wall_seconds": round(seconds, 3),
        "seconds_per_sequence": round(seconds / n, 4),
        "evaluations_per_second": round(evaluations / seconds, 1) if seconds > 0 else None,
        "batch_size": int(options.batch_size),
        # where the chunks ran, not the merging process (shards or a resume may have run elsewhere)
        "device": ", ".join(sorted(gathered.devices)),
        "torch_threads": ", ".join(map(str, sorted(gathered.threads))),
        # explain.fast: the transform p(promoter) went through (None: the model's own forward) and the
        # largest |fast - reference| p(promoter) of the explained sequences (the guard's check)
        "fast_forward": ", ".join(sorted(gathered.fast)) or None,
        "fast_forward_max_difference": max(gathered.fast.values()) if gathered.fast else None,
        "fingerprint": job.fingerprint,
        "files": outputs,
    }
    write_json_atomic(meta, job.out_dir / "meta.json")
    log_run(job, meta, result)
    return meta


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``threads`` for the block (None: unchanged), restored after it."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(cfg: DictConfig) -> dict:
    """Prepare, explain every unfinished chunk, merge; returns the meta written. A shard
    (``explain.num_shards`` > 1) explains only its chunks and returns their cost; its folder
    is merged with the others' by ``python -m glmxai.jobs.merge``. ``explain.threads`` holds for
    the job only."""
    with torch_threads(cfg.explain.get("threads")):
        return _run(cfg)


def _run(cfg: DictConfig) -> dict:
    job = prepare(cfg)
    shard, num_shards = int(cfg.explain.get("shard", 0)), int(cfg.explain.get("num_shards", 1))
    lock = ".explain.lock" if num_shards == 1 else f".explain-shard-{shard}-of-{num_shards}.lock"
    with folder_lock(job.out_dir, "explain job" if num_shards == 1 else f"shard {shard} of {num_shards}", lock):
        return _explain(cfg, job, shard, num_shards)


def _explain(cfg: DictConfig, job: ExplainJob, shard: int, num_shards: int) -> dict:
    record_sweep_group(cfg)
    save_run_config(cfg, job.out_dir)
    log.info("explaining %d sequences of %s (%s) with %s into %s", len(job.rows), job.data_source,
             job.cfg.explain.split, job.method.name, job.out_dir)
    chunk_ids = job.chunk_ids(shard, num_shards)
    explain_chunks(job, chunk_ids)
    if num_shards > 1:
        done = [load_npz(job.chunk_path(k)) for k in chunk_ids]
        n, seconds = sum(len(c["index"]) for c in done), sum(float(c["seconds"]) for c in done)
        log.info("shard %d of %d: %d sequences in %s; merge the shards with python -m glmxai.jobs.merge",
                 shard, num_shards, n, job.out_dir)
        return {"shard": shard, "num_shards": num_shards, "chunks": chunk_ids, "n_sequences": n,
                "seconds_per_sequence": seconds / n if n else 0.0}
    meta = merge(job)
    log.info("%s on %s: %.0f evaluations/sequence, %.3f s/sequence", meta["method"], meta["model"],
             meta["evaluations_per_sequence"], meta["seconds_per_sequence"])
    return meta
