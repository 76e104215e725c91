"""The second CIFAR-10 network (airbench94's, ``AirbenchNet``) and its training recipe: the network, its
whitening layer, the recipe's pieces (optimizer groups, schedule, augmentation, label smoothing), the attacks'
contract on it, and a checkpoint of one network never taken for another's."""

import copy
import dataclasses

import pytest
import torch

from lat_utils import config
from lat_utils.attacks import PGD, localized_autoattack, masked_apgd, masked_pgd, masked_square
from lat_utils.config import get_profile
from lat_utils.data import load_dataset
from lat_utils.masks import epsilon_matrix
from lat_utils.models import AirbenchNet, PaperCNN, model_for
from lat_utils.runner.notebooks import plan
from lat_utils.spec import recipes, settings
from lat_utils.spec.budgets import AutoAttackBudget
from lat_utils.study import optimizers, training
from lat_utils.study.checkpoints import checkpoint_path, fingerprint, load_checkpoint, save_checkpoint
from lat_utils.study.plan import TrainConfig, study_models, together_groups


def _net(seed: int = 0) -> AirbenchNet:
    torch.manual_seed(seed)
    return model_for("cifar10", "airbench")


def test_model_for_builds_each_network_for_its_datasets_only():
    assert isinstance(model_for("cifar10", "airbench"), AirbenchNet)
    assert isinstance(model_for("cifar10"), PaperCNN)
    with pytest.raises(ValueError, match="airbench network is for cifar10, not mnist"):
        model_for("mnist", "airbench")
    with pytest.raises(ValueError, match="unknown network 'resnet'"):
        model_for("cifar10", "resnet")
    assert isinstance(model_for("mnist", "paper_cnn"), PaperCNN)


def test_airbench_net_takes_images_in_pixel_space_and_gives_logits():
    model = _net().eval()
    assert model(torch.rand(5, 3, 32, 32)).shape == (5, 10)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 1.9e6 < trainable < 2.1e6   # airbench94's network: about 2M parameters
    assert not model.whiten.weight.requires_grad
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 6 and all(not m.weight.requires_grad and m.bias.requires_grad for m in norms)


def test_whitening_layer_decorrelates_the_training_patches():
    images = torch.rand(200, 3, 32, 32) ** 2   # correlated channels would do too; any non-white data
    images[:, 1] = 0.5 * images[:, 0] + 0.5 * images[:, 1]
    model = _net().whiten_from(images)
    patches = ((images - model.mean) / model.std).unfold(2, 2, 1).unfold(3, 2, 1)
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    white = patches @ model.whiten.weight.flatten(1)[:12].T   # the first 12 filters; the other 12 are their negatives
    covariance = white.T @ white / len(white)
    assert torch.allclose(covariance, torch.eye(12), atol=2e-2)
    assert torch.equal(model.whiten.weight[12:], -model.whiten.weight[:12])


def test_convolutions_start_as_identities_on_their_inputs():
    conv = _net().features[1]   # the first group's first convolution: 24 -> 64 channels
    assert conv.weight.shape == (64, 24, 3, 3)
    assert torch.equal(conv.weight[:24, :, 1, 1], torch.eye(24))


