"""Learning curves (milestones of training, evaluated once), the claims at each milestone, the claims
across budgets, and profiles that give the central models more seeds."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from lat_utils import config
from lat_utils.config import get_profile
from lat_utils.report import plots
from lat_utils.spec import paper
from lat_utils.spec.paper import ATTACK_KINDS, CENTRAL_MODELS
from lat_utils.study import budgets, checkpoints, curves, evaluation
from lat_utils.study.checkpoints import milestone_steps
from lat_utils.study.plan import TrainConfig, study_models
from lat_utils.study.training import train_model

from .helpers import claims_of, synthetic_results


def test_milestones_are_fractions_of_training():
    assert milestone_steps(get_profile("smoke")) == [5, 10]
    assert milestone_steps(get_profile("paper"))[0] == round(paper.TRAIN_STEPS / 64)
    assert milestone_steps(get_profile("paper"))[-1] == paper.TRAIN_STEPS
    assert milestone_steps(get_profile("quick")) == []
    with pytest.raises(ValueError, match="increasing fractions"):
        dataclasses.replace(get_profile("smoke"), milestones=(0.5, 0.25))
    with pytest.raises(ValueError, match="increasing fractions"):
        dataclasses.replace(get_profile("smoke"), milestones=(0.0, 1.0))


def test_training_keeps_the_milestones_and_the_last_is_the_final_model(run_folder):
    cfg = TrainConfig("mnist", "background", profile="smoke")
    trained = train_model(cfg, progress=False)
    final = trained.model.state_dict()
    last = checkpoints.load_milestone(cfg, 10).state_dict()
    assert all(torch.equal(final[k], last[k]) for k in final)
    half = checkpoints.load_milestone(cfg, 5).state_dict()
    assert not all(torch.equal(final[k], half[k]) for k in final), "the half-way weights must differ from the final"
    with pytest.raises(FileNotFoundError, match="no weights of mnist-background-per_step-seed0 at step 7"):
        checkpoints.load_milestone(cfg, 7)


def test_a_milestone_is_evaluated_once(run_folder, monkeypatch):
    cfg = TrainConfig("mnist", "exact", profile="smoke")
    train_model(cfg, progress=False)
    table = curves.evaluate_milestones(cfg, progress=False)
    profile = get_profile("smoke")
    assert list(table.columns) == curves.CURVE_COLUMNS
    assert sorted(table["step"].unique()) == [5, 10]
    assert set(table["attack"]) == {"natural", *ATTACK_KINDS["mnist"]}
    natural = table["attack"] == "natural"   # natural inputs on the whole test set (the smoke profile's cap of it)
    assert (table["n"] == natural.map({True: profile.image_cap, False: profile.curve_n})).all()
    assert (table["apgd_steps"] == 0).all()
    assert (table.loc[table.attack != "natural", "pgd_steps"] == profile.eval_pgd_steps).all()
    # PGD alone: its accuracy is the reported accuracy
    assert np.allclose(table["accuracy"], table["pgd_accuracy"])

    def no_more_work(*args, **kwargs):
        raise AssertionError("an evaluated milestone was evaluated again")

    monkeypatch.setattr(evaluation, "attacked_scores", no_more_work)
    monkeypatch.setattr(curves, "load_milestone", no_more_work)
    again = curves.evaluate_milestones(cfg, progress=False)
    pd.testing.assert_frame_equal(table, again)


def test_central_seeds_train_the_central_models_only(monkeypatch):
    profile = dataclasses.replace(get_profile("smoke"), name="smoke-seeds", central_seeds=(1, 2), model_kinds=(),
                                  background_projections=("per_step", "final"))
    monkeypatch.setitem(config.PROFILES, "smoke-seeds", profile)
    mnist = study_models("mnist", "smoke-seeds")
    by_seed = {seed: sorted(c.name for c in mnist if c.seed == seed) for seed in (0, 1, 2)}
    assert by_seed[0] == sorted(["natural", "standard", "background", "background (final)", "exact", "broad"])
    assert by_seed[1] == by_seed[2] == sorted(CENTRAL_MODELS["mnist"])
    assert {c.seed for c in study_models("cifar10", "smoke-seeds")} == {0}


def test_claims_use_the_seeds_their_models_have():
    losses = {m: 1.0 for m in paper.MODEL_KINDS["mnist"]}
    losses["standard"] = 2.0
    table, per_image = synthetic_results("mnist", losses, seeds=(0, 1, 2))
    keep = per_image["model"].isin(CENTRAL_MODELS["mnist"]) | (per_image["seed"] == 0)
    claims = claims_of({"mnist": (table[table["seed"].eq(0) | table["model"].isin(CENTRAL_MODELS["mnist"])],
                                per_image[keep])})
    assert claims.loc["MNIST standard model: 39.9% more natural loss than the natural model"].seeds == 3
    assert claims.loc["MNIST broad model: 6.5% less natural loss than the standard model"].seeds == 1


def _claims_file(folder, values, verdicts, steps=None, network="paper_cnn", reading="as stated (0.3)"):
    rows = pd.DataFrame({"claim": ["a", "b", "c"], "reading": reading, "source": "full paper",
                         "paper (%)": [10.0, 10.0, np.nan],
                         "ours (%)": values, "low (%)": np.array(values) - 1, "high (%)": np.array(values) + 1,
                         "share of paper": np.array(values) / 10, "share low": (np.array(values) - 1) / 10,
                         "share high": (np.array(values) + 1) / 10, "seeds": 1, "interval covers": "", "verdict": verdicts, "reason": ""})
    rows.insert(0, "network", network)
    if steps is None:
        rows.to_csv(folder / "claims.csv", index=False)
    else:
        frames = [rows.assign(step=s, fraction=s / steps[-1]) for s in steps]
        pd.concat(frames).to_csv(folder / "claims_milestones.csv", index=False)


def test_claims_across_budgets_and_their_trends(tmp_path, monkeypatch):
    folders = {name: tmp_path / name for name in budgets.COMPARED}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setattr(budgets, "tables_dir", lambda profile: folders[profile])
    _claims_file(folders["quick"], [2.0, 30.0, np.nan], ["direction only", "supported", "inconclusive"])
    long_steps = config.PROFILES["long"].train_steps
    _claims_file(folders["long"], [9.0, 12.0, np.nan], ["supported", "supported", "supported"])
    _claims_file(folders["long"], [5.0, 11.0, np.nan], ["direction only", "supported", "inconclusive"],
                 steps=[long_steps // 2, long_steps])
    _claims_file(folders["airbench"], [50.0, 12.0, np.nan], ["not supported", "supported", "supported"], network="airbench")
    _claims_file(folders["cifar10-eps"], [np.nan] * 3, ["not comparable"] * 3, reading="")   # its dataset not run
    table, left_out = budgets.claims_across_budgets()
    assert left_out == [f"The {p} profile has not run here (no {p}/tables/claims.csv): left out."
                        for p in ("airbench-usual", "paper")]
    assert "cifar10-eps" not in set(table["profile"])   # claims it did not judge are no budget of theirs
    assert list(table.columns) == budgets.BUDGET_COLUMNS
    # the airbench profile's claims are on its own network: followed apart from the paper CNN's budgets
    assert list(table.loc[table["network"] == "airbench", "budget"].unique()) == ["airbench, end"]
    table = table[table["network"] == "paper_cnn"]
    a = table[table["claim"] == "a"]
    assert list(a["budget"]) == ["quick, end", "long, 1/2", "long, all of training", "long, end"]
    assert a["step"].is_monotonic_increasing
    trend = budgets.trends(table).set_index("claim")
    assert trend.loc["a", "trend"] == "toward the paper"        # 2 -> 9 against 10
    assert trend.loc["b", "trend"] == "stable"                  # supported throughout
    assert trend.loc["c", "trend"] == "changes"                 # no paper number
    _claims_file(folders["long"], [9.0, 60.0, np.nan], ["supported", "direction only", "supported"])
    trend = budgets.trends(budgets.claims_across_budgets()[0]).set_index(["claim", "network"])
    assert trend.loc[("b", "paper_cnn"), "trend"] == "away from the paper"
    assert trend.loc[("a", "airbench"), "trend"] == "stable" and trend.loc[("a", "airbench"), "budgets"] == 1
    # the figure's panels name the network a claim was judged on, however long the claim
    everything = budgets.claims_across_budgets()[0]
    everything["claim"] = everything["claim"] + ": a claim as long as the paper's longest, which once lost its end"
    figure = plots.claims_across_budgets(everything, tmp_path / "budgets.png")
    titles = [ax.get_title().replace("\n", " ") for ax in figure.axes if ax.get_title()]
    assert sum(title.endswith("which once lost its end (on airbench)") for title in titles) == 2   # a and b
    assert all("which once lost its end" in title for title in titles)


def test_a_claim_still_moving_between_the_last_two_milestones_is_said_to_be(tmp_path, monkeypatch):
    folders = {name: tmp_path / name for name in budgets.COMPARED}
    for folder in folders.values():
        folder.mkdir()
    monkeypatch.setattr(budgets, "tables_dir", lambda profile: folders[profile])
    steps = config.PROFILES["long"].train_steps
    _claims_file(folders["long"], [9.0, 11.5, np.nan], ["supported", "supported", "inconclusive"])
    milestones = [(steps // 4, [1.0, 11.0, np.nan]), (steps // 2, [5.0, 11.0, np.nan]), (steps, [9.0, 11.5, np.nan])]
    frames = []
    for step, values in milestones:
        _claims_file(folders["long"], values, ["supported"] * 3, steps=[step])
        frames.append(pd.read_csv(folders["long"] / "claims_milestones.csv").assign(fraction=step / steps))
    pd.concat(frames).to_csv(folders["long"] / "claims_milestones.csv", index=False)
    _claims_file(folders["quick"], [2.0, 30.0, np.nan], ["direction only", "supported", "inconclusive"])
    trend = budgets.trends(budgets.claims_across_budgets()[0]).set_index("claim")
    assert trend.loc["a", "last milestones"] == "still moving"   # 5 -> 9, interval ±1
    assert "5% at long, 1/2 -> 9% at long, all of training" in trend.loc["a", "move"]
    assert trend.loc["b", "last milestones"] == "flat"           # 11 -> 11.5, interval ±1
    assert trend.loc["c", "last milestones"] == "not measured"   # no value
    folders["long"].joinpath("claims_milestones.csv").unlink()
    assert set(budgets.trends(budgets.claims_across_budgets()[0])["last milestones"]) == {"not measured"}


def test_a_claim_without_a_number_lists_every_change_of_its_verdict():
    rows = pd.DataFrame({"claim": "combined", "network": "paper_cnn", "reading": "", "paper (%)": np.nan, "ours (%)": np.nan,
                         "step": [1, 2, 3], "budget": ["a", "b", "c"], "measure": "end", "profile": "long",
                         "verdict": ["inconclusive", "supported", "inconclusive"]})
    trend = budgets.trends(rows).iloc[0]
    assert trend["trend"] == "changes" and trend["why"] == "inconclusive -> supported -> inconclusive"
    assert trend["first verdict"] == trend["last verdict"] == "inconclusive"
