"""Running the study's notebooks as cluster jobs, through submitit (the job library of SLURM clusters).

``./run_all.sh --profile paper --executor slurm --slurm-partition gpu --slurm-gpus-per-job 1``
submits every notebook execution of a stage as one SLURM job, waits for all of them, then submits the next
stage. Each job runs ``notebooks.execute`` (through :func:`execute_in_job`), the same function the local run
calls, so a job reuses finished models and evaluations exactly as a local run does, and a failed
notebook stops the run with the same error: the job returns the failure's message
(:func:`execute_in_job`) and the executor raises it as :class:`~lat_utils.runner.notebooks.NotebookFailed`.
Job logs go to ``runs/<profile>/submitit/``. Ctrl-C or SIGTERM cancels the jobs that run (``job.cancel``: scancel on
SLURM; submitit's local jobs are killed with the run's other processes, see ``stopping``).

``--executor local-submitit`` uses submitit's ``LocalExecutor`` instead: real subprocess jobs on this
machine, through the same code path (how the tests check it without a cluster).
"""

from __future__ import annotations

import time
from contextlib import nullcontext, suppress
from pathlib import Path

from ..paths import runs_dir
from .executors import stage_threads
from .notebooks import Done, Execution, NotebookFailed, execute, notebook_finished
from .stopping import Interrupted, noting, sigint_ignored_by_children

CLUSTERS = ("slurm", "local")
POLL_SECONDS = 1.0  # how often the jobs of a stage are asked whether they ended (submitit's own wait: every second)


class SubmititExecutor:
    """Submits each execution of a stage as a submitit job and waits for the stage to finish.

    ``cluster="slurm"`` submits to SLURM (``partition``, ``gpus_per_job`` and ``time_minutes`` per
    job; all jobs of a stage at once); ``cluster="local"`` runs the jobs as local subprocesses, at
    most ``jobs`` at a time (as the local executor would run them).
    """

    def __init__(self, profile: str, *, cluster: str = "slurm", jobs: int = 1, partition: str | None = None,
                 gpus_per_job: int = 1, time_minutes: int = 24 * 60, folder: Path | None = None) -> None:
        import submitit

        if cluster not in CLUSTERS:
            raise ValueError(f"unknown cluster {cluster!r}: choose one of {CLUSTERS}")
        if jobs < 1 or gpus_per_job < 0 or time_minutes < 1:
            raise ValueError(f"need jobs >= 1, gpus_per_job >= 0 and time_minutes >= 1, "
                             f"got {jobs}, {gpus_per_job}, {time_minutes}")
        self.cluster, self.jobs = cluster, jobs
        self.folder = folder or runs_dir(profile) / "submitit"
        if cluster == "slurm":
            self.executor = submitit.AutoExecutor(folder=self.folder, cluster="slurm")
            parameters = {"timeout_min": time_minutes, "gpus_per_node": gpus_per_job, "nodes": 1,
                          "tasks_per_node": 1, "name": f"lat-{profile}"}
            if partition:
                parameters["slurm_partition"] = partition
            self.executor.update_parameters(**parameters)
        else:
            self.executor = submitit.LocalExecutor(folder=self.folder)
            self.executor.update_parameters(timeout_min=time_minutes, gpus_per_node=0)

    def run_stage(self, stage: list[Execution], profile: str, done: Done | None = None,
                  planned: int | None = None) -> dict[str, float]:
        """Submit the stage's executions (on SLURM all at once; locally ``jobs`` at a time, the next as soon as one
        ends), wait for them; their wall times, in the stage's order. Locally each job gets the share of the cores
        of the stage as planned (``planned`` executions; see ``executors.StageExecutor``)."""
        times: dict[str, float] = {}
        at_once = len(stage) if self.cluster == "slurm" else min(self.jobs, len(stage))
        threads = stage_threads(min(self.jobs, planned or len(stage)), 0) if self.cluster == "local" else None
        waiting, running = list(stage), []
        try:
            with noting(lambda: [execution.output for execution, _ in running]):
                while waiting or running:
                    while waiting and len(running) < at_once:
                        running.append(self._submit(waiting.pop(0), profile, threads))
                    ended = [(execution, job) for execution, job in running if job.done()]
                    if not ended:
                        time.sleep(POLL_SECONDS)
                    for execution, job in ended:
                        running.remove((execution, job))
                        times[execution.output] = self._seconds(execution, job)
                        notebook_finished(profile, execution.output, times[execution.output], done)
        except Interrupted:
            self._cancel([job for _, job in running])
            raise
        return {e.output: times[e.output] for e in stage}

    def _submit(self, execution: Execution, profile: str, threads: int | None) -> tuple[Execution, object]:
        """Submit one execution as a job; a local job ignores Ctrl-C at the terminal (this process stops it)."""
        with sigint_ignored_by_children() if self.cluster == "local" else nullcontext():
            job = self.executor.submit(execute_in_job, execution, profile, threads)
        print(f"[{profile}] {execution.output}: submitit job {job.job_id}", flush=True)
        return execution, job

    @staticmethod
    def _cancel(jobs: list) -> None:
        """Cancel the jobs that run (on SLURM, scancel); a job that has ended meanwhile is left as it is."""
        for job in jobs:
            with suppress(Exception):
                job.cancel(check=False)

    def _seconds(self, execution: Execution, job) -> float:
        """The wall time of a finished job's notebook; its failure raised as the local run raises it."""
        try:
            seconds, failure = job.result()
        except Exception as error:  # the job itself died (killed, out of memory, lost node)
            raise NotebookFailed(f"{execution.notebook} {execution.parameters}: job {job.job_id} "
                                 f"failed; its log is in {self.folder}\n{error}") from None
        if failure is not None:
            raise NotebookFailed(failure)
        return seconds


def execute_in_job(execution: Execution, profile: str, threads: int | None = None) -> tuple[float, str | None]:
    """``notebooks.execute`` inside a job: ``(seconds, None)``, or ``(0, message)`` when the notebook failed.

    A job's exception reaches the submitting process only as submitit's error wrapping a traceback;
    returning the message lets the executor raise the very ``NotebookFailed`` a local run raises.
    """
    try:
        return execute(execution, profile, threads), None
    except NotebookFailed as failure:
        return 0.0, str(failure)
