"""SequenceTable: one split of labelled sequences, and reading/writing it as GUE CSV.

GUE format: a CSV with header ``sequence,label``, one sequence per line, label 1 =
promoter. Every problem in a file is reported as ``SequenceDataError`` naming the file,
the 1-based line and what is wrong, before anything is used.
"""
from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glmxai.data.encoding import invalid_characters

REQUIRED_COLUMNS = ("sequence", "label")


class SequenceDataError(ValueError):
    """Bad sequence data; the message names the file, line and problem."""

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None):
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = str(path), line, problem


@dataclass
class SequenceTable:
    """Labelled sequences of one split.

    sequences: N upper-case ACGTN strings; labels: (N,) int64 in {0, 1};
    masks: optional (N, L) bool ground truth of the positions that make the label
    (synthetic data only); source: where the rows came from (file path or generator).
    """

    sequences: list[str]
    labels: np.ndarray
    source: str
    masks: np.ndarray | None = None
    motifs: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sequences)

    def subset(self, rows: np.ndarray) -> "SequenceTable":
        """The rows given (positions into this table), in that order."""
        rows = np.asarray(rows, dtype=int)
        keep = set(rows.tolist())
        motifs = [m for m in self.motifs if m["row"] in keep]
        return SequenceTable(
            sequences=[self.sequences[i] for i in rows],
            labels=self.labels[rows],
            source=self.source,
            masks=None if self.masks is None else self.masks[rows],
            motifs=motifs,
        )


def check_lengths(table: SequenceTable, length: int) -> None:
    """Raise SequenceDataError on the first sequence whose length differs from ``length``."""
    for row, seq in enumerate(table.sequences):
        if len(seq) != length:
            raise SequenceDataError(
                table.source, f"sequence has length {len(seq)}, the model needs exactly {length}", line=row + 2
            )


def read_sequence_csv(path: str | os.PathLike, seq_len: int | None = None) -> SequenceTable:
    """Read and validate a GUE CSV. Lower case is upper-cased; ``N`` is legal.

    seq_len: if given, every sequence must have exactly this length.
    """
    path = Path(path)
    if not path.is_file():
        raise SequenceDataError(path, "file not found")
    sequences: list[str] = []
    labels: list[int] = []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise SequenceDataError(path, "file is empty (expected a header 'sequence,label')")
        header = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise SequenceDataError(path, f"missing column(s) {missing}; header is {header}", line=1)
        seq_col, label_col = header.index("sequence"), header.index("label")
        for record in reader:
            line = reader.line_num
            if not record or all(not f.strip() for f in record):
                continue
            if len(record) != len(header):
                raise SequenceDataError(path, f"expected {len(header)} fields, found {len(record)}", line)
            seq = record[seq_col].strip().upper()
            if not seq:
                raise SequenceDataError(path, "empty sequence", line)
            bad = invalid_characters(seq)
            if bad:
                pos, char = bad[0]
                raise SequenceDataError(path, f"invalid character {char!r} at position {pos} (allowed: ACGTN)", line)
            if seq_len is not None and len(seq) != seq_len:
                raise SequenceDataError(path, f"sequence has length {len(seq)}, expected {seq_len}", line)
            label_text = record[label_col].strip()
            if label_text not in ("0", "1"):
                raise SequenceDataError(path, f"label {label_text!r} is not 0 or 1", line)
            sequences.append(seq)
            labels.append(int(label_text))
    if not sequences:
        raise SequenceDataError(path, "no data rows after the header")
    return SequenceTable(sequences, np.asarray(labels, dtype=np.int64), str(path))


def write_sequence_csv(table: SequenceTable, path: str | os.PathLike) -> None:
    """Write ``table`` as GUE CSV atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, newline="") as tmp:
        writer = csv.writer(tmp)
        writer.writerow(REQUIRED_COLUMNS)
        writer.writerows(zip(table.sequences, table.labels.tolist()))
    os.replace(tmp.name, path)
