"""Figures of the report (matplotlib, Agg backend; logos with logomaker). Each returns a Figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from glmxai.data.encoding import one_hot  # noqa: E402


def finish_row(fig, axes, ylabel: str):
    """A row of panels sharing a y axis: the label on the first, the legend on the last; laid out."""
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    return fig

def attribution_logo(sequence: str, scores: np.ndarray, hits: pd.DataFrame, tss: int, title: str,
                     span: tuple[int, int] | None = None):
    """Sequence logo of one sequence's attribution (letter height = score of the observed base)
    over ``span`` (bp vs TSS, default the whole sequence), motif hits shaded and named."""
    import logomaker

    lo, hi = (0, len(sequence)) if span is None else (max(0, tss + span[0]), min(len(sequence), tss + span[1]))
    matrix = one_hot([sequence[lo:hi]])[0].numpy().T * scores[lo:hi, None]
    frame = pd.DataFrame(matrix, columns=list("ACGT"), index=np.arange(lo, hi) - tss)
    fig, ax = plt.subplots(figsize=(max(8, (hi - lo) / 10), 2.4))
    logo = logomaker.Logo(frame, ax=ax, color_scheme="classic")
    logo.ax.axhline(0, color="grey", lw=0.5)
    shown = hits[(hits["start"] >= lo) & (hits["end"] <= hi)].sort_values("start")
    for level, hit in enumerate(shown.itertuples(index=False)):  # labels staggered on 3 rows above the axes
        logo.highlight_position_range(hit.start - tss, hit.end - 1 - tss, color="gold", alpha=0.35)
        ax.text((hit.start + hit.end - 1) / 2 - tss, 1.02 + 0.12 * (level % 3), f"{hit.motif}({hit.strand})",
                ha="center", fontsize=6, transform=ax.get_xaxis_transform())
    ax.set_xlabel("position relative to TSS (bp)")
    ax.set_ylabel("attribution")
    ax.set_title(title, fontsize=9, pad=34)
    fig.tight_layout()
    return fig


def heatmap(matrix: pd.DataFrame, title: str, vmin: float = -1.0, vmax: float = 1.0):
    """Annotated heatmap of a square (runs x runs) matrix."""
    n = len(matrix)
    fig, ax = plt.subplots(figsize=(2 + 0.7 * n, 1.5 + 0.6 * n))
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(n), matrix.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(n), matrix.index, fontsize=7)
    for i in range(n):
        for j in range(n):
            value = matrix.iat[i, j]
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def perturbation_curves(curves: pd.DataFrame):
    """Deletion and insertion curves: one colour per run for the attribution order (solid);
    the random orders once per model (runs of one model share them): their mean dashed, with
    a band from the lowest to the highest random order. curves: columns run, model, order,
    repeat, curve, fraction, prob."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colours = dict(zip(curves["run"].unique(), plt.cm.tab10.colors * 5))
    greys = dict(zip(curves["model"].unique(), ["#555555", "#999999", "#333333", "#bbbbbb", "#777777"] * 5))
    dashes = dict(zip(curves["model"].unique(), [(4, 2), (1, 1.5), (6, 2, 1, 2), (2, 3), (8, 3)] * 5))
    for ax, curve in zip(axes, ("deletion", "insertion")):
        sel = curves[curves["curve"] == curve]
        for model, g in sel[sel["order"] == "random"].groupby("model", sort=False):
            by_fraction = g.groupby("fraction")["prob"]
            x = np.asarray(by_fraction.mean().index)
            ax.fill_between(x, by_fraction.min(), by_fraction.max(), color=greys[model], alpha=0.25, lw=0)
            ax.plot(x, by_fraction.mean(), color=greys[model], ls=(0, dashes[model]), lw=1.6,
                    label=f"random order, {model} (mean and range of {g['repeat'].nunique()} orders)")
        for run, g in sel[sel["order"] == "attribution"].groupby("run", sort=False):
            ax.plot(g["fraction"], g["prob"], color=colours[run], ls="-", lw=1.4, marker="o", ms=2.5,
                    label=f"{run} (attribution order)")
        ax.set_title(f"{curve}: top fraction {'replaced by' if curve == 'deletion' else 'restored into'} background",
                     fontsize=9)
        ax.set_xlabel("fraction of positions")
    axes[0].set_ylabel("p(explained class)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(3, len(labels)), frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) - 1) // 3), 1, 1))
    return fig


def positional_profiles(profiles: pd.DataFrame, markers: pd.DataFrame | None = None, smooth: int = 5):
    """Mean scaled attribution vs position relative to TSS, one panel per label, one line
    per run (moving average of ``smooth`` bp). profiles: run, rel_pos, label, mean. markers:
    motif positions observed in the data (``observed_positions`` rows: motif, label,
    peak_rel_pos), drawn in their label's panel; nothing else but the TSS is marked."""
    labels = sorted(profiles["label"].unique())
    fig, axes = plt.subplots(1, len(labels), figsize=(6 * len(labels), 3.6), sharey=True, squeeze=False)
    kernel = np.ones(smooth) / smooth
    markers = markers if markers is not None else pd.DataFrame(columns=["motif", "label", "peak_rel_pos"])
    for ax, label in zip(axes[0], labels):
        for run, g in profiles[profiles["label"] == label].groupby("run", sort=False):
            ax.plot(g["rel_pos"], np.convolve(g["mean"], kernel, mode="same"), lw=1, label=run)
        marks = [(0.0, "TSS")] + [(float(m.peak_rel_pos), str(m.motif).split(" (")[0])
                                  for m in markers[markers["label"] == label].itertuples(index=False)]
        for level, (x, name) in enumerate(sorted(marks)):
            ax.axvline(x, color="grey", lw=0.6, ls=":")
            ax.text(x, 1.01 + 0.07 * (level % 3), name, fontsize=6, ha="center", va="bottom",
                    transform=ax.get_xaxis_transform())
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"label {label} ({'promoter' if label == 1 else 'non-promoter'})", fontsize=9, pad=26)
        ax.set_xlabel("position relative to TSS (bp)")
    return finish_row(fig, axes, "mean scaled attribution")


