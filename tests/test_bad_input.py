"""What bad input gets: every case a demanding user tried, with the message it gets. No silent wrong answer.

Each case triggers one bad input or one damaged file and returns what the user sees (the error's
message, or what was printed); the test checks that it contains the case's ``message``. The table in
``docs/bad-input.md`` is generated from ``CASES`` (``LAT_WRITE_DOCS=1 ./run_tests.sh tests/test_bad_input.py``
rewrites it), and a test fails when the two differ.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from lat_utils import PGD, PaperCNN, epsilon_matrix, masked_apgd, masked_pgd, runner
from lat_utils.config import get_profile
from lat_utils.data import Dataset, load_dataset
from lat_utils.paths import PROJECT_ROOT, write_atomically
from lat_utils.report import check_parameters
from lat_utils.runner import Execution, NotebookFailed, cli, execute, stopping
from lat_utils.runner.lock import lock_path, run_lock, this_run
from lat_utils.sealed import save_sealed
from lat_utils.study import TrainConfig, checkpoints, evaluate_model, evaluation, train_model, training

DOC = PROJECT_ROOT / "docs" / "bad-input.md"


@dataclass(frozen=True)
class Case:
    what: str                            # the bad input, as a user would describe it
    gets: str                            # what happens
    message: str                         # an excerpt of what the user reads
    run: Callable[[Path], str]           # triggers it in a scratch folder; returns what the user reads
    needs_model: bool = False            # the scratch folder starts with an evaluated smoke model


def _raised(call: Callable[[], object], error: type[BaseException] = Exception) -> str:
    try:
        call()
    except error as raised:
        return str(raised)
    raise AssertionError("no error was raised")


def _printed(call: Callable[[], object]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call()
    return out.getvalue()


# --- the attacks -------------------------------------------------------------------------------------

def _digits() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return PaperCNN().eval(), torch.rand(4, 1, 28, 28), torch.tensor([1, 2, 3, 4])


def _attack_with(images=None, labels=None, eps=None, attack=masked_pgd, **settings) -> str:
    model, x, y = _digits()
    x = x if images is None else images
    y = y if labels is None else labels
    e = epsilon_matrix(x.float(), "background", 0.3) if eps is None else eps
    if attack is masked_pgd:
        settings = {"steps": 2, "step_size": 0.1} | settings
        return _raised(lambda: attack(model, x, y, e, PGD(**settings)))
    return _raised(lambda: attack(model, x, y, e, **(settings or {"steps": 2})))


def _empty_batch() -> str:
    model, _, _ = _digits()
    adversarial = masked_apgd(model, torch.rand(0, 1, 28, 28), torch.zeros(0, dtype=torch.long),
                              torch.zeros(0, 1, 28, 28), steps=2)
    return f"an empty batch of shape {tuple(adversarial.shape)}"


def _training_on(root: Path, change: Callable[[Dataset], Dataset]) -> str:
    """A smoke training whose training set is first changed by ``change``: what train_model says."""
    original = load_dataset("mnist", "train")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAT_OUTPUT_ROOT", str(root))
        patch.setattr(training, "load_dataset", lambda *args, **kwargs: change(original))
        message = _raised(lambda: train_model(TrainConfig("mnist", "background", profile="smoke"), progress=False))
    assert not list(root.rglob("*.pt")), "training started on a bad training set"
    return message


def _with_label(dataset: Dataset, label: int) -> Dataset:
    labels = dataset.labels.clone()
    labels[7] = label
    return dataset._replace(labels=labels)


def _unchecked_attack_with_a_budget_of_another_shape() -> str:
    model, x, y = _digits()
    return _raised(lambda: masked_pgd(model, x, y, torch.full((4, 1, 28, 27), 0.3),
                                      PGD(steps=2, step_size=0.1), check_inputs=False))


def _with_nan(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.clone()
    tensor.view(-1)[0] = float("nan")
    return tensor


# --- the files a run writes --------------------------------------------------------------------------

SMOKE_MODEL = TrainConfig("mnist", "natural", profile="smoke")


@pytest.fixture(scope="module")
def evaluated_smoke_model(tmp_path_factory) -> Path:
    """The runs folder of one smoke model, trained (with its milestones) and evaluated once for every case."""
    root = tmp_path_factory.mktemp("evaluated")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAT_OUTPUT_ROOT", str(root))
        train_model(SMOKE_MODEL, progress=False)
        evaluate_model(SMOKE_MODEL, progress=False)
    return root


def _damaged_eval_cache(root: Path, damage: Callable[[Path], None]) -> str:
    """The evaluation cache of the smoke model damaged, then read as an evaluation reads it: the message
    printed, and no cell of it reused (the evaluation computes them all again)."""
    path = evaluation.cache_path(SMOKE_MODEL)
    key = evaluation.load_sealed(path)["key"]
    damage(path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cache = evaluation.load_cell_cache(path, key)
    assert cache["cells"] == {}, "a damaged cache was reused"
    return out.getvalue()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))


def _short_cell(path: Path) -> None:
    """A cell with 10 of its 50 images, sealed as if the project had written it."""
    from lat_utils.sealed import load_sealed

    cache = load_sealed(path)
    cache["cells"]["natural"] = {k: v[:10] for k, v in cache["cells"]["natural"].items()}
    save_sealed(path, cache)


def _foreign_file(path: Path) -> None:
    torch.save({"key": "not ours", "cells": {}}, path)


def _damaged_checkpoint(root: Path) -> str:
    _truncate(checkpoints.checkpoint_path(SMOKE_MODEL))
    return _raised(lambda: checkpoints.load_trained(SMOKE_MODEL))


def _damaged_milestone(root: Path) -> str:
    step = checkpoints.milestone_steps(get_profile("smoke"))[0]
    _flip_a_byte(checkpoints.milestone_path(SMOKE_MODEL, step))
    return _raised(lambda: checkpoints.load_milestone(SMOKE_MODEL, step))


def _damaged_data_cache(root: Path) -> str:
    from lat_utils.data import load_dataset

    load_dataset("mnist", "test", root=root)
    (root / "mnist-test.pt").write_bytes(b"LAT-SEALED-1 sha256=0\nnot a tensor")
    return _printed(lambda: load_dataset("mnist", "test", root=root))


def _replaced_data_cache(root: Path) -> str:
    from lat_utils.data import load_dataset

    load_dataset("mnist", "test", root=root)
    images, labels, provenance = load_dataset("mnist", "test", root=root)
    from dataclasses import asdict

    save_sealed(root / "mnist-test.pt", {"format": 2, "images": (images[:100] * 255).to(torch.uint8),
                                         "labels": labels[:100], "provenance": asdict(provenance)})
    return _printed(lambda: load_dataset("mnist", "test", root=root))


def _damaged_log_tail(root: Path) -> str:
    """A training killed at step 6, whose log then gets a blank line, a bad value and a cut line."""
    config = TrainConfig("mnist", "natural", profile="smoke")
    original = torch.optim.Adam.step
    calls = {"n": 0}

    def killed(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = killed
    try:
        with contextlib.suppress(KeyboardInterrupt):
            train_model(config, progress=False, checkpoint_every=0.0)
    finally:
        torch.optim.Adam.step = original
    log = checkpoints.log_path(config)
    with log.open("a") as f:
        f.write("\n4,0.3,not-a-number,0.5,1.0\n5,0.3")  # a blank line, a bad value, a cut line
    printed = _printed(lambda: train_model(config, progress=False))
    assert checkpoints.load_trained(config) is not None
    return printed


def _full_disk(root: Path) -> str:
    """A real failing write: ``ulimit -f 1`` lets no file grow past 1 KiB."""
    script = ("from pathlib import Path; import torch\n"
              "from lat_utils.sealed import save_sealed\n"
              f"save_sealed(Path({str(root / 'big.pt')!r}), {{'x': torch.zeros(100_000)}})\n")
    result = subprocess.run(["bash", "-c", f"ulimit -f 1; exec {sys.executable} -c \"$0\"", script],
                            capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode != 0
    leftovers = [p.name for p in root.iterdir()]
    assert leftovers == [], f"the failed write left {leftovers}"
    return result.stderr.strip().splitlines()[-1]


def _failing_write(root: Path) -> str:
    """A write that fails as on a full disk, after writing part of the file: the file it replaces is kept whole,
    for the next run to resume from."""

    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    (root / "eval.pt").write_bytes(b"the previous evaluation")
    message = _raised(lambda: write_atomically(root / "eval.pt", fail), OSError)
    assert list(root.iterdir()) == [root / "eval.pt"], "a failed write left its temporary file"
    assert (root / "eval.pt").read_bytes() == b"the previous evaluation", "a failed write damaged the file it replaces"
    return message


# --- notebooks and the runner ------------------------------------------------------------------------

def _misspelt_parameter_runner(root: Path) -> str:
    bad = Execution("06_budgets.ipynb", "06_budgets.ipynb", {"profil": "smoke"})
    return _raised(lambda: execute(bad, "smoke"), NotebookFailed)


def _misspelt_parameter_notebook(root: Path) -> str:
    namespace = {"profile": "quick", "profil": "smoke", "In": [], "Out": {}, "_oh": {}}  # what papermill leaves
    return _raised(lambda: check_parameters(namespace, "profile"), ValueError)


def _interrupted(signum: int) -> str:
    """A smoke run that gets ``signum`` while its first training runs (no notebook executed: the executor's part is
    ``test_runner_signals.py``'s): what it prints; its exit code is the shell's 128 + the signal's number."""
    def run(profile, jobs, together, executor, done, finished):
        with stopping.noting(lambda: ["02_train_mnist_natural.ipynb"]):
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the handler raises before

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(err):
        patch.setattr(cli, "run", run)
        patch.setattr(stopping, "kill_children", lambda: 0)  # this process's children are the test session's
        assert runner.main(["--profile", "smoke", "--jobs", "1"]) == 128 + signum
    return err.getvalue()


def _second_run() -> str:
    """A run of the smoke profile while another holds its output folder: what it prints (exit code 75)."""
    err = io.StringIO()
    with run_lock("smoke"), contextlib.redirect_stderr(err):
        assert runner.main(["--profile", "smoke"]) == 75
    return err.getvalue()


def _stale_lock() -> str:
    """A lock left by a run killed with SIGKILL (its pid runs no more): what the next run prints."""
    killed = subprocess.Popen(["true"])
    killed.wait()
    lock_path("smoke").write_text(json.dumps({**this_run(), "pid": killed.pid}))

    def next_run() -> None:
        with run_lock("smoke"):
            pass

    return _printed(next_run)


def _cli(*args: str) -> str:
    """What ``./run_all.sh ARGS`` prints on stderr; it must be a usage error (exit code 2)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as stopped:
        runner.main(list(args))
    assert stopped.value.code == 2
    return err.getvalue()


CASES = [
    Case("NaN in an image", "every attack refuses it", "images must be finite: 1 of its 3136 values are not (1 NaN",
         lambda root: _attack_with(images=_with_nan(torch.rand(4, 1, 28, 28)), eps=torch.full((4, 1, 28, 28), 0.3))),
    Case("NaN in the epsilon matrix", "every attack refuses it", "eps_matrix must be finite: 1 of",
         lambda root: _attack_with(eps=_with_nan(torch.full((4, 1, 28, 28), 0.3)))),
    Case("`step_size=nan`", "refused (it would silently turn PGD off)", "step_size must be a finite number >= 0",
         lambda root: _attack_with(steps=2, step_size=float("nan"))),
    Case("labels out of range (all of them)", "every attack refuses them, APGD included",
         "labels must be class indices in [0, 10) (the model has 10 outputs): 4 of 4 are not",
         lambda root: _attack_with(labels=torch.full((4,), 12), attack=masked_apgd)),
    Case("a negative label", "every attack refuses it", "labels must be class indices >= 0: 1 of 4 are negative",
         lambda root: _attack_with(labels=torch.tensor([1, -1, 3, 4]))),
    Case("float64 or float16 images", "refused with what to do", "images must be float32 or bfloat16, got torch.float64",
         lambda root: _attack_with(images=torch.rand(4, 1, 28, 28, dtype=torch.float64))),
    Case("`check_inputs=False` (the training loop's steps) with a budget of another shape",
         "refused: only the checks that read values are skipped", "eps_matrix must have the shape of images",
         lambda root: _unchecked_attack_with_a_budget_of_another_shape()),
    Case("a training label beyond the model's outputs", "training refuses it before its first step",
         "the mnist training labels must be class indices in [0, 10), got labels in [0, 10]",
         lambda root: _training_on(root, lambda d: _with_label(d, 10))),
    Case("a training image outside [0, 1]", "training refuses it before its first step",
         "the mnist training images must lie in [0, 1]",
         lambda root: _training_on(root, lambda d: d._replace(images=d.images * 2))),
    Case("an empty batch", "every attack returns it, empty", "an empty batch of shape (0, 1, 28, 28)",
         lambda root: _empty_batch()),
    Case("a truncated evaluation cache", "said, and rebuilt", "is damaged: its",
         lambda root: _damaged_eval_cache(root, _truncate), needs_model=True),
    Case("a flipped byte in an evaluation cache", "said, and rebuilt",
         "do not match the checksum it was written with (truncated or altered)",
         lambda root: _damaged_eval_cache(root, _flip_a_byte), needs_model=True),
    Case("an evaluation cell with 10 of its 50 images", "said, and rebuilt",
         "holds a cell 'natural' with columns of lengths", lambda root: _damaged_eval_cache(root, _short_cell),
         needs_model=True),
    Case("a foreign file in place of an evaluation cache", "said, and rebuilt",
         "has no checksum header: a damaged or foreign file (this version of the project did not write it)",
         lambda root: _damaged_eval_cache(root, _foreign_file), needs_model=True),
    Case("a truncated checkpoint", "refused, with how to recover",
         "Restore it from a copy, or delete it to train this model anew", _damaged_checkpoint, needs_model=True),
    Case("a damaged milestone", "refused, with how to recover", "do not match the checksum", _damaged_milestone,
         needs_model=True),
    Case("a damaged data cache", "said, and rebuilt from the verified source", "Rebuilding the data cache:",
         _damaged_data_cache),
    Case("a data cache replaced by 100 images", "said, and rebuilt from the verified source",
         "does not hold the 10,000 uint8 images", _replaced_data_cache),
    Case("a blank, non-numeric or cut line in a training log", "dropped, said; the training resumes",
         "3 unreadable line(s) dropped", _damaged_log_tail),
    Case("a file that may not grow (`ulimit -f`)", "the file named with the cause; no temporary file left",
         "could not write big.pt: File too large", _full_disk),
    Case("a full disk during a write", "the file named with the cause; no temporary file left",
         "could not write eval.pt: No space left on device", _failing_write),
    Case("a misspelt notebook parameter through the runner", "refused before the notebook runs",
         "06_budgets.ipynb takes no parameter 'profil'; its parameters are profile", _misspelt_parameter_runner),
    Case("`papermill -p profil smoke` (a misspelt parameter)", "the notebook's first cell refuses it",
         "unknown parameter(s) 'profil': this notebook takes profile", _misspelt_parameter_notebook),
    Case("`seed=True` or `seed=-1`", "refused", "seed must be an integer >= 0, got True",
         lambda root: _raised(lambda: TrainConfig("mnist", "natural", seed=True))),
    Case("Ctrl-C (SIGINT) during a run", "every process it started stopped within seconds, what finished kept, "
         "one line, exit code 130; the next run resumes",
         "Interrupted (SIGINT): stopped 1 running notebook of profile smoke (02_train_mnist_natural.ipynb); 0 finished "
         "notebooks kept. Resume with: ./run_all.sh --profile smoke --jobs 1",
         lambda root: _interrupted(signal.SIGINT)),
    Case("SIGTERM during a run (a scheduler's time limit)", "as Ctrl-C, exit code 143", "Interrupted (SIGTERM): stopped",
         lambda root: _interrupted(signal.SIGTERM)),
    Case("a second run of a profile into the same output folder", "refused at once (exit code 75), naming the first; "
         "`--wait` waits for it", "Refused: another run of profile smoke is using this output folder (pid",
         lambda root: _second_run()),
    Case("a lock left by a run killed with SIGKILL", "taken over, said",
         "Took over the lock of an earlier run of profile smoke that ended without releasing it",
         lambda root: _stale_lock()),
    Case("`--estimate --jobs 0`", "a usage error", "--jobs must be >= 1", lambda root: _cli("--estimate", "--jobs", "0")),
    Case("an unknown profile", "a usage error that names ./run_all.sh", "usage: ./run_all.sh",
         lambda root: _cli("--profile", "fast")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_gets_its_message(case, tmp_path, monkeypatch, request):
    if case.needs_model:
        shutil.copytree(request.getfixturevalue("evaluated_smoke_model"), tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    got = case.run(tmp_path)
    assert case.message in got, f"{case.what}: expected {case.message!r} in\n{got}"


def table() -> str:
    """``docs/bad-input.md``, from ``CASES``."""
    rows = "".join(f"| {c.what} | {c.gets} | `{c.message}` |\n" for c in CASES)
    return ("# What bad input gets\n\n"
            "Each row is a case of `tests/test_bad_input.py`, which triggers it and checks the message; this page is "
            "generated from those cases (`LAT_WRITE_DOCS=1 ./run_tests.sh tests/test_bad_input.py`). Files the "
            "study writes are sealed with a SHA-256 (`lat_utils.sealed.save_sealed`): a cache that fails its check "
            "is rebuilt, a checkpoint is refused.\n\n"
            "| bad input | what happens | the message (excerpt) |\n| --- | --- | --- |\n" + rows)


def test_the_docs_table_is_generated_from_the_cases():
    if os.environ.get("LAT_WRITE_DOCS"):
        DOC.write_text(table())
    assert DOC.read_text() == table(), "docs/bad-input.md is out of date: LAT_WRITE_DOCS=1 regenerates it"
