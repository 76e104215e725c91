"""Where the notebooks of a stage run: the executors, and the run of a whole plan through one.

An executor is any object with ``run_stage`` (:class:`StageExecutor`): :class:`LocalExecutor` runs
processes on this machine; ``slurm.SubmititExecutor`` runs SLURM jobs (or submitit's local jobs).
Every executor ends a failed notebook with :class:`~lat_utils.runner.notebooks.NotebookFailed`, and lets
:class:`~lat_utils.runner.stopping.Interrupted` (Ctrl-C, SIGTERM) pass with the notebooks it was running.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Protocol

from ..paths import reports_dir
from .notebooks import Done, Execution, execute, notebook_finished, plan
from .stopping import ignore_stop_signals, noting


class StageExecutor(Protocol):
    """Runs the independent executions of one stage and returns when all are done (or one failed),
    calling ``notebook_finished`` for each. ``planned``: how many executions the stage has in the plan (None: all of
    ``stage``); a resumed run's stage may have fewer left, and each notebook still gets the share of the cores the
    whole stage gives it (``stage_threads`` of ``min(jobs, planned)``), so that it computes as in an uninterrupted run."""

    def run_stage(self, stage: list[Execution], profile: str, done: Done | None = None,
                  planned: int | None = None) -> dict[str, float]: ...


class LocalExecutor:
    """This machine: one process per execution, up to ``jobs`` at a time (one per GPU where there are several)."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def run_stage(self, stage: list[Execution], profile: str, done: Done | None = None,
                  planned: int | None = None) -> dict[str, float]:
        gpus = gpu_count()
        workers = min(self.jobs, len(stage))
        threads = stage_threads(min(self.jobs, planned or len(stage)), gpus)  # the whole stage's share
        if workers == 1:
            return self._in_this_process(stage, profile, done, threads)
        times: dict[str, float] = {}
        submitted: list[str] = []
        # the workers leave SIGINT and SIGTERM to this process, which stops them with their kernels
        with ProcessPoolExecutor(workers, initializer=ignore_stop_signals) as pool, \
                noting(lambda: [name for name in submitted if name not in times][:workers]):  # a worker each
            futures = {}
            for i, e in enumerate(stage):
                futures[pool.submit(execute, e, profile, threads, i % gpus if gpus else None)] = e.output
                submitted.append(e.output)
            for future in as_completed(futures):  # each recorded as it finishes, so a kill loses none
                times[futures[future]] = future.result()
                notebook_finished(profile, futures[future], times[futures[future]], done)
        return {name: times[name] for name in submitted}  # in the plan's order

    @staticmethod
    def _in_this_process(stage: list[Execution], profile: str, done: Done | None,
                         threads: int | None) -> dict[str, float]:
        """One notebook at a time, from this process (its kernel a child of this one)."""
        times: dict[str, float] = {}
        for execution in stage:
            print(f"[{profile}] {execution.output} ...", flush=True)
            with noting(lambda: [execution.output]):
                times[execution.output] = execute(execution, profile, threads)
            notebook_finished(profile, execution.output, times[execution.output], done)
        return times


def run(profile: str, jobs: int = 1, together: bool = False, executor: StageExecutor | None = None,
        done: Done | None = None, finished: Collection[str] = ()) -> dict[str, float]:
    """Execute every stage of ``plan(profile, together)``, each stage after the previous one, through
    ``executor`` (default: ``LocalExecutor(jobs)``, processes on this machine); the wall time of each
    executed notebook (each also passed to ``done`` as soon as it is known).

    ``finished``: the notebooks an earlier invocation of this run executed (a run killed and started
    again); their reports are kept, not executed again, where both the notebook and its HTML exist."""
    executor = executor or LocalExecutor(jobs)
    times: dict[str, float] = {}
    for stage in plan(profile, together):
        kept = [e for e in stage if e.output in finished and _report_exists(profile, e)]
        for execution in kept:
            print(f"[{profile}] {execution.output}: executed by an earlier invocation of this run (kept)", flush=True)
        todo = [e for e in stage if e not in kept]
        if todo:
            times.update(executor.run_stage(todo, profile, done, planned=len(stage)))
    return times


def _report_exists(profile: str, execution: Execution) -> bool:
    output = reports_dir(profile) / execution.output
    return output.exists() and output.with_suffix(".html").exists()


def stage_threads(workers: int, gpus: int) -> int | None:
    """CPU threads per notebook when ``workers`` run at once on a CPU (the cores shared out); else torch's default."""
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 and not gpus else None


def gpu_count() -> int:
    """The number of GPUs torch sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
