"""The plan of a run, and papermill inside pytest: the whole study as the session's study (the paper profile's
dry run, ``conftest.session_study``) ran it."""

import json
import re

import pandas as pd
import pytest

from lat_utils import runner
from lat_utils.config import get_profile
from lat_utils.paths import figures_dir, reports_dir, runs_dir, tables_dir
from lat_utils.study import plan
from lat_utils.study.verdicts import VERDICTS

from .helpers import training_config, trainings


def test_plan_covers_every_model_and_dataset():
    stages = runner.plan("quick")
    assert [e.notebook for e in stages[0]][:2] == ["01_imagenet_attack.ipynb", "02_train.ipynb"]
    assert [e.output for e in stages[1]] == ["03_evaluate_mnist.ipynb", "03_evaluate_cifar10.ipynb"]
    # the notebooks that read the evaluation tables run after the stage that writes them
    assert [e.output for e in stages[2]] == ["04_cifar10_eps.ipynb", "05_figures_and_claims.ipynb"]
    assert [e.output for e in stages[3]] == ["06_budgets.ipynb", "07_explorer.ipynb"] and len(stages) == 4
    assert len(trainings(stages)) == 4 + 3  # MNIST: the claims' 4 models; CIFAR-10: 3 at the raw-pixels reading
    assert len(stages[0]) == 1 + 4 + 3      # the ImageNet attack runs beside them: it needs none of them
    assert {e.parameters["reading"] for e in trainings(stages) if e.parameters["dataset"] == "cifar10"
            and e.parameters["localization"] != "natural"} == {"raw"}   # the natural model serves every reading
    assert all((runner.NOTEBOOKS / e.notebook).exists() for stage in stages for e in stage)


def test_plan_together_trains_each_model_once():
    trainings_ = trainings(runner.plan("quick", together=True))
    assert [e.parameters["together"] for e in trainings_] == [False, True, False, True]
    assert trainings_[1].output == "02_train_mnist-together-per_step-seed0.ipynb"
    covered = []
    for e in trainings_:
        config = training_config(e)
        groups = plan.together_groups(config.dataset, "quick") if e.parameters["together"] else [[config]]
        covered += [c.key for c in next(g for g in groups if config in g)]
    assert sorted(covered) == sorted(e.output[len("02_train_"):-len(".ipynb")] for e in trainings(runner.plan("quick")))


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
        checked = re.search(r"^check_parameters\(globals\(\), (.*)\)$", "".join(code[1]["source"]), re.MULTILINE)
        assert checked, f"{path.name}: its second code cell does not check its parameters"
        assert re.findall(r'"(\w+)"', checked.group(1)) == list(papermill.inspect_notebook(path)), path.name


