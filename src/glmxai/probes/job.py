"""Plan and run the probes of ``analyze.py`` (``probes.enabled=true``): check every setting,
checkpoint, position and finished result before any model work (``prepare_probes``), then run
each (checkpoint, experiment, background kind) that is not finished (``run_probes``).

Results go under ``<run folder>/probes/<model>-<checkpoint SHA-256[:12]>/``: ``backgrounds-<kind>.npz``
(codes and readouts), ``<experiment>-<kind>.npz`` and ``necessity.npz``, each written atomically
with the fingerprint of the settings, data and checkpoint that determine it, its model
evaluations and seconds. Re-running the same command into the same folder (``hydra.run.dir``)
skips finished parts; a part written with other settings refuses the run, naming the file.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from glmxai.data.datamodule import split_sha256
from glmxai.data.encoding import to_codes
from glmxai.data.recorded import job_data
from glmxai.explain_runs import ExplainRun, checkpoint_problem
from glmxai.io import sha256_file
from glmxai.motifs import Motif
from glmxai.options import Number
from glmxai.probes import experiments as ex
from glmxai.probes.backgrounds import KINDS, draw_backgrounds
from glmxai.probes.patterns import Pattern, build_patterns
from glmxai.report import slug
from glmxai.store import RECORD_KEYS, StaleResultError, fingerprint, finished_result, load_npz, save_result

log = logging.getLogger(__name__)


class ProbeInputError(ValueError):
    """A probe setting, checkpoint or position that cannot work; raised before any model work."""


@dataclass
class ProbeModel:
    """One probed checkpoint: its ``label`` in tables and figures, ``checkpoint`` and ``sha256``,
    the ``target`` (model, TSS, length, token frame), the ``data`` module whose training split
    gives the backgrounds (``data_source`` describes it) and the ``folder`` of its results."""

    label: str
    checkpoint: Path
    sha256: str
    target: ex.Target
    data: Any
    data_source: str
    folder: Path
    fingerprints: dict[Path, str] = field(default_factory=dict)  # every result file -> its fingerprint


@dataclass
class ProbePlan:
    """Everything checked: ``options`` (``cfg.probes`` as plain data), ``patterns``, ``models``,
    ``seed`` and ``skipped`` (what / why: explain runs whose checkpoint cannot be used)."""

    options: dict
    patterns: list[Pattern]
    models: list[ProbeModel]
    seed: int
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def pattern(self, name: str) -> Pattern:
        return next(p for p in self.patterns if p.name == name)

    @property
    def pairs(self) -> list[tuple[Pattern, Pattern]]:
        return [(self.pattern(a), self.pattern(b)) for a, b in self.options["spacing"]["pairs"]]


@dataclass
class ProbeResults:
    """What ``run_probes`` measured: ``backgrounds[(model, kind)]``, ``cells[(model, experiment,
    kind)]`` (kind ``promoters`` for necessity), and per model its ``cost`` (evaluations and
    seconds, this run and in all, and the parts found finished)."""

    plan: ProbePlan
    backgrounds: dict[tuple[str, str], ex.Backgrounds] = field(default_factory=dict)
    cells: dict[tuple[str, str, str], ex.Cells] = field(default_factory=dict)
    cost: dict[str, dict] = field(default_factory=dict)

    def each(self, experiment: str) -> Iterator[tuple[ProbeModel, str, ex.Cells]]:
        """(model, background kind, cells) of every model and kind that ran ``experiment``."""
        for model in self.plan.models:
            for kind in self.plan.options["backgrounds"]:
                cells = self.cells.get((model.label, experiment, kind))
                if cells is not None:
                    yield model, kind, cells


def _check_int(options: Mapping, key: str, where: str = "probes", least: int = 1) -> None:
    rule = Number(low=least)
    if not rule.accepts(options.get(key)):
        raise ProbeInputError(f"{where}.{key} must be {rule.describe()}, got {options.get(key)!r:.40}")


def check_options(options: Mapping) -> None:
    """Refuse unknown experiments or background kinds, bad sizes and a bad filter."""
    unknown = sorted(set(options["experiments"]) - set(ex.EXPERIMENTS))
    if unknown:
        raise ProbeInputError(f"probes.experiments: unknown {unknown}; expected some of {list(ex.EXPERIMENTS)}")
    unknown = sorted(set(options["backgrounds"]) - set(KINDS))
    if unknown or not options["backgrounds"]:
        raise ProbeInputError(f"probes.backgrounds: expected some of {list(KINDS)}, got {options['backgrounds']}")
    for key in ("n_backgrounds", "instances", "n_bootstrap", "batch_size"):
        _check_int(options, key)
    for key in ("n_backgrounds", "stride"):
        _check_int(options["position_scan"], key, "probes.position_scan")
    _check_int(options["spacing"], "stride", "probes.spacing")
    _check_int(options["spacing"], "radius", "probes.spacing", least=0)
    for key in ("n_sequences", "shuffles", "max_hits"):
        _check_int(options["necessity"], key, "probes.necessity")
    _check_int(options["necessity"], "window", "probes.necessity", least=0)
    positions = options["dose"]["positions"]
    if not positions or not all(isinstance(p, int) and not isinstance(p, bool) for p in positions):
        raise ProbeInputError(f"probes.dose.positions must be a list of starts (bp vs TSS), got {positions}")
    band = options.get("filter")
    if band is not None and not (len(band) == 2 and 0 <= band[0] < band[1] <= 100):
        raise ProbeInputError(f"probes.filter must be null or [low, high] percentiles with 0 <= low < high <= 100, "
                              f"got {band}")
    span = options["position_scan"].get("span")
    if span is not None and not (len(span) == 2 and span[0] <= span[1]):
        raise ProbeInputError(f"probes.position_scan.span must be null or [low, high] (bp vs TSS), got {span}")


def _check_names(options: Mapping, patterns: list[Pattern]) -> None:
    names = [p.name for p in patterns]
    for pair in options["spacing"]["pairs"] if "spacing" in options["experiments"] else []:
        if len(pair) != 2 or any(n not in names for n in pair):
            raise ProbeInputError(f"probes.spacing.pairs: {list(pair)} must name two of probes.patterns {names}")
    if "dose" in options["experiments"] and options["dose"]["pattern"] not in names:
        raise ProbeInputError(f"probes.dose.pattern: {options['dose']['pattern']!r} is not one of probes.patterns "
                              f"{names}")


def fits(target: ex.Target, width: int, position: int) -> bool:
    """Whether a ``width``-bp pattern starting ``position`` bp from the TSS lies inside the target's
    sequences in each of its token frames."""
    offsets = ex.frame_offsets(target.frame)
    return target.tss + position + offsets[0] >= 0 and target.tss + position + offsets[-1] + width <= target.length


def drop_off_sequence(plan: ProbePlan) -> None:
    """Leave out, and list in ``plan.skipped``, every pattern whose canonical position lies outside
    some probed model's sequences (the GC-box at -60 in 70-bp core promoters, say), the spacing pairs
    of such a pattern, and the dose experiment if any of its copies is off: never shifted elsewhere."""
    off = {}
    for pattern in plan.patterns:
        outside = [m for m in plan.models if not fits(m.target, pattern.width, pattern.position)]
        if outside:
            m = outside[0]
            off[pattern.name] = (f"its canonical start {pattern.position:+d} bp lies outside the {m.target.length}-bp "
                                 f"sequences of {', '.join(x.label for x in outside)} (starts "
                                 f"{-m.target.tss:+d}..{m.target.length - pattern.width - m.target.tss:+d} fit); "
                                 "not moved elsewhere")
    if len(off) == len(plan.patterns):
        raise ProbeInputError("no pattern of probes.patterns lies inside the sequences: "
                              + "; ".join(f"pattern {name}: {why}" for name, why in off.items()))
    for name, why in off.items():
        plan.skipped.append((f"motif probes of {name}", why))
    plan.patterns = [p for p in plan.patterns if p.name not in off]
    options = plan.options
    if "spacing" in options["experiments"]:
        kept = [pair for pair in options["spacing"]["pairs"] if not set(pair) & set(off)]
        for pair in options["spacing"]["pairs"]:
            if pair not in kept:
                plan.skipped.append((f"spacing of {pair[0]} and {pair[1]}", f"{', '.join(set(pair) & set(off))} "
                                                                            "lies outside the sequences"))
        options["spacing"]["pairs"] = kept
    if "dose" in options["experiments"]:
        dose = options["dose"]
        width = next((p.width for p in plan.patterns if p.name == dose["pattern"]), None)
        if width is None or any(not fits(m.target, width, pos) for m in plan.models for pos in dose["positions"]):
            plan.skipped.append((f"dose of {dose['pattern']}", f"copies at {list(dose['positions'])} bp do not all "
                                                               "lie inside the sequences"))
            options["experiments"] = [e for e in options["experiments"] if e != "dose"]


def check_positions(plan: ProbePlan) -> None:
    """Refuse spacing pairs or dose copies that overlap at their positions (once the patterns off the
    sequences are left out: ``drop_off_sequence``)."""
    experiments = plan.options["experiments"]
    if "spacing" in experiments:
        for a, b in plan.pairs:
            if ex.overlap(a.position, a.width, b.position, b.width):
                raise ProbeInputError(f"probes.spacing.pairs: {a.name} at {a.position} and {b.name} at {b.position} "
                                      "overlap at their canonical positions")
    if "dose" in experiments:
        dose = plan.pattern(plan.options["dose"]["pattern"])
        positions = list(plan.options["dose"]["positions"])
        for i, position in enumerate(positions):
            if any(ex.overlap(position, dose.width, other, dose.width) for other in positions[:i]):
                raise ProbeInputError(f"probes.dose.positions: copies of {dose.name} ({dose.width} bp) at "
                                      f"{positions} overlap")


def token_frame(tokenizer) -> int:
    """Period of a tokenizer's frame: k for non-overlapping k-mers (NT, the toy triplets), else 1."""
    from glmxai.models.tokenizers import NTKmerTokenizer
    from glmxai.models.toys import TripletTokenizer

    return int(tokenizer.k) if isinstance(tokenizer, (NTKmerTokenizer, TripletTokenizer)) else 1