def effect_heatmap(effects: pd.DataFrame, significant: pd.DataFrame, notes: pd.DataFrame, title: str):
    """Motifs (rows) x runs (columns) of a signed effect (mean difference), a symmetric
    colour scale, each tested cell annotated with its value and * where ``significant``;
    cells without a test (NaN effect) stay blank with their ``notes`` (e.g. '2 hits')."""
    values = effects.to_numpy(dtype=float)
    bound = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    n_rows, n_cols = values.shape
    fig, ax = plt.subplots(figsize=(3.5 + 0.75 * n_cols, 1.6 + 0.42 * n_rows))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    ax.set_xticks(range(n_cols), effects.columns, rotation=50, ha="right", fontsize=7)
    ax.set_yticks(range(n_rows), effects.index, fontsize=7)
    for i in range(n_rows):
        for j in range(n_cols):
            if np.isfinite(values[i, j]):
                star = "*" if bool(significant.iat[i, j]) else ""
                ax.text(j, i, f"{values[i, j]:+.2f}{star}", ha="center", va="center", fontsize=6)
            else:
                ax.text(j, i, str(notes.iat[i, j]), ha="center", va="center", fontsize=5, color="grey")
    fig.colorbar(image, ax=ax, shrink=0.8, label="mean difference")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def position_histograms(hist: pd.DataFrame):
    """Motif hits per sequence by position bin, one panel per motif, a line per label."""
    motifs = list(hist["motif"].unique())
    cols = min(3, max(1, len(motifs)))
    rows = int(np.ceil(len(motifs) / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 2.6 * rows), squeeze=False)
    for ax, motif in zip(axes.flat, motifs):
        for label, g in hist[hist["motif"] == motif].groupby("label"):
            ax.step(g["bin_start"], g["per_sequence"], where="post",
                    label="promoter" if label == 1 else "non-promoter")
        ax.set_title(motif, fontsize=9)
        ax.set_xlabel("hit start vs TSS (bp)", fontsize=8)
        ax.set_ylabel("hits per sequence", fontsize=8)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(motifs):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def pattern_logo(cwm: np.ndarray, title: str):
    """Logo of a discovered pattern's contribution weight matrix (4, w)."""
    import logomaker

    fig, ax = plt.subplots(figsize=(max(3, cwm.shape[1] * 0.35), 1.8))
    logomaker.Logo(pd.DataFrame(cwm.T, columns=list("ACGT")), ax=ax, color_scheme="classic")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig
