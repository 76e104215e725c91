"""The house's architecture holds: layered imports without cycles, a wheel with every subpackage, one
runner module, and the same clear failure under every executor."""

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import lat_utils
from lat_utils import runner
from lat_utils.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "lat_utils"
SUBPACKAGES = ("spec", "attacks", "imagenet", "study", "report", "runner")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``lat_utils`` module that ``path`` imports, at the top or inside a function, as absolute names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "lat_utils":
                continue
            # ``from .pkg import module`` imports the module; ``from .module import name`` the module itself
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if (PROJECT_ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                          or (PROJECT_ROOT / Path(*sub.split("."))).is_dir() else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lat_utils"}
    return found - {name}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return len(lat_utils.LAYERS)  # the package's own __init__: the public face, above every layer
    for level, members in enumerate(lat_utils.LAYERS):
        if parts[1] in members:
            return level
    raise AssertionError(f"{module} is in no layer of lat_utils.LAYERS: add it where it belongs")


def test_every_module_is_in_a_layer_and_imports_only_its_own_layer_or_lower():
    upward = [f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
              for module, targets in _graph().items() for target in targets if _layer(target) > _layer(module)]
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def test_no_module_imports_the_package_face():
    inward = [module for module, targets in _graph().items() if "lat_utils" in targets and module != "lat_utils"]
    assert not inward, f"modules importing lat_utils/__init__ (import the module that holds the name): {inward}"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target] if target in path else [module, target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


def test_the_layout_shows_the_roles():
    entries = {p.name for p in PACKAGE.iterdir() if not p.name.startswith("__")}
    assert set(SUBPACKAGES) <= entries
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert flat == sorted(n for n in flat if any(n in layer for layer in lat_utils.LAYERS))
    assert len(flat) <= 10, f"lat_utils/ has {len(flat)} flat modules: group them by role ({flat})"


def test_the_core_is_importable_from_the_package():
    for name in ("epsilon_matrix", "masked_pgd", "localized_autoattack", "PaperCNN", "load_dataset", "device"):
        assert callable(getattr(lat_utils, name)), name


def _setuptools_recent() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


def test_the_code_passes_the_linter():
    """``ruff check`` with the project's pinned rules (pyproject.toml): no unused or undefined name, imports
    sorted, no function above mccabe's complexity 10 (nor, in the package, with more than 8 parameters), in the
    package, the tests, the benchmarks and the notebooks."""
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_a_built_wheel_holds_and_imports_every_subpackage(tmp_path):
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((PROJECT_ROOT / name).read_bytes())
    shutil.copytree(PACKAGE, source / "lat_utils", ignore=shutil.ignore_patterns("__pycache__"))
    # the environment's setuptools when recent enough, else an isolated build (pip fetches setuptools)
    isolation = ["--no-build-isolation"] if _setuptools_recent() else []
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", *isolation, "-w",
               str(tmp_path / "dist"), str(source)]
    subprocess.run(command, check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("lat_utils-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for sub in SUBPACKAGES:
        assert f"lat_utils/{sub}/__init__.py" in names, f"the wheel has no lat_utils/{sub}"
    assert "lat_utils/imagenet/imagenet_classes.txt" in names
    zipfile.ZipFile(wheel).extractall(tmp_path / "installed")
    script = ("import lat_utils, " + ", ".join(f"lat_utils.{s}" for s in SUBPACKAGES) + "\n"
              "print(lat_utils.__file__)\n"
              "print(len(lat_utils.imagenet.imagenet_classes()))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path / "installed")}, check=True).stdout.split()
    assert Path(out[0]).is_relative_to(tmp_path / "installed"), out[0]  # the wheel's copy, not the checkout
    assert out[1] == "1000"


FAILING = ("from lat_utils.runner import executors, notebooks\n"
           "bad = notebooks.Execution(NOTEBOOK, 'failing_on_purpose.ipynb', {'profile': 'nope'})\n"
           "executors.plan = lambda profile, together=False: [[bad]]\n"
           "import runpy, sys\n"
           "sys.argv = ['lat_utils.runner', '--profile', 'smoke', '--executor', EXECUTOR, '--jobs', '1']\n"
           "runpy.run_module('lat_utils.runner', run_name='__main__', alter_sys=True)\n")


def _failing_notebook(path: Path) -> Path:
    """A notebook of two cells that fails in its second as a study notebook fails on a bad parameter
    (without the study's imports: seconds, not a minute)."""
    import nbformat

    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                 "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell('raise ValueError(f"unknown profile {profile!r}")')]
    nbformat.write(notebook, path)
    return path


@pytest.mark.notebooks
def test_a_failed_notebook_ends_the_run_with_the_same_clear_message_under_every_executor(tmp_path):
    """``python -m lat_utils.runner`` (as ./run_all.sh runs it) with a notebook that fails: exit 1 and one
    ``FAILED:`` line naming the notebook, its cell and the error, the same locally and through submitit."""
    notebook = _failing_notebook(tmp_path / "failing.ipynb")  # an absolute path: found by every executor
    messages = {}
    for executor in ("local", "local-submitit"):
        root = tmp_path / executor
        result = subprocess.run([sys.executable, "-c", f"EXECUTOR, NOTEBOOK = {executor!r}, {str(notebook)!r}\n"
                                 + FAILING], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600,
                                env={**os.environ, "LAT_OUTPUT_ROOT": str(root)})
        assert result.returncode == 1, (executor, result.stderr[-3000:])
        assert "Traceback" not in result.stderr, (executor, result.stderr[-3000:])
        assert "[IPKernelApp]" not in result.stderr, "the kernel's log reaches the console"
        failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED:")]
        assert len(failed) == 1, (executor, result.stderr[-3000:])
        assert f"{notebook} {{'profile': 'nope'}} failed in cell " in failed[0]
        assert "ValueError: unknown profile 'nope'" in failed[0]
        messages[executor] = failed[0].replace(str(root), "ROOT")
    assert messages["local"] == messages["local-submitit"]


# the paper's steps each notebook shows in its own cells (called there, not only inside a helper)
METHOD_IN_THE_OPEN = {
    "02_train.ipynb": ("epsilon_matrix(", "masked_pgd(", "training_step(", "model_for("),
    "03_evaluate.ipynb": ("epsilon_matrix(", "localized_autoattack("),
    "05_figures_and_claims.ipynb": ("epsilon_matrix(", "masked_pgd(", "plots.localized_examples("),
    "07_explorer.ipynb": ("epsilon_matrix(", "masked_pgd(", "explorer.explorer_controls("),
}


def test_the_notebooks_show_the_method_and_are_numbered_in_order():
    notebooks = sorted(p.name for p in runner.NOTEBOOKS.glob("*.ipynb"))
    numbers = [name.split("_")[0] for name in notebooks]
    assert len(set(numbers)) == len(numbers), f"two notebooks share a number: {notebooks}"
    for name, calls in METHOD_IN_THE_OPEN.items():
        cells = json.loads((runner.NOTEBOOKS / name).read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        missing = [call for call in calls if call not in code]
        assert not missing, f"{name} does not call {missing} in its cells"
        assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), f"{name}: no parameters cell"


def test_modules_are_small_and_carry_no_history():
    """A module a newcomer reads in one sitting (at most 400 lines; the configuration at most 250), and no dates,
    measured times or issue numbers in the code: those live in docs/running.md and bench/README.md."""
    import re

    sizes = {str(p.relative_to(PROJECT_ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > 400} == {}
    assert sizes["lat_utils/config.py"] <= 250
    history = re.compile(r"\b20\d\d-\d\d-\d\d\b|\bissues?\b", re.IGNORECASE)
    found = {str(p.relative_to(PROJECT_ROOT)): line.strip() for p in PACKAGE.rglob("*.py")
             for line in p.read_text().splitlines() if history.search(line)}
    assert found == {}


TRACKED_LIMIT = 40_000_000   # bytes: a checkout travels to a GPU machine of 64 MiB with the notebook stack's wheels


def test_the_tracked_files_are_light_enough_to_travel():
    """The committed files (``git ls-files``) fit the GPU machine's working tree with room for the wheels and the
    data: executed notebooks without their HTML pages (``python -m lat_utils.report.pages`` builds them), figures
    and notebook images with a palette (``lat_utils.images``)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    files = [PROJECT_ROOT / name for name in listed.stdout.decode().split("\0") if name]
    total = sum(f.stat().st_size for f in files if f.is_file())
    assert total <= TRACKED_LIMIT, f"the tracked files take {total / 1e6:.1f} MB, more than {TRACKED_LIMIT / 1e6:.0f} MB"
    pages = [f.name for f in files if f.suffix == ".html" and f.parent.parent.name == "reports" and f.name != "index.html"]
    assert not pages, f"executed notebooks' HTML pages are built, not committed: {pages[:3]}"
