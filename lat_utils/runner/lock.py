"""One run at a time per output folder and profile: the lock ``runs/<profile>/run.lock``.

Two runs of one profile into one folder would execute every notebook twice, write the same checkpoints, caches
and reports, and merge their wall times. A run takes the lock before it records anything (:func:`run_lock`): a
file created atomically (a hard link to a complete temporary file: it appears whole or not at all) that holds
the pid, host and start time of its run, and is removed when the run ends, on a failure or a signal too. A second
run is refused at once with :class:`RunLocked`, whose message names the first, or waits for it (``wait``). A lock
whose run is gone (killed with SIGKILL, or the machine restarted: its pid runs no more on this host, or runs a
process started after the lock) is stale, and taken over with a line that says so. The lock lives in ``runs/``,
beside the run's other state (``invocations.json``), which is never committed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path

from ..paths import runs_dir, shown

LOCK = "run.lock"
WAIT_SECONDS = 2.0  # how often a waiting run looks at the lock again


class RunLocked(RuntimeError):
    """Another run of the profile holds the output folder; the message names it and what to do."""


def lock_path(profile: str) -> Path:
    """``runs/<profile>/run.lock``."""
    return runs_dir(profile) / LOCK


def this_run() -> dict:
    """What a lock records: this process's pid, its host and the time it took the lock."""
    now = time.time()
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": f"{datetime.fromtimestamp(now, timezone.utc):%Y-%m-%d %H:%M:%S UTC}", "time": now}


def described(holder: dict) -> str:
    return f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started')}"


@contextmanager
def run_lock(profile: str, wait: bool = False, poll: float = WAIT_SECONDS) -> Iterator[dict]:
    """Hold the profile's lock inside (what it records); :class:`RunLocked` when another run holds it, or with
    ``wait`` wait until it ends. A stale lock is taken over, and said so."""
    path, me = lock_path(profile), this_run()
    told = False
    while not _take(path, me):
        holder = _read(path)
        if holder is None:  # released meanwhile
            continue
        if _stale(holder):
            if _remove_stale(path, holder):
                print(f"Took over the lock of an earlier run of profile {profile} that ended without releasing it "
                      f"({described(holder)}).", flush=True)
            continue
        if not wait:
            raise RunLocked(_refusal(profile, path, holder))
        if not told:
            print(f"Waiting for the run of profile {profile} in this output folder to end ({described(holder)}; "
                  "--wait) ...", flush=True)
            told = True
        time.sleep(poll)
    try:
        yield me
    finally:
        _release(path, me)


def _refusal(profile: str, path: Path, holder: dict) -> str:
    elsewhere = "" if holder.get("host") == socket.gethostname() else (
        f" It runs on another host: if that run has ended, delete {shown(path)}.")
    return (f"Refused: another run of profile {profile} is using this output folder ({described(holder)}).{elsewhere} "
            "Wait for it to end (--wait waits), or stop it first; two runs would execute every notebook twice.")


def _take(path: Path, me: dict) -> bool:
    """Create the lock holding ``me``, atomically; False where it exists."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(me) + "\n")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path) -> dict | None:
    """The lock's record; None where it is gone; an empty record where it cannot be read (a damaged file)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _stale(holder: dict) -> bool:
    """Whether the run that took the lock is gone: it ran on this host, and its pid runs no more there or runs a
    process started after the lock (the pid reused after a restart). A damaged record is stale."""
    if not isinstance(holder.get("pid"), int) or not isinstance(holder.get("time"), (int, float)):
        return True
    if holder.get("host") != socket.gethostname():
        return False  # another host's processes cannot be seen from here
    if holder["pid"] == os.getpid():
        return False  # this process holds it
    return _gone(holder["pid"], holder["time"])


def _gone(pid: int, since: float) -> bool:
    """Whether no process ``pid`` runs here that was started by ``since`` (a second's slack); a zombie has ended."""
    import psutil  # a dependency of the project (pyproject.toml)

    try:
        process = psutil.Process(pid)
        return process.status() == psutil.STATUS_ZOMBIE or process.create_time() > since + 1.0
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # another user's process: it runs
        return False


def _remove_stale(path: Path, holder: dict) -> bool:
    """Remove the stale lock, unless another run took it meanwhile (then it is put back); whether it was removed."""
    aside = path.with_name(f"{path.name}.{os.getpid()}.stale")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return False
    if _read(aside) == holder:
        aside.unlink(missing_ok=True)
        return True
    with suppress(FileExistsError):  # a fresh lock moved aside: put it back
        os.link(aside, path)
    aside.unlink(missing_ok=True)
    return False


def _release(path: Path, me: dict) -> None:
    """Remove the lock if it is still this run's."""
    if _read(path) == me:
        path.unlink(missing_ok=True)
    elif path.exists():
        print(f"The lock {shown(path)} was not this run's at its end; left as it is.", file=sys.stderr)
