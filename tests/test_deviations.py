"""The deviations study: its configurations reach the training, never share a checkpoint, and every claim is judged
under each configuration exactly as on the base."""

import pandas as pd
import pytest
import torch

from lat_utils.config import get_profile
from lat_utils.runner.estimate import training_image_steps
from lat_utils.runner.notebooks import plan
from lat_utils.spec.paper import LEARNING_RATE, MADRY_TRAIN_PGD_STEPS, MODEL_KINDS, PGD_STEP_SIZE
from lat_utils.spec.settings import VARIANTS
from lat_utils.study import TrainConfig, claims_table, study_models
from lat_utils.study.checkpoints import checkpoint_path, fingerprint, load_checkpoint, save_checkpoint
from lat_utils.study.deviations import (
    BASE,
    BUDGET_AXIS,
    FINAL_PROJECTION,
    claims_by_configuration,
    configuration_table,
    configurations,
    robustness,
    trained_settings,
    with_budget_axis,
)
from lat_utils.study.plan import model_name

from .helpers import synthetic_results

MNIST_LOSSES = {"natural": {"natural": 0.04, "standard": 5.0, "background": 4.0, "exact": 3.0, "broad": 3.5},
                "standard": {"natural": 0.06, "standard": 0.01, "background": 0.01, "exact": 0.01, "broad": 0.01},
                "background": {"natural": 0.038, "standard": 0.2, "background": 0.02, "exact": 0.02, "broad": 0.02},
                "exact": 0.1, "broad": 0.1}


def with_variant_models(table: pd.DataFrame, per_image: pd.DataFrame, model: str, variant: str, scale: float,
                        projection: str = "per_step"):
    """The synthetic results plus copies of ``model``'s rows as trained under ``variant`` (and ``projection``), their
    losses x ``scale``."""
    def copy(frame):
        rows = frame[frame["model"] == model].copy()
        rows["model"] = model_name(model, projection, variant=variant)
        rows["variant"], rows["projection"] = variant, projection
        rows["loss"] *= scale
        return pd.concat([frame, rows], ignore_index=True)
    return copy(table), copy(per_image)


def test_the_deviations_profile_has_the_issues_configurations():
    names = [c.name for c in configurations(get_profile("deviations"))]
    assert names == [BASE, "paper_lr", "no_warmup", "madry_attack", FINAL_PROJECTION]
    assert get_profile("deviations").seeds == (0, 1, 2)
    models = {(c.name, c.seed) for c in study_models("mnist", "deviations")}
    for seed in (0, 1, 2):   # every configuration's models, and the exact-mask model, in three seeds
        assert {("exact", seed), ("background (final)", seed), ("natural [paper_lr]", seed),
                ("standard [madry_attack]", seed), ("background [no_warmup]", seed)} <= models
    assert study_models("cifar10", "deviations") == []


def test_the_deviations_plan_runs_its_own_notebooks():
    stages = plan("deviations")
    outputs = [e.output for stage in stages for e in stage]
    assert "08_deviations.ipynb" in outputs and "06_budgets.ipynb" not in outputs
    assert not any(o.startswith(("01_imagenet", "04_cifar10", "03_evaluate_cifar10")) for o in outputs)
    variants = {e.parameters["variant"] for e in stages[0]}
    assert variants == {"", *VARIANTS}
    assert "08_deviations.ipynb" not in [e.output for stage in plan("quick") for e in stage]


def test_each_variants_settings_reach_the_training_and_its_fingerprint():
    for variant, field, value in [("paper_lr", "learning_rate", LEARNING_RATE), ("no_warmup", "eps_warmup_fraction", 0.0),
                                  ("madry_attack", "train_pgd_steps", MADRY_TRAIN_PGD_STEPS),
                                  ("madry_attack", "train_step_size", PGD_STEP_SIZE)]:
        config = TrainConfig("mnist", "standard", profile="deviations", variant=variant)
        assert getattr(config.settings, field) == value
        assert fingerprint(config)["training"][field] == value
        base = TrainConfig("mnist", "standard", profile="deviations")
        assert getattr(base.settings, field) != value and fingerprint(base) != fingerprint(config)
        assert checkpoint_path(config) != checkpoint_path(base) and variant in config.key
    assert fingerprint(TrainConfig("mnist", "standard", profile="quick"))["config"]["variant"] == ""


