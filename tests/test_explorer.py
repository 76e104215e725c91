"""The explorer's library half (lat_utils.report.explorer); the notebook itself runs in the session's study."""

import pytest
import torch

from lat_utils.report import explorer
from lat_utils.study import TrainConfig, train_model


@pytest.fixture
def finished(run_folder):
    """The smoke profile with two finished MNIST models and nothing else."""
    for localization in ("natural", "standard"):
        train_model(TrainConfig("mnist", localization, profile="smoke"), progress=False)
    return explorer.finished_models("smoke")


def test_only_finished_models_are_offered(finished):
    assert list(finished) == ["mnist"] and list(finished["mnist"]) == ["natural", "standard"]
    assert finished["mnist"]["standard"] == TrainConfig("mnist", "standard", profile="smoke")
    with pytest.raises(ValueError, match=r"no finished mnist model 'broad': choose one of \['natural', 'standard'\]"):
        explorer.model_config(finished, "mnist", "broad")
    with pytest.raises(ValueError, match="no finished model of 'cifar10'"):
        explorer.model_config(finished, "cifar10", "natural")


def test_attack_outcome_gives_each_images_predictions_and_losses(digits):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10)).eval()
    images, labels = digits[0][:6], digits[1][:6]
    outcome = explorer.attack_outcome(model, images, labels, images.flip(-1))
    assert list(outcome.columns) == ["label", "prediction", "loss", "attacked prediction", "attacked loss"]
    assert outcome["label"].tolist() == labels.tolist()
    assert outcome["prediction"].tolist() == model(images).argmax(1).tolist()
    assert outcome["attacked prediction"].tolist() == model(images.flip(-1)).argmax(1).tolist()
    assert (outcome["loss"] > 0).all() and (outcome["attacked loss"] > 0).all()


def test_the_controls_call_the_view_once_per_change_with_what_is_chosen(finished):
    calls = []
    controls = explorer.explorer_controls(finished, lambda **chosen: calls.append(chosen), dataset="mnist",
                                          model="standard", mask="background", eps_scale=1.0)
    assert calls == [], "the notebook draws the starting view itself"
    datasets, models, masks, scale = controls.children[0].children
    masks.value = "exact"
    scale.value = 0.5
    assert calls == [{"dataset": "mnist", "model": "standard", "mask": "exact", "eps_scale": 1.0},
                     {"dataset": "mnist", "model": "standard", "mask": "exact", "eps_scale": 0.5}]
    assert list(models.options) == ["natural", "standard"] and "broad" in masks.options
