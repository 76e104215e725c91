"""The benchmark script keeps working (tiny settings; its figures are not checked: speed is not tested)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lat_utils.paths import PROJECT_ROOT


def test_benchmark_runs_and_saves_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "bench_pgd.py"), "--batch", "4",
                             "--steps", "2", "--train-steps", "1", "--repeats", "1", "--apgd-steps", "2",
                             "--queries", "3", "--matmul-size", "256", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "vs torchattacks" in result.stdout and "% of limit" in result.stdout
    saved = json.loads(out.read_text())
    assert set(saved["training_step_seconds"]) == {f"{d}, {p}" for d in ("mnist", "cifar10") for p in ("fp32", "bf16")}
    assert set(saved["limit_image_steps_per_second"]) == {"fp32", "bf16"}
    assert all(v > 0 for v in saved["image_steps_per_second"].values())
    robust = saved["evaluation_attacks"]["work_per_second"]
    assert {"masked_apgd CE, standard mask", "torchattacks APGD CE", "masked_square, standard mask",
            "torchattacks Square", "torchattacks APGDT, 1 target"} <= set(robust)
    assert all(v > 0 for v in robust.values())


def test_precision_gate_sets_two_runs_side_by_side(tmp_path):
    import pandas as pd

    for name, loss in (("before", 1.0), ("after", 1.1)):
        (tmp_path / name).mkdir()
        for dataset in ("mnist", "cifar10"):
            pd.DataFrame({"dataset": [dataset], "model": ["standard"], "attack": ["background"], "loss": [loss],
                          "accuracy": [0.5]}).to_csv(tmp_path / name / f"eval_{dataset}.csv", index=False)
    out = tmp_path / "gate.csv"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "precision_gate.py"), "--compare",
                             str(tmp_path / "before"), str(tmp_path / "after"), "--csv", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert len(table) == 2 and table["loss change (%)"].round(6).eq(10.0).all()


def test_training_step_benchmark_runs_and_saves_json(tmp_path):
    out = tmp_path / "step.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "train_step.py"), "--batch", "4",
                             "--pgd-steps", "1", "--repeats", "1", "--together", "2", "--no-compile",
                             "--matmul-size", "128", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "vs reference" in result.stdout and "phase of the step" in result.stdout
    saved = json.loads(out.read_text())
    assert {"before: best iterate, default Adam", "reference: torchattacks PGD + default Adam"} <= set(saved["step_ms"])
    assert all(v > 0 for v in saved["step_ms"].values()) and saved["gflop_per_step"] > 0


def test_gpu_check_runs_its_cpu_half(tmp_path):
    out = tmp_path / "gpu-check.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "gpu_check.py"), "--cpu", "--tiny",
                             "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "image-steps/s" in result.stdout and "% of limit" in result.stdout and "localized AutoAttack" in result.stdout
    saved = json.loads(out.read_text())
    assert set(saved["training_step"]) == {"one model (background)", "4 models stacked"}
    assert all(row["image_steps_per_second"] > 0 for row in saved["training_step"].values())
    assert saved["autoattack"]["images_per_second"] > 0 and saved["dry_run"] == {"skipped": "--tiny"}
    loop = saved["training_loop"]   # a whole training call ran (its syncs are counted on a GPU only)
    assert loop["steps"] == 10 and loop["seconds"] > 0 and loop["host_syncs"] is None
    captured = saved["captured_step"]   # on a CPU the graph-ready step run eagerly, against the eager one
    assert [row["models"] for row in captured.values()] == [1, 2]
    assert all(row["eager_ms"] > 0 and row["ready_ms"] > 0 and row["paper_training_hours"] > 0 for row in captured.values())


def test_training_call_benchmark_runs_and_saves_json(tmp_path):
    """bench/train_call.py on the smoke profile (10 steps): the call's time, its steps' time and their ratio."""
    out = tmp_path / "call.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "train_call.py"), "--profile", "smoke",
                             "--repeats", "1", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "the call / its steps" in result.stdout
    saved = json.loads(out.read_text())
    assert saved["steps"] == 10 and 0 < saved["steps_seconds"] <= saved["call_seconds"]
    assert saved["call_over_steps"] >= 1.0


def test_weight_precision_gate_runs_and_saves_json(tmp_path):
    out = tmp_path / "gate.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "weight_precision_gate.py"), "--profile",
                             "smoke", "--models", "standard", "--n", "20", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "verdict: the bf16 weight pass moves the grid" in result.stdout
    saved = json.loads(out.read_text())
    assert set(saved["training_seconds"]) == {"standard, fp32 s0", "standard, bf16 s0", "standard, fp32 s1"}


def test_airbench_measurement_trains_and_scores_the_network(tmp_path):
    out = tmp_path / "airbench.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "airbench_natural.py"), "--epochs", "0.03",
                             "--test-images", "100", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    saved = json.loads(out.read_text())
    assert saved["train_steps"] == 1 and saved["batch_size"] == 1024 and saved["test_images"] == 100
    assert 0 <= saved["interval_95"][0] <= saved["natural_accuracy"] <= saved["interval_95"][1] <= 100
    assert saved["test_data"].startswith("cifar10/test from")
    assert saved["train_images_scored"] == 100 and 0 <= saved["train_accuracy"] <= 100


def test_chained_evaluation_benchmark_runs_against_torchattacks(tmp_path, monkeypatch):
    """bench/evaluation_chained.py on the smoke profile (its standard model trained first, in a fresh output folder)."""
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    out = tmp_path / "chained.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "evaluation_chained.py"), "--profile",
                             "smoke", "--n", "20", "--repeats", "1", "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "not trained yet: training it first" in result.stdout and "vs torchattacks" in result.stdout
    saved = json.loads(out.read_text())
    assert {"torchattacks, fp32", "ours, fp32"} <= set(saved["seconds"]) and saved["n"] == 20
    assert all(0 <= value <= 100 for value in saved["robust_accuracy"].values())
    # every image is counted once: broken by one attack (or wrong from the start), or robust
    for name, broken in saved["broken_by"].items():
        assert sum(broken.values()) == round(20 * (100 - saved["robust_accuracy"][name]) / 100), name


def test_notebook_shares_split_each_training_notebook_of_a_committed_run(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from notebook_shares import phase_of, run_phases

    assert phase_of("trained = trained_models(config)") == "training"
    assert phase_of("x = third_party_check(c)") == "evaluation" and phase_of("import torch") == "other"
    table = run_phases(PROJECT_ROOT / "reports" / "quick")
    notebooks = sorted(p.name for p in (PROJECT_ROOT / "reports" / "quick").glob("02_train_*.ipynb"))
    assert sorted(table["notebook"]) == notebooks and len(notebooks) >= 7
    assert (table["training"] > 0).all() and (table["evaluation"] > 0).all() and (table["other"] > 0).all()
    parts = table[["training", "evaluation", "other"]].sum(axis=1)
    assert (abs(parts - table["total"]) < 0.5).all()
    out = tmp_path / "shares.json"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "notebook_shares.py"),
                             str(PROJECT_ROOT / "reports" / "quick"), "--json", str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["run"]["profile"] == "quick"


def test_training_attack_check_changes_the_training_attack_alone_and_compares_both_models(tmp_path, monkeypatch):
    """bench/training_attack_check.py: the reference profile differs from the checked one in its name and its
    training attack only; on the smoke profile both models are trained, each into its profile's folder, and each
    evaluated (the evaluation itself is tested in test_training.py: here a stand-in records what it is given)."""
    import pandas as pd

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    import training_attack_check
    from training_attack_check import CHECK_STEPS, compared, pgd5_profile

    from lat_utils import config as lat_config

    profile = lat_config.get_profile("airbench-usual")
    reference = pgd5_profile(profile)
    differing = {f for f in vars(profile) if getattr(profile, f) != getattr(reference, f)}
    assert {"name", "train_pgd_steps"} <= differing <= {"name", "train_pgd_steps", "train_step_size"}
    assert (profile.train_pgd_steps, reference.train_pgd_steps) == (2, CHECK_STEPS)
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    evaluated = []

    def evaluation(config, progress):
        evaluated.append((config.profile, config.settings.train_pgd_steps))
        return pd.DataFrame({"attack": ["natural", "standard"], "accuracy": [0.9, 0.1]})

    monkeypatch.setattr(training_attack_check, "evaluate_model", evaluation)
    monkeypatch.setattr(lat_config, "PROFILES", dict(lat_config.PROFILES))   # the reference profile is registered
    table = compared("smoke", "standard", progress=False)
    assert evaluated == [("smoke", 2), ("smoke-pgd5", CHECK_STEPS)]
    assert list(table["training attack"]) == 2 * ["PGD-2, step 1.25 eps"] + 2 * [f"PGD-{CHECK_STEPS}, step 0.5 eps"]
    assert (tmp_path / "runs" / "smoke").is_dir() and (tmp_path / "runs" / "smoke-pgd5").is_dir()


def test_what_a_gpu_machine_is_carried_closes_the_notebook_stack_over_its_image():
    """bench/gpu_carry.py: every requirement of a carried package is carried, in the GPU machine's
    image, or one the kernel imports only where it is there; the runner's papermill and the pages' nbconvert are
    among them, nothing of the image is."""
    import importlib.metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from gpu_carry import DEVICE_IMAGE, DEVICE_PYTHON, UNUSED_IN_A_RUN, carried_packages

    carried = carried_packages()
    assert {"papermill", "ipykernel", "nbclient", "nbconvert", "pyzmq", "torchattacks"} <= set(carried)
    assert "tinycss2" in carried   # an extra a requirement names: nbconvert needs bleach[css]
    assert not set(carried) & (DEVICE_IMAGE | UNUSED_IN_A_RUN)
    for name, version in carried.items():
        assert importlib.metadata.version(name) == version
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": "", "python_version": DEVICE_PYTHON}):
                assert canonicalize_name(requirement.name) in set(carried) | DEVICE_IMAGE | UNUSED_IN_A_RUN, (name, line)
    with pytest.raises(LookupError, match="no-such-package is not installed here"):
        carried_packages(("no_such_package",))


def test_no_install_leaves_the_environment_as_it_is(tmp_path):
    """scripts/bootstrap.sh with LAT_NO_INSTALL=1 (a GPU machine with its wheels carried) creates no virtual
    environment and installs nothing: the python3 on PATH runs the project as it is."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bootstrap.sh").write_text((PROJECT_ROOT / "scripts" / "bootstrap.sh").read_text())
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"LAT_NO_INSTALL": "1"}
    result = subprocess.run(["bash", "-c", "set -euo pipefail; source scripts/bootstrap.sh; echo sourced"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "sourced", result.stderr
    assert not (tmp_path / ".venv").exists()


def test_overfitting_check_reads_a_models_checkpoint_and_attacks_it_both_ways(tmp_path, monkeypatch):
    """bench/overfitting_check.py on a smoke model: the step its checkpoint holds, and its accuracies (natural, one
    step, PGD-10) as shares of the images; a model not trained yet is named in the error."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from overfitting_check import PGD_STEPS, accuracies

    from lat_utils.study import TrainConfig, train_model

    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    config = TrainConfig("mnist", "standard", profile="smoke")
    with pytest.raises(FileNotFoundError, match="no checkpoint of mnist-standard"):
        accuracies(config, 10)
    train_model(config, progress=False)
    row = accuracies(config, 10)
    assert row["step"] == row["of"] == 10 and row["n"] == 10
    assert all(0 <= row[k] <= 100 for k in ("natural", "one step of eps", f"PGD-{PGD_STEPS}"))


def test_the_device_check_runs_each_part_under_its_limit_and_says_how_each_ended(tmp_path):
    """bench/gpu_device_check.sh, with its three parts stubbed: each runs (the notebooks, the graph tests, the GPU
    check), each part's exit status is in status.txt and a failed part fails the call; its limits fit 5 minutes."""
    script = (PROJECT_ROOT / "bench" / "gpu_device_check.sh").read_text()
    assert sum(int(seconds) for seconds in re.findall(r"timeout (\d+) ", script)) <= 300
    (tmp_path / "bench").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "bench" / "gpu_device_check.sh").write_text(script)
    (tmp_path / "bench" / "gpu_notebooks.sh").write_text('echo "notebooks ran" > "$OUT/notebooks-ran.txt"\n')
    (tmp_path / "tests" / "test_graphs.py").write_text("def test_stub():\n    assert True\n")
    (tmp_path / "bench" / "gpu_check.py").write_text(
        "import sys\nopen(sys.argv[sys.argv.index('--json') + 1], 'w').write('{}')\nsys.exit(3)\n")
    env = os.environ | {"OUT": str(tmp_path / "out"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "bench/gpu_device_check.sh"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    out = tmp_path / "out"
    assert (out / "status.txt").read_text().strip() == \
        "exit status: notebooks 0, graphs 0, gpu_check 3 (124: its time limit)"
    assert (out / "notebooks-ran.txt").exists() and (out / "gpu-check.json").exists()
    assert "1 passed" in (out / "graphs.log").read_text()
