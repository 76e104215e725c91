"""Run the whole study: execute the notebooks in order with papermill, render each to HTML.

``python -m lat_utils.pipeline --profile quick --jobs 2`` (what ``./run_all.sh`` calls) executes

1. ``01_imagenet_attack``: the localized attack on an ImageNet classifier (Figure 1, Tables 1-2);
2. ``02_train``: once per model of the study (independent: up to ``--jobs`` at a time), or with
   ``--together`` (the default on a GPU) once per group of ``training.together_groups``, whose models
   train in lockstep as one stacked network; each then evaluates its models under every attack
   (the localized AutoAttack) and cross-checks them with torchattacks, so evaluation runs in parallel too;
3. ``03_evaluate``: once per dataset (gathers the evaluations: Figure 2, accuracy grid, PGD's
   overestimate, the torchattacks cross-check);
4. ``04_figures_and_claims``: MNIST Figure 1, Figure 2 beside the paper's, the claims table (and
   the claims at each milestone of training, where the profile keeps milestones);
5. ``05_budgets``: the claims across training budgets, over every profile that has run here.

Executed notebooks go to ``reports/<profile>/``. Models, evaluations and caches are reused, so a
rerun after an interruption only does what is missing, and the run's wall time is that of all its
invocations (``Invocations``). A failing notebook stops the run with a non-zero exit that names the
notebook and the cell.

``--dry-run`` runs a profile's code path with every count shrunk (``config.dry_run``) into
``<profile>-dry-run`` folders; ``--estimate`` prints what each stage costs and exits
(``lat_utils.estimate``); ``--executor slurm`` runs each notebook as a SLURM job through submitit
(``lat_utils.cluster``). The executor of a run is any object with ``run_stage`` (``StageExecutor``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from . import progress, site
from .config import DATASETS, DRY_RUN_SUFFIX, PROFILES, get_profile
from .paths import PROJECT_ROOT, figures_dir, reports_dir, runs_dir, tables_dir, write_atomically
from .portable import make_file_portable
from .training import group_name, study_models, together_groups

NOTEBOOKS = PROJECT_ROOT / "notebooks"

Done = Callable[[str, float], None]  # called with an executed notebook's name and wall time


@dataclass(frozen=True)
class Execution:
    notebook: str                      # source notebook file name in notebooks/
    output: str                        # executed notebook file name in reports/<profile>/
    parameters: dict = field(default_factory=dict)


def plan(profile: str, together: bool = False) -> list[list[Execution]]:
    """The stages of the study, in order; the executions inside a stage are independent."""
    get_profile(profile)
    groups = []  # models trained by one execution of 02_train
    for dataset in DATASETS:
        groups += together_groups(dataset, profile) if together else [[c] for c in study_models(dataset, profile)]
    trainings = [Execution("02_train.ipynb", f"02_train_{group_name(group)}.ipynb",
                           {"profile": profile, "dataset": group[0].dataset, "localization": group[0].localization,
                            "projection": group[0].projection, "seed": group[0].seed,
                            "together": len(group) > 1})
                 for group in groups]
    return [
        [Execution("01_imagenet_attack.ipynb", "01_imagenet_attack.ipynb", {"profile": profile})],
        trainings,
        [Execution("03_evaluate.ipynb", f"03_evaluate_{d}.ipynb", {"profile": profile, "dataset": d})
         for d in DATASETS],
        [Execution("04_figures_and_claims.ipynb", "04_figures_and_claims.ipynb", {"profile": profile})],
        [Execution("05_budgets.ipynb", "05_budgets.ipynb", {"profile": profile})],
    ]


class NotebookFailed(RuntimeError):
    pass


def execute(execution: Execution, profile: str, threads: int | None = None, gpu: int | None = None) -> float:
    """Execute one notebook with papermill and render it to HTML; its wall time in seconds."""
    import papermill
    from nbconvert import HTMLExporter

    if threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    os.environ[progress.ENV] = progress.TEXT  # the kernel inherits it: plain-text progress bars on stdout
    output = reports_dir(profile) / execution.output
    start = time.perf_counter()
    try:
        papermill.execute_notebook(NOTEBOOKS / execution.notebook, output, parameters=execution.parameters,
                                   cwd=str(PROJECT_ROOT), kernel_name="python3", progress_bar=False,
                                   coalesce_streams=True)  # one stream output per cell, a bar's final line
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(f"{execution.notebook} {execution.parameters} failed in cell {error.exec_count} "
                             f"({error.ename}: {error.evalue}); see the executed copy {output}") from None
    make_file_portable(output)
    body, _ = HTMLExporter().from_filename(str(output))
    output.with_suffix(".html").write_text(body, encoding="utf-8")
    return time.perf_counter() - start


def run(profile: str, jobs: int = 1, together: bool = False, executor: StageExecutor | None = None,
        done: Done | None = None) -> dict[str, float]:
    """Execute every stage of ``plan(profile, together)``, each stage after the previous one, through
    ``executor`` (default: ``LocalExecutor(jobs)``, processes on this machine); the wall time of each
    executed notebook (each also passed to ``done`` as soon as it is known)."""
    executor = executor or LocalExecutor(jobs)
    times: dict[str, float] = {}
    for stage in plan(profile, together):
        times.update(executor.run_stage(stage, profile, done))
    return times


def notebook_finished(profile: str, name: str, seconds: float, done: Done | None) -> None:
    """What an executor does when a notebook has run: print its wall time and tell ``done``."""
    print(f"[{profile}] {name}: {seconds:.0f} s", flush=True)
    if done is not None:
        done(name, seconds)


class StageExecutor(Protocol):
    """Runs the independent executions of one stage and returns when all are done (or one failed),
    calling ``notebook_finished`` for each."""

    def run_stage(self, stage: list[Execution], profile: str, done: Done | None = None) -> dict[str, float]: ...


class LocalExecutor:
    """This machine: one process per execution, up to ``jobs`` at a time (one per GPU where there are several)."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs

    def run_stage(self, stage: list[Execution], profile: str, done: Done | None = None) -> dict[str, float]:
        times: dict[str, float] = {}
        gpus = _gpu_count()
        workers = min(self.jobs, len(stage))
        if workers == 1:
            for execution in stage:
                print(f"[{profile}] {execution.output} ...", flush=True)
                times[execution.output] = execute(execution, profile)
                notebook_finished(profile, execution.output, times[execution.output], done)
            return times
        with ProcessPoolExecutor(workers) as pool:
            futures = {e.output: pool.submit(execute, e, profile, stage_threads(workers, gpus),
                                             i % gpus if gpus else None)
                       for i, e in enumerate(stage)}
            names = {future: name for name, future in futures.items()}
            for future in as_completed(names):  # each recorded as it finishes, so a kill loses none
                notebook_finished(profile, names[future], future.result(), done)
            times.update({name: future.result() for name, future in futures.items()})  # in the plan's order
        return times


