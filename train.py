"""Fine-tune a model on promoter detection: ``python train.py [model=cnn] [data=gue data.root=DIR]``."""
import hydra
from omegaconf import DictConfig

from glmxai.job_log import log_failures
from glmxai.jobs.train import run


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@log_failures
def main(cfg: DictConfig) -> float:
    metrics = run(cfg)
    return metrics.get("test/mcc", float("nan"))


if __name__ == "__main__":
    main()
