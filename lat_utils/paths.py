"""Where the project writes things, and how: one folder per profile, atomic writes, sealed files.

``figures/``, ``reports/`` and ``runs/`` live in the project root, or under ``$LAT_OUTPUT_ROOT``
when it is set (the tests use it to run the same profile twice without the runs meeting).

Every file a run writes is written atomically (:func:`write_atomically`: a kill or a full disk leaves
the previous file intact, and no temporary file behind). The tensors a run keeps (checkpoints,
milestones, evaluation caches, the ImageNet attacks, the data cache) are *sealed*
(:func:`save_sealed`): a header with the SHA-256 of the content, checked by :func:`load_sealed`, so
a truncated, altered or foreign file is caught (:class:`DamagedFileError`, naming the file and what
is wrong) instead of silently changing a number.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import torch

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


SEAL = b"LAT-SEALED-1 sha256="   # the first bytes of a sealed file, then the digest and a newline


class DamagedFileError(ValueError):
    """A file of the study that cannot be trusted: unreadable, truncated, altered or not ours."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{shown(path)} {problem}")


def save_sealed(path: Path, payload: dict) -> None:
    """``torch.save(payload)`` behind a header holding its SHA-256, written atomically."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    header = SEAL + hashlib.sha256(data).hexdigest().encode() + b"\n"
    write_atomically(path, lambda tmp: tmp.write_bytes(header + data))


def load_sealed(path: Path, *, map_location: torch.device | str | None = None, legacy: bool = False) -> dict:
    """The dictionary :func:`save_sealed` wrote at ``path`` (``weights_only=True``), checked against its
    seal; a :class:`DamagedFileError` if the file is unreadable, truncated, altered or not sealed.

    ``legacy=True`` also reads a file written before files were sealed (a plain ``torch.save`` of a
    dictionary), for checkpoints whose own fingerprint is checked by the caller.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DamagedFileError(path, f"cannot be read ({error.strerror or error})") from error
    if raw.startswith(SEAL):
        end = raw.find(b"\n", len(SEAL))
        digest, data = raw[len(SEAL):end].decode("ascii", "replace"), raw[end + 1:]
        if end < 0 or hashlib.sha256(data).hexdigest() != digest:
            raise DamagedFileError(path, f"is damaged: its {len(data):,} bytes do not match the checksum it was "
                                         "written with (truncated or altered)")
    elif legacy:
        data = raw
    else:
        raise DamagedFileError(path, "has no checksum header: this version of the project did not write it")
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as error:
        raise DamagedFileError(path, f"cannot be read as a tensor file ({type(error).__name__}: {error})") from error
    if not isinstance(payload, dict):
        raise DamagedFileError(path, f"holds a {type(payload).__name__}, not the dictionary this project writes")
    return payload


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
