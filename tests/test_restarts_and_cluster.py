"""A reproduction gives the same numbers whether or not it was interrupted, and on a cluster.

The session's study (the ``session_study`` fixture: the paper profile's dry run) runs through the cluster
path (submitit's local executor: real subprocess jobs, the code path of ``--executor slurm``) and is killed
with SIGKILL at three random moments and restarted each time; it must end with the evaluation tables and
claims of an uninterrupted computation: the same models trained and evaluated from scratch in this process.
"""

import json
import os
import time

import pandas as pd
import pytest
import torch

from lat_utils import runner
from lat_utils.config import get_profile
from lat_utils.paths import tables_dir
from lat_utils.runner.executors import stage_threads
from lat_utils.spec.paper import DATASETS
from lat_utils.study import claims, cross_evaluate, trained_models

from .helpers import training_config, trainings

COMPARED_TABLES = ("eval_mnist.csv", "eval_cifar10.csv", "per_image_mnist.csv.gz", "per_image_cifar10.csv.gz",
                   "claims.csv")


def _tables(root, profile: str) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(root / "reports" / profile / "tables" / name) for name in COMPARED_TABLES}


def _uninterrupted(profile: str, threads: int) -> None:
    """The study's numbers computed in this process, from scratch, without notebooks: every model trained as its
    training notebook does (together where the run trained models together; with that notebook's share of the
    cores), the tables gathered as ``03_evaluate`` does, the claims as ``05_figures_and_claims`` does, and the
    tables marked DRY RUN as the run marks them."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for execution in trainings(runner.plan(profile, together=True)):
            trained_models(training_config(execution), together=execution.parameters["together"], progress=False)
        for dataset in DATASETS:
            cross_evaluate(dataset, profile, progress=False)
    finally:
        torch.set_num_threads(before)
    tables = {d: pd.read_csv(tables_dir(profile) / f"eval_{d}.csv") for d in DATASETS}
    per_image = {d: pd.read_csv(tables_dir(profile) / f"per_image_{d}.csv.gz", keep_default_na=False)
                 for d in DATASETS}
    claims.claims_by_network(tables, per_image, get_profile(profile)).to_csv(tables_dir(profile) / "claims.csv",
                                                                              index=False)
    runner.cli.mark_dry_run_tables(profile)


@pytest.mark.notebooks
@pytest.mark.slow
def test_session_study_through_submitit_killed_three_times_ends_as_an_uninterrupted_run(
        tmp_path, session_study, output_root, monkeypatch):
    moments, profile = session_study.kill_moments, session_study.profile
    assert session_study.exit_code == 0, f"the restarted run failed (kills at {moments} s)"
    reports = output_root / "reports" / profile
    for execution in (e for stage in runner.plan(profile, together=True) for e in stage):
        assert (reports / execution.output).with_suffix(".html").exists()
    assert list((output_root / "runs" / profile / "submitit").glob("*_result.pkl")), "no submitit job ran"
    # the wall time is that of every invocation (an attempt killed before its imports ended left none)
    record = json.loads((reports / "run.json").read_text())
    assert 2 <= len(record["invocations"]) <= len(moments) + 1 and record["seconds"] == pytest.approx(
        sum(record["invocations"]), abs=0.5)
    assert record["seconds"] - record["invocations"][-1] >= max(moments) - 20, (moments, record["invocations"])
    assert not (output_root / "runs" / profile / "invocations.json").exists()  # the run is complete

    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    jobs = min(4, os.cpu_count() or 1)  # the run's default, and each training notebook's share of the cores
    _uninterrupted(profile, stage_threads(min(jobs, len(runner.plan(profile)[0])), 0) or torch.get_num_threads())
    uninterrupted = _tables(tmp_path, profile)
    for name, table in _tables(output_root, profile).items():
        pd.testing.assert_frame_equal(table, uninterrupted[name], obj=f"{name} (kills at {moments} s)")


def test_a_resumed_run_keeps_the_notebooks_an_earlier_invocation_finished(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    stages = runner.plan("smoke")
    first = stages[0][0]  # the ImageNet attack
    submitted, plans = [], []

    class Recorder:
        def run_stage(self, stage, profile, done=None, planned=None):
            submitted.extend(e.output for e in stage)
            plans.append(planned)
            return {e.output: 1.0 for e in stage}

    runner.run("smoke", executor=Recorder(), finished={first.output})  # its report is missing: executed again
    assert submitted[0] == first.output
    report = tmp_path / "reports" / "smoke" / first.output
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("{}")
    report.with_suffix(".html").write_text("<html></html>")
    submitted.clear()
    runner.run("smoke", executor=Recorder(), finished={first.output})
    assert first.output not in submitted and len(submitted) == sum(map(len, stages)) - 1
    assert plans[-len(stages):] == [len(stage) for stage in stages]   # the stage as planned, not what is left of it
    assert f"{first.output}: executed by an earlier invocation of this run (kept)" in capsys.readouterr().out
    invocations = runner.Invocations("smoke", heartbeat=60)
    invocations.notebook_done(first.output, 1.0)
    invocations.stop()
    resumed = runner.Invocations("smoke", heartbeat=60)
    assert resumed.finished() == {first.output}
    resumed.stop()


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


def test_local_jobs_start_the_next_notebook_as_soon_as_one_ends(tmp_path, monkeypatch):
    """``--executor local-submitit`` keeps ``jobs`` notebooks running: the third starts when the first ends, not
    when the slowest of the first two does; a failed job ends the stage with the notebook's message."""
    from lat_utils.runner import slurm

    events, shares = [], []
    polls = {"a.ipynb": 1, "b.ipynb": 4, "c.ipynb": 1, "bad.ipynb": 1}   # times a job is asked before it has ended

    class Job:
        def __init__(self, name):
            self.job_id, self.left = name, polls[name]

        def done(self):
            self.left -= 1
            return self.left <= 0

        def result(self):
            events.append(f"end {self.job_id}")
            return (0.0, f"{self.job_id} failed in cell 3") if self.job_id == "bad.ipynb" else (1.0, None)

    class Submitter:
        def submit(self, function, execution, profile, threads):
            events.append(f"start {execution.output}")
            shares.append(threads)
            return Job(execution.output)

    monkeypatch.setattr(slurm, "POLL_SECONDS", 0)
    executor = slurm.SubmititExecutor("smoke", cluster="local", jobs=2, folder=tmp_path)
    executor.executor = Submitter()
    stage = [runner.Execution("x.ipynb", name, {}) for name in ("a.ipynb", "b.ipynb", "c.ipynb")]
    times = executor.run_stage(stage, "smoke", planned=6)   # three of six left: the share of six two at a time
    assert events.index("start c.ipynb") < events.index("end b.ipynb"), events
    assert list(times) == ["a.ipynb", "b.ipynb", "c.ipynb"]   # in the stage's order, whatever ended first
    assert shares == [stage_threads(2, 0)] * 3   # each job its share of the cores, as the local executor gives
    with pytest.raises(runner.NotebookFailed, match="bad.ipynb failed in cell 3"):
        executor.run_stage([runner.Execution("x.ipynb", "bad.ipynb", {})], "smoke")


