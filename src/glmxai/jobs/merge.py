"""Merge a sharded explanation into one result folder.

    python -m glmxai.jobs.merge SHARD_DIR... [--out DIR]
    python -m glmxai.jobs.merge SWEEP_DIR [--out DIR]     # every job folder of a multirun

Shard i of n (``explain.shard=i explain.num_shards=n``) explains chunks i, i + n, ... of
the selected rows into its own job folder. This gathers the shards' chunk files, checks
that every chunk is there and was written with the same settings (the job's fingerprint),
and writes ``attributions.npz``, the method's extras and ``meta.json`` with
``glmxai.jobs.explain.merge``, so the files equal an unsharded run's (``meta.json`` differs only
in timing, and lists every device and thread count the shards ran with).

Job folders are grouped by their Hydra overrides minus ``explain.shard``: a multirun
``xai=lime,shap explain.shard=0,1,2,3 explain.num_shards=4`` merges into ``--out/xai=lime``
and ``--out/xai=shap`` (into ``--out`` itself when there is one group). ``--out`` defaults
to ``merged`` beside the shard folders. The model is loaded on the CPU to rebuild the job.
"""
from __future__ import annotations

import argparse
import logging
import re
import shutil
from collections import defaultdict
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from glmxai.jobs.explain import merge, prepare

log = logging.getLogger(__name__)


def _is_job(path: Path) -> bool:
    return (path / ".hydra" / "config.yaml").is_file()


def _job_folders(paths: list[Path]) -> list[Path]:
    """Hydra job folders among ``paths``: a path with ``.hydra/config.yaml``, or the job
    folders directly inside a multirun sweep folder."""
    folders = []
    for path in paths:
        if _is_job(path):
            folders.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if _is_job(p)) if path.is_dir() else []
        if not inside:
            raise FileNotFoundError(f"{path}: neither an explain.py job folder nor a sweep folder of them")
        folders.extend(inside)
    return folders


def _group_name(folder: Path) -> str:
    overrides = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
    kept = [o for o in overrides if not re.match(r"^\+*explain\.(shard|num_shards)=", str(o))]
    return ",".join(kept)


def merge_shards(folders: list[Path], out_dir: Path, trust_remote_code: bool = False) -> dict:
    """Merge the shard job ``folders`` of one job into ``out_dir``; returns its meta.

    The shards' saved configs are files like any other input: their data config is built
    through the allow-list, and remote code runs only if this call says ``trust_remote_code``
    (whatever the saved configs say)."""
    configs = [OmegaConf.load(f / ".hydra" / "config.yaml") for f in folders]
    num_shards = {int(c.explain.num_shards) for c in configs}
    if len(num_shards) != 1:
        raise ValueError(f"shards disagree on explain.num_shards: {sorted(num_shards)}")
    shards = sorted(int(c.explain.shard) for c in configs)
    expected = list(range(num_shards.pop()))
    if shards != expected:
        raise ValueError(f"expected shards {expected}, found {shards} in {[str(f) for f in folders]}")
    cfg: DictConfig = configs[0]
    with open_dict(cfg):
        cfg.explain.shard, cfg.explain.num_shards, cfg.explain.device = 0, 1, "cpu"
        cfg.paths.output_dir = str(out_dir)
        cfg.model = {"trust_remote_code": trust_remote_code}
    job = prepare(cfg, config_source=str(folders[0] / ".hydra" / "config.yaml"))
    (out_dir / "chunks").mkdir(parents=True, exist_ok=True)
    for folder in folders:
        for chunk in sorted((folder / "chunks").glob("chunk_*.npz")):
            target = out_dir / "chunks" / chunk.name
            if chunk.resolve() != target.resolve():
                shutil.copyfile(chunk, target)
    return merge(job)  # raises on a missing chunk or one written with other settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Merge sharded explain.py job folders into one result folder.")
    parser.add_argument("folders", nargs="+", type=Path, help="shard job folders or multirun sweep folders")
    parser.add_argument("--out", type=Path, help="result folder (default: merged/ beside the shard folders)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let a checkpoint's pretrained source run its own Python code (only if you trust it)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folders = _job_folders(args.folders)
    out = args.out or folders[0].parent / "merged"
    groups: dict[str, list[Path]] = defaultdict(list)
    for folder in folders:
        groups[_group_name(folder)].append(folder)
    for name, members in groups.items():
        target = out if len(groups) == 1 else out / (re.sub(r"[^\w=.,+-]+", "_", name) or "job")
        meta = merge_shards(members, target, args.trust_remote_code)
        log.info("merged %d shards (%s) into %s: %d sequences", len(members), name or "no overrides", target,
                 meta["n_sequences"])


if __name__ == "__main__":
    main()
