import contextlib
import dataclasses
import shutil

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from lat_utils import config
from lat_utils.attacks import PGD, masked_pgd
from lat_utils.config import get_profile
from lat_utils.data import load_dataset
from lat_utils.masks import epsilon_matrix
from lat_utils.models import StackedModels, fast_layout, model_for
from lat_utils.sealed import load_sealed, save_sealed
from lat_utils.spec import paper
from lat_utils.spec.paper import ATTACK_KINDS, TRAIN_PGD_ITERATE
from lat_utils.study import checkpoints, crosscheck, evaluation, plan, training
from lat_utils.study.checkpoints import checkpoint_path, fingerprint, load_trained
from lat_utils.study.optimizers import adam, learning_rate_at
from lat_utils.study.plan import TrainConfig, study_models
from lat_utils.study.training import eps_at, train_model, training_step


class Interrupt(Exception):
    pass


@contextlib.contextmanager
def interrupted_at_optimizer_step(n: int, monkeypatch):
    """Inside the block, the n-th optimizer step raises Interrupt (a kill mid-training)."""
    calls = {"n": 0}
    original_step = torch.optim.Adam.step

    def failing_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise Interrupt
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", failing_step)
    try:
        yield
    finally:
        monkeypatch.setattr(torch.optim.Adam, "step", original_step)


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
    with interrupted_at_optimizer_step(7, monkeypatch), pytest.raises(Interrupt):
        train_model(cfg, progress=False, checkpoint_every=0.0)  # checkpoint after every step
    resumed = train_model(cfg, progress=False)
    assert resumed.resumed_from == 6
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
    assert eps_at(0, config.get_profile("paper")) == paper.EPS


def test_study_models_cover_the_paper():
    names = [c.name for c in study_models("mnist", "paper") if c.seed == 0]
    assert names == ["natural", "standard", "background", "background (final)", "exact", "broad"]
    assert [c.name for c in study_models("mnist", "quick")] == ["natural", "standard", "background", "broad"]
    cifar = [(c.name, c.reading) for c in study_models("cifar10", "paper") if c.seed == 0]
    assert cifar == [(f"{m}{on}", r) for on in ("", " on airbench")   # on the paper's CNN, then on airbench's network
                     for m, r in [("natural", "stated"), *((m, r) for m in ("standard", "background")
                                                           for r in ("raw", "usual", "stated"))]]
    assert [(c.name, c.reading) for c in study_models("cifar10", "quick")] == [
        ("natural", "stated"), ("standard", "raw"), ("background", "raw")]
    evaluated = [(c.name, c.reading) for c in plan.evaluated_models("cifar10", "quick")]
    assert evaluated == [("natural", "raw"), ("standard", "raw"), ("background", "raw")]
    # where adversarial training shows: the paper CNN at 8/255 and at the crossing eps, airbench's network at 8/255
    assert [(c.name, c.reading) for c in study_models("cifar10", "cifar10-eps")] == [
            ("natural", "stated"), ("standard", "usual"), ("standard", "crossing"), ("background", "usual"),
        ("background", "crossing")]
    assert [(c.name, c.reading) for c in study_models("cifar10", "airbench-usual")] == [
        ("natural on airbench", "stated"), ("standard on airbench", "usual"), ("background on airbench", "usual")]
    evaluated = [(c.name, c.reading, c.settings.eps * 255) for c in plan.evaluated_models("cifar10", "cifar10-eps")]
    assert [(name, reading) for name, reading, _ in evaluated] == [
        (m, r) for m in ("natural", "standard", "background") for r in ("usual", "crossing")]
    assert [eps for *_, eps in evaluated] == pytest.approx([8, paper.CROSSING_255] * 3)


