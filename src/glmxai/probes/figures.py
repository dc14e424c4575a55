"""Figures of the probe section (matplotlib, Agg backend): effect-vs-position curves with the
models overlaid on a TSS-relative axis, spacing heat maps and dose curves. Each returns a Figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from glmxai.figures import finish_row


def _colours(models) -> dict:
    return dict(zip(models, plt.cm.tab10.colors * 5))


def position_curves(curves: pd.DataFrame, pattern: str, canonical: int):
    """Mean change of the promoter logit vs the pattern's start relative to the TSS, one panel per
    background kind, one colour per model: the consensus solid with its 95% CI band, its shuffles
    dashed, the frame average of frame-dependent models dotted. curves: model, background,
    variant, position, mean, ci_low, ci_high, frame_average."""
    kinds = list(curves["background"].unique())
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 3.6), sharey=True, squeeze=False)
    colours = _colours(curves["model"].unique())
    for ax, kind in zip(axes[0], kinds):
        for (model, variant), g in curves[curves["background"] == kind].groupby(["model", "variant"], sort=False):
            g = g.sort_values("position")
            if variant == "consensus":
                ax.fill_between(g["position"], g["ci_low"], g["ci_high"], color=colours[model], alpha=0.2, lw=0)
                ax.plot(g["position"], g["mean"], color=colours[model], lw=1.2, label=f"{model}: consensus")
                if g["frame_average"].notna().any():
                    ax.plot(g["position"], g["frame_average"], color=colours[model], lw=1.2, ls=":",
                            label=f"{model}: frame average")
            else:
                ax.plot(g["position"], g["mean"], color=colours[model], lw=0.8, ls="--", alpha=0.8,
                        label=f"{model}: shuffled")
        ax.axhline(0, color="black", lw=0.5)
        ax.axvline(0, color="grey", lw=0.6, ls=":")
        ax.axvline(canonical, color="grey", lw=0.6, ls="--")
        ax.text(canonical, 1.01, f"canonical {canonical}", fontsize=6, ha="center", transform=ax.get_xaxis_transform())
        ax.text(0, 1.01, "TSS", fontsize=6, ha="center", transform=ax.get_xaxis_transform())
        ax.set_title(f"{pattern}: {kind} backgrounds", fontsize=9, pad=14)
        ax.set_xlabel("pattern start relative to TSS (bp)")
    return finish_row(fig, axes, "mean change of promoter logit")


def spacing_heatmaps(grid: pd.DataFrame, pair: str, canonical: tuple[int, int]):
    """Interaction delta(AB) - delta(A) - delta(B) (mean change of the logit) on the grid of starts,
    one panel per model (rows) and background kind (columns), one symmetric colour scale, the
    canonical arrangement boxed; blank: the two patterns would overlap. grid: model,
    background, a_position, b_position, interaction."""
    models, kinds = list(grid["model"].unique()), list(grid["background"].unique())
    bound = float(np.nanmax(np.abs(grid["interaction"]))) if grid["interaction"].notna().any() else 1.0
    fig, axes = plt.subplots(len(models), len(kinds), figsize=(4.2 * len(kinds), 3.6 * len(models)), squeeze=False)
    for row, model in enumerate(models):
        for col, kind in enumerate(kinds):
            _interaction_heatmap(axes[row][col], grid[(grid["model"] == model) & (grid["background"] == kind)], pair,
                                 canonical, f"{model}, {kind}", bound, fig)
    fig.tight_layout()
    return fig


def dose_curves(table: pd.DataFrame):
    """Mean change of the logit (95% CI) vs copies planted, one panel per background kind, one
    colour per model; the shuffled copies dashed. table: model, background, variant, copies,
    mean, ci_low, ci_high."""
    kinds = list(table["background"].unique())
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.3), sharey=True, squeeze=False)
    colours = _colours(table["model"].unique())
    for ax, kind in zip(axes[0], kinds):
        for (model, variant), g in table[table["background"] == kind].groupby(["model", "variant"], sort=False):
            x = np.concatenate([[0], g["copies"]])
            y = np.concatenate([[0.0], g["mean"]])
            errors = np.vstack([np.concatenate([[0], g["mean"] - g["ci_low"]]),
                                np.concatenate([[0], g["ci_high"] - g["mean"]])])
            ax.errorbar(x, y, yerr=errors, color=colours[model], ls="-" if variant == "consensus" else "--",
                        marker="o", ms=3, lw=1, capsize=2, label=f"{model}: {variant}")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xticks(range(int(table["copies"].max()) + 1))
        ax.set_xlabel("copies planted")
        ax.set_title(f"{kind} backgrounds", fontsize=9)
    return finish_row(fig, axes, "mean change of promoter logit")


def _interaction_heatmap(ax, grid: pd.DataFrame, pair: str, canonical: tuple[int, int], title: str, bound: float,
                         fig) -> None:
    """One pair's interaction (logit) on its grid of starts, on a colour scale of +-``bound``."""
    matrix = grid.pivot_table(index="a_position", columns="b_position", values="interaction", dropna=False)
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=-(bound or 1.0), vmax=bound or 1.0,
                      origin="lower", aspect="auto")
    rows, cols = list(matrix.index), list(matrix.columns)
    ax.set_xticks(range(len(cols)), [f"{c:g}" for c in cols], fontsize=6, rotation=90)
    ax.set_yticks(range(len(rows)), [f"{r:g}" for r in rows], fontsize=6)
    if canonical[0] in rows and canonical[1] in cols:
        ax.add_patch(plt.Rectangle((cols.index(canonical[1]) - 0.5, rows.index(canonical[0]) - 0.5), 1, 1,
                                   fill=False, ec="black", lw=1.2))
    first, second = pair.split(" + ", 1)
    ax.set_xlabel(f"{second} start vs TSS (bp)", fontsize=7)
    ax.set_ylabel(f"{first} start vs TSS (bp)", fontsize=7)
    ax.set_title(title, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8, label="interaction (logit)")


