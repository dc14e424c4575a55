"""Turn explanations into evidence: ``python analyze.py inputs=multirun/<date>/<time>``;
audit a data folder alone: ``python analyze.py data=gue data.root=DIR``. See docs/analyze.md."""
import hydra
from omegaconf import DictConfig

from glmxai.job_log import log_failures
from glmxai.jobs.analyze import run


@hydra.main(version_base="1.3", config_path="conf", config_name="analyze")
@log_failures
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    main()