@pytest.mark.parametrize("reading", ["raw", "crossing"])
def test_a_reading_reaches_the_training_and_the_evaluation(run_folder, monkeypatch, reading):
    """A CIFAR-10 model of a reading (raw pixels: 0.3/255; the crossing: 1.24/255) is trained and attacked at its
    eps: no perturbation exceeds it."""
    raw = paper.CIFAR10_READINGS[reading]
    changes = {"training": [], "evaluation": []}
    real_pgd, real_autoattack = training.masked_pgd, evaluation.localized_autoattack

    def recorded_pgd(model, x, y, eps_matrix, pgd, **kwargs):
        out = real_pgd(model, x, y, eps_matrix, pgd, **kwargs)
        changes["training"].append(((out - x).abs().max().item(), eps_matrix.max().item()))
        return out

    def recorded_autoattack(model, x, y, eps_matrix, *args, **kwargs):
        result = real_autoattack(model, x, y, eps_matrix, *args, **kwargs)
        changes["evaluation"].append(((result.images - x).abs().max().item(), eps_matrix.max().item()))
        return result

    monkeypatch.setattr(training, "masked_pgd", recorded_pgd)
    monkeypatch.setattr(evaluation, "localized_autoattack", recorded_autoattack)
    cfg = TrainConfig("cifar10", "standard", profile="smoke", reading=reading)
    train_model(cfg, progress=False)
    table = evaluation.evaluate_model(cfg, progress=False)
    assert len(changes["training"]) == get_profile("smoke").train_steps and changes["evaluation"]
    changed, budgets = zip(*changes["training"], *changes["evaluation"])
    assert max(changed) <= raw + 1e-6 and max(budgets) == pytest.approx(raw)
    assert max(change for change, _ in changes["evaluation"]) > raw / 2  # the attack did use its budget
    assert (table["reading"] == reading).all() and table["eps"].eq(raw).all()
    assert f"eps_{reading}" in cfg.key and checkpoints.fingerprint(cfg)["config"]["reading"] == reading
    assert checkpoints.fingerprint(cfg)["training"]["eps"] == pytest.approx(raw)
    assert cfg.settings.eval_step_size == pytest.approx(get_profile("smoke").eval_step_size * raw / paper.EPS)


@pytest.mark.parametrize("localization", ATTACK_KINDS["cifar10"])
@pytest.mark.parametrize("profile, steps, step", [("airbench", 1, 1.25), ("airbench-usual", 2, 0.5)])
def test_the_airbench_training_attacks_keep_the_epsilon_matrix(profile, steps, step, localization):
    """The airbench profiles' cheap training attacks at the field's usual 8/255: the airbench profile's one step of
    1.25 eps from a random start (Wong et al. 2020; its step larger than eps), airbench-usual's PGD-2 of eps/2. Each
    projection keeps every change within the epsilon matrix, the central block untouched under the background mask,
    the images in [0, 1]."""
    settings = get_profile(profile).at_eps(paper.reading_eps("cifar10", "usual"))
    assert settings.train_pgd_steps == steps and settings.train_step_size == pytest.approx(step * settings.eps)
    torch.manual_seed(0)
    model = model_for("cifar10")
    images, labels = torch.rand(8, 3, 32, 32), torch.randint(0, 10, (8,))
    done = training_step(model, adam(model.parameters(), 1e-3), (images, labels), localization, eps=settings.eps,
                         settings=settings)
    change = (done.adversarial - images).abs()
    budget = epsilon_matrix(images, localization, settings.eps)
    assert (change <= budget + 1e-6).all() and (change[budget == 0] == 0).all()
    assert change.max() > settings.eps / 2 and 0 <= done.adversarial.min() and done.adversarial.max() <= 1


def test_a_checkpoint_of_one_reading_is_never_loaded_as_another(run_folder):
    raw = TrainConfig("cifar10", "background", profile="smoke", reading="raw")
    stated = dataclasses.replace(raw, reading="stated")
    assert raw.key != stated.key and "eps_raw" in raw.key
    trained = train_model(raw, progress=False)
    checkpoints.checkpoint_path(stated).write_bytes(trained.checkpoint_path.read_bytes())  # the wrong file, renamed
    with pytest.raises(ValueError, match="made with another config"):
        load_trained(stated)
    natural = TrainConfig("cifar10", "natural", profile="smoke", reading="raw")
    assert natural.key == dataclasses.replace(natural, reading="stated").key  # one natural model for every reading
    assert natural.eval_key != dataclasses.replace(natural, reading="stated").eval_key


