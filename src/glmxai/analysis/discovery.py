"""Motif discovery from attributions with modisco-lite, matched to JASPAR with memelite's TOMTOM.

Only per-nucleotide scores are available (no hypothetical contributions), so the
hypothetical contributions given to TF-MoDISco are the scores placed on the observed base.
Patterns are trimmed to their core, the contiguous run around the strongest position
whose contribution is at least ``trim`` of that maximum, before matching.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from glmxai import figures
from glmxai.data.encoding import one_hot
from glmxai.explain_runs import ExplainRun
from glmxai.motifs import CURRENT_RELEASE, POLII_RELEASE, jaspar_db
from glmxai.report import Report, p_clause, slug

log = logging.getLogger(__name__)


def core_span(strength: np.ndarray, trim: float) -> tuple[int, int]:
    """[start, end) of the contiguous run around argmax(strength) with strength >= trim * max."""
    peak = int(np.argmax(strength))
    weak = strength < trim * strength[peak]
    start = peak
    while start > 0 and not weak[start - 1]:
        start -= 1
    end = peak + 1
    while end < len(strength) and not weak[end]:
        end += 1
    return start, end


def discover_patterns(sequences: list[str], scores: np.ndarray, trim: float = 0.3, **modisco_kwargs) -> list[dict]:
    """Run TF-MoDISco on (N, L) scores. Returns patterns (positive metacluster first) as dicts
    with ``pattern`` name, ``n_seqlets``, ``ppm`` and ``cwm`` (4, w) trimmed, ``consensus``."""
    from modiscolite.tfmodisco import TFMoDISco

    onehot = one_hot(sequences).numpy().transpose(0, 2, 1).astype(np.float32)  # (N, L, 4)
    hypothetical = (onehot * scores[:, :, None]).astype(np.float32)
    pos, neg = TFMoDISco(one_hot=onehot, hypothetical_contribs=hypothetical, **modisco_kwargs)
    out = []
    for sign, patterns in (("pos", pos or []), ("neg", neg or [])):
        for i, pattern in enumerate(patterns):
            cwm = np.asarray(pattern.contrib_scores)  # (w, 4)
            ppm = np.asarray(pattern.sequence)
            s, e = core_span(np.abs(cwm).sum(axis=1), trim)
            ppm_t, cwm_t = ppm[s:e].T, cwm[s:e].T
            out.append({"pattern": f"{sign}_pattern_{i}", "n_seqlets": len(pattern.seqlets), "ppm": ppm_t,
                        "cwm": cwm_t, "consensus": "".join("ACGT"[j] for j in ppm_t.argmax(axis=0))})
    return out


def jaspar_targets(tax_group: str = "vertebrates") -> tuple[list[str], list[str], list[np.ndarray]]:
    """(ids, names, PPMs (4, w)) of the latest JASPAR CORE matrices of ``tax_group`` plus the
    POLII collection (JASPAR2020)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        motifs = list(jaspar_db(CURRENT_RELEASE).fetch_motifs(collection="CORE", tax_group=[tax_group]))
        motifs += list(jaspar_db(POLII_RELEASE).fetch_motifs(collection="POLII"))
    ids, names, ppms = [], [], []
    for motif in motifs:
        counts = np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64)
        ids.append(motif.matrix_id)
        names.append(motif.name)
        ppms.append((counts + 0.01) / (counts + 0.01).sum(axis=0, keepdims=True))
    return ids, names, ppms


def match_patterns(patterns: list[dict], targets: tuple[list[str], list[str], list[np.ndarray]],
                   n_best: int = 3) -> pd.DataFrame:
    """TOMTOM (memelite) of each pattern's PPM against ``targets``; the ``n_best`` matches per
    pattern with p-value and q-value (Benjamini-Hochberg over that pattern's targets)."""
    from memelite import tomtom
    from scipy.stats import false_discovery_control

    columns = ["pattern", "consensus", "n_seqlets", "rank", "match_id", "match_name", "pvalue", "qvalue"]
    if not patterns:
        return pd.DataFrame(columns=columns)
    ids, names, ppms = targets
    pvalues = np.asarray(tomtom([p["ppm"] for p in patterns], ppms)[0])  # (patterns, targets)
    rows = []
    for pattern, pv in zip(patterns, pvalues):
        qv = false_discovery_control(np.clip(np.nan_to_num(pv, nan=1.0), 0, 1))
        for rank, t in enumerate(np.argsort(pv)[:n_best], start=1):
            rows.append({"pattern": pattern["pattern"], "consensus": pattern["consensus"],
                         "n_seqlets": pattern["n_seqlets"], "rank": rank, "match_id": ids[t],
                         "match_name": names[t], "pvalue": float(pv[t]), "qvalue": float(qv[t])})
    return pd.DataFrame(rows, columns=columns)


def runs_of_methods(runs: list[ExplainRun], methods: Sequence[str] | None, key: str = "discovery.methods"
                    ) -> list[ExplainRun]:
    """The runs whose method (meta.json ``method``) is in ``methods`` (None: all); an unknown
    name is an error naming the option ``key``."""
    if methods is None:
        return list(runs)
    unknown = sorted(set(methods) - {r.method for r in runs})
    if unknown:
        raise ValueError(f"{key} names {unknown}, but the inputs hold {sorted({r.method for r in runs})}")
    return [r for r in runs if r.method in methods]


def discovery_section(report: Report, runs: list[ExplainRun], options: DictConfig) -> dict[str, dict]:
    """TF-MoDISco patterns of each run matched to JASPAR (options: ``cfg.discovery``).
    Returns per run name ``patterns``, the number of patterns found."""
    log.info("analyze: motif discovery of %d runs: %s", len(runs), ", ".join(r.name for r in runs))
    report.section("Motif discovery", "TF-MoDISco (modisco-lite) patterns from each run's attributions, matched "
                                      "to JASPAR CORE and POLII with TOMTOM (memelite).")
    targets = jaspar_targets(options.tax_group)
    tables, summary = [], {}
    for run in runs:
        patterns = discover_patterns(run.sequences, run.scores, options.trim,
                                     **OmegaConf.to_container(options.modisco, resolve=True))
        matches = match_patterns(patterns, targets, options.n_best)
        tables.append(run.tagged(matches))
        summary[run.name] = {"patterns": len(patterns)}
        if not patterns:
            report.findings([f"{run.name}: TF-MoDISco found no pattern (too few seqlets; explain more sequences)."])
        for p in patterns[:3]:
            best = matches[(matches["pattern"] == p["pattern"]) & (matches["rank"] == 1)]
            name = f"{best['match_name'].iloc[0]} (q {p_clause(best['qvalue'].iloc[0])})" if len(best) else "no match"
            report.figure(f"pattern_{slug(run.name)}_{p['pattern']}", figures.pattern_logo(p["cwm"], p["pattern"]),
                          f"{run.name} {p['pattern']}: {p['n_seqlets']} seqlets, best JASPAR match {name}.")
    report.table("discovered_patterns", pd.concat(tables, ignore_index=True),
                 "Discovered patterns and their best JASPAR matches: TOMTOM p-value and q-value (Benjamini-Hochberg "
                 "over the JASPAR matrices compared with that pattern; a matching score, not one of the report's "
                 "tests).", pvalues=[])
    return summary
