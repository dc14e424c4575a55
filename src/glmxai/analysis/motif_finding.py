"""DNABERT-viz motif finding (Ji et al. 2021, ``motif/find_motifs.py``) from any run's attributions.

1. Candidates: in each positive sequence (label 1), the contiguous regions of at least
   ``min_len`` bp where the score is above the sequence's mean and above ``min_factor`` times
   its minimum (DNABERT-viz's two conditions; the second only bites for non-negative scores
   such as attention); each region's bases are a candidate.
2. Enrichment: per candidate, the number of positive and of all sequences of the run that
   contain it (forward strand, counted once per sequence); one-sided hypergeometric p =
   P(X >= x), X ~ Hypergeom(N sequences, K positives, n containing it); Benjamini-Hochberg over
   the run's candidates, kept at q < ``pval_cutoff``.
3. Merging: kept candidates, shortest first, are aligned without gaps (free end gaps, match 1,
   mismatch 0: DNABERT-viz's ``PairwiseAligner`` with internal gaps forbidden and the Biopython
   defaults of its time; Biopython 1.88, installed here, scores end gaps -1 by default) to the motifs kept so
   far; a candidate whose best score reaches max(min_len - 1, half the shorter length) joins
   the best-scoring motif (every tied one with ``align_all_ties``), its instances moved onto that
   motif's footprint; otherwise it starts a motif.
4. Windows: every instance is re-centred to ``window_size`` bp (dropped if it would leave the
   sequence); motifs with fewer than ``min_n_motif`` instances are dropped.
5. Each motif's window PPM, its logo (information content) and its TOMTOM matches to JASPAR
   (``discovery.match_patterns``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from omegaconf import DictConfig
from scipy.stats import false_discovery_control, hypergeom

from glmxai import figures
from glmxai.analysis.discovery import jaspar_targets, match_patterns
from glmxai.explain_runs import ExplainRun
from glmxai.report import Report, p_clause, slug

log = logging.getLogger(__name__)
Instance = tuple[int, int, int]  # (sequence index among the run's sequences, start, end)


def high_score_regions(scores: np.ndarray, min_len: int = 5, min_factor: float = 10.0) -> list[tuple[int, int]]:
    """[start, end) of the runs of at least ``min_len`` positions with score > mean(scores) and
    score > min_factor * min(scores)."""
    high = (scores > scores.mean()) & (scores > min_factor * scores.min())
    edges = np.flatnonzero(np.diff(np.concatenate([[False], high, [False]]).astype(np.int8)))
    return [(int(s), int(e)) for s, e in edges.reshape(-1, 2) if e - s >= min_len]


def enrichment_p(positives_with: np.ndarray, all_with: np.ndarray, n_positive: int, n_total: int) -> np.ndarray:
    """One-sided hypergeometric p = P(X >= x) of finding ``positives_with`` positives among the
    ``all_with`` sequences that contain a candidate, with ``n_positive`` of ``n_total`` positive."""
    return hypergeom.sf(np.asarray(positives_with) - 1, n_total, n_positive, np.asarray(all_with))


def ungapped_alignment(query: str, key: str) -> tuple[int, int]:
    """Best ungapped overlap of ``key`` on ``query`` with free end gaps: (matches, offset), where
    ``key[0]`` sits at ``query[offset]`` (negative: before the query starts); ties go to the
    offset nearest 0, then the lower one."""
    best = (-1, 0)
    for offset in sorted(range(-len(key) + 1, len(query)), key=lambda o: (abs(o), o)):
        lo, hi = max(0, offset), min(len(query), offset + len(key))
        matches = sum(query[i] == key[i - offset] for i in range(lo, hi))
        if matches > best[0]:
            best = (matches, offset)
    return best


@dataclass
class Motif:
    """A merged motif: its key candidate, the candidates merged into it, their instances."""

    key: str
    members: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)


def merge_candidates(candidates: dict[str, list[Instance]], min_len: int = 5, align_all_ties: bool = False
                     ) -> list[Motif]:
    """DNABERT-viz's ``merge_motifs`` over ``{candidate: instances}`` (in order of first
    appearance): shortest first, each aligned to the motifs so far (``ungapped_alignment``)."""
    motifs: list[Motif] = []
    for candidate in sorted(candidates, key=len):
        scored = []
        for motif in motifs:
            score, offset = ungapped_alignment(candidate, motif.key)
            if score >= max(min_len - 1, 0.5 * min(len(candidate), len(motif.key))):
                scored.append((score, offset, motif))
        if not scored:
            motifs.append(Motif(candidate, [candidate], list(candidates[candidate])))
            continue
        best = max(score for score, _, _ in scored)
        chosen = [(offset, motif) for score, offset, motif in scored if score == best]
        for offset, motif in chosen if align_all_ties else chosen[:1]:
            motif.members.append(candidate)
            motif.instances += [(i, start + offset, start + offset + len(motif.key))
                                for i, start, _ in candidates[candidate]]
    return motifs


def centred_windows(instances: list[Instance], lengths: list[int], window_size: int) -> list[Instance]:
    """Each instance re-centred to ``window_size`` bp (one more base on the right when the
    difference is odd, as DNABERT-viz); windows that would leave their sequence are dropped."""
    out = []
    for i, start, end in instances:
        left = (window_size - (end - start)) // 2
        new_start = start - left
        if new_start >= 0 and new_start + window_size <= lengths[i]:
            out.append((i, new_start, new_start + window_size))
    return out


def window_ppm(sequences: list[str], windows: list[Instance], pseudocount: float = 0.01) -> np.ndarray:
    """Position probability matrix (4, w) of the windows' bases (A, C, G, T; N not counted)."""
    counts = np.zeros((4, windows[0][2] - windows[0][1]))
    for i, start, end in windows:
        for j, base in enumerate(sequences[i][start:end]):
            if base in "ACGT":
                counts["ACGT".index(base), j] += 1
    counts += pseudocount
    return counts / counts.sum(axis=0, keepdims=True)