def test_cross_evaluation_is_tidy_and_cached(run_folder, monkeypatch):
    monkeypatch.setitem(config.PROFILES, "smoke", dataclasses.replace(get_profile("smoke"), cifar10_readings=("raw", "stated"),
                                                                      n_test=20))  # 20 images: a table's shape
    for cfg in study_models("cifar10", "smoke"):
        train_model(cfg, progress=False)
    table = full = evaluation.cross_evaluate("cifar10", "smoke", progress=False)
    assert list(table.columns) == evaluation.EVAL_COLUMNS
    readings = get_profile("smoke").cifar10_readings
    assert len(table) == 3 * len(readings) * 3  # 3 models at each reading x (natural + 2 attacks)
    assert table.groupby("reading")["eps"].nunique().eq(1).all() and table["eps"].nunique() == len(readings)
    table = table[table["reading"] == "stated"]
    # natural inputs on the whole test set (the smoke profile's cap of it), the attacks on its first n_test images
    smoke = get_profile("smoke")
    assert table["n"].eq(table["attack"].map(lambda a: smoke.image_cap if a == "natural" else smoke.n_test)).all()
    assert smoke.n_test < smoke.image_cap and not table["exact_data"].any()
    natural = table.set_index(["model", "attack"])
    assert (natural.loc[("natural", "standard"), "loss"] > natural.loc[("natural", "natural"), "loss"])
    assert (table["accuracy_low"] <= table["accuracy"]).all() and (table["accuracy"] <= table["accuracy_high"]).all()
    assert (table["loss_low"] <= table["loss"]).all() and (table["loss"] <= table["loss_high"]).all()
    attacked = table[table["attack"] != "natural"]
    assert (attacked["accuracy"] <= attacked["pgd_accuracy"]).all(), "AutoAttack starts with PGD: never weaker"
    assert (attacked["loss"] >= attacked["pgd_loss"] - 1e-6).all()
    per_image = pd.read_csv(evaluation.tables_dir("smoke") / "per_image_cifar10.csv.gz", keep_default_na=False)
    assert len(per_image) == 3 * len(readings) * (smoke.image_cap + 2 * smoke.n_test)
    per_image = per_image[per_image["reading"] == "stated"]
    means = per_image.groupby(["model", "attack"])["loss"].mean()
    assert means.loc[("natural", "standard")] == pytest.approx(natural.loc[("natural", "standard"), "loss"])

    def no_more_work(*args, **kwargs):
        raise AssertionError("a cached evaluation was recomputed")

    monkeypatch.setattr(evaluation, "attacked_scores", no_more_work)
    monkeypatch.setattr(evaluation, "natural_scores", no_more_work)
    again = evaluation.cross_evaluate("cifar10", "smoke", progress=False)
    pd.testing.assert_frame_equal(full, again)
    # the cache is keyed by the checkpoint's content (its seal), not its file's time: a copied folder of runs
    # (every file rewritten, as on another machine) reuses it ...
    runs = evaluation.runs_dir("smoke")
    shutil.copytree(runs, runs.with_name("copied"))
    shutil.rmtree(runs)
    runs.with_name("copied").rename(runs)
    pd.testing.assert_frame_equal(full, evaluation.cross_evaluate("cifar10", "smoke", progress=False))
    # ... and a checkpoint with other weights is evaluated again
    retrained = plan.evaluated_models("cifar10", "smoke")[0]
    state = load_sealed(checkpoint_path(retrained))
    state["model"] = {name: weight + 1 for name, weight in state["model"].items()}
    save_sealed(checkpoint_path(retrained), state)
    with pytest.raises(AssertionError, match="a cached evaluation was recomputed"):
        evaluation.evaluation_cache(retrained, progress=False)


