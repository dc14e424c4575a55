"""Figures of the report (matplotlib, Agg backend; logos with logomaker). Each returns a Figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from glmxai.data.encoding import one_hot  # noqa: E402


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
    """Deletion and insertion curves: one colour per run, solid = attribution order,
    dashed = random order. curves: columns run, order, curve, fraction, prob."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    colours = dict(zip(curves["run"].unique(), plt.cm.tab10.colors * 5))
    for ax, curve in zip(axes, ("deletion", "insertion")):
        for (run, order), g in curves[curves["curve"] == curve].groupby(["run", "order"]):
            ax.plot(g["fraction"], g["prob"], color=colours[run], ls="-" if order == "attribution" else "--",
                    label=f"{run} ({order})")
        ax.set_title(f"{curve}: top fraction {'replaced by' if curve == 'deletion' else 'restored into'} background",
                     fontsize=9)
        ax.set_xlabel("fraction of positions")
    axes[0].set_ylabel("p(explained class)")
    axes[1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return fig


def positional_profiles(profiles: pd.DataFrame, smooth: int = 5):
    """Mean scaled attribution vs position relative to TSS, one panel per label, one line
    per run (moving average of ``smooth`` bp). profiles: run, rel_pos, label, mean."""
    labels = sorted(profiles["label"].unique())
    fig, axes = plt.subplots(1, len(labels), figsize=(6 * len(labels), 3.4), sharey=True, squeeze=False)
    kernel = np.ones(smooth) / smooth
    for ax, label in zip(axes[0], labels):
        for run, g in profiles[profiles["label"] == label].groupby("run"):
            ax.plot(g["rel_pos"], np.convolve(g["mean"], kernel, mode="same"), lw=1, label=run)
        for x, name in ((-31, "TATA"), (0, "TSS"), (-60, "GC"), (-90, "CCAAT")):  # canonical positions
            ax.axvline(x, color="grey", lw=0.5, ls=":")
            ax.text(x, 1.0, name, fontsize=6, ha="center", va="bottom", transform=ax.get_xaxis_transform())
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"label {label} ({'promoter' if label == 1 else 'non-promoter'})", fontsize=9, pad=12)
        ax.set_xlabel("position relative to TSS (bp)")
    axes[0][0].set_ylabel("mean scaled attribution")
    axes[0][-1].legend(fontsize=6)
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
