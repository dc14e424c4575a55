"""The probes' verdict sentences, read from their tables once the report's p-values are adjusted."""
from __future__ import annotations

import pandas as pd

from glmxai.probes.job import ProbePlan
from glmxai.report import fmt, fmt_signed, p_clause
from glmxai.stats import DOWN, UNCLEAR, UNTESTED, UP, call


def _verdict(mean: float, p_adj: float, alpha: float, verbs: tuple[str, str, str]) -> tuple[str, str]:
    """(verb, note): verbs[0] or verbs[1] for a mean above or below 0 at adjusted p < alpha, else
    verbs[2] with a note that says why no direction is called."""
    return {UP: (verbs[0], ""), DOWN: (verbs[1], ""), UNTESTED: (verbs[2], " (not tested)"),
            UNCLEAR: (verbs[2], f": not distinguishable from 0 at adjusted p < {fmt(alpha)}")}[call(mean, p_adj, alpha)]


def insertion_verdicts(table: pd.DataFrame, plan: ProbePlan, alpha: float) -> list[str]:
    """One sentence per model and pattern: the consensus at its canonical position on the first
    background kind, with its CI, adjusted p and the shuffled copies' change; the other kinds'
    mean changes in brackets."""
    sentences = []
    kinds = plan.options["backgrounds"]
    consensus = table[table["variant"] == "consensus"]
    for model in plan.models:
        for pattern in plan.patterns:
            rows = consensus[(consensus["model"] == model.label) & (consensus["pattern"] == pattern.name)]
            if rows.empty:
                continue
            row = rows.iloc[0]
            where = f"at {row['position']}" + (f" (mean of {row['frames']})" if row["frames"] else "")
            how, note = _verdict(row["mean"], row["wilcoxon_p_adj"], alpha, ("raises", "lowers", "changes"))
            others = ", ".join(f"{r['background']} {fmt_signed(r['mean'])}" for _, r in rows.iloc[1:].iterrows())
            sentences.append(
                f"{model.label}: inserting {pattern.name} ({pattern.consensus_text}) {where} into {fmt(int(row['n']))} "
                f"{row['background']} backgrounds {how} the promoter logit by {fmt_signed(row['mean'])} (95% CI "
                f"{fmt(row['ci_low'])} to {fmt(row['ci_high'])}; p(promoter) {fmt_signed(row['prob_mean'])}; "
                f"{fmt(100 * row['fraction_positive'], 2)}% of backgrounds up), adjusted p "
                f"{p_clause(row['wilcoxon_p_adj'])}{note}; its shuffled copy: {fmt_signed(row['shuffled_mean'])} "
                f"(consensus vs shuffled adjusted p {p_clause(row['vs_shuffled_p_adj'])})"
                + (f"; other backgrounds: {others}" if others and len(kinds) > 1 else "") + ".")
    return sentences


def peak_verdicts(peaks: pd.DataFrame) -> list[str]:
    """Where each pattern's effect peaks, per model, on the first background kind."""
    sentences = []
    for (model, pattern), rows in peaks.groupby(["model", "pattern"], sort=False):
        row = rows.iloc[0]
        sentences.append(
            f"{model}: the effect of {pattern} on the promoter logit peaks at {row['peak']} bp ({row['peak_of']}, "
            f"{row['background']} backgrounds; 95% bootstrap interval {row['peak_low']} to {row['peak_high']}; "
            f"canonical {row['canonical']}) with {fmt_signed(row['peak_mean'])}; the largest mean change of its "
            f"shuffled copies anywhere is {fmt_signed(row['shuffled_largest'])}.")
    return sentences


def spacing_verdicts(table: pd.DataFrame, alpha: float) -> list[str]:
    """One sentence per model, background kind and pair at its canonical arrangement."""
    sentences = []
    for _, row in table.iterrows():
        how, note = _verdict(row["mean"], row["wilcoxon_p_adj"], alpha, ("is positive", "is negative", "is"))
        first, second = row["pair"].split(" + ", 1)
        sentences.append(
            f"{row['model']}: {first} at {row['a_position']} with {second} at {row['b_position']} "
            f"({row['background']} backgrounds): alone {fmt_signed(row['delta_a'])} and {fmt_signed(row['delta_b'])}, "
            f"together {fmt_signed(row['delta_ab'])} promoter logit (p(promoter) {fmt_signed(row['prob_delta_a'])}, "
            f"{fmt_signed(row['prob_delta_b'])}, {fmt_signed(row['prob_delta_ab'])}); the interaction "
            f"{fmt_signed(row['mean'])} (95% CI {fmt(row['ci_low'])} to {fmt(row['ci_high'])}; p(promoter) "
            f"{fmt_signed(row['prob_interaction'])}) {how}, adjusted p {p_clause(row['wilcoxon_p_adj'])}{note}; "
            f"shuffled pair {fmt_signed(row['shuffled_mean'])} (adjusted p vs shuffled "
            f"{p_clause(row['vs_shuffled_p_adj'])}).")
    return sentences


def dose_verdicts(table: pd.DataFrame, plan: ProbePlan) -> list[str]:
    """One sentence per model: the change for each number of copies on the first background kind."""
    sentences = []
    first_kind = plan.options["backgrounds"][0]
    rows = table[(table["variant"] == "consensus") & (table["background"] == first_kind)]
    for model, g in rows.groupby("model", sort=False):
        changes = "; ".join(f"{int(r['copies'])}: {fmt_signed(r['mean'])} (adjusted p {p_clause(r['wilcoxon_p_adj'])})"
                            for _, r in g.iterrows())
        sentences.append(f"{model}: copies of {g['pattern'].iat[0]} at {g['positions'].iat[-1]} on {first_kind} "
                         f"backgrounds change the promoter logit by {changes}.")
    return sentences


def necessity_verdicts(table: pd.DataFrame, split: str, alpha: float) -> list[str]:
    """One sentence per model and pattern: destroying all its hits, against matched windows."""
    sentences = []
    for _, row in table[table["hits"] == "all"].iterrows():
        if not row["n"]:
            sentences.append(f"{row['model']}: no hit of {row['pattern']} in the {split} promoters probed.")
            continue
        how, note = _verdict(row["mean"], row["wilcoxon_p_adj"], alpha, ("raises", "lowers", "changes"))
        sentences.append(
            f"{row['model']}: destroying the {fmt(int(row['n']))} hits of {row['pattern']} in {split} promoters "
            f"{how} the promoter logit by {fmt_signed(row['mean'])} (95% CI {fmt(row['ci_low'])} to "
            f"{fmt(row['ci_high'])}), adjusted p {p_clause(row['wilcoxon_p_adj'])}{note}; matched random windows "
            f"{fmt_signed(row['control_mean'])} (adjusted p vs them {p_clause(row['vs_control_p_adj'])}).")
    return sentences