def test_an_interrupted_evaluation_resumes_and_ends_as_an_uninterrupted_one(run_folder, monkeypatch):
    config = TrainConfig("mnist", "exact", profile="smoke")
    train_model(config, progress=False)
    whole = evaluation.evaluate_model(config, progress=False)
    evaluation.cache_path(config).unlink()
    real, calls = evaluation.attacked_scores, []

    def interrupted(*args, **kwargs):
        calls.append(args[3])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "attacked_scores", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluation.evaluate_model(config, progress=False)
    monkeypatch.setattr(evaluation, "attacked_scores", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    resumed = evaluation.evaluate_model(config, progress=False)
    assert calls == ["standard", "background", "exact", "exact", "broad"], "finished cells must not be recomputed"
    pd.testing.assert_frame_equal(whole, resumed)


def test_third_party_check_runs_torchattacks_on_what_we_left_correct(run_folder):
    config = TrainConfig("mnist", "exact", profile="smoke")
    train_model(config, progress=False)
    check = crosscheck.third_party_check(config, progress=False)
    assert list(check.columns) == crosscheck.THIRD_PARTY_COLUMNS
    assert len(check) == len(ATTACK_KINDS["mnist"])
    assert (check["worst case with torchattacks"] <= check["ours"]).all()
    assert check["n"].eq(get_profile("smoke").third_party_n).all()


def test_torchattacks_check_batches_its_images_and_falls_back_when_they_are_reindexed(trained_mnist_model, digits):
    images, labels = digits[0][:12], digits[1][:12]
    eps = 0.15
    mask = (epsilon_matrix(images, "background", eps) > 0).float()
    with pytest.raises(crosscheck.ReindexedBatchError, match="passed 1 images to a wrapper of 12"):
        crosscheck.LocalizingWrapper(trained_mnist_model, images, mask)(images[:1])
    together = crosscheck.torchattacks_broken(trained_mnist_model, images, labels, mask, eps, 5)
    one_by_one = torch.cat([crosscheck.torchattacks_broken(trained_mnist_model, images[i:i + 1], labels[i:i + 1],
                                                           mask[i:i + 1], eps, 5) for i in range(12)])
    assert together.any() and not together.all(), f"eps {eps}, background mask: not a mid-strength setting"
    assert (together == one_by_one).float().mean() >= 0.75   # other random starts, the same attack
    # a label the model does not predict: torchattacks attacks only the images it finds correct (a re-indexed
    # batch), so the check runs one image at a time, and an image wrong from the start counts as broken
    wrong = labels.clone()
    wrong[0] = (trained_mnist_model(images[:1]).argmax(1) + 1) % 10
    broken = crosscheck.torchattacks_broken(trained_mnist_model, images, wrong, mask, eps, 5)
    assert broken[0] and (broken[1:] == one_by_one[1:]).float().mean() >= 0.75


def test_third_party_check_leaves_out_the_extra_seeds_of_the_central_models(monkeypatch):
    profile = dataclasses.replace(get_profile("smoke"), seeds=(0,), central_seeds=(1, 2))
    monkeypatch.setitem(config.PROFILES, "smoke", profile)
    check = crosscheck.third_party_check(TrainConfig("mnist", "standard", profile="smoke", seed=1), progress=False)
    assert check.empty and list(check.columns) == crosscheck.THIRD_PARTY_COLUMNS


# --- training several models together (the GPU path), checked on the CPU ---

def test_stacked_models_compute_what_each_model_computes():
    torch.manual_seed(0)
    models = [model_for("cifar10").eval() for _ in range(3)]
    stacked = StackedModels(models)
    x = torch.rand(3 * 4, 3, 32, 32, requires_grad=True)
    separate = torch.cat([m(x[4 * i:4 * (i + 1)]) for i, m in enumerate(models)])
    together = stacked(x)
    assert torch.allclose(together, separate, atol=1e-5)
    (g_separate,) = torch.autograd.grad(separate.logsumexp(1).sum(), x)
    (g_together,) = torch.autograd.grad(together.logsumexp(1).sum(), x)
    assert torch.allclose(g_together, g_separate, atol=1e-6)
    assert all(torch.equal(v, models[1].state_dict()[k]) for k, v in stacked.state_dict_of(1).items())
    # each model's parameters receive the gradient of its own loss
    y = torch.randint(0, 10, (12,))
    F.cross_entropy(stacked(x.detach()), y, reduction="none").view(3, -1).mean(1).sum().backward()
    for i, model in enumerate(models):
        F.cross_entropy(model(x.detach()[4 * i:4 * (i + 1)]), y[4 * i:4 * (i + 1)]).backward()
        for p, stacked_p in zip(model.parameters(), stacked.stacked):
            assert torch.allclose(stacked_p.grad[i], p.grad, rtol=1e-3, atol=1e-5)


def test_one_adam_over_stacked_parameters_is_one_adam_per_model():
    torch.manual_seed(0)
    models = [model_for("mnist") for _ in range(2)]
    stacked = StackedModels(models)
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]
    optimizer = torch.optim.Adam(stacked.parameters(), lr=1e-3)
    for _ in range(3):  # the same gradients on both sides
        for model in models:
            for p in model.parameters():
                p.grad = torch.randn_like(p)
        for j, stacked_p in enumerate(stacked.stacked):
            stacked_p.grad = torch.stack([list(m.parameters())[j].grad for m in models])
        for o in (*optimizers, optimizer):
            o.step()
    for i, (model, single) in enumerate(zip(models, optimizers)):
        assert all(torch.allclose(v, model.state_dict()[k], atol=1e-7) for k, v in stacked.state_dict_of(i).items())
        sliced, expected = checkpoints.optimizer_state_of(optimizer.state_dict(), i), single.state_dict()
        for index, state in expected["state"].items():
            assert all(torch.allclose(sliced["state"][index][k], v, atol=1e-7) for k, v in state.items())
    restacked = checkpoints.stacked_optimizer_state([checkpoints.optimizer_state_of(optimizer.state_dict(), i)
                                                   for i in range(2)])
    assert all(torch.equal(restacked["state"][0][k], v) for k, v in optimizer.state_dict()["state"][0].items())


