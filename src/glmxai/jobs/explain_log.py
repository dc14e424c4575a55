"""What an explain job reports beyond its result files: summary scalars (cost, mean
p(promoter), ground-truth AUROC/AUPRC where masks exist), an example attribution logo, and the
run that carries them: a W&B run (``logger=wandb``), ``csv/summary.csv`` (``logger=csv``) or
nothing. Called after the results are written; a failure here is a warning, never lost results."""
from __future__ import annotations

import csv
import io
import logging
import warnings
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig, OmegaConf, open_dict

from glmxai.io import write_bytes_atomic
from glmxai.stats import mask_metrics, summarize_masks

if TYPE_CHECKING:
    from glmxai.jobs.explain import ExplainJob

log = logging.getLogger(__name__)
# Positions (relative to the TSS) of the example logo logged to W&B, as analyze.py's logos.
LOGO_SPAN = (-100, 20)


def explain_summary(meta: dict, result: dict) -> dict[str, float]:
    """The scalars by which explain runs are compared: cost (``evaluations_per_sequence``,
    ``seconds_per_sequence`` and the rest as in ``meta.json``), ``p_promoter_mean`` and
    ``accuracy`` of the model on the explained sequences and, when the data has ground-truth
    masks, ``ground_truth/auroc`` and ``ground_truth/auprc`` of |scores| against the mask (per
    sequence, then averaged over correctly predicted positives with a mask that is neither empty
    nor full, ``glmxai.stats.mask_metrics``), ``ground_truth/prevalence`` (the AUPRC of a
    random ranking) and ``ground_truth/n`` (the sequences averaged)."""
    probs, labels = np.asarray(result["probs"], dtype=np.float64), np.asarray(result["labels"])
    out: dict[str, float] = {key: meta[key] for key in (
        "n_sequences", "model_evaluations", "evaluations_per_sequence", "seconds_per_sequence", "wall_seconds",
        "evaluations_per_second") if meta.get(key) is not None}
    out["p_promoter_mean"] = float(probs.mean())
    out["accuracy"] = float(((probs >= 0.5) == (labels == 1)).mean())
    out["n_positives"] = int((labels == 1).sum())
    masks = result.get("masks")
    if masks is not None:
        summary = summarize_masks(mask_metrics(np.asarray(result["scores"], dtype=np.float64), masks, labels, probs))
        out["ground_truth/n"] = summary["n_correct_positive"]
        if summary["n_correct_positive"]:
            for key in ("auroc", "auprc", "prevalence"):
                out[f"ground_truth/{key}"] = float(summary[f"{key}_correct_positive_mean"])
    return out