def information_matrix(ppm: np.ndarray) -> np.ndarray:
    """Each column of a PPM (4, w) scaled to its information content (bits), for a logo."""
    entropy = -(ppm * np.log2(ppm)).sum(axis=0)
    return ppm * (2.0 - entropy)


def find_motifs(sequences: list[str], labels: np.ndarray, scores: np.ndarray, window_size: int = 24,
                min_len: int = 5, min_factor: float = 10.0, pval_cutoff: float = 0.005, min_n_motif: int = 3,
                align_all_ties: bool = False) -> tuple[list[dict], pd.DataFrame]:
    """The DNABERT-viz procedure on one run (module docstring). Returns the motifs (dicts with
    ``pattern``, ``key``, ``members``, ``instances``, ``sequences``, ``ppm`` (4, w), ``consensus``,
    ``hypergeom_q``: the smallest q of its candidates), most instances first, and every tested
    candidate with ``positives_with``, ``all_with``, ``hypergeom_p``, ``hypergeom_q`` and ``kept``."""
    labels = np.asarray(labels)
    positive = np.flatnonzero(labels == 1)
    candidates: dict[str, list[Instance]] = {}
    for i in positive:
        for start, end in high_score_regions(np.asarray(scores[i], dtype=np.float64), min_len, min_factor):
            candidates.setdefault(sequences[i][start:end], []).append((int(i), start, end))
    columns = ["candidate", "positives_with", "all_with", "hypergeom_p", "hypergeom_q", "kept"]
    if not candidates:
        return [], pd.DataFrame(columns=columns)
    names = list(candidates)
    is_positive = labels == 1
    contains = np.array([[name in s for s in sequences] for name in names])  # (C, N)
    positives_with, all_with = contains[:, is_positive].sum(1), contains.sum(1)
    p = enrichment_p(positives_with, all_with, int(is_positive.sum()), len(sequences))
    q = false_discovery_control(p)
    table = pd.DataFrame({"candidate": names, "positives_with": positives_with, "all_with": all_with,
                          "hypergeom_p": p, "hypergeom_q": q, "kept": q < pval_cutoff}, columns=columns)
    kept = {name: candidates[name] for name, keep in zip(names, table["kept"]) if keep}
    q_of = dict(zip(names, q))
    lengths = [len(s) for s in sequences]
    motifs = []
    for motif in merge_candidates(kept, min_len, align_all_ties):
        windows = centred_windows(motif.instances, lengths, window_size)
        if len(windows) < min_n_motif:
            continue
        ppm = window_ppm(sequences, windows)
        motifs.append({"key": motif.key, "members": motif.members, "instances": len(windows),
                       "sequences": len({i for i, _, _ in windows}), "ppm": ppm,
                       "consensus": "".join("ACGT"[j] for j in ppm.argmax(axis=0)),
                       "hypergeom_q": float(min(q_of[m] for m in motif.members))})
    motifs.sort(key=lambda m: -m["instances"])
    for rank, motif in enumerate(motifs):
        motif["pattern"] = f"motif_{rank}_{motif['key']}"
    return motifs, table.sort_values("hypergeom_p", kind="stable").reset_index(drop=True)


def flat_scores_note(scores: np.ndarray, min_factor: float) -> str:
    """Why positives (N, L) gave no candidate: the median max/min ratio of non-negative scores
    below ``min_factor`` (DNABERT-viz's second condition assumes sharply peaked attention)."""
    lowest = scores.min(axis=1)
    if len(scores) and (lowest > 0).all():
        ratio = float(np.median(scores.max(axis=1) / lowest))
        if ratio <= min_factor:
            return (f"no position scores above {min_factor:g} x its sequence's minimum (median max/min "
                    f"{ratio:.2g}: flat scores); motif_finding.min_factor=0 keeps the mean condition alone")
    return "no region of high scores reaches motif_finding.min_len"


