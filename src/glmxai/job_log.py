"""What a Hydra job leaves in its folder about itself: its config, once the job's checks have
passed, and its failure, in its own log file."""
from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from glmxai.io import write_bytes_atomic

log = logging.getLogger(__name__)
Result = TypeVar("Result")


def save_run_config(cfg: DictConfig, out_dir: str | Path) -> None:
    """Write the job's ``cfg`` and Hydra's own config into ``out_dir/.hydra`` (``config.yaml``,
    ``hydra.yaml``, ``overrides.yaml``) as Hydra does. For jobs whose config sets
    ``hydra.output_subdir: null`` so that Hydra does not write them before the job has checked
    that the folder is its own: a refused re-run must not overwrite the config of the results
    already there. Outside a Hydra job: nothing."""
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    folder = Path(out_dir) / ".hydra"
    write_bytes_atomic(OmegaConf.to_yaml(cfg).encode(), folder / "config.yaml")
    write_bytes_atomic(OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_cfg})).encode(), folder / "hydra.yaml")
    write_bytes_atomic(OmegaConf.to_yaml(hydra_cfg.overrides.task).encode(), folder / "overrides.yaml")


def log_failures(task: Callable[[DictConfig], Result]) -> Callable[[DictConfig], Result]:
    """Decorate a Hydra task so that an exception is also written, with its traceback, to the
    job's own log file(s) (Hydra prints it to the terminal only), then raised as before."""

    @functools.wraps(task)
    def run(cfg: DictConfig) -> Result:
        try:
            return task(cfg)
        except BaseException as error:  # an interrupt ends the job too: its log says how
            record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "job failed: %s: %s",
                                    (type(error).__name__, error), sys.exc_info())
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.FileHandler):
                    handler.handle(record)
            raise

    return run
