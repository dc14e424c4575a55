"""Weights & Biases runs of glmxai's commands: the helpers that train, explain and analyze
share (run names and groups, numeric summaries, starting a short run), and ``log_report``,
which logs an analysis report.

W&B is a view of results that are already on disk: every function here that talks to W&B is
called after the results are written, and a W&B failure is logged as a warning, never raised.
Runs are offline unless the command says otherwise (``logger.wandb.offline=false``); an
offline run lives in ``<run folder>/wandb/offline-run-*`` until ``wandb sync`` uploads it.
"""
from __future__ import annotations

import logging
import math
import numbers
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# W&B limits a group name to 128 characters.
MAX_GROUP = 128


def data_name(target: str | None) -> str:
    """A data module's short name from its ``_target_`` (``...SyntheticDataModule`` -> ``synthetic``),
    the name of its Hydra option (``data=synthetic|gue|csv``)."""
    if not target:
        return "data"
    name = str(target).rsplit(".", 1)[-1]
    return (name.removesuffix("DataModule") or name).lower()


def sweep_group(run_dir: str | Path | None = None) -> str | None:
    """The W&B group of a job: its Hydra multirun sweep folder (every job of one ``-m`` sweep
    together), else ``run_dir`` (None outside Hydra without a ``run_dir``). Long paths keep their
    last 128 characters."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    group = None
    if HydraConfig.initialized():
        hydra_cfg = HydraConfig.get()
        if hydra_cfg.mode == RunMode.MULTIRUN:
            group = str(hydra_cfg.sweep.dir)
    if group is None and run_dir is not None:
        group = str(run_dir)
    return group[-MAX_GROUP:] if group else None


def numeric_leaves(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every finite number in a nested dict / list, keyed by its path joined with ``/``
    (``{"runs": {"cnn/ism": {"faithfulness": {"deletion_aoc": 0.2}}}}`` ->
    ``{"runs/cnn/ism/faithfulness/deletion_aoc": 0.2}``; list items by index). Strings, None,
    booleans, NaN and infinities are left out."""
    out: dict[str, float] = {}
    if isinstance(tree, Mapping):
        items = ((str(k), v) for k, v in tree.items())
    elif isinstance(tree, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(tree))
    else:
        if isinstance(tree, numbers.Real) and not isinstance(tree, bool) and math.isfinite(float(tree)):
            out[prefix] = int(tree) if isinstance(tree, numbers.Integral) else float(tree)
        return out
    for key, value in items:
        out.update(numeric_leaves(value, f"{prefix}/{key}" if prefix else key))
    return out


def start_run(*, project: str, name: str | None, group: str | None, job_type: str, config: dict | None,
              directory: str | Path, offline: bool = True):
    """A new W&B run for a short logging job (explain, analyze), in ``directory/wandb``: never
    reuses or finishes a run already active in this process, captures no console output and
    samples no system metrics."""
    import wandb

    Path(directory).mkdir(parents=True, exist_ok=True)
    return wandb.init(project=project, name=name, group=group, job_type=job_type, config=config or {},
                      dir=str(directory), mode="offline" if offline else "online",
                      settings=wandb.Settings(console="off", x_disable_stats=True, reinit="create_new"))


def _artifact_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_.") or "report"


def _table(frame):
    """A ``wandb.Table`` of ``frame``; columns W&B cannot type (mixed objects) as text."""
    import wandb

    frame = frame.reset_index(drop=True)
    try:
        return wandb.Table(dataframe=frame)
    except Exception:  # a column of mixed types: show it as text
        return wandb.Table(dataframe=frame.astype({c: str for c in frame.columns if frame[c].dtype == object}))


def log_report(report, summary: Mapping | None, *, project: str = "glmxai", name: str | None = "analyze",
               mode: str = "offline", config: dict | None = None, directory: str | Path | None = None,
               group: str | None = None) -> Path | None:
    """Log an analysis report to a new W&B run (job_type ``analyze``) and finish it:

    - every table as ``tables/<name>`` (``wandb.Table``) and figure as ``figures/<name>`` (``wandb.Image``);
    - the numeric leaves of ``summary`` (what ``summary.json`` holds) as summary scalars with
      flattened keys, e.g. ``runs/<run>/faithfulness/deletion_aoc`` (see ``numeric_leaves``),
      and ``headline/<i>`` the report's headline sentences as text;
    - ``report.html`` as ``report`` (``wandb.Html``) and as an artifact of type ``report``
      (with ``summary.json`` and ``tables/*.csv`` beside it).

    report: a ``glmxai.report.Report`` already written (``report.write()``);
    mode: ``offline`` (default) or ``online``; directory: where ``wandb/`` goes (default: the
    report's folder). Returns the run's local folder, or None when W&B failed (logged as a
    warning: the report on disk is complete either way)."""
    directory = Path(directory) if directory is not None else Path(report.out_dir)
    try:
        import wandb

        run = start_run(project=project, name=name, group=group, job_type="analyze", config=config,
                        directory=directory, offline=mode != "online")
        try:
            if report.tables:
                run.log({f"tables/{k}": _table(v) for k, v in report.tables.items()})
            if report.figures:
                run.log({f"figures/{k}": wandb.Image(str(p)) for k, p in report.figures.items()})
            html_path = Path(report.out_dir) / "report.html"
            if html_path.is_file():
                run.log({"report": wandb.Html(html_path.read_text(encoding="utf-8"), inject=False)})
                artifact = wandb.Artifact(_artifact_name(f"report-{name or 'analyze'}"), type="report",
                                          description="glmxai analysis report (report.html, summary.json, tables)")
                artifact.add_file(str(html_path), name="report.html")
                summary_path = Path(report.out_dir) / "summary.json"
                if summary_path.is_file():
                    artifact.add_file(str(summary_path), name="summary.json")
                if (Path(report.out_dir) / "tables").is_dir():
                    artifact.add_dir(str(Path(report.out_dir) / "tables"), name="tables")
                run.log_artifact(artifact)
            scalars = numeric_leaves(summary or {})
            scalars.update({f"headline/{i}": sentence for i, sentence in enumerate(report.headline)})
            run.summary.update(scalars)
            folder = Path(run.dir).parent  # run.dir is <run folder>/files
        except BaseException:
            run.finish(exit_code=1)
            raise
        run.finish()
        log.info("W&B: analysis logged to %s (%s)", folder, mode)
        return folder
    except Exception as error:  # W&B must never cost the results on disk
        log.warning("W&B logging of the report failed (%s: %s); the report on disk is complete: %s",
                    type(error).__name__, error, report.out_dir)
        return None
