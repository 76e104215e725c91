"""The ImageNet photos of the offline mirror and the 1000 classes they are labelled with.

A photo's label is the position of its wnid in the sorted list of the 1000 ImageNet wnids
(``imagenet_classes.txt`` beside this file).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..data import MIRROR_ENV, DataNotFoundError, offline_mirror

CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")
PAPER_SUBDIR = "imagenet-samples/paper"
EXTRA_SUBDIR = "imagenet-samples/extra"

# The paper's nine photos, in the order of its Tables 1 and 2 (torchvision's class names).
PAPER_CLASSES = ("triceratops", "tarantula", "snail", "bassoon", "hammer", "iPod",
                 "great white shark", "hen", "kite")


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as (wnid, name), in class-index order (the wnids sorted)."""
    lines = [line for line in CLASSES_FILE.read_text().splitlines() if line and not line.startswith("#")]
    classes = tuple(tuple(line.split("\t", 1)) for line in lines)
    if len(classes) != 1000 or [w for w, _ in classes] != sorted(w for w, _ in classes):
        raise RuntimeError(f"{CLASSES_FILE} must list the 1000 ImageNet wnids in sorted order")
    return classes  # type: ignore[return-value]


def class_names() -> list[str]:
    """Name of each class index (torchvision's names)."""
    return [name for _, name in imagenet_classes()]


def class_index(wnid: str) -> int:
    """The class index of ``wnid``: its position in the sorted list of the 1000 wnids."""
    wnids = [w for w, _ in imagenet_classes()]
    if wnid not in wnids:
        raise ValueError(f"{wnid!r} is not one of the 1000 ImageNet-1k wnids")
    return wnids.index(wnid)


@dataclass(frozen=True)
class Photo:
    """One photo of the mirror: its file, wnid, class name and class index."""

    path: Path
    wnid: str
    name: str
    label: int


def _photo(path: Path) -> Photo:
    wnid = path.name.split("_", 1)[0]
    label = class_index(wnid)
    return Photo(path, wnid, class_names()[label], label)


def _photo_folder(subdir: str, mirror: Path | None) -> Path:
    folder = (mirror if mirror is not None else offline_mirror()) / subdir
    if not folder.is_dir():
        raise DataNotFoundError(
            f"ImageNet sample photos not found: {folder} does not exist. Point {MIRROR_ENV} at the offline "
            f"data folder that holds {subdir}/<wnid>_<name>.JPEG (see README.md, 'Data')."
        )
    return folder


def paper_photos(mirror: Path | None = None) -> list[Photo]:
    """The nine photos of the paper's Tables 1-2, in the paper's order."""
    folder = _photo_folder(PAPER_SUBDIR, mirror)
    wnid_of = {name: wnid for wnid, name in imagenet_classes()}
    photos = []
    for name in PAPER_CLASSES:
        found = sorted(folder.glob(f"{wnid_of[name]}_*.JPEG"))
        if not found:
            raise DataNotFoundError(
                f"no photo of class {name!r} in {folder}: expected a file {wnid_of[name]}_*.JPEG. "
                f"Restore the offline data folder ({MIRROR_ENV})."
            )
        photos.append(_photo(found[0]))
    return photos


def extra_photos(n: int | None = None, mirror: Path | None = None) -> list[Photo]:
    """The first ``n`` (all when None) of the 100 extra photos, sorted by wnid (so spread over classes)."""
    folder = _photo_folder(EXTRA_SUBDIR, mirror)
    photos = [_photo(path) for path in sorted(folder.glob("n*_*.JPEG"))]
    if not photos:
        raise DataNotFoundError(f"{folder} holds no <wnid>_<name>.JPEG photo; restore the offline data folder.")
    if n is not None and n > len(photos):
        raise ValueError(f"asked for {n} extra photos, {folder} holds {len(photos)}")
    return photos[:n]
