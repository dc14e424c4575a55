"""A self-contained report folder: ``report.html`` (tables inline and complete, figures as
base64 PNG), ``tables/<name>.csv`` and ``figures/<name>.png`` (``glmxai.wandb_log`` logs them to W&B).

Every test p-value of a report is adjusted once, over all the tests of the report
(Benjamini-Hochberg), before any section is written: the sections first build their tables of
tests, ``adjust_pvalues`` gives each p-value column (by default every column whose name ends in
``_p``) a ``<column>_adj`` column beside it, and only then are the sections written, their
sentences and summaries read from the adjusted tables. ``Report.table`` refuses a table whose
p-values were not adjusted. Numbers in text and tables go through ``fmt``: plain numbers, never
numpy reprs, ``None`` or tuples.
"""
from __future__ import annotations

import base64
import html
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from glmxai.io import atomic_path, write_bytes_atomic
from glmxai.stats import bh_adjust

log = logging.getLogger(__name__)

_STYLE = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.tablewrap{overflow:auto;max-width:100%;max-height:30em;border:1px solid #ddd;margin:.3em 0 1em}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;white-space:nowrap}
th{background:#f0f0f0;position:sticky;top:0}tr:nth-child(even) td{background:#fafafa}
img{max-width:100%}figure{margin:1em 0}figcaption,.caption{font-size:13px;color:#555}
details>summary{cursor:pointer;font-size:13px;color:#336}
.finding{background:#f7f7e8;padding:.5em 1em;border-left:4px solid #cc9;margin:.5em 0}
.skipped{background:#f4f4f8;padding:.5em 1em;border-left:4px solid #99c;margin:.5em 0}
.note{font-size:13px;color:#444}"""


def slug(text: str) -> str:
    """``text`` as a file-name part: every character but letters and digits becomes ``_``."""
    return "".join(c if c.isalnum() else "_" for c in text)


def fmt(value, digits: int = 3, missing: str = "n/a") -> str:
    """``value`` as plain text: numbers with ``digits`` significant digits (integers in full,
    with thousands separators; very small or large values in e-notation), booleans as yes/no,
    ``None``/NaN as ``missing``, sequences joined with ", ", mappings as "key value, ...";
    numpy scalars like the Python numbers they hold."""
    if value is None:
        return missing
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return missing
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "0"
        size = abs(value)
        if value.is_integer() and size < 1e15:
            return f"{int(value):,}"
        if size >= 10**digits and size < 1e9:
            return f"{value:,.0f}"
        if size >= 1e9 or size < 1e-3:
            mantissa, exponent = f"{value:.{max(digits - 1, 0)}e}".split("e")
            if "." in mantissa:
                mantissa = mantissa.rstrip("0").rstrip(".")
            return f"{mantissa}e{exponent}"
        return f"{value:.{digits}g}"
    if isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{fmt(k, digits, missing)} {fmt(v, digits, missing)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Series)):
        return ", ".join(fmt(v, digits, missing) for v in value)
    return str(value)


def fmt_signed(value, digits: int = 3) -> str:
    """``fmt`` with an explicit + for positive numbers (differences, gains)."""
    text = fmt(value, digits)
    return f"+{text}" if isinstance(value, (int, float, np.number)) and np.isfinite(value) and value > 0 else text


def fmt_p(value) -> str:
    """A p-value: two significant digits; one that underflowed to 0 (below the smallest float, about
    1e-308) reads '< 1e-300', never 0."""
    return "< 1e-300" if isinstance(value, (int, float, np.number)) and value == 0 else fmt(value, 2)


def p_clause(value) -> str:
    """'= 0.012', or '< 1e-300' for a p-value that underflowed: written after the p's name in sentences."""
    text = fmt_p(value)
    return text if text.startswith("<") else f"= {text}"


def pvalue_columns(frame: pd.DataFrame, pvalues: Sequence[str] | None = None) -> list[str]:
    """The test p-value columns of a table: ``pvalues``, or every column whose name ends in ``_p``."""
    columns = [c for c in frame.columns if str(c).endswith("_p")] if pvalues is None else list(pvalues)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"table has no p-value column(s) {missing}")
    return columns


def adjust_pvalues(tests: Sequence[tuple[pd.DataFrame, Sequence[str] | None]]) -> int:
    """Benjamini-Hochberg over every p-value of every (table, p-value columns) of ``tests`` together
    (NaN: no test); each p-value column gets ``<column>_adj`` right after it, in place. Returns the
    number of tests."""
    entries = [(frame, column) for frame, columns in tests for column in pvalue_columns(frame, columns)]
    values = [pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64) for frame, c in entries]
    pooled = np.concatenate(values) if values else np.empty(0)
    adjusted = bh_adjust(pooled)
    offset = 0
    for (frame, column), raw in zip(entries, values):
        if f"{column}_adj" in frame.columns:
            raise ValueError(f"p-value column {column} was adjusted before: adjust every test of a report once")
        frame.insert(frame.columns.get_loc(column) + 1, f"{column}_adj", adjusted[offset:offset + len(raw)])
        offset += len(raw)
    n_tests = int(np.isfinite(pooled).sum())
    log.info("analyze: %d p-values adjusted together (Benjamini-Hochberg)", n_tests)
    return n_tests


@dataclass
class _Table:
    name: str


class _Verdicts:
    """Where "What the evidence supports" goes in the page (default: first)."""


class Report:
    """Collects sections, tables, figures, findings and what was not analyzed, in page order, and
    renders ``report.html`` (``write``). ``n_tests``: the number of p-values adjusted together
    (``adjust_pvalues``, before any table of tests is added); ``headline``: the sentences of
    "What the evidence supports" in page order; ``skipped``: the ``{"what", "why"}`` items of
    "What was not analyzed and why"."""

    def __init__(self, out_dir: str | Path, title: str, alpha: float = 0.05, collapse_rows: int = 1000,
                 n_tests: int = 0):
        self.out_dir = Path(out_dir)
        self.title = title
        self.alpha = alpha
        self.collapse_rows = collapse_rows  # tables longer than this start folded (<details>)
        self.parts: list = []
        self.tables: dict[str, pd.DataFrame] = {}
        self.captions: dict[str, str] = {}
        self.figures: dict[str, Path] = {}
        self.headline: list[str] = []
        self.skipped: list[dict[str, str]] = []
        self.pvalue_columns: dict[str, list[str]] = {}
        self.n_tests = n_tests

    def section(self, title: str, intro: str | None = None) -> None:
        self.parts.append(f"<h2>{html.escape(title)}</h2>")
        if intro:
            self.parts.append(f"<p>{html.escape(intro)}</p>")

    def verdicts_here(self) -> None:
        """Put "What the evidence supports" (every headline sentence, whenever added), how the
        p-values were adjusted and what was not analyzed here in the page instead of first: after
        the figures that answer the question."""
        if any(isinstance(part, _Verdicts) for part in self.parts):
            raise ValueError("verdicts_here called twice")
        self.parts.append(_Verdicts())

    def note(self, text: str) -> None:
        """A paragraph of explanation."""
        self.parts.append(f"<p class='note'>{html.escape(text)}</p>")

    @staticmethod
    def _box(sentences: list[str], kind: str = "finding") -> str:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
        return f"<div class='{kind}'><ul>{items}</ul></div>"

    def findings(self, sentences: list[str], headline: bool = False, here: bool = True) -> None:
        """Plain statements of what the evidence supports, here (unless not ``here``) and at the
        top if ``headline``."""
        sentences = list(sentences)
        if sentences and here:
            self.parts.append(self._box(sentences))
        if headline:
            self.headline += sentences

    def skip(self, what: str, why: str) -> None:
        """An item of "What was not analyzed and why"."""
        self.skipped.append({"what": what, "why": why})

    def table(self, name: str, frame: pd.DataFrame, caption: str, pvalues: Sequence[str] | None = None) -> None:
        """Add table ``name``: shown complete (scrolling), written to ``tables/<name>.csv`` by
        ``write``. ``pvalues``: its columns of test p-values (default: the columns whose name
        ends in ``_p``), which ``adjust_pvalues`` must have adjusted with every other test of the
        report before."""
        if name in self.tables:
            raise ValueError(f"table {name!r} added twice")
        frame = frame.reset_index(drop=True)
        try:
            columns = pvalue_columns(frame, pvalues)
        except ValueError as error:
            raise ValueError(f"table {name!r}: {error}") from None
        unadjusted = [c for c in columns if f"{c}_adj" not in frame.columns]
        if unadjusted:
            raise ValueError(f"table {name!r}: p-values {unadjusted} were not adjusted; build the section's tables "
                             "of tests first and adjust_pvalues over all of them before writing any section")
        self.tables[name] = frame
        self.captions[name] = caption
        if columns:
            self.pvalue_columns[name] = columns
        self.parts.append(_Table(name))

    def figure(self, name: str, fig, caption: str) -> None:
        """Save ``figures/<name>.png`` and embed it; closes the figure."""
        import matplotlib.pyplot as plt

        path = self.out_dir / "figures" / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        self.figures[name] = path
        encoded = base64.b64encode(path.read_bytes()).decode()
        self.parts.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{encoded}'><figcaption>"
                          f"<b>Figure {html.escape(name)}.</b> {html.escape(caption)}</figcaption></figure>")

    def _table_html(self, name: str) -> str:
        frame = self.tables[name]
        csv = f"tables/{name}.csv"
        n = len(frame)
        adjusted = [f"{c}_adj" for c in self.pvalue_columns.get(name, [])]
        note = (f" Columns {', '.join(adjusted)}: Benjamini-Hochberg adjusted over all {self.n_tests} tests of "
                "this report." if adjusted else "")
        caption = (f"<p class='caption'><b>Table {html.escape(name)}.</b> {html.escape(self.captions[name])}"
                   f"{html.escape(note)} {n:,} row{'s' if n != 1 else ''}; "
                   f"<a href='{html.escape(csv)}'>{html.escape(csv)}</a>.</p>")
        if not n:
            return caption + "<p class='note'>(no rows)</p>"
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        pvalues = {*self.pvalue_columns.get(name, []), *adjusted}  # an underflowed 0 reads "< 1e-300"
        zero_p = [c in pvalues for c in frame.columns]
        body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt_p(v) if is_p and v == 0 else fmt(v, 4, ''))}</td>"
                                        for is_p, v in zip(zero_p, row)) + "</tr>"
                       for row in frame.itertuples(index=False, name=None))
        block = f"<div class='tablewrap'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        if n > self.collapse_rows:
            block = f"<details><summary>Show all {n:,} rows (or open {html.escape(csv)})</summary>{block}</details>"
        return caption + block

    def write(self) -> Path:
        """Render ``report.html`` atomically (with every table's CSV) and return its path."""
        log.info("analyze: writing the report")
        top = []
        if self.headline:
            top.append(f"<h2>What the evidence supports</h2>{self._box(self.headline)}")
        top.append(f"<p class='note'>{html.escape(self.tests_note())}</p>")
        if self.skipped:
            items = [f"{s['what']}: {s['why']}" for s in self.skipped]
            top.append(f"<h2>What was not analyzed and why</h2>{self._box(items, 'skipped')}")
        body: list[str] = []
        for part in self.parts:
            if isinstance(part, _Table):
                write_bytes_atomic(self.tables[part.name].to_csv(index=False).encode(),
                                   self.out_dir / "tables" / f"{part.name}.csv")
                body.append(self._table_html(part.name))
            elif isinstance(part, _Verdicts):
                body += top
                top = []
            else:
                body.append(part)
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n"
                + "\n".join([*top, *body]) + "\n</body></html>")
        path = self.out_dir / "report.html"
        write_bytes_atomic(page.encode(), path)
        return path

    def tests_note(self) -> str:
        """How the p-values of the report were adjusted."""
        return (f"P-values: {self.n_tests} tests in this report; every <name>_adj column is Benjamini-Hochberg "
                f"adjusted over all of them, and verdicts call a difference at adjusted p < {fmt(self.alpha)}. "
                "Means are of attribution scaled by the sequence's mean |attribution| unless said otherwise.")