ATTACKS = {
    "pgd": lambda m, x, y, e: masked_pgd(m, x, y, e, PGD(steps=2, step_size=0.1)),
    "pgd-final": lambda m, x, y, e: masked_pgd(m, x, y, e, PGD(steps=2, step_size=0.1, projection="final")),
    "apgd-ce": lambda m, x, y, e: masked_apgd(m, x, y, e, steps=3),
    "apgd-t": lambda m, x, y, e: masked_apgd(m, x, y, e, steps=3, loss="dlr-targeted", targets=2),
    "square": lambda m, x, y, e: masked_square(m, x, y, e, queries=6),
    "autoattack": lambda m, x, y, e: localized_autoattack(m, x, y, e, AutoAttackBudget(2, 1, 3),
                                                          pgd=PGD(steps=1, step_size=0.1)).images,
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_attack_keeps_its_contract_on_the_airbench_net(attack):
    """Epsilon matrix respected, batch norm's statistics and every weight untouched, the model's (training) mode
    restored: the attacks run the network as it is scored, in eval mode."""
    model = _net().whiten_from(torch.rand(20, 3, 32, 32)).train()
    with torch.no_grad():   # running statistics other than the initial ones, so that a change would show
        model(torch.rand(64, 3, 32, 32))
    before = copy.deepcopy(model.state_dict())
    images, labels = torch.rand(3, 3, 32, 32), torch.tensor([0, 3, 9])
    eps_matrix = epsilon_matrix(images, "background", 8 / 255)
    x_adv = ATTACKS[attack](model, images, labels, eps_matrix)
    assert ((x_adv - images).abs() <= eps_matrix + 1e-6).all()
    assert torch.equal(x_adv[eps_matrix == 0], images[eps_matrix == 0])
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "an attack changed the model"


# --- the recipe ---

def test_the_recipe_reaches_the_settings_of_an_airbench_model_only():
    paper, net = TrainConfig("cifar10", "natural", profile="long"), TrainConfig("cifar10", "natural", profile="long",
                                                                               network="airbench")
    assert paper.settings == get_profile("long")
    recipe = net.settings
    assert (recipe.optimizer, recipe.batch_size, recipe.lr_schedule, recipe.augment) == (
        "airbench_sgd", recipes.AIRBENCH_BATCH_SIZE, "triangle", True)
    assert recipe.label_smoothing == recipes.AIRBENCH_LABEL_SMOOTHING
    assert recipe.train_steps == recipes.AIRBENCH_EPOCHS * (50_000 // recipes.AIRBENCH_BATCH_SIZE)
    assert recipe.eps == paper.settings.eps and recipe.n_test == paper.settings.n_test   # the evaluation: the profile's
    assert TrainConfig("cifar10", "natural", profile="smoke", network="airbench").settings.train_steps == \
        get_profile("smoke").network_train_steps


def test_airbench_models_have_their_own_names_keys_and_fingerprints():
    paper = TrainConfig("cifar10", "standard", profile="smoke", reading="raw")
    net = dataclasses.replace(paper, network="airbench")
    assert net.key == "cifar10-airbench-standard-per_step-eps_raw-seed0" and net.name == "standard on airbench"
    assert paper.key == "cifar10-standard-per_step-eps_raw-seed0"   # the paper CNN's files keep their names
    assert fingerprint(paper)["config"]["network"] == "paper_cnn" and fingerprint(paper)["training"]["optimizer"] == "adam"
    assert fingerprint(net)["config"]["network"] == "airbench"
    assert fingerprint(net)["training"]["optimizer"] == "airbench_sgd"
    with pytest.raises(ValueError, match="airbench network is for cifar10"):
        TrainConfig("mnist", "natural", network="airbench")
    with pytest.raises(ValueError, match="unknown network"):
        TrainConfig("cifar10", "natural", network="vgg")


def test_a_checkpoint_of_one_network_is_never_loaded_as_another():
    paper = TrainConfig("cifar10", "natural", profile="smoke")
    net = dataclasses.replace(paper, network="airbench")
    save_checkpoint(paper, PaperCNN(3, 32).state_dict(), {}, 1, True, 0.0)
    checkpoint_path(paper).rename(checkpoint_path(net))   # the paper CNN's file where the airbench model's belongs
    with pytest.raises(ValueError, match="made with another config"):
        load_checkpoint(checkpoint_path(net), net)
    checkpoint_path(net).unlink()


def test_optimizer_groups_follow_airbench94():
    model = _net()
    settings = TrainConfig("cifar10", "natural", profile="long", network="airbench").settings
    optimizer = optimizers.optimizer_for(model, settings)
    weights, shifts, whiten_bias = optimizer.param_groups
    assert isinstance(optimizer, optimizers.Lookahead) and isinstance(optimizer.optimizer, torch.optim.SGD)
    assert weights["nesterov"] and weights["momentum"] == 0.85
    assert len(shifts["params"]) == 6 and shifts["lr_scale"] == recipes.AIRBENCH_BIAS_LR_SCALE
    assert whiten_bias["params"] == [model.whiten.bias] and whiten_bias["until"] == recipes.AIRBENCH_WHITEN_BIAS_FRACTION
    counted = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    assert counted == sum(p.numel() for p in model.parameters() if p.requires_grad)
    for group in optimizer.param_groups:   # the same shrink per step at the peak, whatever the group's rate
        assert group["lr"] * group["weight_decay"] == pytest.approx(recipes.AIRBENCH_WEIGHT_DECAY)
    late = int(0.5 * settings.train_steps)
    optimizers.set_learning_rate(optimizer, late, settings)
    assert whiten_bias["lr"] == 0 and shifts["lr"] == pytest.approx(64 * weights["lr"]) and weights["lr"] > 0


def test_triangle_schedule_rises_to_the_peak_then_falls():
    settings = TrainConfig("cifar10", "natural", profile="long", network="airbench").settings
    rates = [optimizers.learning_rate_at(step, settings) / settings.learning_rate for step in range(settings.train_steps)]
    start, peak, end = recipes.AIRBENCH_LR_TRIANGLE
    top = int(peak * settings.train_steps)
    assert rates[0] == pytest.approx(start) and rates[top] == pytest.approx(1.0) and max(rates) == rates[top]
    assert rates[-1] == pytest.approx(end, abs=0.01)
    assert all(a < b for a, b in zip(rates[:top], rates[1:top + 1]))
    assert all(a > b for a, b in zip(rates[top:-1], rates[top + 1:]))


def test_augmentation_flips_and_shifts_each_image_reproducibly():
    images = torch.rand(64, 3, 32, 32)
    out = optimizers.augmented(images, step=7, seed=1)
    assert out.shape == images.shape and torch.equal(out, optimizers.augmented(images, step=7, seed=1))
    assert not torch.equal(out, optimizers.augmented(images, step=8, seed=1))
    assert out.min() >= images.min() and out.max() <= images.max()
    # the centre of each image is a shifted (and perhaps flipped) copy of the original's
    for image, shifted in zip(images, out):
        centre = shifted[:, 2:30, 2:30]
        candidates = [v[:, 2 + dy:30 + dy, 2 + dx:30 + dx] for v in (image, image.flip(-1))
                      for dy in range(-2, 3) for dx in range(-2, 3)]
        assert any(torch.equal(centre, c) for c in candidates)


def test_label_smoothing_reaches_the_training_loss():
    model, images, labels = _net().train(), torch.rand(8, 3, 32, 32), torch.arange(8)
    plain = dataclasses.replace(get_profile("smoke"), attack_precision="fp32")
    losses = []
    for smoothing in (0.0, 0.2):
        trained = copy.deepcopy(model)
        settings = dataclasses.replace(plain, label_smoothing=smoothing)
        step = training.training_step(trained, optimizers.optimizer_for(trained, settings), (images, labels), "natural",
                                      eps=0.0, settings=settings)
        losses.append(float(step.losses))
    expected = torch.nn.functional.cross_entropy(step.logits, labels, label_smoothing=0.2)
    assert losses[1] == pytest.approx(float(expected), rel=1e-5) and losses[0] != pytest.approx(losses[1])


def test_airbench_models_train_alone(monkeypatch):
    """Trained by the study's own loop (the smoke profile's dry run: a step of batch 64), whitening set from the
    data, and never stacked with others (batch norm's buffers): a group trained "together" (one 02_train notebook)
    trains each of its models in turn."""
    profile = dataclasses.replace(get_profile("smoke-dry-run"), name="airbench-smoke", cifar10_networks=("airbench",))
    monkeypatch.setitem(config.PROFILES, "airbench-smoke", profile)
    group = [TrainConfig("cifar10", kind, profile="airbench-smoke", reading="raw", network="airbench")
             for kind in ("standard", "background")]
    trained = training.trained_models(group[0], together=True, progress=False)
    assert [t.config for t in trained] == group
    assert [type(t.model) for t in trained] == [AirbenchNet, AirbenchNet]
    whitened = _net().whiten_from(load_dataset("cifar10", "train").images[:recipes.AIRBENCH_WHITEN_IMAGES]).whiten
    assert all(torch.allclose(t.model.whiten.weight, whitened.weight) for t in trained)   # frozen while training
    state = load_checkpoint(checkpoint_path(group[0]), group[0])
    assert state["done"] and state["step"] == get_profile("smoke").network_train_steps
    assert group[0].settings.batch_size == settings.DRY_RUN_BATCH   # the network's 1,024, shrunk as a dry run shrinks it


def test_a_profile_trains_each_of_its_cifar10_networks(monkeypatch):
    """Every CIFAR-10 model once per network the profile lists, each network's models grouped apart, and the
    network passed to the training notebook."""
    profile = dataclasses.replace(get_profile("smoke"), name="two-networks", cifar10_networks=("paper_cnn", "airbench"))
    monkeypatch.setitem(config.PROFILES, "two-networks", profile)
    models = study_models("cifar10", "two-networks")
    assert sorted({m.network for m in models}) == ["airbench", "paper_cnn"]
    assert len(models) == 2 * len(study_models("cifar10", "smoke"))
    assert all(len({c.network for c in group}) == 1 for group in together_groups("cifar10", "two-networks"))
    trainings = [e for e in plan("two-networks", together=True)[0] if e.notebook == "02_train.ipynb"]
    assert "02_train_cifar10-airbench-together-per_step-eps_raw-seed0.ipynb" in [e.output for e in trainings]
    assert {e.parameters["network"] for e in trainings if e.parameters["dataset"] == "cifar10"} == {"paper_cnn", "airbench"}
    with pytest.raises(ValueError, match="unknown CIFAR-10 networks"):
        dataclasses.replace(profile, cifar10_networks=("resnet",))


def _lookahead(model: torch.nn.Module) -> optimizers.Lookahead:
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.85, nesterov=True)
    return optimizers.Lookahead(sgd, model, total=20, steps_per_epoch=4)


def _lookahead_run(steps: int, resume_at: int | None = None) -> dict:
    """A tiny batch-norm model trained ``steps`` steps under ``Lookahead`` (20 steps in all, 4 per epoch), optionally
    stopped at ``resume_at`` and resumed from the state dicts into fresh objects."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    optimizer = _lookahead(model)
    data = torch.randn(20, 8, 3, generator=torch.Generator().manual_seed(1))
    for step in range(steps):
        if step == resume_at:
            saved_model, saved_optimizer = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
            model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
            model.load_state_dict(saved_model)
            optimizer = _lookahead(model)
            optimizer.load_state_dict(saved_optimizer)
        optimizer.zero_grad()
        model(data[step]).square().mean().backward()
        optimizer.step()
    return {"weights": model.state_dict(), "average": optimizer.average}


def test_lookahead_averages_the_weights_after_its_start_and_resumes_exactly():
    early = _lookahead_run(6)             # 6 of 20 steps: before 30% of training, no average yet
    assert early["average"] is None
    done = _lookahead_run(20)
    assert done["average"] is not None   # the weights (and batch norm's statistics) are the average at the end
    assert all(torch.equal(done["weights"][k], v) for k, v in done["average"].items())
    assert "1.running_mean" in done["average"]
    resumed = _lookahead_run(20, resume_at=11)   # stopped after the average began
    assert all(torch.equal(resumed["weights"][k], v) for k, v in done["weights"].items())


def test_lookahead_changes_the_training():
    """With the averaging the weights end elsewhere than plain SGD's: it is part of the optimizer, not a no-op."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    plain = copy.deepcopy(model)
    data = torch.randn(20, 8, 3, generator=torch.Generator().manual_seed(1))
    averaged = _lookahead(model)
    sgd = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.85, nesterov=True)
    for batch in data:
        for m, o in ((model, averaged), (plain, sgd)):
            o.zero_grad()
            m(batch).square().mean().backward()
            o.step()
    assert not torch.allclose(model[0].weight, plain[0].weight)


def test_the_airbench_profile_plans_cifar10_alone_on_its_network():
    """The airbench profile's differences from the paper profile, whose dry run (the session's study) trains,
    evaluates, sweeps and judges airbench models end to end: no MNIST and no ImageNet notebook, every training on
    airbench's network, the eps sweep and both claims notebooks still planned (the deviations dry run runs a
    profile with one dataset absent end to end)."""
    stages = plan("airbench-dry-run")
    notebooks = [e.output for stage in stages for e in stage]
    assert not any("mnist" in n or "imagenet" in n for n in notebooks), notebooks
    assert {"03_evaluate_cifar10.ipynb", "04_cifar10_eps.ipynb", "05_figures_and_claims.ipynb",
            "06_budgets.ipynb"} <= set(notebooks)
    trainings = [e for stage in stages for e in stage if e.notebook == "02_train.ipynb"]
    assert trainings and {e.parameters["network"] for e in trainings} == {"airbench"}
    models = study_models("cifar10", "airbench-dry-run")
    assert {c.name for c in models} == {"natural on airbench", "standard on airbench", "background on airbench"}
    assert study_models("mnist", "airbench-dry-run") == []