def _without_random_start_in_fp32(monkeypatch):
    """Attacks without random start and in float32: then train_together must equal train_model."""
    original = training.masked_pgd

    def deterministic(model, x, y, eps_matrix, pgd, **kwargs):
        return original(model, x, y, eps_matrix, dataclasses.replace(pgd, random_start=False),
                        **{**kwargs, "precision": "fp32"})

    monkeypatch.setattr(training, "masked_pgd", deterministic)


def test_training_together_gives_the_models_of_training_one_by_one(tmp_path, monkeypatch):
    _without_random_start_in_fp32(monkeypatch)
    group = [TrainConfig("mnist", kind, profile="smoke") for kind in ("standard", "exact", "broad")]
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path / "together"))
    together = training.train_together(group, progress=False)
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path / "alone"))
    alone = [train_model(c, progress=False) for c in group]
    # Adam turns float rounding in near-zero gradients into full-size steps, so the weights drift apart
    # by a few learning rates; the training trajectories (same batches, same attacks) must agree
    for a, b in zip(together, alone):
        assert a.config == b.config and a.resumed_from == 0
        log_a, log_b = pd.read_csv(a.log_path), pd.read_csv(b.log_path)
        assert list(log_a["step"]) == list(log_b["step"])
        assert log_a["loss"].to_numpy() == pytest.approx(log_b["loss"].to_numpy(), rel=0.05)


def test_training_together_resumes_and_then_loads(run_folder, monkeypatch):
    group = [TrainConfig("cifar10", kind, profile="smoke") for kind in ("standard", "background")]
    with interrupted_at_optimizer_step(9, monkeypatch), pytest.raises(Interrupt):
        training.train_together(group, progress=False, checkpoint_every=0.0)
    resumed = training.train_together(group, progress=False)
    assert [t.resumed_from for t in resumed] == [8, 8]
    for t in resumed:
        log = pd.read_csv(t.log_path)
        assert log["step"].is_unique and log["step"].iloc[-1] == config.get_profile("smoke").train_steps
        assert isinstance(load_trained(t.config), torch.nn.Module)
    assert [t.resumed_from for t in training.train_together(group, progress=False)] == [-1, -1]