def attribution_logo(result: dict, tss: int, title: str, span: tuple[int, int] = LOGO_SPAN):
    """A logo (matplotlib figure) of the first explained positive's scores from ``span[0]`` to
    ``span[1]`` around the TSS: each position's score drawn on its own base (up: toward promoter),
    ground-truth motif positions shaded; None when no positive was explained."""
    import logomaker
    import matplotlib.pyplot as plt
    import pandas as pd

    positives = np.flatnonzero(np.asarray(result["labels"]) == 1)
    if not len(positives):
        return None
    r = int(positives[0])
    sequence, scores = str(result["sequences"][r]), np.asarray(result["scores"][r], dtype=np.float64)
    lo, hi = max(0, tss + span[0]), min(len(sequence), tss + span[1] + 1)
    frame = pd.DataFrame(0.0, index=np.arange(lo, hi) - tss, columns=list("ACGT"))
    for i in range(lo, hi):
        if sequence[i] in "ACGT":
            frame.loc[i - tss, sequence[i]] = scores[i]
    fig, ax = plt.subplots(figsize=(max(6.0, (hi - lo) * 0.12), 2.4))
    with warnings.catch_warnings():  # all-zero scores: logomaker warns of identical y limits
        warnings.simplefilter("ignore", UserWarning)
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
    masks = result.get("masks")
    if masks is not None:
        for i in np.flatnonzero(masks[r][lo:hi]) + lo:
            ax.axvspan(i - tss - 0.5, i - tss + 0.5, color="gold", alpha=0.25, lw=0)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("position relative to the TSS (shaded: ground-truth motif)" if masks is not None
                  else "position relative to the TSS")
    ax.set_ylabel("attribution")
    ax.set_title(f"{title}: row {int(result['index'][r])}, label 1, p(promoter) {float(result['probs'][r]):.3f}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def _setting(node, key: str, kind: type):
    """``node.key`` if it is set, resolves and is a ``kind``; else None (a saved config may hold
    an interpolation that only resolved inside its own Hydra job)."""
    value = OmegaConf.select(node, key, default=None, throw_on_resolution_failure=False)
    return value if isinstance(value, kind) else None


def log_run(job: ExplainJob, meta: dict, result: dict) -> None:
    """Log the merged job as the ``logger`` group says: ``wandb`` (one run, job_type ``explain``,
    grouped by the sweep; config: method and parameters, model, checkpoint and SHA-256, data,
    split, n; summary: ``explain_summary``; an example ``attribution_logo``), ``csv``
    (``csv/summary.csv``: the same scalars in one row), or nothing (``logger=none``). The results
    are on disk already: a failure here is a warning. A run merged from shards' saved configs
    (``job.config_source``) logs offline whatever they say (``wandb sync`` uploads it)."""
    try:
        loggers = job.cfg.get("logger") or {}
        if not loggers:
            return
        summary = explain_summary(meta, result)
        if loggers.get("csv") is not None:
            _write_csv_summary(job, meta, summary)
        if loggers.get("wandb") is not None:
            _log_wandb(job, meta, result, summary, loggers.get("wandb"))
    except Exception as error:  # the results are written: logging must never lose them
        log.warning("logging the explain run failed (%s: %s); its results are complete in %s",
                    type(error).__name__, error, job.out_dir)


def _write_csv_summary(job: ExplainJob, meta: dict, summary: dict) -> None:
    row = {"method": meta["method"], "model": meta["model"], "data": meta["data"], "split": meta["split"],
           "checkpoint": meta["checkpoint"], **summary}
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    write_bytes_atomic(text.getvalue().encode(), job.out_dir / "csv" / "summary.csv")


def _log_wandb(job: ExplainJob, meta: dict, result: dict, summary: dict, settings) -> None:
    import matplotlib.pyplot as plt
    import wandb

    from glmxai.wandb_log import data_name, start_run, sweep_group

    offline = _setting(settings, "offline", bool)
    offline = True if offline is None or job.config_source is not None else offline
    name = _setting(settings, "name", str) or \
        f"explain-{meta['method']}-{meta['model']}-{data_name(job.data_config.get('_target_'))}"
    config = {key: meta[key] for key in ("method", "params", "model", "checkpoint", "checkpoint_sha256", "data",
                                         "data_config", "split", "selection", "tss", "sequence_length",
                                         "batch_size", "device", "torch_threads", "fingerprint")}
    config.update(n=meta["n_sequences"], out_dir=str(job.out_dir))
    run = start_run(project=_setting(settings, "project", str) or "glmxai", name=name,
                    group=_setting(settings, "group", str) or sweep_group(job.out_dir), job_type="explain",
                    config=config, directory=job.out_dir, offline=offline)
    try:
        run.summary.update(summary)
        try:
            fig = attribution_logo(result, job.tss, f"{meta['method']} on {meta['model']}")
        except Exception as error:  # the summary matters more than the picture
            fig = None
            log.warning("W&B: no attribution logo (%s: %s)", type(error).__name__, error)
        if fig is not None:
            try:
                run.log({"attribution_logo": wandb.Image(fig)})
            finally:
                plt.close(fig)
    except BaseException:
        run.finish(exit_code=1)
        raise
    run.finish()
    log.info("W&B: explain run %s logged to %s (%s)", name, job.out_dir / "wandb",
             "offline" if offline else "online")


def record_sweep_group(cfg: DictConfig) -> None:
    """In a Hydra multirun, set ``logger.wandb.group`` (when null) to the sweep folder, so that the
    saved config carries it to a later ``glmxai.jobs.merge`` of sharded jobs."""
    from glmxai.wandb_log import sweep_group

    wandb_cfg = OmegaConf.select(cfg, "logger.wandb", default=None)
    if wandb_cfg is None or OmegaConf.select(wandb_cfg, "group", default=None, throw_on_resolution_failure=False):
        return
    group = sweep_group()
    if group:
        with open_dict(cfg):
            wandb_cfg.group = group