def overview(curves: pd.DataFrame, canonical: dict[str, int], pairs: pd.DataFrame, grid: pd.DataFrame, title: str):
    """One model on one background kind: top, the mean change of the logit vs position for every
    pattern's consensus (dashed line: its canonical start); bottom left, each pair at its canonical
    arrangement, the change of p(promoter) for each pattern alone, both, and their interaction;
    bottom right, each pair's interaction (logit) on the grid of starts. curves: pattern, variant,
    position, mean; pairs: the spacing table's rows; grid: the spacing grid's rows."""
    names = list(pairs["pair"])
    fig = plt.figure(figsize=(4.2 * (1 + len(names)), 7.2))
    layout = fig.add_gridspec(2, 1 + len(names), height_ratios=[1, 1.15])
    top = fig.add_subplot(layout[0, :])
    colours = dict(zip(canonical, plt.cm.tab10.colors * 5))
    for pattern, g in curves[curves["variant"] == "consensus"].groupby("pattern", sort=False):
        g = g.sort_values("position")
        top.plot(g["position"], g["mean"], color=colours[pattern], lw=1.2, label=pattern)
        top.axvline(canonical[pattern], color=colours[pattern], lw=0.8, ls="--")
    top.axhline(0, color="black", lw=0.5)
    top.axvline(0, color="grey", lw=0.6, ls=":")
    top.set_xlabel("pattern start relative to TSS (bp); dashed: canonical start")
    top.set_ylabel("mean change of promoter logit")
    top.set_title(f"{title}: each pattern's consensus planted at every position", fontsize=9)
    top.legend(fontsize=7, ncol=len(canonical))
    bars = fig.add_subplot(layout[1, 0])
    parts = [("prob_delta_a", "first alone"), ("prob_delta_b", "second alone"), ("prob_delta_ab", "both"),
             ("prob_interaction", "interaction")]
    width = 0.8 / len(parts)
    for i, (column, label) in enumerate(parts):
        bars.bar(np.arange(len(names)) + (i - 1.5) * width, pairs[column], width, label=label,
                 color=plt.cm.Set2.colors[i], hatch="//" if column == "prob_interaction" else None)
    bars.axhline(0, color="black", lw=0.5)
    bars.set_xticks(range(len(names)), [n.replace(" + ", "\n+ ") for n in names], fontsize=7)
    bars.set_ylabel("mean change of p(promoter)")
    bars.set_title("pairs at their canonical starts", fontsize=8)
    bars.legend(fontsize=6)
    for column, name in enumerate(names, start=1):
        row, cells = pairs[pairs["pair"] == name].iloc[0], grid[grid["pair"] == name]
        bound = float(np.nanmax(np.abs(cells["interaction"]))) if cells["interaction"].notna().any() else 1.0
        _interaction_heatmap(fig.add_subplot(layout[1, column]), cells, name,
                             (int(row["a_position"]), int(row["b_position"])), f"interaction: {name}", bound, fig)
    fig.tight_layout()
    return fig
