import dataclasses

import pandas as pd
import pytest
import torch

from lat_utils import config, evaluation, training
from lat_utils.training import TrainConfig, eps_at, load_trained, study_models, train_model


@pytest.fixture
def run_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "runs_dir", lambda profile: tmp_path)
    monkeypatch.setattr(evaluation, "runs_dir", lambda profile: tmp_path)
    monkeypatch.setattr(evaluation, "tables_dir", lambda profile: tmp_path)
    return tmp_path


class Interrupt(Exception):
    pass


def test_trains_once_then_loads(run_folder):
    cfg = TrainConfig("mnist", "background", profile="smoke")
    first = train_model(cfg, progress=False)
    assert first.resumed_from == 0 and first.checkpoint_path.exists()
    log = pd.read_csv(first.log_path)
    assert log["step"].iloc[-1] == config.get_profile("smoke").train_steps
    second = train_model(cfg, progress=False)
    assert second.resumed_from == -1, "a finished model must be loaded, not retrained"
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)


def test_interrupted_training_resumes_where_it_stopped(run_folder, monkeypatch):
    cfg = TrainConfig("mnist", "exact", profile="smoke")
    calls = {"n": 0}
    original_step = torch.optim.Adam.step

    def failing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 12:
            raise Interrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", failing_step)
    with pytest.raises(Interrupt):
        train_model(cfg, progress=False, checkpoint_every=0.0)  # checkpoint after every step
    monkeypatch.setattr(torch.optim.Adam, "step", original_step)
    resumed = train_model(cfg, progress=False)
    assert resumed.resumed_from == 11
    log = pd.read_csv(resumed.log_path)
    assert log["step"].is_monotonic_increasing and log["step"].is_unique
    assert log["step"].iloc[-1] == config.get_profile("smoke").train_steps
    assert isinstance(load_trained(cfg), torch.nn.Module)


def test_checkpoint_of_another_config_is_refused(run_folder, monkeypatch):
    cfg = TrainConfig("mnist", "natural", profile="smoke")
    train_model(cfg, progress=False)
    changed = dataclasses.replace(config.PROFILES["smoke"], learning_rate=0.5)
    monkeypatch.setitem(config.PROFILES, "smoke", changed)
    with pytest.raises(ValueError, match="made with another config"):
        train_model(cfg, progress=False)
    with pytest.raises(ValueError, match="made with another config"):
        load_trained(cfg)


def test_missing_model_is_a_clear_error(run_folder):
    with pytest.raises(FileNotFoundError, match="run its training first"):
        load_trained(TrainConfig("mnist", "broad", profile="smoke"))


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="unknown localization 'exact' for cifar10"):
        TrainConfig("cifar10", "exact")
    with pytest.raises(ValueError, match="unknown dataset"):
        TrainConfig("svhn", "natural")
    with pytest.raises(ValueError, match="unknown profile"):
        TrainConfig("mnist", "natural", profile="huge")
    with pytest.raises(ValueError, match="unknown projection"):
        TrainConfig("mnist", "exact", projection="sometimes")


def test_eps_warmup_reaches_eps_halfway():
    profile = config.get_profile("quick")
    assert eps_at(0, profile) < 0.01
    assert eps_at(profile.train_steps // 2, profile) == pytest.approx(profile.eps)
    assert eps_at(profile.train_steps - 1, profile) == pytest.approx(profile.eps)
    assert eps_at(0, config.get_profile("paper")) == config.EPS


def test_study_models_cover_the_paper():
    names = [c.name for c in study_models("mnist", "quick")]
    assert names == ["natural", "standard", "background", "background (final)", "exact", "broad"]
    assert [c.name for c in study_models("cifar10", "quick")] == ["natural", "standard", "background"]


def test_cross_evaluation_is_tidy_and_cached(run_folder, monkeypatch):
    for cfg in study_models("cifar10", "smoke"):
        train_model(cfg, progress=False)
    table = evaluation.cross_evaluate("cifar10", "smoke", progress=False)
    assert list(table.columns) == evaluation.EVAL_COLUMNS
    assert len(table) == 3 * 3  # 3 models x (natural + 2 attacks)
    assert table["n"].eq(100).all() and not table["exact_data"].any()
    natural = table.set_index(["model", "attack"])
    assert (natural.loc[("natural", "standard"), "loss"] > natural.loc[("natural", "natural"), "loss"])

    def no_more_work(*args, **kwargs):
        raise AssertionError("a cached evaluation was recomputed")

    monkeypatch.setattr(evaluation, "evaluate", no_more_work)
    again = evaluation.cross_evaluate("cifar10", "smoke", progress=False)
    pd.testing.assert_frame_equal(table, again)
