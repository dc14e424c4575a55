"""What ``analyze.py`` runs: the dataset audit (with ``data``) and the analyses of explain
runs (``inputs``), rendered into one report folder with ``summary.json``."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from glmxai.analysis import agreement, audit, discovery, faithfulness, figures, ground_truth
from glmxai.analysis.inputs import ExplainRun, load_runs
from glmxai.analysis.kmer_tables import kmer_tables, motif_share_of_top
from glmxai.analysis.motif_attribution import hit_vs_control, positional_profile, summarize_hits
from glmxai.analysis.motifs import Motif, build_motifs, hit_mask, presence, scan
from glmxai.analysis.report import Report
from glmxai.data.encoding import to_codes
from glmxai.io import sha256_file, write_json_atomic

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    """Run every analysis ``cfg`` asks for; return the summary written to ``summary.json``."""
    out = Path(cfg.paths.output_dir)
    inputs = cfg.get("inputs") or []
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)  # inputs=DIR or inputs=[DIR, ...]
    if not inputs and not cfg.get("data"):
        raise ValueError("nothing to analyze: give inputs=[explain folders] and/or data=<group> for the audit")
    runs = load_runs(inputs) if inputs else []  # fails on bad inputs before any work
    for r in runs:
        if r.meta.get("tss", cfg.tss) != cfg.tss:
            raise ValueError(f"{r.path}: explained with tss={r.meta['tss']}, analyze has tss={cfg.tss}")
    # selected before any work, so a misspelt method fails now, not after faithfulness
    discovery_runs = runs_of_methods(runs, cfg.discovery.methods) if cfg.discovery.enabled else []
    motifs = build_motifs(OmegaConf.to_container(cfg.motifs.list, resolve=True), cfg.motifs.pvalue,
                          cfg.motifs.pseudocount)
    report = Report(out, "glmxai analysis")
    summary: dict = {"inputs": [str(r.path) for r in runs]}
    motif_section(report, motifs, cfg)
    if cfg.get("data"):
        summary["audit"] = audit_section(report, instantiate(cfg.data), motifs, cfg)
    if runs:
        summary["runs"] = runs_section(report, runs, motifs, cfg, discovery_runs)
    summary["report"] = str(report.write())
    write_json_atomic(summary, out / "summary.json")
    if cfg.get("logger") and cfg.logger.get("wandb"):
        wb = cfg.logger.wandb
        report.log_wandb(project=wb.get("project", "glmxai"), name=f"{cfg.task_name}", dir=str(out),
                         mode="offline" if wb.get("offline", True) else "online",
                         config=OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "logger"]),
                                                       resolve=True))
    log.info("report: %s", summary["report"])
    return summary


def motif_section(report: Report, motifs: list[Motif], cfg: DictConfig) -> None:
    report.section("Motifs", f"JASPAR matrices scanned as log2-odds PSSMs (pseudocount {cfg.motifs.pseudocount}, "
                             f"uniform background); a hit scores at least the threshold of its p-value (default "
                             f"{cfg.motifs.pvalue}) per position and strand. Positions are relative to the TSS at "
                             f"index {cfg.tss}.")
    report.table("motifs", pd.DataFrame([{"motif": m.name, "jaspar_id": m.matrix_id, "consensus": m.consensus,
                                          "width": m.width, "pvalue": m.pvalue, "threshold": m.threshold,
                                          "strands": m.strands,
                                          "expected_window": m.window} for m in motifs]),
                 "Motifs, score thresholds and the expected start window relative to the TSS.")


def _split_tables(datamodule) -> tuple[list[str], np.ndarray, np.ndarray]:
    """All sequences, labels and split names of a data module (a file served as every split once)."""
    sequences, labels, splits, seen = [], [], [], set()
    for split in ("train", "val", "test"):
        table = datamodule.table(split)
        if table.source in seen:
            continue
        seen.add(table.source)
        sequences += table.sequences
        labels.append(table.labels)
        splits += [split] * len(table)
    return sequences, np.concatenate(labels), np.asarray(splits)


def audit_section(report: Report, datamodule, motifs: list[Motif], cfg: DictConfig) -> dict:
    """Motif enrichment, position histograms, derived negatives and split leakage."""
    sequences, labels, splits = _split_tables(datamodule)
    report.section(f"Dataset audit: {datamodule.describe()}",
                   f"{len(sequences)} sequences ({int(labels.sum())} promoters) over splits "
                   f"{dict(pd.Series(splits).value_counts())}.")
    hits = scan(sequences, motifs, tss=cfg.tss)
    enrichment = audit.motif_enrichment(presence(hits, len(sequences), motifs), labels, cfg.audit.alpha)
    report.table("audit_motif_enrichment", enrichment.drop(columns="verdict"),
                 "Presence of each motif anywhere in the sequence by label; odds ratio (conditional MLE, 95% CI), "
                 "Fisher's exact test (Bonferroni over motifs), balanced accuracy of 'motif present -> promoter'.")
    windowed = audit.motif_enrichment(presence(hits, len(sequences), motifs, windowed=True), labels, cfg.audit.alpha)
    if not windowed.empty:
        report.table("audit_motif_enrichment_in_window", windowed.drop(columns="verdict"),
                     "The same for hits that start inside the motif's expected window relative to the TSS.")
    verdicts = list(enrichment["verdict"]) + [f"(in its expected window) {v}" for v in windowed.get("verdict", [])]
    tata = [v for v in verdicts if cfg.motifs.tata in v]
    report.findings(verdicts)
    report.headline += tata
    hist = audit.position_histogram(hits, labels, cfg.audit.bin_size, (-cfg.tss, len(sequences[0]) - cfg.tss))
    report.table("audit_position_histogram", hist, "Motif hits per sequence by start position bin and label.", 20)
    report.figure("audit_position_histograms", figures.position_histograms(hist),
                  "Where each motif's hits start relative to the TSS, per sequence of each label.")
    result = {"n": len(sequences), "enrichment": enrichment.to_dict("records")}
    if len({len(s) for s in sequences}) != 1:
        report.findings(["Derived-pair detection skipped: the sequences differ in length."])
        return result
    pairs = audit.derived_pairs(sequences, labels, splits, cfg.audit.chunk, cfg.audit.min_identity,
                                cfg.audit.min_shared_chunks)
    pair_counts = audit.pair_summary(pairs, labels, splits)
    retention = audit.motif_retention(pairs, hits)
    report.table("audit_pair_summary", pair_counts,
                 f"Related pairs: sequences sharing >= {cfg.audit.min_shared_chunks} aligned {cfg.audit.chunk} bp "
                 f"chunks, or one with >= {cfg.audit.min_identity:.0%} identical positions (unrelated: ~25%).")
    report.table("audit_related_pairs", pairs, "Every related pair (rows of the concatenated splits).", 20)
    report.table("audit_motif_retention", retention,
                 "Of a promoter's motif hits, the share its derived non-promoter keeps at the same place and strand.")
    derived = pairs[pairs["kind"] == "promoter->non-promoter"]
    sentence = (f"{len(derived)} non-promoter/promoter pairs share aligned chunks (negatives derived from positives); "
                f"{int(derived['cross_split'].sum())} of them cross the train/dev/test split; "
                f"{int(pairs['cross_split'].sum())} related pairs of any kind cross it.")
    report.findings([sentence], headline=True)
    result.update({"related_pairs": int(len(pairs)), "derived_pairs": int(len(derived)),
                   "derived_pairs_cross_split": int(derived["cross_split"].sum()),
                   "related_pairs_cross_split": int(pairs["cross_split"].sum()),
                   "pair_summary": pair_counts.to_dict("records")})
    return result


def _tagged(frame: pd.DataFrame, run: ExplainRun) -> pd.DataFrame:
    return frame.assign(run=run.label)[["run", *frame.columns]]


def runs_section(report: Report, runs: list[ExplainRun], motifs: list[Motif], cfg: DictConfig,
                 discovery_runs: list[ExplainRun]) -> dict:
    """Every analysis of the explain runs; motif discovery on ``discovery_runs`` only."""
    report.section("Explain runs", f"{len(runs)} runs (model/method).")
    report.table("runs", pd.DataFrame([{
        "run": r.label, "model": r.model, "method": r.method, "n": len(r.sequences),
        "accuracy": float(((r.probs >= 0.5) == (r.labels == 1)).mean()), "checkpoint": r.meta.get("checkpoint"),
        "data": r.meta.get("data"), "split": r.meta.get("split"),
        "evaluations_per_sequence": r.meta.get("evaluations_per_sequence"),
        "seconds_per_sequence": r.meta.get("seconds_per_sequence"), "folder": str(r.path)} for r in runs]),
        "Runs analysed, with the accuracy of the explained model on the explained sequences.")
    all_hits = {id(r): scan(r.sequences, motifs, tss=cfg.tss) for r in runs}
    summary = {r.label: {} for r in runs}
    motif_attribution_part(report, runs, all_hits, cfg, summary)
    kmer_part(report, runs, all_hits, cfg, summary)
    agreement_part(report, runs, cfg, summary)
    if cfg.faithfulness.enabled:
        faithfulness_part(report, runs, cfg, summary)
    ground_truth_part(report, runs, summary)
    if discovery_runs:
        discovery_part(report, discovery_runs, cfg, summary)
    return summary


def motif_attribution_part(report, runs, all_hits, cfg, summary) -> None:
    report.section("Attribution at motifs",
                   "Mean attribution (scaled by the sequence's mean |attribution|) inside each motif hit vs "
                   f"{cfg.attribution.n_controls} matched windows of the same width and sequence; Wilcoxon "
                   "signed-rank test over hits. Positive = toward promoter.")
    tables, profiles, sentences = [], [], []
    for r in runs:
        per_hit = hit_vs_control(r.scores, all_hits[id(r)], cfg.attribution.n_controls, cfg.seed)
        table = summarize_hits(per_hit, r.labels, r.probs)
        tables.append(_tagged(table, r))
        profiles.append(_tagged(positional_profile(r.scores, r.labels, cfg.tss), r))
        tata = table[(table["motif"] == cfg.motifs.tata) & (table["group"] == "all")]
        if len(tata) and np.isfinite(tata["wilcoxon_p"].iloc[0]):
            t = tata.iloc[0]
            summary[r.label]["tata_median_diff"] = float(t["median_diff"])
            summary[r.label]["tata_wilcoxon_p"] = float(t["wilcoxon_p"])
            if t["wilcoxon_p"] < 0.05:
                how = "higher than" if t["median_diff"] > 0 else "lower than"
            else:
                how = "not distinguishable from"
            sentences.append(f"{r.label}: attribution inside {int(t['hits'])} {cfg.motifs.tata} hits is {how} "
                             f"in matched windows of the same sequences (median difference {t['median_diff']:.2f}, "
                             f"inside higher for {t['share_inside_higher']:.0%} of hits, "
                             f"Wilcoxon p={t['wilcoxon_p']:.2g}).")
        else:
            sentences.append(f"{r.label}: too few {cfg.motifs.tata} hits (< 5) to test attribution at TATA.")
        for row in _example_rows(r)[: cfg.attribution.logos]:
            hits = all_hits[id(r)]
            report.figure(f"logo_{_slug(r.label)}_{row}", figures.attribution_logo(
                r.sequences[row], r.scores[row], hits[hits["row"] == row], cfg.tss,
                f"{r.label}: sequence {r.index[row]} (label {r.labels[row]}, p={r.probs[row]:.2f})",
                tuple(cfg.attribution.logo_span)), "Attribution logo with PWM hits shaded.")
    report.findings(sentences, headline=True)
    report.table("motif_attribution", pd.concat(tables, ignore_index=True),
                 "Attribution inside motif hits vs matched windows, by label and by prediction.")
    profile = pd.concat(profiles, ignore_index=True)
    report.table("positional_profiles", profile, "Mean scaled attribution per position relative to the TSS.", 10)
    report.figure("positional_profiles", figures.positional_profiles(profile),
                  "Mean scaled attribution along the sequence (5 bp moving average), by label.")


def _example_rows(r: ExplainRun) -> list[int]:
    """Correctly predicted promoters, most confident first; otherwise all rows."""
    good = np.flatnonzero((r.labels == 1) & (r.probs >= 0.5))
    return list(good[np.argsort(-r.probs[good])]) if len(good) else list(range(len(r.sequences)))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def kmer_part(report, runs, all_hits, cfg, summary) -> None:
    k, top = cfg.kmers.k, cfg.kmers.top
    report.section("k-mer tables (the original study's, with backgrounds)",
                   f"Features are {k}-mer windows; importance = summed attribution. Per sequence the {top} "
                   "highest (and lowest) non-overlapping windows are its top positive (negative) features.")
    by_label, tops, shares = [], [], []
    for r in runs:
        table, best = kmer_tables(r.sequences, r.scores, r.labels, k, top, cfg.kmers.n_top_kmers)
        by_label.append(_tagged(table, r))
        tops.append(_tagged(best, r))
        mask = hit_mask(all_hits[id(r)], len(r.sequences), r.scores.shape[1], cfg.motifs.tata)
        share = motif_share_of_top(r.scores, r.labels, mask, k, top)
        shares.append(_tagged(share, r))
        summary[r.label]["tata_share_of_top"] = share.to_dict("records")
    report.table("kmer_importance_by_label", pd.concat(by_label, ignore_index=True),
                 "k-mers among top positive / negative features by label, with all occurrences.", 20)
    report.table("top_kmers", pd.concat(tops, ignore_index=True),
                 "Top k-mers among top positive features per run and label: counts, expected counts if top "
                 "windows were random, enrichment and one-sided Fisher p.")
    report.table("tata_share_of_top_features", pd.concat(shares, ignore_index=True),
                 f"Share of top positive features overlapping a {cfg.motifs.tata} hit vs the share of all "
                 "windows that do (expected), one-sided binomial test.")


def agreement_part(report, runs, cfg, summary) -> None:
    if len(runs) < 2:
        return
    k = cfg.agreement.k
    report.section("Agreement between methods and models",
                   f"Per-sequence Spearman correlation and top-{k} position overlap "
                   f"({'|attribution|' if cfg.agreement.absolute else 'attribution'}), on shared sequences.")
    names = [r.label for r in runs]
    keys = [np.array([f"{r.data_key}#{i}" for i in r.index]) for r in runs]
    pairs = agreement.pairwise_agreement(names, [r.scores for r in runs], keys, k, cfg.agreement.absolute)
    if pairs.empty:
        report.findings(["No two runs share sequences; agreement not computed."])
        return
    report.table("agreement_pairs", pairs, "One row per pair of runs.")
    for column, vmin in (("spearman_mean", -1.0), (f"top{k}_overlap", 0.0)):
        matrix = agreement.agreement_matrix(pairs, names, column)
        report.table(f"agreement_{column}", matrix.reset_index(names="run"), f"Matrix of {column}.")
        report.figure(f"agreement_{column}", figures.heatmap(matrix, column, vmin=vmin), f"{column} between runs.")
    for name in names:
        mine = pairs[(pairs["a"] == name) | (pairs["b"] == name)]
        summary[name]["mean_spearman_with_others"] = float(mine["spearman_mean"].mean())


def remembering_predict(backbone, batch_size: int):
    """p(promoter) of int codes (N, L) -> (N,), remembered by input. Every run of one checkpoint
    on the same sequences shares its unperturbed and random-order inputs, so only the
    attribution-ordered curves cost new model evaluations."""
    cache: dict[str, np.ndarray] = {}

    def predict(codes: np.ndarray) -> np.ndarray:
        codes = np.ascontiguousarray(codes)
        key = f"{codes.shape}:{hashlib.sha1(codes.tobytes()).hexdigest()}"
        if key not in cache:
            cache[key] = backbone.predict_proba(codes, batch_size=batch_size)[:, 1]
        return cache[key]

    return predict


def faithfulness_part(report, runs, cfg, summary) -> None:
    from glmxai.models.build import load_classifier

    fc = cfg.faithfulness
    report.section("Faithfulness", f"Deletion/insertion over the first {fc.n} sequences of each run, "
                                   f"{fc.steps} steps, background: {fc.background} (glmxai.xai.background), "
                                   f"{fc.n_random} random orders.")
    predictors, hashes, rows, curves, skipped = {}, {}, [], [], []
    for r in runs:
        ckpt = r.meta.get("checkpoint")
        if not isinstance(ckpt, str) or not Path(ckpt).is_file():
            skipped.append(f"{r.label}: checkpoint {ckpt!r} not found; faithfulness skipped.")
            continue
        if ckpt not in hashes:
            hashes[ckpt] = sha256_file(ckpt)
        explained_with = r.meta.get("checkpoint_sha256")
        if explained_with and explained_with != hashes[ckpt]:
            skipped.append(f"{r.label}: {ckpt} has changed since it was explained (SHA-256 {hashes[ckpt][:12]}..., "
                           f"explained with {str(explained_with)[:12]}...); faithfulness skipped.")
            continue
        if ckpt not in predictors:
            module = load_classifier(ckpt, map_location=fc.device, trust_remote_code=bool(cfg.model.trust_remote_code))
            predictors[ckpt] = remembering_predict(module.backbone, fc.batch_size)
        predict = predictors[ckpt]
        codes = to_codes(r.sequences[: fc.n])
        background = faithfulness.backgrounds(codes, fc.background, cfg.seed)
        curve, areas = faithfulness.perturbation_curves(predict, codes, r.scores[: fc.n], background, fc.steps,
                                                        fc.n_random, cfg.seed)
        curves.append(_tagged(curve, r))
        row = faithfulness.summarize_areas(areas)
        summary[r.label]["faithfulness"] = row
        rows.append({"run": r.label, **row})
    report.findings(skipped)
    if rows:
        table = pd.DataFrame(rows)
        report.table("faithfulness", table, "Mean deletion area over the curve and insertion area under the curve "
                                            "(attribution order, random order, gain, Wilcoxon p of per-sequence gain).")
        report.figure("faithfulness_curves", figures.perturbation_curves(pd.concat(curves, ignore_index=True)),
                      "Probability of the explained class as positions are deleted / inserted.")
        report.findings([f"{r['run']}: deletion AOC {r['deletion_aoc']:.3f} vs random {r['deletion_aoc_random']:.3f} "
                         f"(p={r['deletion_aoc_wilcoxon_p']:.2g}); insertion AUC {r['insertion_auc']:.3f} vs random "
                         f"{r['insertion_auc_random']:.3f}." for r in rows], headline=True)


def ground_truth_part(report, runs, summary) -> None:
    masked = [r for r in runs if r.masks is not None]
    if not masked:
        return
    report.section("Ground truth", "Per-sequence AUROC / AUPRC of |attribution| for the true motif positions "
                                   "(synthetic masks); prevalence is the AUPRC of a random ranking.")
    rows = []
    for r in masked:
        per_seq = ground_truth.mask_metrics(r.scores, r.masks, r.labels, r.probs)
        row = ground_truth.summarize_masks(per_seq)
        summary[r.label]["ground_truth"] = row
        rows.append({"run": r.label, **row})
    table = pd.DataFrame(rows)
    report.table("ground_truth", table, "Means over masked sequences, and over correctly predicted ones.")
    report.findings([f"{r['run']}: AUROC {r['auroc_mean']:.3f} (correct only {r['auroc_correct_mean']:.3f}), "
                     f"AUPRC {r['auprc_mean']:.3f} vs {r['prevalence_mean']:.3f} by chance." for r in rows],
                    headline=True)


def runs_of_methods(runs: list[ExplainRun], methods) -> list[ExplainRun]:
    """The runs whose method is in ``methods`` (None: all); an unknown name is an error."""
    if methods is None:
        return list(runs)
    unknown = sorted(set(methods) - {r.method for r in runs})
    if unknown:
        raise ValueError(f"discovery.methods names {unknown}, but the inputs hold {sorted({r.method for r in runs})}")
    return [r for r in runs if r.method in methods]


def discovery_part(report, runs, cfg, summary) -> None:
    dc = cfg.discovery
    report.section("Motif discovery", "TF-MoDISco (modisco-lite) patterns from each run's attributions, matched "
                                      "to JASPAR CORE and POLII with TOMTOM (memelite).")
    targets = discovery.jaspar_targets(dc.tax_group)
    tables = []
    for r in runs:
        patterns = discovery.discover_patterns(r.sequences, r.scores, dc.trim,
                                               **OmegaConf.to_container(dc.modisco, resolve=True))
        matches = discovery.match_patterns(patterns, targets, dc.n_best)
        tables.append(_tagged(matches, r))
        summary[r.label]["patterns"] = len(patterns)
        if not patterns:
            report.findings([f"{r.label}: TF-MoDISco found no pattern (too few seqlets; explain more sequences)."])
        for p in patterns[:3]:
            best = matches[(matches["pattern"] == p["pattern"]) & (matches["rank"] == 1)]
            name = f"{best['match_name'].iloc[0]} (q={best['qvalue'].iloc[0]:.2g})" if len(best) else "no match"
            report.figure(f"pattern_{_slug(r.label)}_{p['pattern']}", figures.pattern_logo(p["cwm"], p["pattern"]),
                          f"{r.label} {p['pattern']}: {p['n_seqlets']} seqlets, best JASPAR match {name}.")
    report.table("discovered_patterns", pd.concat(tables, ignore_index=True),
                 "Discovered patterns and their best JASPAR matches.")
