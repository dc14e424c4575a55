"""What the fuzz suite (tests/test_fuzz.py) checks of every reader, and the mutations it draws.

The property: a reader given a mutated file either succeeds with a correct result, or fails with
an error that glmxai's own validation raised (the innermost frame of its traceback lies in the
glmxai package, it is not a KeyError/IndexError/TypeError/AttributeError, whose messages name no
file), whose message names the file, and the output folder is as it was before.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st

import glmxai

PACKAGE = Path(glmxai.__file__).resolve().parent
ACCIDENTS = (KeyError, IndexError, TypeError, AttributeError, ZeroDivisionError, RecursionError)


class FuzzFailure(AssertionError):
    """A mutated input crashed a reader, or its error was unclear."""


def snapshot(folder: Path | None) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (empty for no folder)."""
    if folder is None or not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def clean_outcome(call: Callable, named: Path, folder: Path | None = None):
    """``call()``'s result, or None when it failed the way a bad input must: glmxai's own error
    naming ``named`` (its path or file name), ``folder`` unchanged. Anything else raises
    ``FuzzFailure`` with where the error came from."""
    before = snapshot(folder)
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - every failure is judged below
        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        text = f"{type(error).__name__} at {where}: {str(error)[:300]}"
        if isinstance(error, ACCIDENTS) or not frames or not Path(frames[-1].filename).resolve().is_relative_to(
                PACKAGE):
            raise FuzzFailure(f"crash deep inside: {text}") from error
        if str(named) not in str(error) and named.name not in str(error):
            raise FuzzFailure(f"the error does not name {named}: {text}") from error
        if snapshot(folder) != before:
            raise FuzzFailure(f"{folder} changed although the command failed: {text}") from error
        return None


@st.composite
def byte_mutations(draw, data: bytes) -> bytes:
    """``data`` with 1-4 of: a byte replaced, bytes inserted, a run deleted, a truncation."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del out[at:at + draw(st.integers(1, 64))]
        else:
            del out[at:]
    return bytes(out)


ODD_VALUES = [None, "", "x", "../../etc/passwd", -1, 0, 1, 2**63, -(2**63), 1e308, float("nan"), float("inf"), True,
              [], [1, 2], {}, {"a": 1}, {"_target_": "os.system", "command": "true"}, "1" * 10_000]


def odd_values():
    """Values of other types and sizes to put where a stored value was."""
    return st.sampled_from(ODD_VALUES)
