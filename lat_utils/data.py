"""MNIST and CIFAR-10 as tensors, from torchvision's download or from the offline mirror.

``load_dataset`` tries, in order:

1. a fast-loading cache under ``root`` written by an earlier call;
2. torchvision's dataset classes with ``download=True`` (checksum-verified by torchvision), unless
   the environment variable ``LAT_OFFLINE=1`` says not to try the network;
3. the offline mirror: ``$LAT_DATA_DIR``, else ``../shared/data`` beside the checkout. MNIST there is
   byte-identical to the original; CIFAR-10 there is a JPEG re-encoding, so results on it are
   marked as not exact. Every mirrored file is checked against the SHA-256 recorded below.

A relative ``root`` is taken relative to the project folder (the one holding ``pyproject.toml``), so
notebooks and scripts share one cache wherever they run from.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .paths import PROJECT_ROOT, shown
from .sealed import DamagedFileError, load_sealed, save_sealed
from .spec.paper import DATASETS, SPLITS

MIRROR_ENV = "LAT_DATA_DIR"
OFFLINE_ENV = "LAT_OFFLINE"
CACHE_FORMAT = 2   # 2: sealed (sealed.save_sealed) and checked against the sizes below
SPLIT_SIZES = {"mnist": {"train": 60_000, "test": 10_000}, "cifar10": {"train": 50_000, "test": 10_000}}
IMAGE_SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}

# SHA-256 of the uncompressed MNIST IDX files (the same bytes torchvision keeps under MNIST/raw/).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
CIFAR10_JPEG_ZIP = "cifar10-jpeg/cifar10_jpeg.zip"
CIFAR10_JPEG_SHA256 = "1f246f18ee1c4b008b72b11e5d912c2b6a325d41b34a6c0136bab1e640200198"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DataNotFoundError(FileNotFoundError):
    """Neither the network nor the offline mirror could provide the data."""


class DataCorruptError(ValueError):
    """A data file exists but fails its checksum or cannot be parsed."""


@dataclass(frozen=True)
class Provenance:
    """Where a dataset came from and whether its pixels are the original ones."""

    dataset: str
    split: str
    source: str
    exact: bool
    note: str = ""

    def __str__(self) -> str:
        exact = "exact" if self.exact else "NOT exact"
        return f"{self.dataset}/{self.split} from {self.source} ({exact}){': ' + self.note if self.note else ''}"


class Dataset(NamedTuple):
    images: torch.Tensor       # float32 (N, C, H, W) in [0, 1]
    labels: torch.Tensor       # int64 (N,)
    provenance: Provenance


def load_dataset(name: str, split: str, root: str | Path = "data") -> Dataset:
    """``name`` ("mnist" or "cifar10"), ``split`` ("train" or "test") as tensors plus their provenance."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {DATASETS}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {SPLITS}")
    root = Path(root)
    if not root.is_absolute():
        root = PROJECT_ROOT / root
    cache = root / f"{name}-{split}.pt"
    loaded = _read_cache(cache, name, split)
    if loaded is None:
        downloaded = _download(name, split, root)
        loaded = _from_mirror(name, split, downloaded) if isinstance(downloaded, str) else downloaded
        _write_cache(cache, *loaded)
    images, labels, provenance = loaded
    return Dataset(images.float().div_(255.0), labels, provenance)