def token_counter(tokenizer, length: int) -> Callable[[np.ndarray], np.ndarray] | None:
    """codes (n, L) -> tokens per sequence (n,) for tokenizers with an attention mask; None for
    one-hot models."""
    if "attention_mask" not in tokenizer.encode_codes(np.zeros((1, length), dtype=np.int8)):
        return None
    return lambda codes: tokenizer.encode_codes(codes)["attention_mask"].sum(dim=1).numpy()


def _data_for(cfg: DictConfig, record: Mapping, checkpoint: Path, cache: dict):
    """The data whose training split gives the backgrounds (``job_data``), one module per config."""
    key = "command" if cfg.get("data") else json.dumps(record.get("config"), sort_keys=True)
    if key not in cache:
        try:
            cache[key] = job_data(cfg.get("data"), record, checkpoint)
        except ValueError as missing:
            raise ProbeInputError(f"{missing} (the probes draw their backgrounds from it)") from missing
    return cache[key]


def prepare_probes(cfg: DictConfig, runs: list[ExplainRun], motifs: list[Motif]) -> ProbePlan:
    """Check every probe setting, load every checkpoint (explain runs' and ``probes.checkpoints``)
    with ``load_classifier`` and the data of its backgrounds, check positions against each model and
    finished parts against their fingerprints; raises ``ProbeInputError`` (or the loader's error)
    naming the problem before any model is run."""
    from glmxai.models.build import checkpoint_labels, load_classifier
    from glmxai.predictor import BatchedPredictor

    options = OmegaConf.to_container(cfg.probes, resolve=True)
    check_options(options)
    patterns = build_patterns(options["patterns"], motifs)
    if not patterns:
        raise ProbeInputError("probes.patterns is empty: name at least one pattern to plant")
    _check_names(options, patterns)
    plan = ProbePlan(options, patterns, [], int(cfg.seed))
    named = []
    for path in options.get("checkpoints") or []:
        path = Path(str(path)).expanduser()
        if not path.is_file():
            raise ProbeInputError(f"probes.checkpoints: checkpoint not found: {path}")
        named.append(path.resolve())
    hashes: dict[str, str] = {}
    from_runs = []
    for run in runs:
        problem = checkpoint_problem(run, hashes)
        if problem:
            plan.skipped.append((f"motif probes of {run.name}'s checkpoint", problem))
        else:
            from_runs.append(Path(run.meta["checkpoint"]).resolve())
    paths = list(dict.fromkeys([*from_runs, *named]))
    if not paths and not plan.skipped:
        raise ProbeInputError("probes.enabled=true but nothing to probe: name checkpoints with "
                              "probes.checkpoints=[PATH] or give explain runs with inputs=")
    out = Path(cfg.paths.output_dir) / "probes"
    modules = [load_classifier(p, map_location=str(options["device"]),
                               trust_remote_code=bool(cfg.model.trust_remote_code)) for p in paths]
    labels = checkpoint_labels(list(zip(paths, modules)))
    data_cache: dict = {}
    for path, module, label in zip(paths, modules, labels):
        record = module.hparams.get("data") or {}
        data = _data_for(cfg, record, path, data_cache)
        trained_tss = (record.get("config") or {}).get("tss")
        if trained_tss is not None and trained_tss != data.tss:
            raise ProbeInputError(f"{path} was trained with the TSS at index {trained_tss}, but the data of its "
                                  f"backgrounds ({data.describe()}) has it at {data.tss}")
        lengths = {len(s) for s in data.table("train").sequences}
        backbone = module.backbone.to(str(options["device"])).eval()
        if len(lengths) != 1 or (backbone.fixed_length is not None and lengths != {backbone.fixed_length}):
            needed = f"{backbone.fixed_length} bp for {label}" if backbone.fixed_length else "one length"
            raise ProbeInputError(f"the training split of {data.describe()} has sequence lengths "
                                  f"{sorted(lengths)[:5]}; the probes need {needed}")
        length = lengths.pop()
        sha = hashes.get(str(path)) or sha256_file(path)
        target = ex.Target(BatchedPredictor(backbone, int(options["batch_size"])), int(data.tss), length,
                           token_frame(backbone.tokenizer), token_counter(backbone.tokenizer, length))
        plan.models.append(ProbeModel(label, path, sha, target, data, data.describe(),
                                      out / f"{slug(label)}-{sha[:12]}"))
    drop_off_sequence(plan)
    check_positions(plan)
    for model in plan.models:
        model.fingerprints = unit_fingerprints(plan, model)
        for path, expected in model.fingerprints.items():
            try:
                finished_result(path, expected, model.sha256, "write the probes into a new folder (hydra.run.dir) "
                                                              "or delete that file")
            except StaleResultError as stale:
                raise ProbeInputError(str(stale)) from stale
    return plan