def test_a_resumed_stage_gives_each_notebook_the_threads_of_the_whole_stage(monkeypatch):
    """Four notebooks planned two at a time get one core each (on 2 cores); the last one, left alone by a resumed run,
    gets the same share: a different thread count would change torch's float reductions, and so the numbers."""
    from lat_utils.runner import executors

    monkeypatch.setattr(executors.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(executors, "gpu_count", lambda: 0)
    seen = []
    monkeypatch.setattr(executors, "execute", lambda execution, profile, threads=None, gpu=None:
                        seen.append((threads, os.environ.get("OMP_NUM_THREADS"))) or 1.0)
    left = [runner.Execution("x.ipynb", "d.ipynb", {})]
    executors.LocalExecutor(jobs=2).run_stage(left, "smoke", planned=4)
    executors.LocalExecutor(jobs=2).run_stage(left, "smoke")        # a stage of one notebook: all the cores
    assert seen == [(1, os.environ.get("OMP_NUM_THREADS")), (None, os.environ.get("OMP_NUM_THREADS"))]


def test_a_notebook_kernel_gets_its_threads_and_the_next_one_not(monkeypatch):
    from lat_utils.runner.notebooks import THREAD_VARIABLES, kernel_threads

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with kernel_threads(1):
        assert all(os.environ[name] == "1" for name in THREAD_VARIABLES)
    assert not any(name in os.environ for name in THREAD_VARIABLES)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with kernel_threads(None):
        assert os.environ["OMP_NUM_THREADS"] == "3"
    with kernel_threads(2):
        assert os.environ["OMP_NUM_THREADS"] == "2"
    assert os.environ["OMP_NUM_THREADS"] == "3"


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
