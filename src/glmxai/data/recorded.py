"""The data a job works on: the command's ``data`` group, or the data a checkpoint was trained on,
rebuilt from the record it carries (``hparams["data"]``) through the allow-list."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from glmxai.allowlist import DATA_MODULES, build
from glmxai.options import OptionError

log = logging.getLogger(__name__)


def command_data(data_cfg: DictConfig):
    """The data module of the command's own ``data`` group (instantiated by Hydra: the command is
    trusted). A value its class refuses (an option out of range: ``check_data_options`` in the
    constructor) is raised as the class's own error, not wrapped in Hydra's instantiation error."""
    try:
        return instantiate(data_cfg)
    except InstantiationException as error:
        if isinstance(error.__cause__, OptionError):
            raise error.__cause__ from None
        if isinstance(error.__cause__, ValueError):
            raise OptionError(f"data: {error.__cause__}") from None
        raise


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
        return command_data(data_cfg)
    return build(OmegaConf.to_container(data_cfg, resolve=True), DATA_MODULES, config_source, "data")