def unit_fingerprints(plan: ProbePlan, model: ProbeModel) -> dict[Path, str]:
    """The file of every part of ``model``'s probes and the fingerprint it must carry: the
    settings, patterns, seed, data (its identity and the SHA-256 of the split used) and checkpoint
    that determine it."""
    options, out = plan.options, {}
    patterns = [p.identity() for p in plan.patterns]
    settings = {"insertion": {"instances": options["instances"]}, "position_scan": options["position_scan"],
                "spacing": options["spacing"], "dose": options["dose"]}
    train_sha256 = split_sha256(model.data.table("train"))
    for kind in options["backgrounds"]:
        background = fingerprint({"part": "backgrounds", "kind": kind, "n": options["n_backgrounds"],
                                   "seed": plan.seed, "filter": options.get("filter"), "data": model.data.identity(),
                                   "train_sha256": train_sha256, "checkpoint_sha256": model.sha256})
        out[model.folder / f"backgrounds-{kind}.npz"] = background
        for experiment in options["experiments"]:
            if experiment != "necessity":
                out[model.folder / f"{experiment}-{kind}.npz"] = fingerprint(
                    {"part": experiment, "settings": settings[experiment], "patterns": patterns, "seed": plan.seed,
                     "backgrounds": background, "checkpoint_sha256": model.sha256})
    if "necessity" in options["experiments"]:
        split = model.data.table(options["necessity"]["split"])
        out[model.folder / "necessity.npz"] = fingerprint(
            {"part": "necessity", "settings": options["necessity"], "patterns": patterns, "seed": plan.seed,
             "data": model.data.identity(), "split_sha256": split_sha256(split), "checkpoint_sha256": model.sha256})
    return out