def test_training_together_refuses_mixed_groups():
    with pytest.raises(ValueError, match="one dataset, profile, seed, projection, reading and network"):
        training.train_together([TrainConfig("mnist", "standard", profile="smoke"),
                                 TrainConfig("mnist", "background", "final", profile="smoke")])
    with pytest.raises(ValueError, match="one dataset, profile, seed, projection, reading and network"):
        training.train_together([TrainConfig("cifar10", "standard", profile="smoke", reading="raw"),
                                 TrainConfig("cifar10", "background", profile="smoke", reading="usual")])
    with pytest.raises(ValueError, match="natural"):
        training.train_together([TrainConfig("mnist", "natural", profile="smoke")])


def test_natural_models_train_alone_even_when_asked_to_train_together(run_folder):
    natural = TrainConfig("mnist", "natural", profile="smoke")
    (trained,) = training.trained_models(natural, together=True, progress=False)
    assert trained.config == natural and trained.checkpoint_path.exists()


def test_together_groups_cover_the_study_once():
    groups = plan.together_groups("mnist", "paper")
    assert sorted(c.key for g in groups for c in g) == sorted(c.key for c in study_models("mnist", "paper"))
    # per seed: natural; standard, background, exact, broad; background (final)
    assert [len(g) for g in groups] == [1, 4, 1] * len(get_profile("paper").seeds)
    cifar = plan.together_groups("cifar10", "paper")  # per network and seed: natural; the two adversarial models per reading
    paper = get_profile("paper")
    assert [len(g) for g in cifar] == [1, 2, 2, 2] * len(paper.seeds) * len(paper.cifar10_networks)
    assert all(len({c.network for c in g}) == 1 for g in cifar)
    assert all(len({c.reading for c in g}) == 1 for g in cifar)


# --- resume equivalence: a training killed at any step and resumed ends where an uninterrupted one ends ---

def _weights(trained) -> dict:
    return {k: v.detach().clone() for k, v in trained.model.state_dict().items()}


def _assert_bit_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"weights differ after resuming: {different}"


def test_resumed_training_is_bit_identical_to_an_uninterrupted_one(tmp_path, monkeypatch):
    cfg = TrainConfig("mnist", "background", profile="smoke")
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path / "straight"))
    straight = _weights(train_model(cfg, progress=False))

    kill_at = int(torch.randint(2, config.get_profile("smoke").train_steps, (1,), generator=torch.Generator()))
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path / "killed"))
    with interrupted_at_optimizer_step(kill_at, monkeypatch), pytest.raises(Interrupt):
        train_model(cfg, progress=False, checkpoint_every=0.0)
    torch.manual_seed(12345)  # a new process: the global RNG is wherever it is
    resumed = train_model(cfg, progress=False)
    assert resumed.resumed_from == kill_at - 1
    _assert_bit_identical(straight, _weights(resumed))
    _assert_same_milestones(cfg, tmp_path)


def _assert_same_milestones(cfg: TrainConfig, tmp_path) -> None:
    """The weights kept at every milestone are those of the uninterrupted run too."""
    steps = checkpoints.milestone_steps(get_profile(cfg.profile))
    assert steps, "the smoke profile keeps milestones, so that this is tested"
    for step in steps:
        name = checkpoints.milestone_path(cfg, step).name
        straight, killed = (load_sealed(tmp_path / run / "runs" / cfg.profile / "milestones" / name)["model"]
                            for run in ("straight", "killed"))
        _assert_bit_identical(straight, killed)


def test_resumed_together_training_is_bit_identical_to_an_uninterrupted_one(tmp_path, monkeypatch):
    group = [TrainConfig("cifar10", kind, profile="smoke") for kind in ("standard", "background")]
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path / "straight"))
    straight = [_weights(t) for t in training.train_together(group, progress=False)]

    kill_at = int(torch.randint(2, config.get_profile("smoke").train_steps, (1,), generator=torch.Generator()))
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path / "killed"))
    with interrupted_at_optimizer_step(kill_at, monkeypatch), pytest.raises(Interrupt):
        training.train_together(group, progress=False, checkpoint_every=0.0)
    torch.manual_seed(12345)
    resumed = training.train_together(group, progress=False)
    assert [t.resumed_from for t in resumed] == [kill_at - 1] * 2
    for a, t in zip(straight, resumed):
        _assert_bit_identical(a, _weights(t))
        _assert_same_milestones(t.config, tmp_path)


