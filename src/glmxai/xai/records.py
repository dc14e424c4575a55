"""Small named records shared by the explanation methods."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Attribution:
    """The explanation of one sequence of length L.

    scores: (L,) float32, attribution toward the promoter class (positive pushes to label 1);
    record: JSON-able extra written as one line of the method's ``records_file`` (LIME/SHAP
    feature weights, an anchor rule), or None;
    arrays: per-sequence extra arrays of fixed shape (ISM ``delta`` (4, L)), stacked over
    sequences into ``<method>.npz``.
    """

    scores: np.ndarray
    record: dict | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def position_label(start: int, end: int, tss: int) -> str:
    """Nucleotide interval [start, end) as inclusive positions relative to the TSS: '-31..-26'."""
    return f"{start - tss:+d}..{end - 1 - tss:+d}"