def _cells(stored: Mapping[str, np.ndarray]) -> ex.Cells:
    records = json.loads(str(stored["cells"]))
    arrays = {k: v for k, v in stored.items() if k != "cells" and k not in RECORD_KEYS}
    return ex.Cells(pd.DataFrame.from_records(records), arrays)


def _necessity_promoters(plan: ProbePlan, model: ProbeModel) -> np.ndarray:
    """The real promoters necessity destroys hits in: the first ``n_sequences`` label-1 rows of
    a seeded random order of the split."""
    options = plan.options["necessity"]
    table = model.data.table(options["split"])
    rows = np.flatnonzero(table.labels == 1)
    rows = np.sort(np.random.default_rng(plan.seed).permutation(rows)[: options["n_sequences"]])
    return to_codes([table.sequences[r] for r in rows]) if len(rows) else np.zeros((0, model.target.length), np.int8)


def _part(model: ProbeModel, cost: dict, name: str, what: str,
          work: Callable[[], tuple[dict[str, np.ndarray], pd.DataFrame | None]]) -> dict[str, np.ndarray]:
    """The arrays of part ``name`` of ``model``'s probes: read if finished before, else computed by
    ``work`` (-> arrays, cells) and written; its evaluations and seconds are added to ``cost``."""
    path = model.folder / name
    if path.is_file():
        stored = load_npz(path)
        log.info("probes: %s: %s finished before (%s), skipped", model.label, what, path)
        cost["parts_reused"] += 1
    else:
        counter = model.target.model
        before, start = counter.evaluations, time.perf_counter()
        arrays, cells = work()
        evaluations, seconds = counter.evaluations - before, time.perf_counter() - start
        if cells is not None:
            arrays = {**arrays, "cells": np.array(cells.to_json(orient="records"))}
        save_result(path, arrays, fingerprint=model.fingerprints[path], checkpoint_sha256=model.sha256,
                    evaluations=evaluations, seconds=seconds)
        stored = load_npz(path)
        log.info("probes: %s: %s: %s model evaluations, %.1f s", model.label, what, f"{evaluations:,}", seconds)
        cost["evaluations"] += evaluations
        cost["seconds"] += seconds
        cost["parts_run"] += 1
    cost["evaluations_total"] += int(stored["evaluations"])
    cost["seconds_total"] += float(stored["seconds"])
    return stored


