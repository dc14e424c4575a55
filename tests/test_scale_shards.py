"""Sharded explanation: shards explain disjoint chunks; merged, they equal an unsharded run."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from glmxai.jobs.explain import run, torch_threads
from glmxai.jobs.merge import main as merge_main
from glmxai.jobs.merge import merge_shards

from conftest import REPO_ROOT, compose_config


def _overrides(ckpt: Path) -> list[str]:
    return [f"ckpt_path={ckpt}", "xai=lime", "xai.num_samples=40", "explain.n=5", "explain.chunk_size=2"]


def _shard(ckpt: Path, folder: Path, shard: int, num_shards: int, *extra: str) -> dict:
    """Run one shard in-process into ``folder``, saving its config as Hydra does."""
    cfg = compose_config("explain", [*_overrides(ckpt), *extra, f"explain.shard={shard}",
                                     f"explain.num_shards={num_shards}"], folder)
    result = run(cfg)
    (folder / ".hydra").mkdir()
    OmegaConf.save(cfg, folder / ".hydra" / "config.yaml")
    return result


def test_merged_shards_equal_an_unsharded_run(tmp_path, trained_cnn):
    full = run(compose_config("explain", _overrides(trained_cnn), tmp_path / "full"))
    shards = [_shard(trained_cnn, tmp_path / f"shard{i}", i, 2) for i in range(2)]
    assert [s["chunks"] for s in shards] == [[0, 2], [1]]
    assert [s["n_sequences"] for s in shards] == [3, 2]
    assert not (tmp_path / "shard0" / "attributions.npz").exists()

    meta = merge_shards([tmp_path / "shard1", tmp_path / "shard0"], tmp_path / "merged")
    for name in ("attributions.npz", "features.jsonl"):
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
    for key in ("n_sequences", "model_evaluations", "fingerprint", "files", "params"):
        assert meta[key] == full[key], key


def test_merged_meta_records_where_the_shards_ran_not_the_merge(tmp_path, trained_cnn):
    """A shard explained with 1 thread and one with 2, merged with 3: meta.json names the shards'."""
    for i, threads in enumerate((1, 2)):
        _shard(trained_cnn, tmp_path / f"shard{i}", i, 2, f"explain.threads={threads}")
    with torch_threads(3):
        meta = merge_shards([tmp_path / "shard0", tmp_path / "shard1"], tmp_path / "merged")
    assert meta["torch_threads"] == "1, 2"
    assert meta["device"] == "cpu"


def test_merge_refuses_missing_or_foreign_shards(tmp_path, trained_cnn):
    _shard(trained_cnn, tmp_path / "shard0", 0, 2)
    with pytest.raises(ValueError, match="expected shards"):
        merge_shards([tmp_path / "shard0"], tmp_path / "merged")
    _shard(trained_cnn, tmp_path / "other", 1, 2, "xai.num_samples=30")
    with pytest.raises(ValueError, match="other settings"):
        merge_shards([tmp_path / "shard0", tmp_path / "other"], tmp_path / "merged")
    with pytest.raises(ValueError, match="explain.shard"):
        run(compose_config("explain", [*_overrides(trained_cnn), "explain.shard=2", "explain.num_shards=2"],
                           tmp_path / "bad"))


@pytest.mark.slow
def test_sharded_multirun_through_submitit_local_merges_to_unsharded(tmp_path, trained_cnn):
    """``explain.py -m`` fans 3 shards out through the submitit local launcher; merging the
    sweep folder gives the unsharded files."""
    common = [f"ckpt_path={trained_cnn}", "xai=ism", "explain.n=3", "explain.chunk_size=1"]
    sweep = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "explain.py", "-m", "hydra/launcher=submitit_local", *common,
                             "explain.shard=0,1,2", "explain.num_shards=3", f"hydra.sweep.dir={sweep}"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert list((sweep / ".submitit").glob("*/*_result.pkl")), "jobs did not go through submitit"
    merge_main([str(sweep)])
    run(compose_config("explain", common, tmp_path / "full"))
    for name in ("attributions.npz", "ism.npz"):
        assert (sweep / "merged" / name).read_bytes() == (tmp_path / "full" / name).read_bytes(), name
