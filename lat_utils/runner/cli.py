"""The command line of the study: ``python -m lat_utils.runner`` (what ``./run_all.sh`` calls).

``./run_all.sh --profile quick --jobs 2`` executes every stage of ``notebooks.plan`` through an executor,
records the wall time of every invocation (a run killed and started again resumes: the notebooks it
finished are kept, finished models and evaluations reused), and writes ``reports/<profile>/timings.csv``, ``run.json`` and the
landing page ``index.html``. A failing notebook ends the run with ``FAILED: <notebook> ... failed in
cell N (<error>)`` and exit code 1, under every executor.

One run at a time works on a profile's output folder (``lock``): a second is refused at once, naming the first
(exit code 75), or waits for it with ``--wait``. Ctrl-C or SIGTERM stops every notebook the run started within
seconds (``stopping``), keeps what finished, prints one line that says how to resume, and exits with 130 or 143.

``--dry-run`` runs a profile's code path with every count shrunk (``spec.settings.dry_run``) into
``<profile>-dry-run`` folders; ``--estimate`` prints what each stage costs and exits (``estimate``);
``--executor slurm`` runs each notebook as a SLURM job through submitit (``slurm``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from ..config import PROFILES, get_profile
from ..paths import figures_dir, reports_dir, tables_dir
from ..report import site
from ..spec.settings import DRY_RUN_SUFFIX
from .executors import LocalExecutor, StageExecutor, gpu_count, run
from .invocations import Invocations, notebook_times
from .lock import RunLocked, run_lock
from .notebooks import NotebookFailed
from .stopping import Interrupted, Stop, stopping

LOCKED = 75  # the exit code of a run refused because another holds its output folder (EX_TEMPFAIL: try later)


def main(argv: list[str] | None = None) -> int:
    """Run the study as the arguments say (``--help``); the exit code: 0; 1 when a notebook failed; 75 when another
    run holds the output folder; 130 or 143 when SIGINT or SIGTERM stopped it."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    profile = args.profile + DRY_RUN_SUFFIX if args.dry_run else args.profile
    if args.estimate:
        from .estimate import print_estimate  # loads the classifiers: only when asked

        print_estimate(get_profile(profile))
        return 0
    resume = shlex.join(["./run_all.sh", *(sys.argv[1:] if argv is None else argv)])
    with stopping() as stop:
        try:
            with run_lock(profile, wait=args.wait):
                return _run(parser, args, profile, stop)
        except RunLocked as locked:
            print(locked, file=sys.stderr)
            return LOCKED
        except Interrupted as interrupted:
            print(interrupted_line(interrupted, profile, resume), file=sys.stderr, flush=True)
            return interrupted.exit_code


def _defaults(args: argparse.Namespace) -> None:
    """``--jobs`` and ``--together`` where not given: from the GPUs torch sees."""
    if args.jobs is None:
        args.jobs = gpu_count() or min(4, os.cpu_count() or 1)
    if args.together is None:  # a dry run takes the GPU path, which is what it checks; SLURM jobs get GPUs
        args.together = (gpu_count() > 0 or args.dry_run
                         or (args.executor == "slurm" and args.slurm_gpus_per_job > 0))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, profile: str, stop: Stop) -> int:
    """Execute the plan under the lock; the exit code (``Interrupted`` passes, told how many notebooks are kept)."""
    _defaults(args)
    executor = _executor(parser, args, profile)
    invocations = Invocations(profile)
    try:
        run(profile, args.jobs, args.together, executor, done=invocations.notebook_done,
            finished=invocations.finished())
    except NotebookFailed as error:
        invocations.stop()
        print(f"\nFAILED: {error}", file=sys.stderr)
        return 1
    except BaseException as error:  # Ctrl-C, SIGTERM: this invocation's time still counts when the run is resumed
        invocations.stop()
        if isinstance(error, Interrupted):
            error.kept = len(invocations.executed())
        raise
    with stop.deferred():  # every notebook has run: a signal now waits the seconds of the last writes
        _finish(profile, args, invocations)
    return 0


def interrupted_line(interrupted: Interrupted, profile: str, resume: str) -> str:
    """The one line a stopped run prints: what stopped, what is kept, and the command that resumes the run."""
    running = interrupted.notebooks
    if running:
        stopped = f"stopped {_count(len(running), 'running notebook')} of profile {profile} ({', '.join(running)})"
    else:
        stopped = f"no notebook of profile {profile} was running"
    kept = "nothing had run yet" if interrupted.kept is None else f"{_count(interrupted.kept, 'finished notebook')} kept"
    return f"Interrupted ({interrupted.name}): {stopped}; {kept}. Resume with: {resume}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./run_all.sh",
                                     description="Run the LAT study: every notebook, in order, with papermill.")
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
    parser.add_argument("--wait", action="store_true",
                        help="when another run of this profile is using the output folder, wait for it to end and "
                             f"then run (default: refuse at once, exit code {LOCKED})")
    parser.add_argument("--executor", choices=("local", "slurm", "local-submitit"), default="local",
                        help="where notebooks run: this machine (default), SLURM jobs through submitit, or "
                             "submitit's local executor (subprocess jobs: the SLURM code path, for tests)")
    parser.add_argument("--slurm-partition", default=None, help="SLURM partition of the jobs")
    parser.add_argument("--slurm-gpus-per-job", type=int, default=1, help="GPUs per SLURM job (default 1)")
    parser.add_argument("--slurm-time", type=int, default=24 * 60, help="time limit of each job in minutes")
    return parser


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``parser.error`` (exit 2, with the usage) for an argument out of range."""
    if args.profile not in PROFILES:
        parser.error(f"unknown profile {args.profile!r}: choose one of {sorted(PROFILES)}")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.slurm_gpus_per_job < 0 or args.slurm_time < 1:
        parser.error("--slurm-gpus-per-job must be >= 0 and --slurm-time >= 1 (minutes)")


def _executor(parser: argparse.ArgumentParser, args: argparse.Namespace, profile: str) -> StageExecutor:
    """The executor ``--executor`` names: this machine, or submitit's (SLURM or local subprocess jobs)."""
    if args.executor == "local":
        return LocalExecutor(args.jobs)
    from .slurm import SubmititExecutor  # needs submitit: only when asked

    try:
        return SubmititExecutor(profile, cluster="slurm" if args.executor == "slurm" else "local",
                                jobs=args.jobs, partition=args.slurm_partition,
                                gpus_per_job=args.slurm_gpus_per_job, time_minutes=args.slurm_time)
    except RuntimeError as error:  # e.g. submitit finds no srun: not on a SLURM cluster
        parser.error(f"--executor {args.executor}: {error}")


def _finish(profile: str, args: argparse.Namespace, invocations: Invocations) -> None:
    """After the last notebook: the timings, the run's record and the landing page; where to start reading."""
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
