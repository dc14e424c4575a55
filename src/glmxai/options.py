"""Numeric options of the command line, checked before any work: a number out of range is an
error naming the option and its allowed range, never a crash deep inside numpy or torch.

Each owner declares its rules beside its code (``Method.numbers`` for ``xai.*``,
``glmxai.jobs.explain.EXPLAIN_NUMBERS``, ``glmxai.data.datamodule.DATA_NUMBERS``, ...) and checks
them with ``check_numbers`` where the options enter.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

LARGEST = 10**9  # sizes and counts: beyond any budget a job can finish, below int64 overflow
LARGEST_SEED = 2**63 - 1


class OptionError(ValueError):
    """A command-line option out of its range; the message names it and the range."""


@dataclass(frozen=True)
class Number:
    """The values an option takes: an integer (else any finite number) in [low, high] (low
    excluded when ``above``); None too when ``optional``."""

    integer: bool = True
    low: float | None = 0
    high: float | None = LARGEST
    above: bool = False
    optional: bool = False

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        low = "" if self.low is None else f"{'>' if self.above else '>='} {self.low:g}"
        high = "" if self.high is None else f"<= {self.high:,}" if self.integer else f"<= {self.high:g}"
        bounds = " and ".join(b for b in (low, high) if b)
        return f"{kind}{' ' + bounds if bounds else ''}{' (or null)' if self.optional else ''}"


SIZE = Number(low=1)  # a count of things: at least one
SEED = Number(high=LARGEST_SEED)
OPTIONAL_SEED = Number(high=LARGEST_SEED, optional=True)
SHARE = Number(integer=False, high=1)  # a probability or share in [0, 1]
POSITIVE_SHARE = Number(integer=False, above=True, high=1)  # in (0, 1]


def check_numbers(values: Mapping, rules: Mapping[str, Number], prefix: str) -> None:
    """Raise ``OptionError`` for the first option of ``values`` that ``rules`` names and whose
    value it does not accept; options without a rule are left to their owner."""
    for key, rule in rules.items():
        if key in values and not rule.accepts(values[key]):
            raise OptionError(f"{prefix}.{key}={values[key]!r:.40}: must be {rule.describe()}")