def offline_mirror() -> Path:
    """The offline data folder: ``$LAT_DATA_DIR``, else ``../shared/data`` beside the checkout."""
    if os.environ.get(MIRROR_ENV):
        return Path(os.path.abspath(Path(os.environ[MIRROR_ENV]).expanduser()))
    # absolute, not resolved: a mirror reached through a symbolic link is shown by the link's path
    for candidate in (PROJECT_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if candidate.is_dir():
            return Path(os.path.abspath(candidate))
    return Path(os.path.abspath(PROJECT_ROOT.parent / "shared" / "data"))


def offline_requested() -> bool:
    """True when ``LAT_OFFLINE`` says not to try the network."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the three sources -------------------------------------------------------------------------

def _read_cache(path: Path, name: str, split: str) -> tuple[torch.Tensor, torch.Tensor, Provenance] | None:
    """The cached tensors, checked against their seal and the data set's known shape; None (said, and
    rebuilt by the caller) when the cache is missing, damaged, foreign or of another format."""
    if not path.exists():
        return None
    try:
        saved = load_sealed(path)
        if saved.get("format") != CACHE_FORMAT:
            raise DamagedFileError(path, f"has format {saved.get('format')!r}, not {CACHE_FORMAT!r}")
        images, labels = saved.get("images"), saved.get("labels")
        count, shape = SPLIT_SIZES[name][split], IMAGE_SHAPES[name]
        if (not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or tuple(images.shape) != (count, *shape)
                or not isinstance(labels, torch.Tensor) or tuple(labels.shape) != (count,)
                or labels.min() < 0 or labels.max() > 9):
            raise DamagedFileError(path, f"does not hold the {count:,} uint8 images of shape {shape} and their "
                                         f"labels 0-9 of {name}/{split}")
        return images, labels, Provenance(**saved["provenance"])
    except (DamagedFileError, KeyError, TypeError) as error:  # a cache is rebuilt, never trusted
        print(f"Rebuilding the data cache: {error}")
        return None


def _write_cache(path: Path, images: torch.Tensor, labels: torch.Tensor, provenance: Provenance) -> None:
    save_sealed(path, {"format": CACHE_FORMAT, "images": images, "labels": labels, "provenance": asdict(provenance)})


def _download(name: str, split: str, root: Path) -> tuple[torch.Tensor, torch.Tensor, Provenance] | str:
    """The torchvision dataset (uint8 N,C,H,W and labels), or a string saying why it failed."""
    if offline_requested():
        return f"{OFFLINE_ENV} is set"
    try:
        import torchvision.datasets as tvd

        train = split == "train"
        if name == "mnist":
            ds = tvd.MNIST(root, train=train, download=True)
            images = ds.data.unsqueeze(1)
        else:
            ds = tvd.CIFAR10(root, train=train, download=True)
            images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        labels = torch.as_tensor(ds.targets, dtype=torch.int64)
    except Exception as error:  # no network, server down, ...: fall back to the mirror
        return f"torchvision download failed: {type(error).__name__}: {error}"
    return images, labels, Provenance(name, split, f"torchvision download into {shown(root)}", exact=True)


def _from_mirror(name: str, split: str, why_not_download: str) -> tuple[torch.Tensor, torch.Tensor, Provenance]:
    mirror = offline_mirror()
    print(f"{name}/{split}: {why_not_download}; using the offline mirror {shown(mirror)}")
    if name == "mnist":
        return _mnist_from_mirror(mirror, split)
    return _cifar10_from_mirror(mirror, split)


def _missing(path: Path, what: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"{what} not found: {path} does not exist, and the download did not work. Connect to the "
        f"internet (torchvision downloads it into data/), or point {MIRROR_ENV} at a folder holding "
        f"the offline mirror (mnist/*.gz, cifar10-jpeg/cifar10_jpeg.zip); see README.md, 'Data'."
    )


def _read_verified(path: Path, expected_sha256: str, *, gunzip: bool) -> bytes:
    if not path.exists():
        raise _missing(path, path.name)
    try:
        data = gzip.decompress(path.read_bytes()) if gunzip else path.read_bytes()
    except (OSError, EOFError) as error:
        raise DataCorruptError(f"{path} is corrupt: it cannot be decompressed ({error}). Replace the file.") from error
    actual = sha256_of(data)
    if actual != expected_sha256:
        raise DataCorruptError(
            f"checksum mismatch for {path}: SHA-256 {actual}, expected {expected_sha256}. "
            "The file is corrupt or not the expected data; replace it."
        )
    return data


def _mnist_from_mirror(mirror: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, Provenance]:
    prefix = "train" if split == "train" else "t10k"
    arrays = {}
    for kind, magic in (("images-idx3", 2051), ("labels-idx1", 2049)):
        stem = f"{prefix}-{kind}-ubyte"
        arrays[kind] = _parse_idx(_read_verified(mirror / "mnist" / f"{stem}.gz", MNIST_SHA256[stem], gunzip=True),
                                  magic, stem)
    images = torch.from_numpy(arrays["images-idx3"].copy()).unsqueeze(1)
    labels = torch.from_numpy(arrays["labels-idx1"].astype(np.int64))
    return images, labels, Provenance("mnist", split, f"offline mirror {shown(mirror / 'mnist')}", exact=True,
                                      note="byte-identical to the original IDX files (SHA-256 verified)")


def _parse_idx(data: bytes, magic: int, name: str) -> np.ndarray:
    header = np.frombuffer(data[:4], dtype=">u4")[0]
    if header != magic:
        raise DataCorruptError(f"{name}: not an IDX file of the expected kind (magic {header}, expected {magic})")
    ndim = magic & 0xFF
    shape = tuple(int(d) for d in np.frombuffer(data[4:4 + 4 * ndim], dtype=">u4"))
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def _cifar10_from_mirror(mirror: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, Provenance]:
    from PIL import Image

    path = mirror / CIFAR10_JPEG_ZIP
    archive = io.BytesIO(_read_verified(path, CIFAR10_JPEG_SHA256, gunzip=False))
    with zipfile.ZipFile(archive) as zf:
        members = []  # (index within class, label, name): interleaving classes keeps any prefix balanced
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == split and parts[1] in CIFAR10_CLASSES and parts[2].endswith(".jpg"):
                members.append((int(parts[2][:-4]), CIFAR10_CLASSES.index(parts[1]), name))
        members.sort()
        images = []
        for _, _, member in members:
            with Image.open(io.BytesIO(zf.read(member))) as img:
                images.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    labels = [label for _, label, _ in members]
    expected = 50_000 if split == "train" else 10_000
    if len(images) != expected:
        raise DataCorruptError(f"{path} holds {len(images)} {split} images, expected {expected}")
    tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return tensor, torch.tensor(labels, dtype=torch.int64), Provenance(
        "cifar10", split, f"offline mirror {shown(path)}", exact=False,
        note="JPEG re-encoding of CIFAR-10: pixels differ slightly from the original; "
        "ordered image 0 of each class, then image 1 of each class, ...")
