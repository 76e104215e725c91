"""./run_all.sh --profile paper --dry-run: every notebook of the paper profile through the real run's code
path (several seeds, training together, the full-test-set indexing, the localized AutoAttack, the ImageNet sweep),
with only the counts shrunk; its outputs are marked DRY RUN everywhere."""

import pandas as pd
import pytest

from lat_utils import runner
from lat_utils.config import get_profile
from lat_utils.paths import reports_dir, runs_dir, tables_dir
from lat_utils.study.training import study_models


@pytest.mark.notebooks
@pytest.mark.slow
def test_paper_dry_run_executes_every_notebook_and_says_dry_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))  # a fresh run, apart from any earlier one
    assert runner.main(["--profile", "paper", "--dry-run"]) == 0
    profile = "paper-dry-run"
    assert reports_dir(profile) == tmp_path / "reports" / profile
    stages = runner.plan(profile, together=True)  # a dry run trains together, as on a GPU
    assert any(e.parameters["together"] for e in stages[1])
    for execution in (e for stage in stages for e in stage):
        text = (reports_dir(profile) / execution.output).read_text()
        assert "# DRY RUN of the paper profile" in text, f"{execution.output} does not say DRY RUN"
        assert (reports_dir(profile) / execution.output).with_suffix(".html").exists()
    # two of the paper's three seeds x (six MNIST models, the natural CIFAR-10 model and two adversarial ones at
    # each of two readings of its eps), each trained to the dry run's last step
    models = [c for d in ("mnist", "cifar10") for c in study_models(d, profile)]
    assert len(models) == 2 * (6 + 1 + 2 * 2) and all((runs_dir(profile) / f"{c.key}.pt").exists() for c in models)
    tables = list(tables_dir(profile).glob("*.csv"))
    assert {"eval_mnist.csv", "eval_cifar10.csv", "claims.csv"} <= {t.name for t in tables}
    for path in tables:
        assert pd.read_csv(path).columns[0] == runner.cli.DRY_RUN_COLUMN, f"{path.name} is not marked DRY RUN"
    evaluation = pd.read_csv(tables_dir(profile) / "eval_mnist.csv")
    assert set(evaluation.seed) == {0, 1}
    assert evaluation.n.eq(get_profile(profile).image_cap).all(), "the full test set, cut by the dry run's cap"