def motif_finding_section(report: Report, runs: list[ExplainRun], options: DictConfig) -> dict[str, dict]:
    """DNABERT-viz motif finding on each run (options: ``cfg.motif_finding``), motifs matched to
    JASPAR with TOMTOM. Returns per run name ``motif_finding``: candidates tested, enriched
    candidates and motifs found."""
    log.info("analyze: DNABERT-viz motif finding on %d runs: %s", len(runs), ", ".join(r.name for r in runs))
    report.section("Motif finding (DNABERT-viz)",
                   f"High-score regions of the positive sequences (score above the sequence's mean and above "
                   f"{options.min_factor:g} x its minimum, >= {options.min_len} bp) as candidates; hypergeometric "
                   f"enrichment in positives against the negatives of the same run, Benjamini-Hochberg over the "
                   f"run's candidates, kept at q < {options.pval_cutoff:g}; similar candidates merged by ungapped "
                   f"alignment, instances extended to {options.window_size} bp windows, motifs with >= "
                   f"{options.min_n_motif} instances kept; window PPMs matched to JASPAR CORE and POLII with TOMTOM.")
    targets = jaspar_targets(options.tax_group)
    tables, summary = [], {}
    for run in runs:
        motifs, candidates = find_motifs(run.sequences, run.labels, run.scores, int(options.window_size),
                                         int(options.min_len), float(options.min_factor), float(options.pval_cutoff),
                                         int(options.min_n_motif), bool(options.align_all_ties))
        enriched = int(candidates["kept"].sum()) if len(candidates) else 0
        summary[run.name] = {"motif_finding": {"candidates": len(candidates), "enriched": enriched,
                                               "motifs": len(motifs)}}
        matches = match_patterns([{**m, "n_seqlets": m["instances"]} for m in motifs], targets, int(options.n_best))
        best = matches[matches["rank"] == 1].set_index("pattern") if len(matches) else None
        rows = []
        for motif in motifs:
            match = best.loc[motif["pattern"]] if best is not None else None
            rows.append({"motif": motif["key"], "consensus": motif["consensus"], "instances": motif["instances"],
                         "sequences": motif["sequences"], "candidates": len(motif["members"]),
                         "members": " ".join(motif["members"][:10]), "hypergeom_q": motif["hypergeom_q"],
                         "best_match_id": None if match is None else match["match_id"],
                         "best_match_name": None if match is None else match["match_name"],
                         "tomtom_pvalue": None if match is None else match["pvalue"],
                         "tomtom_qvalue": None if match is None else match["qvalue"]})
        tables.append(run.tagged(pd.DataFrame(rows, columns=["motif", "consensus", "instances", "sequences",
                                                             "candidates", "members", "hypergeom_q", "best_match_id",
                                                             "best_match_name", "tomtom_pvalue", "tomtom_qvalue"])))
        n_positive = int((np.asarray(run.labels) == 1).sum())
        if not motifs:
            why = (f"{enriched:,} enriched at q < {options.pval_cutoff:g} (more sequences give the test power: "
                   "attention costs one pass per sequence)")
            if not len(candidates):
                why = flat_scores_note(run.scores[np.asarray(run.labels) == 1], float(options.min_factor))
            report.findings([f"{run.name}: no motif: {len(candidates):,} candidates from {n_positive:,} positives, "
                             f"{why}."])
        for motif, row in zip(motifs[: int(options.logos)], rows):
            name = (f"{row['best_match_name']} ({row['best_match_id']}, TOMTOM q {p_clause(row['tomtom_qvalue'])})"
                    if row["best_match_id"] else "no match")
            report.figure(f"motif_finding_{slug(run.name)}_{motif['pattern']}",
                          figures.pattern_logo(information_matrix(motif["ppm"]), f"{run.name} {motif['key']}"),
                          f"{run.name} motif {motif['key']}: {motif['instances']} instances in {motif['sequences']} "
                          f"positives, {len(motif['members'])} candidates merged (smallest candidate q "
                          f"{p_clause(motif['hypergeom_q'])}); best JASPAR match {name}. Information content (bits).")
    report.table("motif_finding", pd.concat(tables, ignore_index=True),
                 "DNABERT-viz motifs per run: instances (windows) and positives holding them, candidates merged, the "
                 "smallest Benjamini-Hochberg q of its candidates (over the run's candidates, as DNABERT-viz; not one "
                 "of the report's tests) and the best TOMTOM match (q over the JASPAR matrices compared).", pvalues=[])
    return summary