class Invocations:
    """The wall time of every invocation (``./run_all.sh``) that worked on the current run of a profile.

    A run killed and started again is one run in several invocations. Each invocation is written to
    ``runs/<profile>/invocations.json`` when it starts and then every ``heartbeat`` seconds (a kill
    loses at most that much of its time), with the wall time of each notebook it finished. ``finish``
    returns all of them and clears the file, so that the next invocation starts the next run; ``stop``
    (a failed notebook) keeps it, so that the invocation that resumes the run counts this one's time.
    """

    def __init__(self, profile: str, heartbeat: float = 10.0) -> None:
        self.path = runs_dir(profile) / "invocations.json"
        self.heartbeat = heartbeat
        earlier = json.loads(self.path.read_text()) if self.path.exists() else []
        self.entries = earlier + [{"started": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S UTC}",
                                   "seconds": 0.0, "notebooks": {}}]
        self._start = time.perf_counter()
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._save()
        self._beat = threading.Thread(target=self._beating, daemon=True)
        self._beat.start()

    def notebook_done(self, name: str, seconds: float) -> None:
        """Record that this invocation executed notebook ``name`` in ``seconds`` (a ``Done``)."""
        with self._lock:
            self.entries[-1]["notebooks"][name] = round(seconds, 1)
            self._save()

    def stop(self) -> None:
        """Stop the heartbeat after a last write; the file stays for the invocation that resumes the run."""
        self._stopped.set()
        self._beat.join()
        self._save()

    def finish(self) -> list[dict]:
        """Stop, clear the file (the run is complete) and return every invocation of the run, oldest first."""
        self.stop()
        self.path.unlink(missing_ok=True)
        return self.entries

    def _save(self) -> None:
        with self._lock:
            self.entries[-1]["seconds"] = round(time.perf_counter() - self._start, 1)
            text = json.dumps(self.entries, indent=1) + "\n"
            write_atomically(self.path, lambda tmp: tmp.write_text(text))

    def _beating(self) -> None:
        while not self._stopped.wait(self.heartbeat):
            self._save()


def notebook_times(invocations: list[dict]) -> dict[str, float]:
    """Each notebook's wall time summed over the invocations that executed it (in order of execution)."""
    times: dict[str, float] = {}
    for invocation in invocations:
        for name, seconds in invocation["notebooks"].items():
            times[name] = times.get(name, 0.0) + seconds
    return times


