"""Shared fixtures: real MNIST digits and a small model trained on them in a few seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lat_utils.data import load_dataset
from lat_utils.models import PaperCNN


@pytest.fixture(scope="session")
def mnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels, _ = load_dataset("mnist", "test")
    return images, labels


@pytest.fixture(scope="session")
def digits(mnist_test) -> tuple[torch.Tensor, torch.Tensor]:
    """64 real test digits and their labels."""
    images, labels = mnist_test
    return images[:64], labels[:64]


@pytest.fixture(scope="session")
def trained_mnist_model() -> PaperCNN:
    """A PaperCNN trained naturally for 300 steps (about 95% test accuracy)."""
    torch.manual_seed(0)
    images, labels, _ = load_dataset("mnist", "train")
    model = PaperCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        index = torch.randint(0, len(images), (64,), generator=generator)
        loss = F.cross_entropy(model(images[index]), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


@pytest.fixture(scope="session", autouse=True)
def output_root(tmp_path_factory) -> Path:
    """Every output of the test session (``runs/``, ``reports/``, ``figures/``) goes to one temporary
    folder (``$LAT_OUTPUT_ROOT``), never into the checkout; subprocesses inherit it."""
    root = tmp_path_factory.mktemp("outputs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAT_OUTPUT_ROOT", str(root))
        yield root


@pytest.fixture(scope="session")
def smoke_study(output_root) -> int:
    """The whole study in the smoke profile, from scratch in ``output_root``, once per test session; the
    runner's exit code. Every test that needs a finished study (its reports, its tables) shares it."""
    from lat_utils import runner

    return runner.main(["--profile", "smoke"])


def pytest_collection_modifyitems(items) -> None:
    """A test that executes notebooks is slow too: ``-m "not slow"`` is the development loop without them."""
    for item in items:
        if item.get_closest_marker("notebooks"):
            item.add_marker(pytest.mark.slow)
