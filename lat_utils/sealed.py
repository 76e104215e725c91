"""The sealed file format of every tensor file a run keeps (checkpoints, milestones, evaluation caches,
the ImageNet attacks, the data cache).

:func:`save_sealed` writes ``torch.save(payload)`` behind a header with the SHA-256 of the content;
:func:`load_sealed` checks it, so a truncated, altered or foreign file is caught
(:class:`DamagedFileError`, naming the file and what is wrong) instead of silently changing a number.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from .paths import shown, write_atomically

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


def seal_of(path: Path) -> str:
    """The SHA-256 that the sealed file at ``path`` was written with, "" where there is none: the identity of its
    content, by which every cache made from the file is keyed (a copy keeps it, a rewrite with other content
    changes it), read from its first line alone."""
    try:
        with path.open("rb") as file:
            first = file.readline(len(SEAL) + 80)
    except OSError:
        return ""
    return first[len(SEAL):].strip().decode("ascii", "replace") if first.startswith(SEAL) else ""


def load_sealed(path: Path, *, map_location: torch.device | str | None = None) -> dict:
    """The dictionary :func:`save_sealed` wrote at ``path`` (``weights_only=True``), checked against its
    seal; a :class:`DamagedFileError` if the file is unreadable, truncated, altered or not sealed."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DamagedFileError(path, f"cannot be read ({error.strerror or error})") from error
    if not raw.startswith(SEAL):
        raise DamagedFileError(path, "has no checksum header: a damaged or foreign file (this version of the "
                                     "project did not write it)")
    end = raw.find(b"\n", len(SEAL))
    digest, data = raw[len(SEAL):end].decode("ascii", "replace"), raw[end + 1:]
    if end < 0 or hashlib.sha256(data).hexdigest() != digest:
        raise DamagedFileError(path, f"is damaged: its {len(data):,} bytes do not match the checksum it was "
                                     "written with (truncated or altered)")
    try:
        payload = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as error:
        raise DamagedFileError(path, f"cannot be read as a tensor file ({type(error).__name__}: {error})") from error
    if not isinstance(payload, dict):
        raise DamagedFileError(path, f"holds a {type(payload).__name__}, not the dictionary this project writes")
    return payload
