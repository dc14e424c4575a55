"""Per-row annotations of a split: 0/1 flags keyed by the split's row number, such as EPD's motif
flags of the GUE promoters (``<split>_epd.csv``: ``row,epdnew_ids,tata_box,inr,ccaat_box,gc_box``).

A table has a ``row`` column (0-based rows of the split's CSV, each at most once) and flag columns
of 0/1 (an empty field: not annotated); other columns (identifiers) are kept as text. Rows the
table does not name (GUE's negatives) and empty fields have no flag: NaN after ``flags_of``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.data.datamodule import GUE_FILES
from glmxai.data.table import SequenceDataError, decoded_text


def annotation_path(folder: str | Path, split: str, suffix: str = "_epd") -> Path:
    """``folder/<split><suffix>.csv``, named after the split's GUE file (``val``/``dev``: ``dev``)."""
    return Path(folder) / f"{Path(GUE_FILES['val' if split == 'dev' else split]).stem}{suffix}.csv"


BESIDE_DATA = "data"  # annotations.dir=data: each run's tables lie in its own data folder


def annotation_folder(folder: str | Path, data_config: Mapping | None, source: str) -> Path:
    """``folder``, or with ``folder="data"`` the ``root`` of ``data_config`` (the data a run
    explained, named in ``source``), so that runs of several GUE tasks each join their own flags."""
    if str(folder) != BESIDE_DATA:
        return Path(folder)
    root = (data_config or {}).get("root")
    if not root:
        raise ValueError(f"annotations.dir=data: {source} records no data folder (data_config.root) to find the "
                         "annotation tables in; give annotations.dir=DIR")
    return Path(str(root))


def read_annotations(path: str | Path) -> pd.DataFrame:
    """The table at ``path``, indexed by ``row``; its flag columns as int 0/1. Raises
    ``SequenceDataError`` naming the file and line of a bad row."""
    path = Path(path)
    if not path.is_file():
        raise SequenceDataError(path, "annotation file not found")
    reader = csv.reader(io.StringIO(decoded_text(path), newline=""))
    try:
        return _read_flags(path, reader)
    except csv.Error as error:
        raise SequenceDataError(path, f"malformed CSV: {error}", reader.line_num) from None


def _read_flags(path: Path, reader) -> pd.DataFrame:
    """The rows of an annotation table's CSV reader, checked, as ``read_annotations`` returns them."""
    header = [h.strip() for h in next(reader, [])]
    if "row" not in header:
        raise SequenceDataError(path, f"no 'row' column; header is {header}", line=1)
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise SequenceDataError(path, f"column name(s) {repeated} appear more than once in the header", line=1)
    records, seen = [], set()
    for record in reader:
        if not record or all(not f.strip() for f in record):
            continue
        if len(record) != len(header):
            raise SequenceDataError(path, f"expected {len(header)} fields, found {len(record)}", reader.line_num)
        entry = dict(zip(header, (f.strip() for f in record)))
        if not (entry["row"].isascii() and entry["row"].isdigit()) or int(entry["row"]) in seen:
            raise SequenceDataError(path, f"row {entry['row']!r} is not a new row number", reader.line_num)
        seen.add(int(entry["row"]))
        records.append(entry)
    table = pd.DataFrame.from_records(records, columns=header)
    table["row"] = table["row"].astype(np.int64)
    for column in flag_columns(table):
        table[column] = pd.to_numeric(table[column].astype(object).replace("", np.nan)).astype(np.float64)
    table = table.set_index("row")
    table.attrs["source"] = str(path)
    return table


def _is_flag(values: pd.Series) -> bool:
    present = values[values.notna() & (values.astype(object) != "")]
    numbers = pd.to_numeric(present, errors="coerce")
    return bool(len(present)) and bool(numbers.isin([0, 1]).all())


def flag_columns(table: pd.DataFrame) -> list[str]:
    """The columns whose values are 0 or 1 (or empty: not annotated), at least one of them not empty."""
    return [c for c in table.columns if c != "row" and _is_flag(table[c])]


def flags_of(table: pd.DataFrame, rows: np.ndarray, flag: str) -> np.ndarray:
    """``flag`` of split rows ``rows`` (N,) as float: 1.0, 0.0, or NaN where the table has no row."""
    if flag not in flag_columns(table):
        why = ("a value other than 0, 1 or empty" if flag in table.columns else "no such column")
        raise SequenceDataError(table.attrs.get("source", "annotation table"),
                                f"{flag!r} is not a flag column ({why}); its flag columns are {flag_columns(table)}")
    return table[flag].reindex(np.asarray(rows)).to_numpy(np.float64)


def transferred_annotations(source: Sequence[str], source_table: pd.DataFrame, start: int,
                            target: Sequence[str], target_labels: np.ndarray) -> pd.DataFrame:
    """The flags of ``source_table`` (annotating rows of the sequences ``source``) carried to the
    promoters of ``target`` (label 1) whose sequence equals ``source[row][start : start + L]`` of an
    annotated source row (L: the target sequences' length), as ``read_annotations`` gives a table:
    indexed by the target's ``row``, the flag columns as float. A flag on which two source rows of the same
    window disagree is left unannotated (NaN): no flag is guessed."""
    columns = flag_columns(source_table)
    widths = {len(s) for s in target}
    if len(widths) > 1:
        raise ValueError(f"target sequences of several lengths {sorted(widths)}: one window cannot match them all")
    width = widths.pop() if widths else 0
    by_window: dict[str, tuple] = {}
    for row, values in zip(source_table.index, source_table[columns].itertuples(index=False, name=None)):
        window = source[row][start:start + width]
        if len(window) < width:
            continue
        known = by_window.setdefault(window, values)
        by_window[window] = tuple(a if a == b else np.nan for a, b in zip(known, values))
    records = [(row, *by_window[s]) for row, (s, label) in enumerate(zip(target, target_labels))
               if label == 1 and s in by_window]
    table = pd.DataFrame.from_records(records, columns=["row", *columns])
    return table.astype({c: np.float64 for c in columns}).set_index("row")
