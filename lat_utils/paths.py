"""Where the project writes things, and how: one folder per profile, atomic writes.

``figures/``, ``reports/`` and ``runs/`` live in the project root, or under ``$LAT_OUTPUT_ROOT``
when it is set (the tests use it to run the same profile twice without the runs meeting).

Every file a run writes is written atomically (:func:`write_atomically`: a kill or a full disk leaves
the previous file intact, and no temporary file behind). The tensors a run keeps are written in
the sealed format of ``lat_utils.sealed``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def output_root() -> Path:
    """Where ``figures/``, ``reports/`` and ``runs/`` go: ``$LAT_OUTPUT_ROOT``, else the project root."""
    return Path(os.environ["LAT_OUTPUT_ROOT"]).resolve() if os.environ.get("LAT_OUTPUT_ROOT") else PROJECT_ROOT


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` then rename onto ``path``: a kill during the write leaves the old file intact.

    The temporary file is named for the process, so that processes writing the same file at the same
    time (two trainings building the data cache) do not rename each other's file away. A failed write
    removes its temporary file and raises an OSError that names ``path`` and the cause (a full disk,
    say); a successful one removes what killed writers of the same file left behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, Exception):
            raise OSError(getattr(error, "errno", None) or errno.EIO,
                          f"could not write {shown(path)}: {_cause(error)}") from error
        raise
    for stale in path.parent.glob(f"{path.name}.*.tmp"):  # left by a writer that was killed
        pid = stale.name[len(path.name) + 1:-len(".tmp")]
        if pid.isdigit() and not _running(int(pid)):
            stale.unlink(missing_ok=True)


def _cause(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "No space left on device", "File too large", "Permission denied"
    return f"{type(error).__name__}: {error}"


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending; PermissionError: another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def shown(path: str | Path) -> str:
    """``path`` as a report prints it: relative to the project folder (``../`` for places beside it), or
    to ``$LAT_OUTPUT_ROOT`` for the outputs written there.

    Reports travel to other machines; the absolute paths of the one that ran them mean nothing there.
    """
    path = os.path.abspath(path)  # not resolved: a path through a symbolic link keeps the link's name
    outputs = str(output_root())
    if outputs != str(PROJECT_ROOT) and (path == outputs or path.startswith(outputs + os.sep)):
        return os.path.relpath(path, outputs)
    return os.path.relpath(path, PROJECT_ROOT)


def figures_dir(profile: str) -> Path:
    """``figures/<profile>/``: every PNG the notebooks make."""
    return _made(output_root() / "figures" / profile)


def reports_dir(profile: str) -> Path:
    """``reports/<profile>/``: executed notebooks, their HTML, and ``tables/``."""
    return _made(output_root() / "reports" / profile)


def tables_dir(profile: str) -> Path:
    """``reports/<profile>/tables/``: every table as CSV."""
    return _made(reports_dir(profile) / "tables")


def runs_dir(profile: str) -> Path:
    """``runs/<profile>/``: checkpoints and training logs (gitignored)."""
    return _made(output_root() / "runs" / profile)
