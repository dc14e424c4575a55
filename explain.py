"""Explain a trained model's predictions:
``python explain.py ckpt_path=CKPT [xai=lime|shap|anchor|ism|ig] [data=gue data.root=DIR]``;
several methods x checkpoints: ``python explain.py -m xai=lime,shap ckpt_path=A.ckpt,B.ckpt``."""
import hydra
from omegaconf import DictConfig

from glmxai.job_log import log_failures
from glmxai.jobs.explain import run


@hydra.main(version_base="1.3", config_path="conf", config_name="explain")
@log_failures
def main(cfg: DictConfig) -> float:
    return run(cfg)["seconds_per_sequence"]


if __name__ == "__main__":
    main()