@pytest.mark.notebooks
def test_session_study_runs_end_to_end_and_says_dry_run(session_study):
    """The paper profile's dry run (``./run_all.sh --profile paper --dry-run``): every notebook through the real
    run's code path (several seeds, training together, the exact-mask model and Algorithm 1 read literally, two
    readings of the CIFAR-10 eps, the full-test-set indexing, the localized AutoAttack, the ImageNet sweep), with
    only the counts shrunk; its outputs are marked DRY RUN everywhere."""
    assert session_study.exit_code == 0
    profile = session_study.profile
    reports = reports_dir(profile)
    stages = runner.plan(profile, together=True)  # a dry run trains together, as on a GPU
    assert any(e.parameters["together"] for e in trainings(stages))
    for execution in (e for stage in stages for e in stage):
        text = (reports / execution.output).read_text()
        assert "# DRY RUN of the paper profile" in text, f"{execution.output} does not say DRY RUN"
        assert (reports / execution.output).with_suffix(".html").exists()
    figures = {p.name for p in figures_dir(profile).glob("*.png")}
    for name in ("fig1_mnist_attacks.png", "fig2_loss_mnist.png", "fig2_loss_cifar10.png", "accuracy_mnist.png",
                 "training_mnist.png", "claims_forest.png"):
        assert name in figures
    # the paper's first seed (six MNIST models, and on each of the two CIFAR-10 networks the natural model and two
    # adversarial ones at each of two readings of its eps) and the three central MNIST models in its second, each
    # trained to the dry run's last step
    models = [c for d in ("mnist", "cifar10") for c in plan.study_models(d, profile)]
    assert len(models) == 6 + 2 * (1 + 2 * 2) + 3 and all((runs_dir(profile) / f"{c.key}.pt").exists() for c in models)
    assert {"natural on airbench", "standard on airbench"} <= set(pd.read_csv(tables_dir(profile) / "eval_cifar10.csv")["model"])
    assert set(pd.read_csv(tables_dir(profile) / "claims.csv")["network"]) == {"paper_cnn", "airbench"}
    tables = list(tables_dir(profile).glob("*.csv"))
    assert {"eval_mnist.csv", "eval_cifar10.csv", "claims.csv"} <= {t.name for t in tables}
    for path in tables:
        assert pd.read_csv(path).columns[0] == runner.cli.DRY_RUN_COLUMN, f"{path.name} is not marked DRY RUN"
    evaluation = pd.read_csv(tables_dir(profile) / "eval_mnist.csv")
    assert set(evaluation.seed) == {0, 1}
    assert evaluation.n.eq(get_profile(profile).image_cap).all(), "the full test set, cut by the dry run's cap"
    claims = pd.read_csv(tables_dir(profile) / "claims.csv")
    assert set(claims.verdict) <= set(VERDICTS)
    bounded = claims.dropna(subset=["low (%)"])
    assert bounded["low (%)"].le(bounded["high (%)"]).all()
    assert len(claims) >= 18
    # a rerun reuses the finished models: the CPU path's notebook of one model that the run trained together
    # with others finds it finished, and trains nothing
    alone = next(e for e in trainings(runner.plan(profile))
                 if e.parameters["localization"] == "background" and e.parameters["projection"] == "per_step")
    runner.execute(alone, profile)
    assert "loaded (already finished)" in (reports / alone.output).read_text()


def test_a_failing_notebook_names_notebook_and_cell():
    bad = runner.Execution("05_figures_and_claims.ipynb", "failing_on_purpose.ipynb", {"profile": "nope"})
    with pytest.raises(runner.NotebookFailed, match=r"05_figures_and_claims.ipynb .* failed in cell \d+ "
                                                      r"\(ValueError: unknown profile 'nope'"):
        runner.execute(bad, "smoke")


@pytest.mark.parametrize("profile", ["paper", "deviations", "airbench"])
def test_a_model_key_round_trips_through_its_files_and_table_rows(profile):
    """Every model a profile trains is known by its key: its checkpoint's and evaluation's file names are unique
    and made from it, and the key columns of its evaluation and per-image rows give the model back."""
    import torch

    from lat_utils.spec.paper import DATASETS
    from lat_utils.study import evaluation
    from lat_utils.study.checkpoints import checkpoint_path
    from lat_utils.study.plan import KEY_COLUMNS, TrainConfig, evaluated_models

    for dataset in DATASETS:
        models = evaluated_models(dataset, profile)
        assert len({c.eval_key for c in models}) == len(models)
        for config in models:
            assert checkpoint_path(config).stem == config.trained.key and config.key == config.trained.eval_key
            cache = {"cells": {"natural": {"loss": torch.ones(2), "correct": torch.ones(2, dtype=torch.bool)}},
                     "profile": get_profile(profile), "precision": "fp32", "collapsed": False, "exact": True}
            for table in (evaluation.table_of(config, cache), evaluation.per_image_of(config, cache)):
                rows = table[list(KEY_COLUMNS)].drop_duplicates().to_dict("records")
                assert [TrainConfig(**row, profile=profile) for row in rows] == [config]
                assert set(table["model"]) == {config.name}
