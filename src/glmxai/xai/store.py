"""Atomic, byte-reproducible result files: the same arrays always give the same bytes."""
from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from glmxai.io import atomic_path

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def save_npz(path: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an .npz (readable by ``np.load``) atomically, with fixed zip
    timestamps so that equal arrays give byte-identical files. No pickled objects."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=False)


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def save_jsonl(path: str | Path, records: Iterable[Mapping]) -> None:
    """Write one JSON object per line, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
