"""The runner: the whole study executed, notebook by notebook, on this machine or a cluster.

By what each module holds:

- ``notebooks``: the plan (the notebooks, their stages and parameters); one notebook executed with papermill;
- ``executors``: where a stage's notebooks run (local processes), and a whole plan run through one;
- ``slurm``: SLURM jobs through submitit (or submitit's local jobs, the same code path);
- ``invocations``: the wall time of a run over every invocation that worked on it;
- ``lock``: one run at a time per output folder and profile;
- ``stopping``: Ctrl-C and SIGTERM stop every notebook the run started, and say how to resume;
- ``estimate``: what a profile costs before it runs;
- ``cli``: the command line, ``python -m lat_utils.runner`` (what ``./run_all.sh`` calls).
"""

from .cli import main
from .executors import LocalExecutor, StageExecutor, run
from .invocations import Invocations, notebook_times
from .notebooks import NOTEBOOKS, Execution, NotebookFailed, execute, plan

__all__ = ["NOTEBOOKS", "Execution", "Invocations", "LocalExecutor", "NotebookFailed", "StageExecutor", "execute",
           "main", "notebook_times", "plan", "run"]