def test_training_adam_is_fused_where_it_can_be_and_updates_as_the_default_adam():
    torch.manual_seed(0)
    weights = [torch.randn(30, 20, requires_grad=True), torch.randn(20, requires_grad=True)]
    twins = [w.detach().clone().requires_grad_(True) for w in weights]
    ours, plain = adam(weights, 1e-3), torch.optim.Adam(twins, lr=1e-3)
    assert ours.defaults["fused"]
    for _ in range(20):
        grads = [torch.randn_like(w) for w in weights]
        for w, t, g in zip(weights, twins, grads):
            w.grad, t.grad = g, g.clone()
        ours.step()
        plain.step()
    assert all(torch.allclose(w, t, atol=1e-6) for w, t in zip(weights, twins))


def test_training_adam_falls_back_to_the_default_where_fused_is_missing(monkeypatch):
    original = torch.optim.Adam.__init__

    def without_fused(self, params, lr=1e-3, fused=None, **kwargs):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        original(self, params, lr=lr, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "__init__", without_fused)
    optimizer = adam([torch.zeros(3, requires_grad=True)], 0.1)
    assert not optimizer.defaults.get("fused")


def test_training_attack_returns_its_last_iterate_and_the_fingerprint_says_so():
    config = TrainConfig("mnist", "background", profile="smoke")
    assert fingerprint(config)["training"]["train_pgd_iterate"] == TRAIN_PGD_ITERATE == "last"


# --- one training step: the loop of train_model and train_together is written once ---

def test_train_model_is_the_papers_loop_written_out_bit_for_bit(run_folder):
    """``train_model`` trains exactly Algorithm 1 written out step by step (as the loop read before it called
    ``training_step``): the batch, its epsilon matrix, ``masked_pgd``, the loss on the attacked batch, one update."""
    cfg = TrainConfig("mnist", "background", profile="smoke")
    settings = cfg.settings
    torch.manual_seed(cfg.seed)
    model = fast_layout(model_for("mnist"))
    optimizer = adam(model.parameters(), settings.learning_rate)
    images, labels, _ = load_dataset("mnist", "train")
    model.train()
    for step in range(settings.train_steps):
        index = training._batch_indices(step, len(images) // settings.batch_size, settings.batch_size, len(images),
                                        cfg.seed)
        x, y = fast_layout(images[index]), labels[index]
        eps = eps_at(step, settings)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, settings)
        x = masked_pgd(model, x, y, epsilon_matrix(x, "background", eps),
                       PGD(steps=settings.train_pgd_steps, step_size=settings.train_step_size * eps / settings.eps,
                           projection="per_step", iterate=TRAIN_PGD_ITERATE),
                       precision=settings.attack_precision)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _assert_bit_identical({k: v.detach() for k, v in model.state_dict().items()},
                          _weights(train_model(cfg, progress=False)))


def test_a_training_step_attacks_within_the_epsilon_matrix_and_updates_only_the_model(digits):
    images, labels = digits[0][:16], digits[1][:16]
    settings = get_profile("smoke")
    torch.manual_seed(0)
    model = model_for("mnist").train()
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer = adam(model.parameters(), settings.learning_rate)
    step = training_step(model, optimizer, (images, labels), "background", eps=settings.eps, settings=settings)
    change = step.adversarial - images
    eps = epsilon_matrix(images, "background", settings.eps)
    assert change.abs().max() > 0 and (change.abs() <= eps + 1e-6).all() and (change[eps == 0] == 0).all()
    assert step.adversarial.min() >= 0 and step.adversarial.max() <= 1
    assert step.losses.shape == (1,) and torch.isfinite(step.losses).all()
    assert step.losses[0] == pytest.approx(F.cross_entropy(step.logits, labels).item(), rel=1e-5)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items()), "the step updated nothing"
    natural = training_step(model, optimizer, (images, labels), "natural", eps=settings.eps, settings=settings)
    assert torch.equal(natural.adversarial, images), "a natural model trains on the unaltered batch"


