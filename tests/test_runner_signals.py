"""The runner under a person's hands and a scheduler's signals: Ctrl-C (SIGINT to the process group, as a terminal
sends it) and SIGTERM stop a run within seconds with one line and the shell's status, and the next run resumes;
one run at a time per output folder and profile, a stale lock taken over.

The runs here execute small notebooks of their own (a kernel's start, seconds) through the runner's real code path,
so that they cost seconds. What a kill leaves behind is checked elsewhere: a run killed with SIGKILL three times
resumes to the tables of an uninterrupted run (``test_restarts_and_cluster.py``, the session's study); a full disk
and a truncated checkpoint get their messages in ``test_bad_input.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from lat_utils import runner
from lat_utils.paths import PROJECT_ROOT
from lat_utils.runner import cli, executors, slurm, stopping
from lat_utils.runner.lock import RunLocked, lock_path, run_lock, this_run
from lat_utils.runner.stopping import Interrupted

from .conftest import kill_tree

# the runner with a plan of our notebooks, as ./run_all.sh runs it (the arguments after -c's script)
DRIVER = ("import json, os, runpy, sys\n"
          "from lat_utils.runner import executors, notebooks\n"
          "stages = json.loads(os.environ['LAT_TEST_PLAN'])\n"
          "executors.plan = lambda profile, together=False: [[notebooks.Execution(notebook, output, {})\n"
          "                                                   for notebook, output in stage] for stage in stages]\n"
          "sys.argv = ['lat_utils.runner', *sys.argv[1:]]\n"
          "runpy.run_module('lat_utils.runner', run_name='__main__', alter_sys=True)\n")
# the slow notebook: says where its kernel runs, then works for $LAT_TEST_SLEEP seconds
SLOW = ("import os, pathlib, time\n"
        "pathlib.Path(os.environ['LAT_TEST_MARK']).write_text(f'{os.getpid()} {os.getppid()}')\n"
        "time.sleep(float(os.environ['LAT_TEST_SLEEP']))")


def _notebook(path: Path, code: str) -> str:
    import nbformat

    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(code)]
    nbformat.write(notebook, path)
    return str(path)


def _start(root: Path, options: list[str], sleep: float) -> subprocess.Popen:
    """The runner on a plan of two stages (a fast and a slow notebook, then a fast one) into ``root``, in a process
    group of its own (as a terminal starts a command); its output in ``root/out`` and ``root/err``."""
    fast, slow = _notebook(root / "fast.ipynb", "print('fast')"), _notebook(root / "slow.ipynb", SLOW)
    plan = [[[fast, "fast.ipynb"], [slow, "slow.ipynb"]], [[fast, "after.ipynb"]]]
    env = {**os.environ, "LAT_OUTPUT_ROOT": str(root), "LAT_TEST_PLAN": json.dumps(plan),
           "LAT_TEST_MARK": str(root / "kernel"), "LAT_TEST_SLEEP": str(sleep)}
    with open(root / "out", "w") as out, open(root / "err", "w") as err:
        return subprocess.Popen([sys.executable, "-c", DRIVER, "--profile", "smoke", *options], cwd=PROJECT_ROOT,
                                env=env, stdout=out, stderr=err, start_new_session=True)


def _recorded(root: Path) -> set[str]:
    """The notebooks the run's record lists as executed (none before it exists)."""
    try:
        return {name for entry in json.loads((root / "runs" / "smoke" / "invocations.json").read_text())
                for name in entry["notebooks"]}
    except (FileNotFoundError, ValueError):
        return set()


def _wait_until(condition, seconds: float, run: subprocess.Popen) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if run.poll() is not None or time.monotonic() > end:
            kill_tree(run)
            pytest.fail(f"the run ended or took too long (rc {run.returncode})")
        time.sleep(0.2)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.notebooks
