"""A reproduction gives the same numbers whether or not it was interrupted, and on a cluster.

The smoke study, run through the cluster path (submitit's local executor: real subprocess jobs, the
code path of ``--executor slurm``), is killed with SIGKILL at three random moments and restarted each
time; it must end with the evaluation tables of an uninterrupted local run (the session's smoke study,
the ``smoke_study`` fixture, which every test that needs a finished study shares).
"""

import json
import os
import random
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from lat_utils import runner
from lat_utils.paths import PROJECT_ROOT

COMPARED_TABLES = ("eval_mnist.csv", "eval_cifar10.csv", "per_image_mnist.csv.gz", "per_image_cifar10.csv.gz",
                   "claims.csv")
KILLS = 3


def _tables(root) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(root / "reports" / "smoke" / "tables" / name) for name in COMPARED_TABLES}


def _pipeline(root, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lat_utils.runner", "--profile", "smoke", *extra],
                            env={**os.environ, "LAT_OUTPUT_ROOT": str(root)}, cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the run and everything it started (jobs, notebook kernels), freezing them first so that
    none can start another process in between."""
    frozen: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(process.pid)
    except psutil.NoSuchProcess:
        return
    for _ in range(3):  # freeze, then freeze whatever was started meanwhile
        for p in [root, *root.children(recursive=True)]:
            if p.pid not in frozen:
                try:
                    p.suspend()
                    frozen[p.pid] = p
                except psutil.NoSuchProcess:
                    pass
    for p in frozen.values():
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()


@pytest.mark.notebooks
@pytest.mark.slow
def test_smoke_study_through_submitit_killed_three_times_ends_as_an_uninterrupted_run(
        tmp_path, smoke_study, output_root):
    moments = random.Random().sample(range(8, 45), KILLS)  # seconds into each attempt
    for moment in moments:
        run = _pipeline(tmp_path, "--executor", "local-submitit")
        try:
            run.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            _kill_tree(run)
    final = _pipeline(tmp_path, "--executor", "local-submitit")
    assert final.wait(timeout=900) == 0, f"the restarted run failed (kills at {moments} s)"
    reports = tmp_path / "reports" / "smoke"
    for execution in (e for stage in runner.plan("smoke") for e in stage):
        assert (reports / execution.output).with_suffix(".html").exists()
    assert list((tmp_path / "runs" / "smoke" / "submitit").glob("*_result.pkl")), "no submitit job ran"
    assert smoke_study == 0
    uninterrupted = _tables(output_root)  # the session's smoke study: one uninterrupted local run from scratch
    for name, table in _tables(tmp_path).items():
        pd.testing.assert_frame_equal(table, uninterrupted[name], obj=f"{name} (kills at {moments} s)")
    # the wall time is that of every invocation (an attempt killed before its imports ended left none)
    record = json.loads((reports / "run.json").read_text())
    assert 2 <= len(record["invocations"]) <= KILLS + 1 and record["seconds"] == pytest.approx(
        sum(record["invocations"]), abs=0.5)
    assert record["seconds"] - record["invocations"][-1] >= max(moments) - 20, (moments, record["invocations"])
    assert not (tmp_path / "runs" / "smoke" / "invocations.json").exists()  # the run is complete


def test_invocations_of_a_run_add_up_across_a_kill(tmp_path, monkeypatch):
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    first = runner.Invocations("smoke", heartbeat=0.05)
    first.notebook_done("01.ipynb", 1.0)
    time.sleep(0.3)  # then killed: only the heartbeat has written how long it ran
    written = json.loads(first.path.read_text())
    assert len(written) == 1 and written[0]["seconds"] >= 0.2 and written[0]["notebooks"] == {"01.ipynb": 1.0}
    first.stop()
    second = runner.Invocations("smoke", heartbeat=0.05)  # the rerun that resumes the run
    second.notebook_done("01.ipynb", 0.5)
    second.notebook_done("02.ipynb", 2.0)
    parts = second.finish()
    assert len(parts) == 2 and parts[0]["seconds"] >= 0.3
    assert runner.notebook_times(parts) == {"01.ipynb": 1.5, "02.ipynb": 2.0}
    assert not second.path.exists()
    third = runner.Invocations("smoke", heartbeat=0.05)  # after a finished run: a new run
    assert len(third.finish()) == 1


def test_slurm_jobs_ask_for_the_partition_gpus_and_time_given(tmp_path, monkeypatch):
    from lat_utils.runner.slurm import SubmititExecutor

    bin_dir = tmp_path / "bin"  # submitit looks for srun before it submits anything
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    executor = SubmititExecutor("smoke", cluster="slurm", partition="gpu", gpus_per_job=2, time_minutes=90,
                                folder=tmp_path / "submitit")
    script = executor.executor._executor._make_submission_file_text("python job.py", "uid")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --time=90",
                 f"#SBATCH --output={tmp_path / 'submitit'}"):
        assert line in script


def test_slurm_without_a_cluster_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SystemExit):
        runner.main(["--profile", "smoke", "--executor", "slurm"])
    assert "--executor slurm" in capsys.readouterr().err


def test_bad_cluster_settings_are_named():
    with pytest.raises(SystemExit):
        runner.main(["--profile", "smoke", "--executor", "local-submitit", "--slurm-time", "0"])
    from lat_utils.runner.slurm import SubmititExecutor

    with pytest.raises(ValueError, match="unknown cluster 'pbs'"):
        SubmititExecutor("smoke", cluster="pbs")
