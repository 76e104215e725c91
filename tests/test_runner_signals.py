"""The runner under a person's hands and a scheduler's signals: Ctrl-C (SIGINT to the process group, as a terminal
sends it) and SIGTERM stop a run within seconds with one line and the shell's status, and the next run resumes.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from lat_utils import runner
from lat_utils.runner import executors, slurm, stopping
from lat_utils.runner.stopping import Interrupted


def test_a_signal_inside_a_stage_names_what_it_stopped(run_folder, monkeypatch):
    """In this process: the stage's notebook that was running is named, every started process killed (counted
    here, not done), and a signal during the last writes of a finished run only noted."""
    killed = []
    monkeypatch.setattr(stopping, "kill_children", lambda: killed.append(True) or 0)

    def execute(execution, profile, threads=None, gpu=None):
        if execution.output == "b.ipynb":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here
        return 1.0

    monkeypatch.setattr(executors, "execute", execute)
    stage = [runner.Execution("x.ipynb", name, {}) for name in ("a.ipynb", "b.ipynb", "c.ipynb")]
    before = signal.getsignal(signal.SIGINT)
    with stopping.stopping() as stop:
        with pytest.raises(Interrupted) as stopped:
            executors.LocalExecutor(jobs=1).run_stage(stage, "smoke")
        assert stopped.value.notebooks == ["b.ipynb"] and stopped.value.exit_code == 143 and killed == [True]
        os.kill(os.getpid(), signal.SIGINT)  # after the first: changes nothing
    assert signal.getsignal(signal.SIGINT) is before
    with stopping.stopping() as stop, stop.deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)
    assert stop.received == signal.SIGINT and killed == [True]


def test_a_signal_cancels_the_cluster_jobs_that_run(tmp_path, monkeypatch):
    cancelled = []
    monkeypatch.setattr(stopping, "kill_children", lambda: 0)
    monkeypatch.setattr(slurm, "POLL_SECONDS", 0)

    class Job:
        def __init__(self, name):
            self.job_id, self.polls = name, 0

        def done(self):
            self.polls += 1
            if self.job_id == "b.ipynb" and self.polls == 3:
                os.kill(os.getpid(), signal.SIGINT)
            return self.job_id == "a.ipynb"

        def result(self):
            return 1.0, None

        def cancel(self, check=True):
            cancelled.append(self.job_id)

    class Submitter:
        def submit(self, function, execution, profile, threads):
            return Job(execution.output)

    executor = slurm.SubmititExecutor("smoke", cluster="local", jobs=2, folder=tmp_path)
    executor.executor = Submitter()
    stage = [runner.Execution("x.ipynb", name, {}) for name in ("a.ipynb", "b.ipynb", "c.ipynb")]
    with stopping.stopping(), pytest.raises(Interrupted) as stopped:
        executor.run_stage(stage, "smoke")
    assert stopped.value.notebooks == ["b.ipynb", "c.ipynb"] and cancelled == ["b.ipynb", "c.ipynb"]
