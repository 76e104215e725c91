"""Ctrl-C and a scheduler's SIGTERM: the run stops every process it started, keeps what finished, and says how to
resume.

While :func:`stopping` is active, the first SIGINT or SIGTERM freezes and kills every process this one started (the
pool's workers, submitit's local jobs, the notebook kernels and whatever they started), then raises
:class:`Interrupted` in the main thread. The executors add the notebooks that were running as it passes
(:func:`noting`) and cancel their cluster jobs; the command line prints one line and exits with 128 + the signal's
number (130 for SIGINT, 143 for SIGTERM). A killed notebook leaves what a SIGKILL leaves: its report is not
finished (no HTML page beside it), every file it wrote is whole (``paths.write_atomically``), and the next run
executes it again, doing only what it had not saved.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped the run; ``notebooks``: those that were running, as the executors noted them;
    ``kept``: how many of the run's notebooks had finished.

    A ``BaseException``, as ``KeyboardInterrupt`` is: no ``except Exception`` on the way may take it for a failure."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.notebooks: list[str] = []
        self.kept: int | None = None  # the notebooks of the run finished so far (None: the run had not started)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The shell's status of a process ended by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


class Stop:
    """The handlers' state while :func:`stopping` is active: which signal arrived, and whether it may raise now."""

    def __init__(self) -> None:
        self.pid = os.getpid()     # a worker forked before its initializer ran inherits the handler: it ignores it
        self.received: int | None = None
        self._deferred = False

    def handle(self, signum: int, frame: object) -> None:
        """The signal handler: the first signal kills every process this one started and raises ``Interrupted``;
        later ones change nothing; while deferred it is only noted."""
        if os.getpid() != self.pid or self.received is not None:
            return
        self.received = signum
        if self._deferred:
            return
        kill_children()
        raise Interrupted(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Inside: a signal is noted, not acted on (the last seconds of a run that has executed every notebook)."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False


@contextmanager
def stopping() -> Iterator[Stop]:
    """Inside: SIGINT and SIGTERM stop the run (:class:`Stop`); the previous handlers are restored on the way out.
    Outside the main thread, where Python allows no handler, nothing is installed."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop.handle) for signum in SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def kill_children(rounds: int = 3) -> int:
    """Freeze, then SIGKILL, every process this one started and theirs (frozen first, so that none can start
    another in between; a kernel runs in a session of its own, so only this finds it); how many were killed."""
    import psutil  # a dependency of the project (pyproject.toml)

    frozen: dict[int, psutil.Process] = {}
    for _ in range(rounds):  # freeze, then freeze whatever was started meanwhile
        for process in psutil.Process().children(recursive=True):
            if process.pid not in frozen:
                with suppress(psutil.Error):
                    process.suspend()
                    frozen[process.pid] = process
    leftovers = [path for path in map(_connection_file, frozen.values()) if path]
    for process in frozen.values():
        with suppress(psutil.Error):
            process.kill()
    for path in leftovers:
        with suppress(OSError):
            os.unlink(path)
    return len(frozen)


def _connection_file(process: psutil.Process) -> str | None:
    """A notebook kernel's connection file (``-f FILE``), which its manager removes when it shuts the kernel down
    and a killed kernel leaves behind."""
    import psutil

    with suppress(psutil.Error):
        arguments = process.cmdline()
        if "ipykernel_launcher" in arguments and "-f" in arguments[:-1]:
            return arguments[arguments.index("-f") + 1]
    return None


def ignore_stop_signals() -> None:
    """A worker process's initializer: SIGINT and SIGTERM are the main process's to act on (it kills the worker and
    its kernel together); a worker that died alone would leave its kernel running without a parent."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def sigint_ignored_by_children() -> Iterator[None]:
    """Inside: processes started here ignore SIGINT (dispositions set to ignore survive ``exec``), so that Ctrl-C at
    the terminal reaches only this process, which stops them; a signal arriving meanwhile is lost (milliseconds)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def noting(running: Callable[[], list[str]]) -> Iterator[None]:
    """Inside: an :class:`Interrupted` that passes learns which notebooks were running (``running()``)."""
    try:
        yield
    except Interrupted as interrupted:
        interrupted.notebooks += [name for name in running() if name not in interrupted.notebooks]
        raise
