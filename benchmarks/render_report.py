"""Render an analyze report (``report.html``) to a PNG with headless Chromium, to look at it as
a reader does; prints the PNG's path.

    python benchmarks/render_report.py outputs/analyze/<date>/<time>/report.html [--out report.png]
    python benchmarks/render_report.py --demo /tmp/demo      # build a real 3-method report first

``--demo DIR`` trains a CNN briefly on small synthetic data (about a minute on 2 cores),
explains it with ISM, IG and LIME (``explain.py -m``, 12 test sequences each), leaves one
unfinished job beside them, analyzes the sweep (``analyze.py``, faithfulness on the
checkpoint) and renders ``DIR/report/report.html``. Chromium: ``apt-get install -y chromium``.
``--crop W H``, ``--scale`` and ``--colors`` shrink the PNG (Pillow) for documentation; docs/report.png is
``--demo DIR --height 1400 --crop 1200 1290 --scale 0.75 --colors 64 --out docs/report.png``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """The path of a Chromium (or Chrome) binary; exits with what to install if none is found."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no chromium found: apt-get install -y chromium (or put chromium on PATH)")


def render(html: Path, out: Path, width: int = 1200, height: int = 3000, timeout: int = 120) -> Path:
    """Screenshot the top ``width`` x ``height`` pixels of ``html`` into ``out`` (PNG)."""
    html, out = Path(html).resolve(), Path(out).resolve()
    if not html.is_file():
        sys.exit(f"{html}: report not found")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                   f"--user-data-dir={profile}", f"--screenshot={out}", f"--window-size={width},{height}",
                   html.as_uri()]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if not out.is_file():
        sys.exit(f"chromium wrote no screenshot (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return out


def shrink(png: Path, crop: tuple[int, int] | None, scale: float, colors: int = 0) -> Path:
    """Crop ``png`` to its top-left ``crop`` (width, height), scale it by ``scale`` and reduce
    it to a palette of ``colors`` (0: keep full colour), in place."""
    from PIL import Image

    with Image.open(png) as image:
        image = image.convert("RGB")
        if crop:
            image = image.crop((0, 0, min(crop[0], image.width), min(crop[1], image.height)))
        if scale != 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        if colors:
            image = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
        image.save(png, optimize=True)
    return png


def _python(script: str, *args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, check=True)


def demo(folder: Path, n: int = 12) -> Path:
    """A real report of ISM, IG and LIME on a CNN trained on 16,000 synthetic sequences (its test
    MCC is printed: explain only a model that learned), with one unfinished explain job that
    analyze must list as skipped; returns its report.html."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from common import quick_checkpoint, quiet_logs

    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    quiet_logs()
    trained = sorted((folder / "train").rglob("best.ckpt"))
    checkpoint = trained[0] if trained else quick_checkpoint("cnn", folder / "train", ("trainer.max_epochs=5",), 16000)
    metrics = json.loads((checkpoint.parents[1] / "metrics.json").read_text())
    print(f"demo CNN: test MCC {metrics['test/mcc']:.3f}, accuracy {metrics['test/acc']:.3f} ({checkpoint})")
    sweep = folder / "multirun"
    if not (sweep / "2" / "attributions.npz").is_file():
        _python("explain.py", "-m", "xai=ism,ig,lime", f"ckpt_path={checkpoint}", f"explain.n={n}",
                "explain.threads=1", "logger=none", f"hydra.sweep.dir={sweep}", cwd=folder)
    unfinished = sweep / "3" / "chunks"  # a job that never merged its chunks (interrupted)
    unfinished.mkdir(parents=True, exist_ok=True)
    (unfinished / "chunk_00000.npz").write_bytes(b"")
    report = folder / "report"
    _python("analyze.py", f"inputs={sweep}", f"hydra.run.dir={report}", "logger=none", cwd=folder)
    return report / "report.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", type=Path, help="report.html to render")
    parser.add_argument("--demo", type=Path, help="build a real 3-method report in this folder first and render it")
    parser.add_argument("--out", type=Path, help="PNG to write (default: report.png beside the report)")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--crop", type=int, nargs=2, metavar=("W", "H"), help="keep the top-left W x H pixels")
    parser.add_argument("--scale", type=float, default=1.0, help="resize factor after cropping")
    parser.add_argument("--colors", type=int, default=0, help="reduce to a palette of this many colours (smaller file)")
    args = parser.parse_args()
    if (args.report is None) == (args.demo is None):
        parser.error("give a report.html or --demo DIR")
    html = demo(args.demo) if args.demo else args.report
    png = render(html, args.out or Path(html).with_name("report.png"), args.width, args.height)
    if args.crop or args.scale != 1 or args.colors:
        shrink(png, tuple(args.crop) if args.crop else None, args.scale, args.colors)
    print(png)


if __name__ == "__main__":
    main()
