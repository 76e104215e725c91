"""What a lent GPU machine needs to run the notebooks end to end, made here: the notebook stack as wheels and the
data of an MNIST-only run. Issue 46, item 3.

    python bench/gpu_carry.py [--wheels .whl] [--data .gpu_data] [--dry-run]

The GPU machine (the ``device`` tool) has PyTorch and the scientific stack but no Jupyter, and reaches no package
index; it takes at most 64 MiB of working tree. This script downloads, for its Python (3.12, x86-64 Linux), the
wheels of every package the study's runner and notebooks import that its image lacks (``carried_packages``: the
requirements of ``ROOTS``, followed through this environment's installed metadata, less ``DEVICE_IMAGE`` and
``UNUSED_IN_A_RUN``), each at
the version installed here, and copies the MNIST files of the offline mirror (CIFAR-10's 61 MB copy does not fit),
then prints what would travel against the limit. ``bench/gpu_notebooks.sh`` runs the notebooks there with them.
``--dry-run`` lists the packages and sizes and downloads nothing.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lat_utils.data import offline_mirror
from lat_utils.paths import PROJECT_ROOT

TRAVEL_LIMIT = 64 * 2**20   # bytes of working tree a device call takes (tracked files, carried folders)
DEVICE_PYTHON = "3.12"
DEVICE_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                    "manylinux1_x86_64")
# What the runner and the notebooks of an MNIST-only run import beyond PyTorch and the scientific stack: papermill
# and the kernel it starts, nbconvert for each notebook's page, the cross-check's torchattacks (a run's progress bars
# are text, not widgets)
ROOTS = ("papermill", "ipykernel", "nbformat", "nbconvert", "torchattacks")
# Required by the kernel, imported only where they are there (the kernel's debugger, IPython's completions): 10 MB
UNUSED_IN_A_RUN = frozenset({"debugpy", "jedi"})
# The Python packages of the GPU machine's image (the device tool's KINDS.md, read on 2026-11-17): not carried
DEVICE_IMAGE = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax
opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker
prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks
pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy
seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy
tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())


def carried_packages(roots: tuple[str, ...] = ROOTS, image: frozenset[str] = DEVICE_IMAGE | UNUSED_IN_A_RUN
                     ) -> dict[str, str]:
    """Name to installed version of every distribution ``roots`` need (their requirements, with the extras a
    requirement names, followed through this environment's metadata) that ``image`` lacks. A ``LookupError`` names a
    root not installed here."""
    found: dict[str, str] = {}
    followed: set[tuple[str, str]] = set()   # (distribution, extra) whose requirements were added
    waiting = [(canonicalize_name(r), "") for r in roots]
    while waiting:
        name, extra = waiting.pop()
        if name in image or (name, extra) in followed:
            continue
        followed.add((name, extra))
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise LookupError(f"{name} is not installed here: install the project first (./run_tests.sh does)") from None
        found[name] = distribution.version
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra, "python_version": DEVICE_PYTHON}):
                waiting += [(canonicalize_name(requirement.name), e) for e in ("", *requirement.extras)]
    return dict(sorted(found.items()))


def download_wheels(packages: dict[str, str], folder: Path) -> None:
    """Each of ``packages`` at its version as a wheel for the GPU machine's Python, into ``folder`` (emptied)."""
    shutil.rmtree(folder, ignore_errors=True)
    platforms = [argument for p in DEVICE_PLATFORMS for argument in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", DEVICE_PYTHON, "--implementation", "cp", *platforms, "-d", str(folder),
                    *(f"{name}=={version}" for name, version in packages.items())], check=True)


def copy_mnist(folder: Path) -> None:
    """The offline mirror's MNIST files into ``folder``/mnist (``LAT_DATA_DIR`` there)."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(offline_mirror() / "mnist", folder / "mnist")


def size_of(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when it does not exist)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def tracked_size() -> int:
    """Bytes of the project's tracked files."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    return sum((PROJECT_ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (PROJECT_ROOT / n).is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheels", type=Path, default=PROJECT_ROOT / ".whl")
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT / ".gpu_data")
    parser.add_argument("--dry-run", action="store_true", help="list what would be carried, download nothing")
    args = parser.parse_args()
    packages = carried_packages()
    print(f"{len(packages)} packages to carry: " + ", ".join(f"{n} {v}" for n, v in packages.items()))
    if not args.dry_run:
        download_wheels(packages, args.wheels)
        copy_mnist(args.data)
    parts = {"tracked files": tracked_size(), "wheels": size_of(args.wheels), "MNIST": size_of(args.data)}
    total = sum(parts.values())
    print(", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in parts.items())
          + f": {total / 2**20:.1f} of the {TRAVEL_LIMIT / 2**20:.0f} MiB a device call takes")
    if total > TRAVEL_LIMIT:
        sys.exit("too large to travel to the GPU machine")


if __name__ == "__main__":
    main()
