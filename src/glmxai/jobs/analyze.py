"""What ``analyze.py`` runs, in this order: every input is checked (runs, their TSS and length, the
audited data, discovery's and motif finding's method names, the probes); every section that tests
builds its tables; all their p-values are adjusted together; then each section writes its part of
the report from the adjusted tables and returns its own summary, which ``run`` gathers into
``summary.json``."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from glmxai.analysis.agreement import agreement_of_runs, agreement_section
from glmxai.analysis.annotation_attribution import (
    annotation_groups,
    annotation_section,
    annotation_tests,
    necessity_section,
    necessity_tests,
)
from glmxai.analysis.answer import answer_section, evidence_table, tracks_section
from glmxai.analysis.audit import audit_section, audit_tables
from glmxai.analysis.comparison import SectionTables, comparison_section
from glmxai.analysis.discovery import discovery_section, runs_of_methods
from glmxai.analysis.faithfulness import faithfulness_section, faithfulness_tests
from glmxai.analysis.ground_truth import ground_truth_section, ground_truth_table
from glmxai.analysis.kmer_tables import kmer_section, kmer_tests
from glmxai.analysis.model_table import metrics_files, model_table_section, run_checkpoint
from glmxai.analysis.motif_attribution import attribution_tests, motif_attribution_section
from glmxai.analysis.motif_finding import motif_finding_section
from glmxai.analysis.motif_table import motif_table_section
from glmxai.analysis.provenance import audit_data, runs_length, runs_tss
from glmxai.analysis.shortcut import shortcut_section, shortcut_tests
from glmxai.explain_runs import ExplainRun, checkpoint_problem, load_runs
from glmxai.io import folder_lock, write_json_atomic
from glmxai.motifs import configured_motifs, scan
from glmxai.probes.job import prepare_probes, run_probes
from glmxai.probes.section import probes_section
from glmxai.probes.tables import probe_tables
from glmxai.report import Report, adjust_pvalues
from glmxai.wandb_log import log_report, sweep_group

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    """Run every analysis ``cfg`` asks for; return the summary written to ``summary.json``. The
    same command started twice into one folder: the second refuses while the first runs."""
    with contextlib.ExitStack() as held:
        return _run(cfg, held)


def _run(cfg: DictConfig, held: contextlib.ExitStack) -> dict:
    out = Path(cfg.paths.output_dir)
    inputs = cfg.get("inputs") or []
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)  # inputs=DIR or inputs=[DIR, ...]
    probing = bool((cfg.get("probes") or {}).get("enabled"))
    train_runs = cfg.get("train_runs") or []
    train_runs = [train_runs] if isinstance(train_runs, str) else list(train_runs)
    if not inputs and not cfg.get("data") and not probing and not train_runs:
        raise ValueError("nothing to analyze: give inputs=[explain folders] and/or data=<group> for the audit, "
                         "probes.enabled=true probes.checkpoints=[CKPT] for motif probes, or train_runs=[RUN] "
                         "for the model comparison")
    model_files = metrics_files(train_runs)  # checked before any work
    shortcut_sets = list((cfg.get("shortcut") or {}).get("sets") or [])
    missing = [str(path) for path in shortcut_sets if not Path(str(path)).is_file()]
    if missing:
        raise FileNotFoundError(f"shortcut.sets: no such file {missing}")
    # every check before any work: bad inputs, disagreeing runs, a misspelt discovery method
    unfinished: dict[Path, str] = {}
    runs = load_runs(inputs, unfinished) if inputs else []
    tss = runs_tss(runs) if runs else None
    length = runs_length(runs) if runs else None
    discovery_runs = runs_of_methods(runs, cfg.discovery.methods) if cfg.discovery.enabled else []
    finding_runs = (runs_of_methods(runs, cfg.motif_finding.methods, "motif_finding.methods")
                    if cfg.motif_finding.enabled else [])
    audited = audit_data(cfg, runs)
    log.info("analyze: %d runs%s; audit: %s", len(runs), f" (TSS at index {tss})" if runs else "",
             audited.source or audited.reason)
    motifs = configured_motifs(OmegaConf.to_container(cfg.motifs, resolve=True))
    probe_plan = prepare_probes(cfg, runs, motifs) if probing else None  # checks probes before any work
    held.enter_context(folder_lock(out, "analyze run", ".analyze.lock"))  # every check passed: the folder is ours
    # 1. every table of tests
    audit = audit_tables(audited, motifs, cfg.audit)
    tests = audit.tests
    by_annotation = necessity = groups = None
    if runs:
        log.info("analyze: motif scan of %d runs", len(runs))
        hits = {r.name: scan(r.sequences, motifs, tss=tss) for r in runs}
        notes = cfg.get("annotations") or {}
        groups = (annotation_groups(runs, notes["dir"], str(notes.get("suffix", "_epd")), list(notes["windows"]))
                  if notes.get("dir") else None)
        tables = SectionTables(attribution=attribution_tests(runs, hits, cfg.attribution, cfg.seed, groups),
                               agreement=agreement_of_runs(runs, cfg.agreement), ground_truth=ground_truth_table(runs))
        kmers = kmer_tests(runs, hits, cfg.kmers, cfg.motifs.tata)
        faithful = (faithfulness_tests(runs, cfg.faithfulness, cfg.seed, bool(cfg.model.trust_remote_code))
                    if cfg.faithfulness.enabled else None)
        tables.faithfulness = faithful.areas if faithful else None
        tests += [(tables.attribution, ["ttest_p"]), *kmers.tests, *(faithful.tests if faithful else [])]
        kinds = ({r.name: audit.classes_of(str(r.meta.get("split", "test")), r.index, r.sequences) for r in runs}
                 if notes.get("dir") else None)
        by_annotation = (annotation_tests(runs, notes["dir"], str(notes.get("suffix", "_epd")),
                                          {k: tuple(v) for k, v in notes["windows"].items()}, kinds)
                         if notes.get("dir") else None)
        necessity = (necessity_tests(runs, notes, cfg.seed, bool(cfg.model.trust_remote_code))
                     if notes.get("dir") and notes.get("necessity", True) else None)
        tests += [(t, ["ttest_p"]) for t in (by_annotation, necessity) if t is not None]
    shortcut = None
    if shortcut_sets:
        checkpoints = [run_checkpoint(path) for path in model_files]
        checkpoints += [r.meta["checkpoint"] for r in runs if not checkpoint_problem(r, {})]
        shortcut, shortcut_skipped = shortcut_tests([c for c in checkpoints if c], cfg.shortcut, cfg.seed,
                                                    bool(cfg.model.trust_remote_code))
        tests.append((shortcut, ["fisher_p"]))
    if probe_plan is not None:
        probe_results = run_probes(probe_plan)
        probes = probe_tables(probe_results)
        tests += probes.tests
    # 2. one adjustment over all of them
    options = cfg.get("report") or {}
    report = Report(out, "glmxai analysis", alpha=float(options.get("alpha", 0.05)),
                    collapse_rows=int(options.get("collapse_rows", 1000)), n_tests=adjust_pvalues(tests))
    # 3. the sections, written from the adjusted tables
    for folder, why in unfinished.items():
        report.skip(f"explain job {folder}", why)
    summary: dict = {"inputs": [str(r.path) for r in runs], "tss": tss}
    answer = cfg.answer
    motif_names = list(answer.motifs)
    evidence = evidence_table(OmegaConf.to_container(answer.motifs, resolve=True), report.alpha, runs,
                              by_annotation, necessity, probes.insertion if probe_plan is not None else None,
                              {str(m.checkpoint): m.label for m in probe_plan.models} if probe_plan else None,
                              str(answer.probe_background))
    if len(evidence):
        summary["answer"] = answer_section(report, evidence, motif_names)
    else:
        report.skip("the answer figure (models x motifs x evidence)",
                    "no evidence by annotation or probe (annotations.dir=DIR with explain runs, or "
                    "probes.enabled=true)")
    if model_files:
        summary["models"] = model_table_section(report, model_files,
                                                OmegaConf.to_container(cfg.published, resolve=True))
    if shortcut is not None:
        summary["shortcut"] = shortcut_section(report, shortcut, shortcut_skipped)
    else:
        report.skip("shortcut test", "no extra labelled set given (shortcut.sets=[CSV])")
    if groups is not None:
        flag = str(answer.tracks.flag)
        summary["tracks"] = tracks_section(report, runs, {n: g.get(f"{flag}=1 promoters", np.zeros(0, bool))
                                                          for n, g in groups.items()}, hits, flag,
                                           str(cfg.motifs.tata), tuple(answer.tracks.span), int(answer.tracks.n))
    report.verdicts_here()
    layout = (tss, length) if runs else _data_layout(audited.datamodule)
    motif_table_section(report, motifs, cfg.motifs.pvalue, cfg.motifs.pseudocount, layout)
    summary["audit"] = audit_section(report, audit, cfg.audit, cfg.motifs.tata)
    parts = []
    if runs:
        runs_overview_section(report, runs, tss)
        comparison_section(report, runs, [m.name for m in motifs], cfg.motifs.tata, tables)
        if by_annotation is not None:
            summary["annotations"] = annotation_section(report, by_annotation, notes["dir"])
        else:
            report.skip("attribution by annotation", "no per-row annotation tables given (annotations.dir=DIR)")
        if necessity is not None:
            summary["necessity_by_annotation"] = necessity_section(report, necessity)
        elif by_annotation is not None:
            report.skip("necessity by annotation", "annotations.necessity=false")
        parts = [motif_attribution_section(report, runs, hits, tables.attribution, tss, cfg.attribution,
                                           cfg.motifs.tata),
                 kmer_section(report, runs, kmers, cfg.kmers, cfg.motifs.tata),
                 agreement_section(report, runs, tables.agreement, cfg.agreement)]
        if faithful is not None:
            parts.append(faithfulness_section(report, faithful, cfg.faithfulness))
        else:
            report.skip("faithfulness", "faithfulness.enabled=false")
        parts.append(ground_truth_section(report, runs, tables.ground_truth))
        parts += _per_method_section(report, runs, discovery_runs, cfg.discovery, "discovery", "motif discovery",
                                     "motif discovery (TF-MoDISco)", discovery_section)
        parts += _per_method_section(report, runs, finding_runs, cfg.motif_finding, "motif_finding", "motif finding",
                                     "motif finding (DNABERT-viz)", motif_finding_section)
    if probe_plan is not None:
        summary["probes"] = probes_section(report, probe_plan, probe_results, probes)
    else:
        report.skip("motif probes", "probes.enabled=false")
    summary["report"] = str(report.write())
    if runs:
        summary["runs"] = {r.name: {k: v for part in parts for k, v in part.get(r.name, {}).items()} for r in runs}
    summary["headline"] = report.headline
    summary["not_analyzed"] = report.skipped
    summary["n_tests"] = report.n_tests
    write_json_atomic(summary, out / "summary.json")
    if cfg.get("logger") and cfg.logger.get("wandb"):
        wb = cfg.logger.wandb
        log_report(report, summary, project=wb.get("project") or "glmxai", name=wb.get("name") or cfg.task_name,
                   mode="offline" if wb.get("offline", True) else "online", group=wb.get("group") or sweep_group(),
                   config=OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "logger"]),
                                                 resolve=True),
                   directory=out)
    log.info("analyze: report %s", summary["report"])
    return summary


def _data_layout(datamodule) -> tuple[int, int] | None:
    """(tss, length) of audited data of one length, else None."""
    if datamodule is None or datamodule.seq_len is None:
        return None
    return int(datamodule.tss), int(datamodule.seq_len)


def _per_method_section(report: Report, runs: list[ExplainRun], chosen: list[ExplainRun], options: DictConfig,
                        key: str, what: str, title: str, section) -> list[dict]:
    """An optional section over the runs of ``options.methods`` (``chosen``): its summary in a
    list (empty when off), the runs it leaves out and a disabled section listed as not analyzed."""
    if not chosen:
        report.skip(title, f"{key}.enabled=false")
        return []
    ids = {id(r) for r in chosen}
    left_out = [r.name for r in runs if id(r) not in ids]
    if left_out:
        report.skip(f"{what} of {', '.join(left_out)}", f"not among {key}.methods={list(options.methods)}")
    return [section(report, chosen, options)]


def runs_overview_section(report: Report, runs: list[ExplainRun], tss: int) -> None:
    """The runs analysed, with the accuracy of the explained model on the explained sequences."""
    distinct = len({(r.data_key, int(i)) for r in runs for i in r.index})
    report.section("Explain runs", f"{len(runs)} runs (model/method, with the job folder where two share it) of "
                                   f"{distinct:,} distinct sequences; positions relative to the TSS at index {tss}, "
                                   "as the runs record it.")
    report.table("runs", pd.DataFrame([{
        "run": r.name, "model": r.model, "method": r.method, "n": len(r.sequences),
        "accuracy": float(((r.probs >= 0.5) == (r.labels == 1)).mean()), "checkpoint": r.meta.get("checkpoint"),
        "data": r.meta.get("data"), "split": r.meta.get("split"), "tss": r.tss,
        "evaluations_per_sequence": r.meta.get("evaluations_per_sequence"),
        "seconds_per_sequence": r.meta.get("seconds_per_sequence"), "folder": str(r.path)} for r in runs]),
        "Runs analysed, with the accuracy of the explained model on the explained sequences.")
