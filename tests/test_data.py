import gzip
import shutil

import pytest
import torch

from lat_utils import data
from lat_utils.data import DataCorruptError, DataNotFoundError, load_dataset, offline_mirror

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the published class counts


def test_real_mnist_test_set(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert images.min() == 0 and images.max() == 1
    assert labels.bincount().tolist() == MNIST_TEST_COUNTS


def test_real_mnist_train_set_and_provenance():
    images, labels, provenance = load_dataset("mnist", "train")
    assert images.shape == (60_000, 1, 28, 28)
    assert labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert provenance.exact and provenance.dataset == "mnist" and provenance.split == "train"


def test_cifar10_jpeg_copy_is_marked_not_exact():
    images, labels, provenance = load_dataset("cifar10", "test")
    assert images.shape == (10_000, 3, 32, 32)
    assert labels.bincount().tolist() == [1000] * 10
    assert labels[:10].tolist() == list(range(10)), "classes interleave, so any prefix is balanced"
    assert not provenance.exact and "JPEG" in provenance.note


def _fake_mirror(tmp_path, corrupt: str | None = None):
    source = offline_mirror() / "mnist"
    target = tmp_path / "mirror" / "mnist"
    target.mkdir(parents=True)
    for path in source.glob("*.gz"):
        shutil.copy(path, target / path.name)
    if corrupt:
        raw = bytearray(gzip.decompress((target / corrupt).read_bytes()))
        raw[-1] ^= 0xFF
        (target / corrupt).write_bytes(gzip.compress(bytes(raw)))
    return tmp_path / "mirror"


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv(data.OFFLINE_ENV, "1")


def test_mirror_is_read_and_cached(tmp_path, monkeypatch, offline):
    monkeypatch.setenv(data.MIRROR_ENV, str(_fake_mirror(tmp_path)))
    first = load_dataset("mnist", "test", root=tmp_path / "cache")
    assert (tmp_path / "cache" / "mnist-test.pt").exists()
    second = load_dataset("mnist", "test", root=tmp_path / "cache")
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert "offline mirror" in second.provenance.source


def test_checksum_failure_is_a_clear_error(tmp_path, monkeypatch, offline):
    monkeypatch.setenv(data.MIRROR_ENV, str(_fake_mirror(tmp_path, corrupt="t10k-images-idx3-ubyte.gz")))
    with pytest.raises(DataCorruptError, match="checksum mismatch for .*t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", "test", root=tmp_path / "cache")
    assert not (tmp_path / "cache" / "mnist-test.pt").exists(), "corrupt data must never be cached"


def test_undecompressable_file_is_a_clear_error(tmp_path, monkeypatch, offline):
    mirror = _fake_mirror(tmp_path)
    (mirror / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    with pytest.raises(DataCorruptError, match="cannot be decompressed"):
        load_dataset("mnist", "test", root=tmp_path / "cache")


def test_missing_data_says_what_to_do(tmp_path, monkeypatch, offline):
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="LAT_DATA_DIR"):
        load_dataset("mnist", "train", root=tmp_path / "cache")


def test_unreadable_cache_is_rebuilt(tmp_path, monkeypatch, offline):
    monkeypatch.setenv(data.MIRROR_ENV, str(_fake_mirror(tmp_path)))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "mnist-test.pt").write_bytes(b"garbage")
    images, labels, _ = load_dataset("mnist", "test", root=tmp_path / "cache")
    assert labels.bincount().tolist() == MNIST_TEST_COUNTS


@pytest.mark.parametrize("name, split, message", [("svhn", "test", "unknown dataset"),
                                                  ("mnist", "validation", "unknown split")])
def test_unknown_dataset_or_split(name, split, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(name, split)
