"""The one place that converts between sequence representations.

Representations:
- strings: upper-case ``ACGTN`` text, one per sequence;
- codes: integer array (N, L) with A=0, C=1, G=2, T=3, N=4;
- one-hot: float array (N, 4, L); ``N`` is the all-zero column.

Model tokens are produced by each model's tokenizer (``glmxai.models.tokenizers``), which
starts from the strings given here.
"""
from __future__ import annotations

import numpy as np
import torch

ALPHABET = "ACGT"
ALPHABET_N = "ACGTN"
N_CODE = 4
# IUPAC letters and the bases each allows (motif consensus strings)
IUPAC = {"A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
         "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}

_CODE_OF_BYTE = np.full(256, -1, dtype=np.int8)
for _code, _base in enumerate(ALPHABET_N):
    _CODE_OF_BYTE[ord(_base)] = _code
    _CODE_OF_BYTE[ord(_base.lower())] = _code
_COMPLEMENT_CODE = np.array([3, 2, 1, 0, 4], dtype=np.int8)


def invalid_characters(sequence: str) -> list[tuple[int, str]]:
    """(0-based position, character) of every character outside ACGTN (any case)."""
    raw = np.frombuffer(sequence.encode("utf-8", "replace"), dtype=np.uint8)
    if len(raw) != len(sequence):  # non-ASCII: fall back to a character loop
        return [(i, c) for i, c in enumerate(sequence) if c.upper() not in ALPHABET_N]
    bad = np.flatnonzero(_CODE_OF_BYTE[raw] < 0)
    return [(int(i), sequence[i]) for i in bad]


def to_codes(sequences: list[str] | str) -> np.ndarray:
    """Strings of equal length -> int8 codes (N, L) (or (L,) for one string)."""
    single = isinstance(sequences, str)
    seqs = [sequences] if single else list(sequences)
    if not seqs:
        return np.zeros((0, 0), dtype=np.int8)
    lengths = {len(s) for s in seqs}
    if len(lengths) != 1:
        raise ValueError(f"sequences have different lengths {sorted(lengths)}; pad or crop first")
    raw = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    codes = _CODE_OF_BYTE[raw].reshape(len(seqs), -1)
    if (codes < 0).any():
        row, col = np.argwhere(codes < 0)[0]
        raise ValueError(f"sequence {row} has invalid character {seqs[row][col]!r} at position {col}")
    return codes[0] if single else codes


def to_strings(codes: np.ndarray) -> list[str]:
    """int codes (N, L) -> strings."""
    letters = np.frombuffer(ALPHABET_N.encode(), dtype=np.uint8)
    codes = np.atleast_2d(np.asarray(codes))
    return [letters[row].tobytes().decode() for row in codes]


def codes_to_one_hot(codes: np.ndarray | torch.Tensor) -> torch.Tensor:
    """int codes (N, L) -> float32 one-hot (N, 4, L); ``N`` (code 4) is all zeros."""
    codes = torch.as_tensor(np.asarray(codes) if not isinstance(codes, torch.Tensor) else codes).long()
    one_hot = torch.nn.functional.one_hot(codes, num_classes=5)[..., :4]
    return one_hot.transpose(-1, -2).float().contiguous()


def one_hot(sequences: list[str] | str) -> torch.Tensor:
    """Strings -> float32 one-hot (N, 4, L)."""
    return codes_to_one_hot(np.atleast_2d(to_codes(sequences)))


def one_hot_to_codes(one_hot_tensor: torch.Tensor | np.ndarray) -> np.ndarray:
    """one-hot (N, 4, L) -> int8 codes (N, L); all-zero columns become ``N``."""
    x = np.asarray(one_hot_tensor)
    codes = x.argmax(axis=-2).astype(np.int8)
    codes[x.sum(axis=-2) == 0] = N_CODE
    return codes


def reverse_complement(sequence: str) -> str:
    """Reverse complement of an ACGTN string."""
    return to_strings(_COMPLEMENT_CODE[to_codes(sequence)][::-1])[0]
