"""Result files: atomic, byte-reproducible .npz and JSONL (the same arrays always give the same
bytes), and resumable parts of long jobs, each carrying the fingerprint of what determines it."""
from __future__ import annotations

import hashlib
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


# Resumable results: a part of a long job (an explain chunk, a probe experiment) is one .npz written
# atomically with the fingerprint of everything that determines it, the SHA-256 of the checkpoint
# it ran, and its cost; a re-run reads finished parts back and refuses parts of other settings.
RECORD_KEYS = ("fingerprint", "checkpoint_sha256", "evaluations", "seconds")


class StaleResultError(ValueError):
    """A finished result file written with other settings or another checkpoint."""


def fingerprint(settings: Mapping) -> str:
    """SHA-256 of ``settings`` as canonical JSON (sorted keys; other objects by ``str``)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def save_result(path: str | Path, arrays: Mapping[str, np.ndarray], *, fingerprint: str, checkpoint_sha256: str,
                evaluations: int, seconds: float) -> None:
    """Write a finished part: ``arrays`` plus its ``RECORD_KEYS``, atomically."""
    save_npz(path, {**arrays, "fingerprint": np.array(fingerprint), "checkpoint_sha256": np.array(checkpoint_sha256),
                    "evaluations": np.array(evaluations), "seconds": np.array(seconds)})


def finished_result(path: str | Path, fingerprint: str, checkpoint_sha256: str, remedy: str
                    ) -> dict[str, np.ndarray] | None:
    """The arrays of the finished part at ``path`` (None: not written yet); raises
    ``StaleResultError`` naming the file, and ``remedy``, if it was computed with another
    checkpoint or other settings: such a part must never be mixed into this job's results."""
    path = Path(path)
    if not path.is_file():
        return None
    stored = load_npz(path)
    stored_sha = str(stored.get("checkpoint_sha256", ""))
    if stored_sha and stored_sha != checkpoint_sha256:
        raise StaleResultError(f"{path} was computed with another model: checkpoint SHA-256 {stored_sha[:12]}..., "
                               f"but the checkpoint now has {checkpoint_sha256[:12]}... (retrained or replaced at the "
                               f"same path); {remedy}")
    if str(stored.get("fingerprint", "")) != fingerprint:
        raise StaleResultError(f"{path} was written by a run with other settings; {remedy}")
    return stored