def test_a_dry_run_shrinks_a_variants_counts_as_it_shrinks_the_profiles():
    config = TrainConfig("mnist", "standard", profile="deviations-dry-run", variant="madry_attack")
    dry = get_profile("deviations-dry-run")
    assert config.settings.train_pgd_steps == dry.train_pgd_steps < MADRY_TRAIN_PGD_STEPS
    assert config.settings.train_step_size == PGD_STEP_SIZE       # not a count: kept
    assert TrainConfig("mnist", "standard", profile="deviations", variant="madry_attack").settings.train_pgd_steps \
        == MADRY_TRAIN_PGD_STEPS


def test_a_checkpoint_of_one_configuration_is_never_loaded_as_anothers(run_folder):
    base = TrainConfig("mnist", "standard", profile="deviations-dry-run")
    variant = TrainConfig("mnist", "standard", profile="deviations-dry-run", variant="paper_lr")
    save_checkpoint(variant, {"w": torch.zeros(1)}, {}, step=1, done=True, seconds=0.0)
    assert load_checkpoint(checkpoint_path(base), base) is None          # its own file: not there
    checkpoint_path(variant).rename(checkpoint_path(base))              # the other's file in its place
    with pytest.raises(ValueError, match="made with another config|fingerprint|settings"):
        load_checkpoint(checkpoint_path(base), base)


