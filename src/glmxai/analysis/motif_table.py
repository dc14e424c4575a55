"""The report's table of the motifs scanned, and where their windows lie in the sequences."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from glmxai.motifs import Motif, window_coverage
from glmxai.report import Report


def motif_table_section(report: Report, motifs: Sequence[Motif], pvalue: float, pseudocount: float,
                        layout: tuple[int, int] | None = None) -> None:
    """The motifs scanned, with their thresholds and expected windows; ``layout`` (tss, length) of
    the sequences analysed adds where each window lies in them, and a note for windows outside."""
    report.section("Motifs", f"JASPAR matrices scanned as log2-odds PSSMs (pseudocount {pseudocount}, uniform "
                             f"background); a hit scores at least the threshold of its p-value (default {pvalue}) "
                             "per position and strand. Positions are relative to the TSS of the data they are in.")
    table = pd.DataFrame([{"motif": m.name, "jaspar_id": m.matrix_id, "consensus": m.consensus, "width": m.width,
                           "pvalue": m.pvalue, "threshold": m.threshold, "strands": m.strands,
                           "expected_window": f"{m.window[0]}..{m.window[1]}" if m.window else ""} for m in motifs])
    if layout is not None:
        tss, length = layout
        table["window_in_sequence"] = [window_coverage(m, tss, length) for m in motifs]
        for motif, where in zip(motifs, table["window_in_sequence"]):
            if where == "outside" or where.startswith("partly"):
                report.skip(f"{motif.name} in its expected window {motif.window[0]}..{motif.window[1]}",
                            f"{where} the {length}-bp sequences (bp {-tss:+d}..{length - 1 - tss:+d} of the TSS): "
                            "its window-based tests cover only the part inside; nothing is shifted")
    report.table("motifs", table, "Motifs, score thresholds and the expected start window relative to the TSS.")
