"""What the runs share and what to audit: analyze follows its inputs.

The TSS and the sequence length come from the runs (their ``meta.json`` and npz), and runs
that disagree are refused. The audited data is ``data=`` of the command line when given,
otherwise the runs' own ``data_config`` (all runs must agree on it), built through
``glmxai.allowlist``, never by its ``_target_`` alone.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from glmxai.allowlist import DATA_MODULES, build
from glmxai.data.recorded import command_data
from glmxai.explain_runs import ExplainInputError, ExplainRun

log = logging.getLogger(__name__)


def common_value(runs: list[ExplainRun], what: str, value_of: Callable[[ExplainRun], Any]) -> Any:
    """The value every run shares; raises ``ExplainInputError`` naming two runs that disagree."""
    first = runs[0]
    for run in runs[1:]:
        if value_of(run) != value_of(first):
            raise ExplainInputError(f"the runs disagree on {what}: {first.path} has {value_of(first)}, {run.path} has "
                                    f"{value_of(run)}; analyze runs with one {what} at a time")
    return value_of(first)


def runs_tss(runs: list[ExplainRun]) -> int:
    """The 0-based TSS index of all runs (from their meta.json); refuses a run without one."""
    for run in runs:
        if run.tss is None:
            raise ExplainInputError(f"{run.meta_path}: records no tss (the 0-based TSS index the run was explained "
                                    "with); re-run the explain job, or add \"tss\": <index> to this file")
    return common_value(runs, "tss", lambda r: r.tss)


def runs_length(runs: list[ExplainRun]) -> int:
    """The sequence length of all runs."""
    return common_value(runs, "sequence length", lambda r: r.length)


@dataclass
class AuditData:
    """What the audit reads: ``datamodule`` (None: nothing to audit, ``reason`` says why),
    ``source``, where its config came from, and ``explicit``: named on the command line (data
    that cannot be read is then an error, not a note in the report)."""

    datamodule: Any
    source: str
    reason: str = ""
    explicit: bool = False


def audit_data(cfg: DictConfig, runs: list[ExplainRun]) -> AuditData:
    """``data=`` of the command line (instantiated by Hydra: the command is trusted), else the
    runs' common ``data_config`` compared without batch_size/num_workers/seed and built
    through the allow-list; without ``data=`` and without one common data config, nothing."""
    if cfg.get("data"):
        return AuditData(command_data(cfg.data), "data= on the command line", explicit=True)
    if not cfg.audit.get("enabled", True):
        return AuditData(None, "", "audit.enabled=false")
    if not runs:
        return AuditData(None, "", "no data= and no runs")
    missing = [r for r in runs if r.data_config is None]
    if missing:
        return AuditData(None, "", f"{len(missing)} of {len(runs)} runs record no data_config in meta.json (explained "
                                   f"before explain.py wrote it, e.g. {missing[0].meta_path}); pass data=<group> to "
                                   "audit their data")
    first = runs[0]
    other = next((r for r in runs if r.data_identity != first.data_identity), None)
    if other is not None:
        return AuditData(None, "", f"the runs explained different data ({first.path}: {first.data_identity}; "
                                   f"{other.path}: {other.data_identity}); pass data=<group> to audit one data set")
    datamodule = build(first.data_config, DATA_MODULES, str(first.meta_path), "data_config")
    return AuditData(datamodule, f"the runs' data_config ({first.meta_path})")