@pytest.mark.parametrize(("signum", "options", "resume"), [
    (signal.SIGINT, ["--jobs", "2"], True),                             # Ctrl-C; the local processes
    (signal.SIGTERM, ["--jobs", "2", "--executor", "local-submitit"], False),   # a scheduler; the cluster's path
], ids=["SIGINT-local", "SIGTERM-submitit"])
def test_a_signal_stops_the_run_within_seconds_and_the_next_run_resumes(tmp_path, signum, options, resume):
    reports = tmp_path / "reports" / "smoke"
    reports.mkdir(parents=True)
    (reports / "slow.ipynb").write_text("{}")   # an earlier run's finished report: the pair of files
    (reports / "slow.html").write_text("<html></html>")
    run = _start(tmp_path, options, sleep=600)
    _wait_until(lambda: (tmp_path / "kernel").exists() and "fast.ipynb" in _recorded(tmp_path), 120, run)
    kernel, parent = map(int, (tmp_path / "kernel").read_text().split())
    arguments = psutil.Process(kernel).cmdline()
    connection = Path(arguments[arguments.index("-f") + 1])  # removed on a clean shutdown of the kernel
    start = time.monotonic()
    os.killpg(run.pid, signum)
    try:
        code = run.wait(timeout=30)
    finally:
        kill_tree(run)
    assert time.monotonic() - start < 10
    assert code == 128 + signum
    assert (tmp_path / "err").read_text().strip().splitlines() == [
        f"Interrupted ({signal.Signals(signum).name}): stopped 1 running notebook of profile smoke (slow.ipynb); "
        f"1 finished notebook kept. Resume with: ./run_all.sh --profile smoke {' '.join(options)}"]
    end = time.monotonic() + 5
    while not (_gone(kernel) and _gone(parent)) and time.monotonic() < end:
        time.sleep(0.1)
    assert _gone(kernel) and _gone(parent), "the stopped notebook's kernel or its worker still runs"
    assert not connection.exists(), "the killed kernel's connection file was left behind"
    assert not (reports / "slow.html").exists(), "the stopped notebook's report would pass for a finished one"
    assert _recorded(tmp_path) == {"fast.ipynb"} and not lock_path("smoke").exists()
    if resume:
        resumed = _start(tmp_path, options, sleep=0)
        assert resumed.wait(timeout=120) == 0, (tmp_path / "err").read_text()[-2000:]
        out = (tmp_path / "out").read_text()
        assert "fast.ipynb: executed by an earlier invocation of this run (kept)" in out
        assert "[smoke] slow.ipynb: " in out and (reports / "slow.html").exists() and (reports / "after.html").exists()
        assert len(json.loads((reports / "run.json").read_text())["invocations"]) == 2


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


def test_a_second_run_of_the_folder_is_refused_at_once_naming_the_first(run_folder, capsys):
    with run_lock("smoke") as first:
        held = lock_path("smoke").read_text()
        start = time.monotonic()
        assert runner.main(["--profile", "smoke"]) == cli.LOCKED
        assert time.monotonic() - start < 5
        assert lock_path("smoke").read_text() == held  # the first run's lock, untouched
    err = capsys.readouterr().err
    assert f"another run of profile smoke is using this output folder (pid {os.getpid()} on host " \
           f"{socket.gethostname()}, started {first['started']})" in err and "--wait" in err
    assert not lock_path("smoke").exists()
    assert not (run_folder / "runs" / "smoke" / "invocations.json").exists()  # the refused run recorded nothing


def test_a_waiting_run_starts_when_the_first_ends(run_folder, capsys):
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with run_lock("smoke"):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(10)
    threading.Timer(0.3, release.set).start()
    with run_lock("smoke", wait=True, poll=0.05) as second:
        assert json.loads(lock_path("smoke").read_text()) == second
    thread.join()
    assert "Waiting for the run of profile smoke in this output folder to end" in capsys.readouterr().out


def _ended_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("left", ["killed run", "pid reused", "damaged file"])
def test_a_stale_lock_is_taken_over_and_said_so(run_folder, capsys, left):
    later = subprocess.Popen(["sleep", "30"])  # a process started after the lock: its pid reused
    holder = {**this_run(), "pid": _ended_pid()}
    if left == "pid reused":
        holder = {**holder, "pid": later.pid, "time": time.time() - 3600}
    lock_path("smoke").write_text("" if left == "damaged file" else json.dumps(holder))
    try:
        with run_lock("smoke") as me:
            assert json.loads(lock_path("smoke").read_text()) == me
    finally:
        later.kill()
        later.wait()
    assert "Took over the lock of an earlier run of profile smoke that ended without releasing it" in \
        capsys.readouterr().out


def test_a_lock_of_another_host_is_held_and_the_message_says_what_to_do(run_folder):
    lock_path("smoke").write_text(json.dumps({**this_run(), "pid": _ended_pid(), "host": "elsewhere"}))
    with pytest.raises(RunLocked, match="It runs on another host: if that run has ended, delete "
                                          "runs/smoke/run.lock"):
        with run_lock("smoke"):
            pass