def _draw(plan: ProbePlan, model: ProbeModel, kind: str) -> tuple[dict[str, np.ndarray], None]:
    train = model.data.table("train")
    band = tuple(plan.options["filter"]) if plan.options.get("filter") else None
    codes, logit, prob = draw_backgrounds(kind, to_codes(train.sequences), train.labels, plan.options["n_backgrounds"],
                                          model.target.model.promoter_logit_and_p, plan.seed, band)
    return {"codes": codes, "logit": logit, "prob": prob}, None


def _experiment(plan: ProbePlan, model: ProbeModel, experiment: str, backgrounds: ex.Backgrounds
                ) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    options, target = plan.options, model.target
    if experiment == "insertion":
        cells = ex.insertion(target, backgrounds, plan.patterns, options["instances"], plan.seed)
    elif experiment == "position_scan":
        scan, n = options["position_scan"], options["position_scan"]["n_backgrounds"]
        first = ex.Backgrounds(backgrounds.kind, backgrounds.codes[:n], backgrounds.logit[:n], backgrounds.prob[:n])
        cells = ex.position_scan(target, first, plan.patterns, scan["stride"], scan["span"], plan.seed)
    elif experiment == "spacing":
        cells = ex.spacing(target, backgrounds, plan.pairs, options["spacing"]["radius"], options["spacing"]["stride"],
                           plan.seed)
    else:
        cells = ex.dose(target, backgrounds, plan.pattern(options["dose"]["pattern"]), options["dose"]["positions"],
                        plan.seed)
    return cells.arrays, cells.cells


def _necessity(plan: ProbePlan, model: ProbeModel) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    options = plan.options["necessity"]
    cells = ex.necessity(model.target, _necessity_promoters(plan, model), plan.patterns, options["shuffles"],
                         options["max_hits"], options["window"], plan.seed)
    return cells.arrays, cells.cells


def run_probes(plan: ProbePlan) -> ProbeResults:
    """Run every unfinished part of every model's probes, loading the finished ones."""
    results = ProbeResults(plan)
    experiments = plan.options["experiments"]
    for model in plan.models:
        cost = results.cost[model.label] = {"evaluations": 0, "seconds": 0.0, "evaluations_total": 0,
                                            "seconds_total": 0.0, "parts_run": 0, "parts_reused": 0}
        for kind in plan.options["backgrounds"]:
            stored = _part(model, cost, f"backgrounds-{kind}.npz", f"{kind} backgrounds",
                           partial(_draw, plan, model, kind))
            backgrounds = ex.Backgrounds(kind, stored["codes"], stored["logit"], stored["prob"])
            results.backgrounds[(model.label, kind)] = backgrounds
            for experiment in experiments:
                if experiment != "necessity":
                    stored = _part(model, cost, f"{experiment}-{kind}.npz", f"{experiment} on {kind} backgrounds",
                                   partial(_experiment, plan, model, experiment, backgrounds))
                    results.cells[(model.label, experiment, kind)] = _cells(stored)
        if "necessity" in experiments:
            stored = _part(model, cost, "necessity.npz", f"necessity in {plan.options['necessity']['split']} promoters",
                           partial(_necessity, plan, model))
            results.cells[(model.label, "necessity", "promoters")] = _cells(stored)
        log.info("probes: %s: %s model evaluations in %.1f s this run (%d parts run, %d finished before)",
                 model.label, f"{cost['evaluations']:,}", cost["seconds"], cost["parts_run"], cost["parts_reused"])
    return results