def test_a_training_step_without_its_value_checks_trains_exactly_as_with_them(digits):
    """The training loop checks its training set once and calls ``training_step(check_inputs=False)``, so that a
    step on a GPU never waits for a read of the device: the step computes exactly what the checked one does."""
    results = []
    for check_inputs in (True, False):
        torch.manual_seed(0)
        model = model_for("mnist").train()
        optimizer = adam(model.parameters(), 1e-3)
        step = training_step(model, optimizer, (digits[0][:16], digits[1][:16]), "exact", eps=0.3,
                             settings=get_profile("smoke"), check_inputs=check_inputs)
        results.append((step.adversarial, step.losses, [p.detach().clone() for p in model.parameters()]))
    (x1, loss1, weights1), (x2, loss2, weights2) = results
    assert torch.equal(x1, x2) and torch.equal(loss1, loss2)
    assert all(torch.equal(a, b) for a, b in zip(weights1, weights2))


def test_the_epoch_order_is_drawn_once_per_epoch_and_is_a_permutation():
    first = training._batch_indices(0, 10, 5, 50, seed=3)
    assert torch.equal(first, training._batch_indices(0, 10, 5, 50, seed=3))
    epoch = torch.cat([training._batch_indices(step, 10, 5, 50, seed=3) for step in range(10)])
    assert sorted(epoch.tolist()) == list(range(50))
    assert not torch.equal(epoch, torch.cat([training._batch_indices(s, 10, 5, 50, seed=3) for s in range(10, 20)]))


def test_a_stacked_training_step_refuses_a_natural_model_among_others(digits):
    settings = get_profile("smoke")
    stacked = StackedModels([model_for("mnist"), model_for("mnist")])
    with pytest.raises(ValueError, match="natural models train alone"):
        training_step(stacked, adam(stacked.parameters(), 1e-3), (digits[0][:4], digits[1][:4]),
                      ["natural", "standard"], eps=settings.eps, settings=settings)


# --- the weight pass's arithmetic (Profile.weight_precision) ---

def _one_step(weight_precision: str) -> tuple[training.TrainingStep, list[torch.Tensor]]:
    settings = dataclasses.replace(get_profile("smoke"), weight_precision=weight_precision, attack_precision="fp32")
    torch.manual_seed(0)
    model = model_for("mnist").train()
    optimizer = adam(model.parameters(), settings.learning_rate)
    images, labels, _ = load_dataset("mnist", "train")
    torch.manual_seed(1)
    step = training_step(model, optimizer, (images[:20], labels[:20]), "background", eps=settings.eps, settings=settings)
    return step, [p.detach().clone() for p in model.parameters()]


def test_a_bf16_weight_pass_computes_in_bf16_and_keeps_weights_and_loss_float32():
    """weight_precision="bf16": the forward and backward of the weight pass run in bfloat16 (the loss differs from
    float32's by bf16's rounding, not more), while the logits handed back, the loss and the weights stay float32."""
    full, full_weights = _one_step("fp32")
    half, half_weights = _one_step("bf16")
    assert half.logits.dtype == half.losses.dtype == torch.float32
    assert all(w.dtype == torch.float32 for w in half_weights)
    assert torch.equal(full.adversarial, half.adversarial)          # the attack is not the weight pass
    assert not torch.equal(full.losses, half.losses)                # computed otherwise ...
    assert torch.allclose(full.losses, half.losses, rtol=2e-2)      # ... to bf16's precision
    assert any(not torch.equal(a, b) for a, b in zip(full_weights, half_weights))


def test_the_weight_passs_arithmetic_is_in_the_fingerprint_and_refused_when_unknown():
    smoke = get_profile("smoke")
    assert fingerprint(TrainConfig("mnist", "standard", profile="smoke"))["training"]["weight_precision"] == "fp32"
    config.PROFILES["smoke-weights-bf16"] = dataclasses.replace(smoke, name="smoke-weights-bf16", weight_precision="auto")
    try:
        printed = fingerprint(TrainConfig("mnist", "standard", profile="smoke-weights-bf16"))["training"]
        assert printed["weight_precision"] == "auto"
    finally:
        del config.PROFILES["smoke-weights-bf16"]
    with pytest.raises(ValueError, match="unknown weight_precision 'fp16'"):
        dataclasses.replace(smoke, weight_precision="fp16")
