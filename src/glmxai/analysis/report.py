"""A self-contained report folder: ``report.html`` (tables inline, figures as base64 PNG),
``tables/<name>.csv`` and ``figures/<name>.png``; optionally the same logged to W&B."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from glmxai.io import atomic_path, write_bytes_atomic

_STYLE = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f0f0f0}img{max-width:100%}figcaption,.caption{font-size:13px;color:#555}
.finding{background:#f7f7e8;padding:.5em 1em;border-left:4px solid #cc9}"""


def slug(text: str) -> str:
    """``text`` as a file-name part: every character but letters and digits becomes ``_``."""
    return "".join(c if c.isalnum() else "_" for c in text)


class Report:
    """Collects sections, tables, figures and findings; ``write`` renders ``report.html``."""

    def __init__(self, out_dir: str | Path, title: str):
        self.out_dir = Path(out_dir)
        self.title = title
        self.parts: list[str] = []
        self.tables: dict[str, pd.DataFrame] = {}
        self.figures: dict[str, Path] = {}
        self.headline: list[str] = []

    def section(self, title: str, intro: str | None = None) -> None:
        self.parts.append(f"<h2>{html.escape(title)}</h2>")
        if intro:
            self.parts.append(f"<p>{html.escape(intro)}</p>")

    @staticmethod
    def _finding_box(sentences: list[str]) -> str:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
        return f"<div class='finding'><ul>{items}</ul></div>"

    def findings(self, sentences: list[str], headline: bool = False) -> None:
        """Plain statements of what the evidence supports, here (and at the top if ``headline``)."""
        if sentences:
            self.parts.append(self._finding_box(sentences))
            if headline:
                self.headline += sentences

    def table(self, name: str, frame: pd.DataFrame, caption: str, max_rows: int = 40) -> None:
        """Write ``tables/<name>.csv`` and show the first ``max_rows`` rows."""
        self.tables[name] = frame
        write_bytes_atomic(frame.to_csv(index=False).encode(), self.out_dir / "tables" / f"{name}.csv")
        shown = frame.head(max_rows)
        more = f" (first {max_rows} of {len(frame)} rows; all in tables/{name}.csv)" if len(frame) > max_rows else ""
        self.parts.append(f"<p class='caption'><b>Table {html.escape(name)}.</b> {html.escape(caption)}"
                          f"{html.escape(more)}</p>")
        self.parts.append(shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="",
                                        classes="data", border=0))

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

    def write(self) -> Path:
        """Render ``report.html`` atomically and return its path."""
        top = f"<h2>What the evidence supports</h2>{self._finding_box(self.headline)}" if self.headline else ""
        body = "\n".join([top, *self.parts])
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{_STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>")
        path = self.out_dir / "report.html"
        write_bytes_atomic(page.encode(), path)
        return path

    def log_wandb(self, **init_kwargs) -> None:
        """Log every table (wandb.Table) and figure (wandb.Image) to a W&B run, then finish it."""
        import wandb

        run = wandb.init(**init_kwargs)
        try:
            run.log({f"tables/{k}": wandb.Table(dataframe=v.reset_index(drop=True)) for k, v in self.tables.items()})
            run.log({f"figures/{k}": wandb.Image(str(p)) for k, p in self.figures.items()})
        finally:
            run.finish()
