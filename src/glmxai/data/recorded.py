"""The data a job works on: the command's ``data`` group, or the data a checkpoint was trained on,
rebuilt from the record it carries (``hparams["data"]``) through the allow-list."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from glmxai.allowlist import DATA_MODULES, build

log = logging.getLogger(__name__)


def job_data(data_cfg: DictConfig | None, record: Mapping, checkpoint: Path, config_source: str | None = None):
    """A data module: ``data_cfg`` when given (instantiated if it is the command's own config;
    built through the allow-list, never by its own ``_target_``, if it was read from the file
    ``config_source``), else the checkpoint's training data from its ``record``. Raises
    ``ValueError`` naming the checkpoint when it records no training data."""
    if data_cfg is None:
        if not record.get("config"):
            raise ValueError(f"{checkpoint} records no training data (written before checkpoints carried it): "
                             "pass data=<group>, e.g. data=gue data.root=DIR")
        datamodule = build(record["config"], DATA_MODULES, str(checkpoint), "data.config")
        log.info("using the data %s was trained on: %s (pass data=... for other data)", checkpoint.name,
                 datamodule.describe())
        return datamodule
    if config_source is None:
        return instantiate(data_cfg)
    return build(OmegaConf.to_container(data_cfg, resolve=True), DATA_MODULES, config_source, "data")
