"""Papermill inside pytest: the whole study in the smoke profile, as ./run_all.sh --profile smoke runs it."""

import json
import re

import pandas as pd
import pytest

from lat_utils import runner
from lat_utils.paths import figures_dir, reports_dir, runs_dir, tables_dir
from lat_utils.study import training
from lat_utils.study.claims import VERDICTS


def test_plan_covers_every_model_and_dataset():
    stages = runner.plan("quick")
    assert [s[0].notebook for s in stages] == ["01_imagenet_attack.ipynb", "02_train.ipynb", "03_evaluate.ipynb",
                                               "04_figures_and_claims.ipynb", "05_budgets.ipynb"]
    assert [e.output for e in stages[2]] == ["03_evaluate_mnist.ipynb", "03_evaluate_cifar10.ipynb",
                                             "03_cifar10_eps.ipynb"]
    assert len(stages[1]) == 4 + 3  # MNIST: the claims' 4 models; CIFAR-10: 3 at the raw-pixels reading
    assert {e.parameters["reading"] for e in stages[1] if e.parameters["dataset"] == "cifar10"
            and e.parameters["localization"] != "natural"} == {"raw"}   # the natural model serves every reading
    assert all((runner.NOTEBOOKS / e.notebook).exists() for stage in stages for e in stage)


def test_plan_together_trains_each_model_once():
    trainings = runner.plan("quick", together=True)[1]
    assert [e.parameters["together"] for e in trainings] == [False, True, False, True]
    assert trainings[1].output == "02_train_mnist-together-per_step-seed0.ipynb"
    covered = []
    for e in trainings:
        p = e.parameters
        config = training.TrainConfig(p["dataset"], p["localization"], p["projection"], "quick", p["seed"], p["reading"])
        groups = training.together_groups(config.dataset, "quick") if p["together"] else [[config]]
        covered += [c.key for c in next(g for g in groups if config in g)]
    assert sorted(covered) == sorted(e.output[len("02_train_"):-len(".ipynb")] for e in runner.plan("quick")[1])


def test_unknown_profile_is_refused(capsys):
    with pytest.raises(SystemExit):
        runner.main(["--profile", "fast"])
    assert "unknown profile 'fast'" in capsys.readouterr().err


def test_source_notebooks_are_thin_and_clean():
    import papermill

    for path in runner.NOTEBOOKS.glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert not any(c.get("outputs") for c in code), f"{path.name} carries outputs"
        assert all("id" in c for c in cells), f"{path.name}: a cell has no id (nbformat 4.5 requires one)"
        assert "parameters" in code[0]["metadata"].get("tags", []), f"{path.name}: first code cell is not tagged"
        # the first thing the notebook does is refuse a parameter it does not take, naming those it does
        checked = re.search(r"^check_parameters\(globals\(\), (.*)\)$", "".join(code[1]["source"]), re.M)
        assert checked, f"{path.name}: its second code cell does not check its parameters"
        assert re.findall(r'"(\w+)"', checked.group(1)) == list(papermill.inspect_notebook(path)), path.name


@pytest.mark.notebooks
def test_smoke_study_runs_end_to_end(smoke_study):
    assert smoke_study.exit_code == 0
    reports = reports_dir("smoke")
    for stage in runner.plan("smoke"):
        for execution in stage:
            assert (reports / execution.output).exists()
            assert (reports / execution.output).with_suffix(".html").exists()
    figures = {p.name for p in figures_dir("smoke").glob("*.png")}
    for name in ("fig1_mnist_attacks.png", "fig2_loss_mnist.png", "fig2_loss_cifar10.png", "accuracy_mnist.png",
                 "training_mnist.png", "claims_forest.png"):
        assert name in figures
    claims = pd.read_csv(tables_dir("smoke") / "claims.csv")
    assert set(claims.verdict) <= set(VERDICTS)
    bounded = claims.dropna(subset=["low (%)"])
    assert bounded["low (%)"].le(bounded["high (%)"]).all()
    assert len(claims) >= 18
    # a rerun reuses the finished model: nothing is retrained
    training = runner.plan("smoke")[1][0]
    runner.execute(training, "smoke")
    assert "loaded (already finished)" in (reports / training.output).read_text()
    assert (runs_dir("smoke") / "mnist-natural-seed0.pt").exists()
    # the GPU path's notebook (models trained together) runs too; here it finds them finished
    group = next(e for e in runner.plan("smoke", together=True)[1] if e.parameters["together"])
    runner.execute(group, "smoke")
    assert (reports / group.output).read_text().count("loaded (already finished)") >= 2


def test_a_failing_notebook_names_notebook_and_cell():
    bad = runner.Execution("04_figures_and_claims.ipynb", "failing_on_purpose.ipynb", {"profile": "nope"})
    with pytest.raises(runner.NotebookFailed, match=r"04_figures_and_claims.ipynb .* failed in cell \d+ "
                                                      r"\(ValueError: unknown profile 'nope'"):
        runner.execute(bad, "smoke")
