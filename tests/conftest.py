"""Shared fixtures: real MNIST digits, a small model trained on them in a few seconds, and the session's study
(the paper profile's dry run, killed and restarted)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import torch
import torch.nn.functional as F
from filelock import FileLock

from lat_utils.data import load_dataset
from lat_utils.models import PaperCNN
from lat_utils.paths import PROJECT_ROOT
from lat_utils.spec.settings import DRY_RUN_SUFFIX


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
def trained_mnist_model(tmp_path_factory) -> PaperCNN:
    """A PaperCNN trained naturally for 300 steps (about 95% test accuracy), once per test session: the
    pytest-xdist workers share it through a file in the session's folder."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    folder = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    path = folder / "trained_mnist_model.pt"
    with FileLock(f"{path}.lock"):
        if not path.exists():
            torch.save(_trained_mnist_weights(), path)
    model = PaperCNN()
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()


def _trained_mnist_weights() -> dict[str, torch.Tensor]:
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
    return model.state_dict()


@pytest.fixture(scope="session", autouse=True)
def output_root(tmp_path_factory) -> Path:
    """Every output of the test session (``runs/``, ``reports/``, ``figures/``) goes to one temporary
    folder (``$LAT_OUTPUT_ROOT``), never into the checkout; subprocesses inherit it."""
    root = tmp_path_factory.mktemp("outputs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAT_OUTPUT_ROOT", str(root))
        yield root


@pytest.fixture
def run_folder(tmp_path, monkeypatch) -> Path:
    """A fresh output folder for one test (``$LAT_OUTPUT_ROOT``): its ``runs/``, ``reports/`` and ``figures/``
    meet no other test's."""
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    return tmp_path


KILLS = 3  # the session's study is killed this many times before it is allowed to finish
STUDY = "paper"  # the session's study: this profile's dry run (its every notebook and code path)


@dataclass(frozen=True)
class SessionStudy:
    profile: str              # the profile of the run (its folders under runs/, reports/, figures/)
    exit_code: int            # of the invocation that finished the run
    kill_moments: list[int]   # seconds into each killed invocation


@pytest.fixture(scope="session")
def session_study(output_root) -> SessionStudy:
    """The whole study as the paper profile's dry run (``./run_all.sh --profile paper --dry-run``: every
    notebook through the paper profile's code path, with every count shrunk), from scratch in
    ``output_root``, once per test session, run as an interrupted user's run is: through submitit's local
    jobs (``--executor local-submitit``: real subprocesses, the code path of ``--executor slurm``), killed
    with SIGKILL (with every process it started) at ``KILLS`` moments drawn from the seed ``$LAT_KILL_SEED``
    (0 unless set) and started again each time.
    Every test that needs a finished study shares it; ``tests/test_restarts_and_cluster.py`` checks that it
    ends with the numbers of an uninterrupted computation."""
    seed = int(os.environ.get("LAT_KILL_SEED", "0"))  # another seed, other moments; a failure replays with its seed
    moments = random.Random(seed).sample(range(8, 30), KILLS)  # seconds into each attempt
    print(f"session study: killed at {moments} s into its attempts (LAT_KILL_SEED={seed})", file=sys.stderr)
    for moment in moments:
        run = _study_run(output_root)
        try:
            run.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            kill_tree(run)
    return SessionStudy(STUDY + DRY_RUN_SUFFIX, _study_run(output_root).wait(timeout=1200), moments)


def _study_run(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lat_utils.runner", "--profile", STUDY, "--dry-run",
                             "--executor", "local-submitit"], env={**os.environ, "LAT_OUTPUT_ROOT": str(root)},
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a run and everything it started (jobs, notebook kernels), freezing them first so that
    none can start another process in between."""
    frozen: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(process.pid)
    except psutil.NoSuchProcess:
        return
    for _ in range(3):  # freeze, then freeze whatever was started meanwhile
        for p in [root, *root.children(recursive=True)]:
            if p.pid not in frozen:
                try:
                    p.suspend()
                    frozen[p.pid] = p
                except psutil.NoSuchProcess:
                    pass
    for p in frozen.values():
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's, which reads the xdist_group marks
def pytest_collection_modifyitems(items) -> None:
    """A test that executes notebooks is slow too: ``-m "not slow"`` is the development loop without them.
    With pytest-xdist (``./run_tests.sh`` runs ``-n auto --dist loadgroup``), every test that reads the
    session's study runs in one worker, so that the study runs once; the slow tests (the whole runs) are collected
    first, so that the longest work starts first."""
    items.sort(key=lambda item: not (item.get_closest_marker("slow") or item.get_closest_marker("notebooks")))
    for item in items:
        if item.get_closest_marker("notebooks"):
            item.add_marker(pytest.mark.slow)
        if "session_study" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("session_study"))


def pytest_configure(config) -> None:
    """Each pytest-xdist worker computes with its share of the cores, and so do the processes its tests start
    (benchmarks, runs of the study), which read it from ``OMP_NUM_THREADS``: two workers with every core each
    would make torch's threads wait on one another."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