def stage_threads(workers: int, gpus: int) -> int | None:
    """CPU threads per notebook when ``workers`` run at once on a CPU (the cores shared out); else torch's default."""
    return max(1, (os.cpu_count() or 1) // workers) if workers > 1 and not gpus else None


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the LAT study: every notebook, in order, with papermill.")
    parser.add_argument("--profile", default="quick", help=f"one of {sorted(PROFILES)} (default: quick)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks run at the same time within a stage (default: one per GPU, else one per "
                             "CPU core, at most 4)")
    parser.add_argument("--together", action=argparse.BooleanOptionalAction, default=None,
                        help="train the adversarial models of a dataset together, as one stacked network "
                             "(default: on with a GPU, in a dry run or with SLURM jobs with GPUs; off on a CPU)")
    parser.add_argument("--dry-run", action="store_true",
                        help="the profile's exact code path with every count shrunk (minutes on a CPU); outputs "
                             f"go to reports|runs|figures/<profile>{DRY_RUN_SUFFIX}/ and say DRY RUN")
    parser.add_argument("--estimate", action="store_true",
                        help="print the image-steps, FLOPs and estimated wall time of each stage on this "
                             "device (a few seconds of calibration), then exit without training")
    parser.add_argument("--executor", choices=("local", "slurm", "local-submitit"), default="local",
                        help="where notebooks run: this machine (default), SLURM jobs through submitit, or "
                             "submitit's local executor (subprocess jobs: the SLURM code path, for tests)")
    parser.add_argument("--slurm-partition", default=None, help="SLURM partition of the jobs")
    parser.add_argument("--slurm-gpus-per-job", type=int, default=1, help="GPUs per SLURM job (default 1)")
    parser.add_argument("--slurm-time", type=int, default=24 * 60, help="time limit of each job in minutes")
    args = parser.parse_args(argv)
    if args.profile not in PROFILES:
        parser.error(f"unknown profile {args.profile!r}: choose one of {sorted(PROFILES)}")
    profile = args.profile + DRY_RUN_SUFFIX if args.dry_run else args.profile
    if args.estimate:
        from .estimate import print_estimate

        print_estimate(get_profile(profile))
        return 0
    if args.jobs is None:
        args.jobs = _gpu_count() or min(4, os.cpu_count() or 1)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.slurm_gpus_per_job < 0 or args.slurm_time < 1:
        parser.error("--slurm-gpus-per-job must be >= 0 and --slurm-time >= 1 (minutes)")
    if args.together is None:  # a dry run takes the GPU path, which is what it checks; SLURM jobs get GPUs
        args.together = (_gpu_count() > 0 or args.dry_run
                         or (args.executor == "slurm" and args.slurm_gpus_per_job > 0))
    executor: StageExecutor = LocalExecutor(args.jobs)
    if args.executor != "local":
        from .cluster import SubmititExecutor

        try:
            executor = SubmititExecutor(profile, cluster="slurm" if args.executor == "slurm" else "local",
                                        jobs=args.jobs, partition=args.slurm_partition,
                                        gpus_per_job=args.slurm_gpus_per_job, time_minutes=args.slurm_time)
        except RuntimeError as error:  # e.g. submitit finds no srun: not on a SLURM cluster
            parser.error(f"--executor {args.executor}: {error}")
    invocations = Invocations(profile)
    try:
        run(profile, args.jobs, args.together, executor, done=invocations.notebook_done)
    except NotebookFailed as error:
        invocations.stop()
        print(f"\nFAILED: {error}", file=sys.stderr)
        return 1
    except BaseException:  # Ctrl-C: this invocation's time still counts when the run is resumed
        invocations.stop()
        raise
    parts = invocations.finish()
    total = sum(part["seconds"] for part in parts)
    if args.dry_run:
        mark_dry_run_tables(profile)
    summary = reports_dir(profile) / "timings.csv"
    summary.write_text("notebook,seconds\n" + "".join(f"{k},{v:.1f}\n" for k, v in notebook_times(parts).items())
                       + f"TOTAL,{total:.1f}\n")
    site.record_run(profile, total, invocations=[part["seconds"] for part in parts], jobs=args.jobs,
                    together=args.together)
    index = site.write_index(profile)
    resumed = f" over {len(parts)} invocations" if len(parts) > 1 else ""
    print(f"\nDone: profile {profile} in {total / 60:.1f} min{resumed}. Start at {index}; reports in {reports_dir(profile)}, "
          f"figures in {figures_dir(profile)}, timings in {summary}."
          + ("\nThis was a DRY RUN: its numbers mean nothing." if args.dry_run else ""))
    return 0


DRY_RUN_COLUMN = "DRY RUN"


def mark_dry_run_tables(profile: str) -> None:
    """Give every table of a dry run a first column ``DRY RUN`` (value "not a result"), so that no
    copied CSV can pass for a result."""
    import pandas as pd

    for path in sorted(tables_dir(profile).glob("*.csv*")):  # per-image tables are .csv.gz
        table = pd.read_csv(path, keep_default_na=False)
        if DRY_RUN_COLUMN not in table.columns:
            table.insert(0, DRY_RUN_COLUMN, "not a result")
            table.to_csv(path, index=False)


if __name__ == "__main__":
    sys.exit(main())
