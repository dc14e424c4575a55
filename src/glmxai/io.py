"""Writing result files and hashing inputs.

Every result file is written atomically: into a temporary file beside it, renamed into place
when complete, so a reader (or a resumed job) never sees half a file and a failed write leaves
nothing behind. Temporary files are opened normally, so results get the usual umask-based
permissions (shareable on a group server), not the 0600 of ``tempfile``.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block
    ends without error, removed otherwise. Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(data: bytes, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(data: Any, path: str | os.PathLike) -> None:
    """JSON (indented; values JSON cannot hold are written as their ``str``)."""
    write_bytes_atomic(json.dumps(data, indent=2, default=str).encode(), path)


def read_json(path: str | os.PathLike) -> Any:
    """The JSON data of a file (a result file written by ``write_json_atomic``)."""
    return json.loads(Path(path).read_text())


def sha256_file(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, streamed (a checkpoint never sits in memory twice)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


class FolderBusyError(RuntimeError):
    """Another job holds the lock of the folder this job would write."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str, name: str = ".glmxai.lock") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (file ``name`` in it; created with the folder) for the
    block, so that the same command started twice never interleaves its writes: the second one
    raises ``FolderBusyError`` naming the folder and the process that holds it. The operating
    system releases the lock when its process ends, however it ends, so a killed job never leaves
    a stale lock; the small lock file stays and tells who held it last."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise FolderBusyError(f"{folder}: another {what} is writing to this folder ({holder}); wait until it has "
                                  "finished (re-running then resumes or returns its results), or give this one another "
                                  "folder (hydra.run.dir=DIR)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
