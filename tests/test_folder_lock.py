"""The same command started twice into one folder: the second refuses while the first runs, with
two real processes; a killed job leaves no lock behind."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from fuzzing import snapshot

from glmxai.io import FolderBusyError, folder_lock
from glmxai.jobs import explain as xai_job

from conftest import REPO_ROOT, SMALL_DATA, compose_config
from xai_toys import save_toy_checkpoint

# A second process runs the real explain job; it waits for the file "go" before its first chunk,
# holding the folder meanwhile, then explains and merges as usual.
FIRST_JOB = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import compose_config
    from glmxai.jobs import explain as job

    go, original = Path({go!r}), job.explain_chunks
    def waiting(*args, **kwargs):
        Path({started!r}).touch()
        while not go.exists():
            time.sleep(0.05)
        return original(*args, **kwargs)
    job.explain_chunks = waiting
    job.run(compose_config("explain", {overrides!r}, Path({out!r})))
""")


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    end = time.time() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the first job ended early: {process.communicate()}")
        if time.time() > end:
            raise AssertionError(f"{path} did not appear in {seconds} s")
        time.sleep(0.05)


def test_a_second_explain_job_into_the_same_folder_refuses_while_the_first_runs(tmp_path):
    ckpt = save_toy_checkpoint(tmp_path / "toy.ckpt")
    overrides = [f"ckpt_path={ckpt}", *SMALL_DATA, "xai=ism", "explain.n=6", "explain.chunk_size=2", "logger=none"]
    out, go, started = tmp_path / "job", tmp_path / "go", tmp_path / "started"
    script = FIRST_JOB.format(tests=str(REPO_ROOT / "tests"), go=str(go), started=str(started), overrides=overrides,
                              out=str(out))
    first = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started, first)
        before = snapshot(out)
        with pytest.raises(FolderBusyError, match=f"{out}: another explain job is writing to this folder \\(pid "
                                                  f"{first.pid}"):
            xai_job.run(compose_config("explain", overrides, out))
        assert snapshot(out) == before  # the refused job wrote nothing
        go.touch()
        _, errors = first.communicate(timeout=300)
        assert first.returncode == 0, errors
    finally:
        first.kill()
    with np.load(out / "attributions.npz") as result:
        assert len(result["index"]) == 6 and np.isfinite(result["scores"]).all()
    assert xai_job.run(compose_config("explain", overrides, out))["n_sequences"] == 6  # free again: returns the results


def test_a_killed_job_leaves_no_lock_behind(tmp_path):
    """A process killed while it holds the folder: the next job gets the folder at once."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from glmxai.io import folder_lock
        with folder_lock({str(tmp_path)!r}, "test job"):
            Path({str(tmp_path / "held")!r}).touch()
            time.sleep(600)
    """)], cwd=REPO_ROOT)
    try:
        _wait_for(tmp_path / "held", holder)
        with pytest.raises(FolderBusyError, match=f"pid {holder.pid}"), folder_lock(tmp_path, "second job"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(tmp_path, "second job"):
        assert f"pid {__import__('os').getpid()}" in (tmp_path / ".glmxai.lock").read_text()
