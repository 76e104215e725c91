"""The study as a plan: which notebooks run, in which stages, with which parameters, and how one runs.

Stage 1. ``02_train``: once per model of the study (independent: several at a time), or with ``together``
   once per group of ``study.together_groups``, whose models train in lockstep as one stacked network;
   each then evaluates its models under every attack (the localized AutoAttack) and cross-checks them
   with torchattacks, so evaluation runs in parallel too. Beside them ``01_imagenet_attack``: the
   localized attack on an ImageNet classifier (Figure 1, Tables 1-2), which needs no model of ours;
Stage 2. ``03_evaluate``: once per dataset (gathers the evaluations into the evaluation tables: Figure 2,
   accuracy grid, PGD's overestimate, the torchattacks cross-check);
Stage 3. ``05_figures_and_claims``: MNIST Figure 1, Figure 2 beside the paper's, the claims table (and the
   claims at each milestone of training, where the profile keeps milestones); beside it ``04_cifar10_eps``:
   the natural models under the localized attack at every eps of a sweep, and what the paper's CIFAR-10
   numbers mean (the CIFAR-10 claims under each reading, from the evaluation tables);
Stage 4. ``06_budgets``: the claims across training budgets, over every profile that has run here (in the
   deviations study instead ``08_deviations``: every claim under each configuration of training); beside it
   ``07_explorer``: any finished model under any mask and eps (its default view in the report, widgets in
   JupyterLab).

A profile runs only its datasets (``Profile.datasets``) and the ImageNet attack where it asks for it
(``Profile.imagenet``); ``04_cifar10_eps`` needs CIFAR-10.

:func:`execute` runs one notebook with papermill into ``reports/<profile>/`` and renders it to HTML;
the executors (``executors``, ``slurm``) run the stages; a failed notebook raises
:class:`NotebookFailed`, which names the notebook and the cell.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..config import get_profile
from ..paths import PROJECT_ROOT, reports_dir
from ..progress import ENV as PROGRESS_ENV
from ..progress import TEXT as PROGRESS_TEXT
from ..report.pages import render_page
from ..report.portable import make_file_portable
from ..spec.paper import DATASETS
from ..study.plan import explorer_name, group_name, shown_model, study_models, together_groups

NOTEBOOKS = PROJECT_ROOT / "notebooks"

Done = Callable[[str, float], None]  # called with an executed notebook's name and wall time


@dataclass(frozen=True)
class Execution:
    notebook: str                      # source notebook file name in notebooks/
    output: str                        # executed notebook file name in reports/<profile>/
    parameters: dict = field(default_factory=dict)


def plan(profile: str, together: bool = False) -> list[list[Execution]]:
    """The stages of the study, in order; the executions inside a stage are independent (none reads what
    another of its stage writes), and each stage runs after the previous one has finished."""
    settings = get_profile(profile)
    datasets = [d for d in DATASETS if d in settings.datasets]
    groups = []  # models trained by one execution of 02_train
    for dataset in datasets:
        groups += together_groups(dataset, profile) if together else [[c] for c in study_models(dataset, profile)]
    trainings = [Execution("02_train.ipynb", f"02_train_{group_name(group)}.ipynb",
                           {"profile": profile, "dataset": group[0].dataset, "localization": group[0].localization,
                            "projection": group[0].projection, "seed": group[0].seed, "reading": group[0].reading,
                            "variant": group[0].variant, "network": group[0].network, "together": len(group) > 1})
                 for group in groups]
    imagenet = [Execution("01_imagenet_attack.ipynb", "01_imagenet_attack.ipynb", {"profile": profile})]
    only = {"profile": profile}
    shown = shown_model(datasets[0], profile)   # the explorer's view
    explorer = {"profile": profile, "dataset": shown.dataset, "model": explorer_name(shown)}
    return [
        # the ImageNet attack needs no model of ours: it runs beside the training
        [*(imagenet if settings.imagenet else []), *trainings],
        [Execution("03_evaluate.ipynb", f"03_evaluate_{d}.ipynb", {"profile": profile, "dataset": d})
         for d in datasets],     # each writes its dataset's evaluation tables ...
        [*([Execution("04_cifar10_eps.ipynb", "04_cifar10_eps.ipynb", only)] if "cifar10" in datasets else []),
         Execution("05_figures_and_claims.ipynb", "05_figures_and_claims.ipynb", only)],  # ... which both read
        # the deviations study compares configurations (08), not training budgets (06)
        [Execution("08_deviations.ipynb", "08_deviations.ipynb", only) if settings.variants
         else Execution("06_budgets.ipynb", "06_budgets.ipynb", only),
         Execution("07_explorer.ipynb", "07_explorer.ipynb", explorer)],  # reads the models only
    ]


# the kernel's own log stays off the console: ipykernel 7 warns on every start that its local TCP sockets are
# not encrypted, and logs "KeyboardInterrupt caught in kernel" at ERROR when papermill shuts a finished
# kernel down, which a reader takes for a failure; a notebook's outputs and errors are not the kernel's log:
# they reach the report, and a failing cell fails the run
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
# a kernel shut down right after a failed cell can leave a ZMQ stream callback raising inside tornado's loop (a race
# in jupyter_client, seen on a loaded machine): tornado logs it with a traceback on the console, after the failure
# that the run reports in its one FAILED line; what the notebook did is in its executed copy, not in that log
logging.getLogger("tornado.general").setLevel(logging.CRITICAL)


class NotebookFailed(RuntimeError):
    """A notebook of the study failed; the message names the notebook, its parameters and the cell."""


def execute(execution: Execution, profile: str, threads: int | None = None, gpu: int | None = None) -> float:
    """Execute one notebook with papermill and render it to HTML; its wall time in seconds.

    The executed copy is written as the notebook runs (a failed one shows where it failed); its HTML page is
    removed first and written last, so that the pair means a finished execution, whatever stopped an earlier one."""
    import papermill

    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    os.environ[PROGRESS_ENV] = PROGRESS_TEXT  # the kernel inherits it: plain-text progress bars on stdout
    declared = papermill.inspect_notebook(NOTEBOOKS / execution.notebook)
    unknown = sorted(set(execution.parameters) - set(declared))
    if unknown:  # papermill would only warn, and run the notebook with its defaults
        raise NotebookFailed(f"{execution.notebook} takes no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters are {', '.join(declared)}")
    output = reports_dir(profile) / execution.output
    page = output.with_suffix(".html")
    page.unlink(missing_ok=True)  # a report with its page is a finished one: none while this one is written
    start = time.perf_counter()
    try:
        with kernel_threads(threads):
            papermill.execute_notebook(NOTEBOOKS / execution.notebook, output, parameters=execution.parameters,
                                       cwd=str(PROJECT_ROOT), kernel_name="python3", progress_bar=False,
                                       coalesce_streams=True,  # one stream output per cell, a bar's final line
                                       extra_arguments=KERNEL_ARGUMENTS)
    except papermill.PapermillExecutionError as error:
        raise NotebookFailed(f"{execution.notebook} {execution.parameters} failed in cell {error.exec_count} "
                             f"({error.ename}: {error.evalue}); see the executed copy {output}") from None
    make_file_portable(output)
    render_page(output)   # the last file, whole or none
    return time.perf_counter() - start


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def kernel_threads(threads: int | None) -> Iterator[None]:
    """The notebook kernel's CPU threads (``OMP_NUM_THREADS``, which torch reads, and MKL's), ``threads`` or left as
    they are when None; the variables restored afterwards, so that a notebook run in this process does not set
    the threads of the next."""
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    if threads:
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def notebook_finished(profile: str, name: str, seconds: float, done: Done | None) -> None:
    """What an executor does when a notebook has run: print its wall time and tell ``done``."""
    print(f"[{profile}] {name}: {seconds:.0f} s", flush=True)
    if done is not None:
        done(name, seconds)