@pytest.mark.parametrize("variant, localization, dataset, message", [
    ("lr", "standard", "mnist", "unknown variant 'lr'"),
    ("no_warmup", "natural", "mnist", "retrains the MNIST models standard, background"),
    ("paper_lr", "standard", "cifar10", "not cifar10 standard"),
])
def test_a_variant_the_study_does_not_have_is_refused(variant, localization, dataset, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(dataset, localization, profile="deviations", variant=variant)


def test_a_models_name_is_made_from_its_key():
    assert TrainConfig("mnist", "natural", profile="deviations", variant="paper_lr").name == "natural [paper_lr]"
    assert TrainConfig("mnist", "background", "final", profile="deviations").name == "background (final)"
    assert TrainConfig("cifar10", "standard", profile="paper", network="airbench").name == "standard on airbench"


def test_a_configuration_puts_its_models_in_the_base_models_place():
    table, per_image = synthetic_results("mnist", MNIST_LOSSES)
    for model in VARIANTS["paper_lr"].localizations:
        table, per_image = with_variant_models(table, per_image, model, "paper_lr", 3.0)
    table, per_image = with_variant_models(table, per_image, "background", "no_warmup", 2.0)
    chosen = {c.name: c for c in configurations(get_profile("deviations"))}
    swapped = configuration_table(table, chosen["paper_lr"])
    assert set(swapped["model"]) == {"natural", "standard", "background", "exact", "broad"}
    standard = swapped[(swapped["model"] == "standard") & (swapped["attack"] == "natural")]["loss"]
    assert standard.iloc[0] == pytest.approx(3 * 0.06)
    base = configuration_table(table, chosen[BASE])
    assert base[(base["model"] == "standard") & (base["attack"] == "natural")]["loss"].iloc[0] == pytest.approx(0.06)


def test_claims_under_each_configuration_and_what_they_depend_on():
    """A variant whose standard model has 30x the adversarial loss flips 'at least 99% less adversarial loss'
    under that configuration only: robustness names it; a claim the variant leaves alone is robust."""
    table, per_image = synthetic_results("mnist", MNIST_LOSSES, seeds=(0, 1), n=300, noise=0.05)
    for variant, scale in (("paper_lr", 30.0), ("no_warmup", 1.0), ("madry_attack", 1.0)):
        for model in VARIANTS[variant].localizations:
            table, per_image = with_variant_models(table, per_image, model, variant, scale if model == "standard" else 1.0)
    table, per_image = with_variant_models(table, per_image, "background", "", 1.0, projection="final")
    profile = get_profile("deviations")
    by_configuration = claims_by_configuration({"mnist": table}, {"mnist": per_image}, profile)
    claim = "MNIST standard model: at least 99% less adversarial loss than the natural model"
    verdicts = by_configuration[by_configuration["claim"] == claim].set_index("configuration")["verdict"]
    assert verdicts[BASE] == "supported" and verdicts["paper_lr"] != "supported"
    assert verdicts["no_warmup"] == verdicts["madry_attack"] == "supported"
    lines = robustness(by_configuration).set_index("claim")["robust or depends"]
    assert lines[claim].startswith("depends on paper_lr (supported -> ")
    assert lines["MNIST background model: 4.35% less natural loss than the natural model"] == "robust to our cuts"
    # the base configuration's claims are the claims table's, which never counts a variant's model
    base = by_configuration[by_configuration["configuration"] == BASE].drop(columns=["configuration", "change"])
    own = claims_table({"mnist": table}, {"mnist": per_image}, profile)
    own = own[own["reason"] != "cifar10 was not run"]   # the profile runs MNIST only: its CIFAR-10 claims are left out
    pd.testing.assert_frame_equal(base.reset_index(drop=True), own.reset_index(drop=True))
    assert not by_configuration["claim"].str.contains("CIFAR-10").any()


def test_the_estimate_counts_the_variants_training_attack():
    """The madry_attack models train against PGD-40: the estimate counts 40 steps for them, not the base's 5."""
    profile = get_profile("deviations")
    per_step = profile.train_steps * profile.batch_size
    base = len([c for c in study_models("mnist", "deviations") if c.localization != "natural" and not c.variant])
    assert training_image_steps(profile, "mnist") > per_step * (base * 6 + 6 * (MADRY_TRAIN_PGD_STEPS + 1))


def synthetic_evaluation(profile: str) -> None:
    """Evaluation tables of every model ``profile`` evaluates, as ``03_evaluate`` writes them, from synthetic
    per-image results (each model's losses its own), and a finished checkpoint of every model it trains that has
    none yet (its fingerprint made from its settings, its weights empty)."""
    from lat_utils.paths import tables_dir
    from lat_utils.spec.paper import ATTACK_KINDS
    from lat_utils.study.evaluation import tables_of
    from lat_utils.study.plan import evaluated_models

    generator = torch.Generator().manual_seed(0)
    caches = {}
    for i, config in enumerate(evaluated_models("mnist", profile)):
        cells = {}
        for attack in ("natural", *ATTACK_KINDS["mnist"]):
            loss = (0.05 if attack == "natural" else 1.0 + i / 10) * torch.rand(50, generator=generator)
            correct = loss < 0.5
            cells[attack] = {"loss": loss, "correct": correct, "pgd_loss": loss, "pgd_correct": correct,
                             "broken_by": ["" if c else "apgd-ce" for c in correct]}
        caches[config] = {"cells": cells, "profile": config.settings, "precision": "fp32", "collapsed": False,
                          "exact": True}
    table, per_image = tables_of(caches)
    table.to_csv(tables_dir(profile) / "eval_mnist.csv", index=False)
    per_image.to_csv(tables_dir(profile) / "per_image_mnist.csv.gz", index=False)
    for config in study_models("mnist", profile):
        if load_checkpoint(checkpoint_path(config), config) is None:
            save_checkpoint(config, {}, {}, step=config.settings.train_steps, done=True, seconds=0.0)


@pytest.mark.notebooks
def test_the_deviations_notebooks_run_on_a_variants_model(run_folder):
    """What the deviations profile runs beyond the paper profile's notebooks (the session's study): a variant's
    ``02_train``, whose settings reach its checkpoint through the notebook's parameters, and ``08_deviations``
    (its dry run, on synthetic evaluation tables of every configuration's models) with a verdict per claim and
    configuration, the robust-or-depends line per claim, and each configuration's settings read back from its
    checkpoints."""
    from lat_utils import runner
    from lat_utils.paths import reports_dir, tables_dir

    profile = "deviations-dry-run"
    stages = runner.plan(profile)
    variant = next(e for e in stages[0] if e.parameters["variant"] == "paper_lr"
                   and e.parameters["localization"] == "natural" and e.parameters["seed"] == 0)
    runner.execute(variant, profile)
    synthetic_evaluation(profile)
    runner.execute(next(e for e in stages[-1] if e.notebook == "08_deviations.ipynb"), profile)

    report = (reports_dir(profile) / "08_deviations.ipynb").read_text()
    assert "# DRY RUN of the deviations profile" in report
    by_configuration = pd.read_csv(tables_dir(profile) / "claims_by_configuration.csv", keep_default_na=False)
    assert set(by_configuration["configuration"]) == {BASE, *VARIANTS, FINAL_PROJECTION}
    assert by_configuration.groupby("configuration").size().nunique() == 1   # every claim in every configuration
    robust = pd.read_csv(tables_dir(profile) / "claims_robustness.csv", keep_default_na=False)
    assert (robust[BUDGET_AXIS] == "not measured: no long run here").all()   # the test's output folder has none
    lines = robust["robust or depends"]
    assert lines.str.match(r"^(robust to our cuts|depends on .+)( \(not judged under .+: mixed configurations\))?$").all()
    used = trained_settings(profile).set_index(["model", "seed"])
    trained = used.loc[("natural [paper_lr]", 0)]   # the one the notebook trained, as the profile's dry run trains it
    assert trained["learning_rate"] == LEARNING_RATE and trained["finished"]
    assert trained["train_steps"] == get_profile(profile).train_steps
    assert (used.loc[used.index.get_level_values("model").str.endswith("[no_warmup]"), "eps_warmup_fraction"] == 0).all()
    assert used.loc[("standard", 0), "learning_rate"] == 1e-3 and set(used.index.get_level_values("seed")) == {0, 1}


def test_the_profiles_own_models_are_found_in_a_table_read_back_from_csv(tmp_path):
    """A CSV reads an empty variant back as NaN: the claims and the configurations still find the models of the
    profile's own settings."""
    table, per_image = synthetic_results("mnist", MNIST_LOSSES)
    for model in VARIANTS["paper_lr"].localizations:
        table, per_image = with_variant_models(table, per_image, model, "paper_lr", 3.0)
    table.to_csv(tmp_path / "eval.csv", index=False)
    read = pd.read_csv(tmp_path / "eval.csv")
    assert read["variant"].isna().any()
    chosen = {c.name: c for c in configurations(get_profile("deviations"))}
    for configuration in (BASE, "paper_lr"):
        assert set(configuration_table(read, chosen[configuration])["model"]) == set(MODEL_KINDS["mnist"])
    claims = claims_table({"mnist": read}, {"mnist": per_image}, get_profile("deviations"))
    assert (claims.loc[claims["claim"].str.contains("MNIST"), "seeds"] > 0).all()


def test_a_claim_is_judged_under_a_configuration_only_on_models_trained_under_it():
    """The paper's learning rate would change every model's training but retrains only the central ones: a claim on
    the broad model is not judged under it (mixed configurations), and robustness leaves it out; a claim on the
    natural and standard models under Madry et al.'s attack is judged (a natural model trains without an attack)."""
    table, per_image = synthetic_results("mnist", MNIST_LOSSES, seeds=(0, 1), n=300, noise=0.05)
    for variant in VARIANTS:
        for model in VARIANTS[variant].localizations:
            table, per_image = with_variant_models(table, per_image, model, variant, 1.0)
    table, per_image = with_variant_models(table, per_image, "background", "", 1.0, projection="final")
    by_configuration = claims_by_configuration({"mnist": table}, {"mnist": per_image}, get_profile("deviations"))
    verdicts = by_configuration.set_index(["configuration", "claim"])
    broad = "MNIST broad model: at least 65.3% less adversarial loss than the standard model (all 4 attacks)"
    for configuration in ("paper_lr", "no_warmup", "madry_attack", FINAL_PROJECTION):
        assert verdicts.loc[(configuration, broad), "verdict"] == "not comparable"
        assert verdicts.loc[(configuration, broad), "reason"].startswith("mixed configurations")
    standard = "MNIST standard model: at least 99% less adversarial loss than the natural model"
    assert not verdicts.loc[("madry_attack", standard), "reason"].startswith("mixed")
    assert not verdicts.loc[(FINAL_PROJECTION, standard), "reason"].startswith("mixed")
    line = robustness(by_configuration).set_index("claim").loc[broad, "robust or depends"]
    assert line.startswith("robust to our cuts (not judged under final_projection, madry_attack, no_warmup, paper_lr")


def test_the_budget_is_an_axis_beside_the_configurations():
    """The budget is not retrained by the deviations study: each claim's line says how its verdict moves across the
    long profile's budgets (its claims_trends.csv, on the paper's CNN), "stable" where it does not."""
    table = pd.DataFrame({"claim": ["a", "b", "c"], "reading": ["as stated (0.3)"] * 3, "robust or depends": ["robust to our cuts"] * 3})
    trends = pd.DataFrame({
        "claim": ["a", "b", "b"], "network": ["paper_cnn", "paper_cnn", "airbench"], "reading": ["as stated (0.3)"] * 3,
        "first verdict": ["direction only", "inconclusive", "x"], "last verdict": ["direction only", "supported", "x"],
        "trend": ["stable", "toward the paper", "stable"],
        "why": ["'direction only' at all 9 budgets", "16.5% at long, 1/64 -> 98.4% at long, end; paper 99%", "?"]})
    axis = with_budget_axis(table, trends).set_index("claim")[BUDGET_AXIS]
    assert axis["a"] == "stable: 'direction only' at all 9 budgets"
    assert axis["b"] == ("toward the paper: inconclusive -> supported (16.5% at long, 1/64 -> 98.4% at long, end; "
                         "paper 99%)")
    assert axis["c"].startswith("not measured")
    assert (with_budget_axis(table, None)[BUDGET_AXIS] == "not measured: no long run here").all()
