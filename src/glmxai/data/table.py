"""SequenceTable: one split of labelled sequences, and reading/writing it as GUE CSV.

GUE format: a CSV with header ``sequence,label``, one sequence per line, label 1 =
promoter. Every problem in a file is reported as ``SequenceDataError`` naming the file,
the 1-based line and what is wrong, before anything is used.
"""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glmxai.data.encoding import invalid_characters
from glmxai.io import atomic_path

REQUIRED_COLUMNS = ("sequence", "label")
_ONLY_ACGTN = re.compile(r"[ACGTN]+")  # upper-cased rows that need no per-character check (one C call a row)


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

    def subset(self, rows: np.ndarray) -> SequenceTable:
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


# Leading bytes of files that are not CSV text, and what to do about them.
_NOT_TEXT = {b"\x1f\x8b": "gzip-compressed: decompress it first (gunzip -c FILE > plain.csv)",
             b"PK\x03\x04": "a zip archive (or an Excel .xlsx): extract or export it as a UTF-8 CSV",
             b"\x28\xb5\x2f\xfd": "zstd-compressed: decompress it first (zstd -d)",
             b"BZh": "bzip2-compressed: decompress it first (bunzip2)"}


def decoded_text(path: Path) -> str:
    """The file's text; UTF-8 with or without a byte-order mark (what Excel writes)."""
    raw = path.read_bytes()
    for magic, advice in _NOT_TEXT.items():
        if raw.startswith(magic):
            raise SequenceDataError(path, f"not a CSV text file, {advice}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SequenceDataError(path, f"not UTF-8 text (byte 0x{raw[error.start]:02x} at byte offset {error.start}); "
                                      "save it as a UTF-8 CSV", line) from None


def read_sequence_csv(path: str | os.PathLike, seq_len: int | None = None) -> SequenceTable:
    """Read and validate a GUE CSV. Lower case is upper-cased; ``N`` is legal; a UTF-8
    byte-order mark is skipped.

    seq_len: if given, every sequence must have exactly this length.
    """
    path = Path(path)
    if not path.is_file():
        raise SequenceDataError(path, "file not found")
    reader = csv.reader(io.StringIO(decoded_text(path), newline=""))
    try:
        return _read_rows(path, reader, seq_len)
    except csv.Error as error:
        raise SequenceDataError(path, f"malformed CSV: {error}", reader.line_num) from None


def _read_rows(path: Path, reader, seq_len: int | None) -> SequenceTable:
    sequences: list[str] = []
    labels: list[int] = []
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
        bad = None if _ONLY_ACGTN.fullmatch(seq) else invalid_characters(seq)
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


def check_both_classes(table: SequenceTable, split: str) -> None:
    """Raise SequenceDataError if ``table`` holds only one label: a classifier trained (or
    selected by MCC) on it learns nothing and reads MCC 0."""
    present = sorted(set(table.labels.tolist()))
    if len(present) < 2:
        raise SequenceDataError(table.source, f"every label of the {split} split is {present[0]} ({len(table)} rows); "
                                              "training needs promoters (1) and non-promoters (0) in it")


def write_sequence_csv(table: SequenceTable, path: str | os.PathLike) -> None:
    """Write ``table`` as GUE CSV atomically (a temporary file renamed into place)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUIRED_COLUMNS)
        writer.writerows(zip(table.sequences, table.labels.tolist()))
