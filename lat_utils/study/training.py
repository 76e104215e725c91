"""Training the models of the study: one adversarial training step, and the loop that repeats it.

``training_step`` is Algorithm 1 for one minibatch: the batch's epsilon matrix, the masked attack, the
loss on the attacked batch, one update. ``train_model(TrainConfig(...))`` trains one model with it;
``train_together(configs)`` trains several adversarial models of one dataset in lockstep as one stacked
network (the GPU path), through the same loop and the same step. A finished model is loaded, not
retrained; an unfinished one is resumed from its last checkpoint (``checkpoints``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attacks import PGD, capturing, masked_pgd, resolve_precision
from ..checks import check_images
from ..data import load_dataset
from ..devices import device
from ..masks import epsilon_matrix
from ..models import StackedModels, fast_layout, model_for
from ..progress import tqdm
from ..spec.paper import TRAIN_PGD_ITERATE
from ..spec.recipes import NETWORKS
from ..spec.settings import Profile
from .checkpoints import (
    append_log,
    checkpoint_path,
    load_checkpoint,
    log_path,
    milestone_steps,
    optimizer_state_of,
    restore_rng,
    save_checkpoint,
    save_milestone,
    stacked_optimizer_state,
    trim_log,
)
from .graphs import CapturedStep, step_mode
from .optimizers import augmented, network_for, optimizer_for, rates_on_device, set_learning_rate
from .plan import TrainConfig, together_groups


@dataclass
class TrainedModel:
    config: TrainConfig
    model: nn.Module
    log_path: Path
    checkpoint_path: Path
    seconds: float           # training time, summed over interrupted sessions
    resumed_from: int        # 0 for a fresh start, the step it resumed at, or -1 when loaded finished


@dataclass
class TrainingStep:
    """What one ``training_step`` did: the batch it trained on and the loss of each model on it."""

    adversarial: torch.Tensor  # the attacked batch (the natural one for a natural model), models one after another
    logits: torch.Tensor       # the models' logits on it, before the update
    losses: torch.Tensor       # each model's mean cross-entropy on its share of the batch, before the update


def eps_at(step: int, profile: Profile) -> float:
    """The training eps at ``step``: a linear warm-up over ``eps_warmup_fraction`` of training, then eps."""
    warmup = int(profile.eps_warmup_fraction * profile.train_steps)
    if warmup <= 0:
        return profile.eps
    return profile.eps * min(1.0, (step + 1) / warmup)


def training_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: tuple[torch.Tensor, torch.Tensor],
                  localization: str | Sequence[str], *, eps: float | torch.Tensor, settings: Profile,
                  projection: str = "per_step", check_inputs: bool = True) -> TrainingStep:
    """One step of localized adversarial training (the paper's Algorithm 1) on a minibatch (images, labels).

    1. the epsilon matrix of the batch: ``eps`` where ``localization``'s mask lets a pixel change, 0 elsewhere;
    2. the masked attack: ``masked_pgd`` with the profile's training steps, its step size scaled to ``eps``
       (``eps`` may be below the profile's during its warm-up) and ``projection``; none for "natural";
    3. the cross-entropy on the attacked batch, and one update of ``optimizer``.

    ``model`` may be a ``StackedModels`` of several models with one localization each (a sequence): every
    model then gets the same batch, attacked within its own epsilon matrix, and the gradient of its own loss.
    ``check_inputs=False`` skips the checks that read the batch's values (the training loop checks its whole
    training set once instead, so that a step on a GPU never waits for the device). ``eps`` may be a 0-d tensor on
    the device (``graphs.CapturedStep``'s: the step then holds no per-step Python number, and one captured graph
    serves the whole warm-up); the caller checks it.
    """
    images, labels = batch
    localizations = (localization,) if isinstance(localization, str) else tuple(localization)
    count = len(localizations)
    x, y = images.repeat(count, 1, 1, 1) if count > 1 else images, labels.repeat(count)
    if "natural" in localizations:
        if count > 1:
            raise ValueError(f"natural models train alone, not stacked with others: got {localizations}")
    else:
        eps_matrix = torch.cat([epsilon_matrix(images, kind, eps, check_inputs=check_inputs) for kind in localizations])
        x = masked_pgd(model, x, y, eps_matrix,
                       PGD(steps=settings.train_pgd_steps, step_size=settings.train_step_size * eps / settings.eps,
                           projection=projection, iterate=TRAIN_PGD_ITERATE),
                       precision=settings.attack_precision, check_inputs=check_inputs)
    with _weight_arithmetic(settings, x.device):
        logits = model(x)
    logits = logits.float()
    losses = torch.stack([F.cross_entropy(share, target, label_smoothing=settings.label_smoothing)
                          for share, target in zip(logits.chunk(count), y.chunk(count))])
    optimizer.zero_grad(set_to_none=True)
    losses.sum().backward()  # each model's parameters get the gradient of its own loss
    optimizer.step()
    return TrainingStep(x, logits.detach(), losses.detach())


def _weight_arithmetic(settings: Profile, device: torch.device):
    """The weight pass's arithmetic (``Profile.weight_precision``): bf16 autocast where it resolves to bf16 (its
    backward follows), nothing otherwise; the weights, the optimizer and the loss stay float32."""
    bf16 = resolve_precision(settings.weight_precision, device) == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=not capturing(device))


def train_model(config: TrainConfig, *, progress: bool = True, checkpoint_every: float = 60.0) -> TrainedModel:
    """Train (or load, or resume) the model of ``config``; checkpoints at most every ``checkpoint_every`` s."""
    config = config.trained
    dev = device()
    torch.manual_seed(config.seed)
    state = load_checkpoint(checkpoint_path(config), config)
    model = network_for(config.dataset, config.network, dev, fresh=state is None)
    optimizer = optimizer_for(model, config.settings, capturable=step_mode(config.settings, dev) == "capture")
    start, seconds = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        seconds = state["seconds"]
        if state["done"]:
            return TrainedModel(config, model.eval(), log_path(config), checkpoint_path(config), seconds,
                                resumed_from=-1)
        optimizer.load_state_dict(state["optimizer"])
        restore_rng(state)
        start = state["step"]
    seconds = _train_steps([config], model, optimizer, start, seconds, desc=config.key, progress=progress,
                           checkpoint_every=checkpoint_every)
    return TrainedModel(config, model.eval(), log_path(config), checkpoint_path(config), seconds, start)


def train_together(configs: list[TrainConfig], *, progress: bool = True,
                   checkpoint_every: float = 60.0) -> list[TrainedModel]:
    """Train adversarial models of one dataset, profile, seed and projection in lockstep, as one
    ``StackedModels``: on a GPU, one attack and one update for all of them per step.

    Same initial weights, batches, eps and learning-rate schedules, training step and optimizer as
    ``train_model``, and checkpoints in its format (loading, evaluation and resuming treat the models
    alike); only the attacks' random starts are drawn otherwise (one draw for all models). Finished
    models are loaded; the others resume from their common step. With fewer than two models to train,
    or models stopped at different steps, each goes through ``train_model`` instead.
    """
    _check_group(configs)
    states = {c: load_checkpoint(checkpoint_path(c), c) for c in configs}
    todo = [c for c in configs if not (states[c] and states[c]["done"])]
    starts = {states[c]["step"] if states[c] else 0 for c in todo}
    if len(todo) < 2 or len(starts) > 1 or not NETWORKS[configs[0].network].stacks:
        return [train_model(c, progress=progress, checkpoint_every=checkpoint_every) for c in configs]

    start, first = starts.pop(), todo[0]
    models = []
    for config in todo:
        torch.manual_seed(config.seed)  # the initial weights train_model draws
        models.append(model_for(config.dataset))
        if states[config]:
            models[-1].load_state_dict(states[config]["model"])
    stacked = StackedModels(models).to(device())
    optimizer = optimizer_for(stacked, first.settings, capturable=step_mode(first.settings, device()) == "capture")
    seconds = 0.0
    if start:
        optimizer.load_state_dict(stacked_optimizer_state([states[c]["optimizer"] for c in todo]))
        restore_rng(states[first])
        seconds = states[first]["seconds"]
    seconds = _train_steps(todo, stacked, optimizer, start, seconds, progress=progress,
                           desc=f"{first.dataset}: {len(todo)} models together", checkpoint_every=checkpoint_every)
    out = []
    for config in configs:
        if config in todo:
            model = fast_layout(model_for(config.dataset), device())
            model.load_state_dict(stacked.state_dict_of(todo.index(config)))
            out.append(TrainedModel(config, model.eval(), log_path(config), checkpoint_path(config), seconds, start))
        else:
            out.append(train_model(config, progress=False))  # finished: loads it
    return out


def _train_steps(configs: list[TrainConfig], network: nn.Module, optimizer: torch.optim.Optimizer, start: int,
                 seconds: float, *, desc: str, progress: bool, checkpoint_every: float) -> float:
    """The training loop: ``training_step`` from step ``start`` to the end of training, for one model or for
    several stacked in ``network`` (``configs`` in its order), with the milestones' weights, the log and the
    checkpoints (at most every ``checkpoint_every`` s, and at the end). Returns the training time in seconds,
    ``seconds`` (the time of earlier sessions) included. The training set is checked once and kept on the
    device, so that on a GPU a step never waits for a read of the device: only the log (every 1% of the steps,
    one read) and the checkpoints do (bench/gpu_check.py counts them)."""
    first, count = configs[0], len(configs)
    profile, dev = first.settings, device()
    stacked = isinstance(network, StackedModels)
    for config in configs:
        trim_log(log_path(config), start)
    images, labels = _checked_training_set(first.dataset, network, dev)
    steps_per_epoch = len(images) // profile.batch_size
    milestones = set(milestone_steps(profile))
    bar = tqdm(range(start, profile.train_steps), initial=start, total=profile.train_steps, desc=desc,
               disable=not progress, mininterval=2.0)
    began, last_save = time.perf_counter() - seconds, time.perf_counter()
    one_step = _loop_step(configs, network, optimizer, dev)
    network.train()
    for step in bar:
        index = _batch_indices(step, steps_per_epoch, profile.batch_size, len(images), first.seed, dev)
        x = images[index] if stacked else fast_layout(images[index])
        y = labels[index]
        if profile.augment:
            x = augmented(x, step, first.seed)
        eps = eps_at(step, profile)
        set_learning_rate(optimizer, step, profile)
        done = one_step((x, y), eps)
        if step + 1 in milestones:
            for m, config in enumerate(configs):
                save_milestone(config, _share_of(network, m), step + 1)

        last = step + 1 == profile.train_steps
        if step % max(1, profile.train_steps // 100) == 0 or last:
            accuracies = (done.logits.argmax(1) == y.repeat(count)).view(count, -1).float().mean(1)
            losses, accuracies = torch.stack([done.losses, accuracies]).tolist()  # the log's one read of the device
            elapsed = round(time.perf_counter() - began, 2)
            for config, loss, accuracy in zip(configs, losses, accuracies):
                append_log(log_path(config), (step + 1, round(eps, 5), loss, accuracy, elapsed))
            bar.set_postfix(loss=f"{sum(losses) / count:.3f}", eps=f"{eps:.3f}")
        if last or time.perf_counter() - last_save > checkpoint_every:
            optimizer_state = optimizer.state_dict()
            for m, config in enumerate(configs):
                shared = optimizer_state_of(optimizer_state, m) if stacked else optimizer_state
                save_checkpoint(config, _share_of(network, m), shared, step + 1, last, time.perf_counter() - began)
            last_save = time.perf_counter()
    bar.close()
    return time.perf_counter() - began


def _loop_step(configs: list[TrainConfig], network: nn.Module, optimizer: torch.optim.Optimizer,
               dev: torch.device) -> CapturedStep[TrainingStep]:
    """The training loop's step, ``training_step`` on its checked training set: captured as a CUDA graph where one
    can hold it (``graphs.step_mode``; its learning rate then a tensor the graph reads), else run eagerly."""
    first, settings = configs[0], configs[0].settings
    mode = step_mode(settings, dev)
    if mode == "capture":
        rates_on_device(optimizer)
    localizations = [c.localization for c in configs]
    return CapturedStep(lambda x, y, eps: training_step(network, optimizer, (x, y), localizations, eps=eps,
                                                        settings=settings, projection=first.projection,
                                                        check_inputs=False),  # checked once, by the loop
                        mode)


def _share_of(network: nn.Module, index: int) -> dict:
    """The weights of model ``index`` of ``network`` (a ``StackedModels``, or one model: index 0)."""
    return network.state_dict_of(index) if isinstance(network, StackedModels) else network.state_dict()


def trained_models(config: TrainConfig, *, together: bool = False, progress: bool = True) -> list[TrainedModel]:
    """``[train_model(config)]``, or with ``together`` every model of the ``together_groups`` group of
    ``config``, trained by ``train_together`` (what ``02_train`` runs)."""
    group = next(g for g in together_groups(config.dataset, config.profile) if config in g) if together else [config]
    if len(group) == 1:  # natural models, and groups of one, train alone
        return [train_model(config, progress=progress)]
    return train_together(group, progress=progress)


def _check_group(configs: list[TrainConfig]) -> None:
    if not configs:
        raise ValueError("train_together needs at least one model")
    if any(c.localization == "natural" for c in configs):
        raise ValueError("train_together trains adversarial models; train natural ones with train_model")
    shared = {(c.dataset, c.profile, c.seed, c.projection, c.reading, c.network) for c in configs}
    if len(shared) > 1:
        raise ValueError("train_together needs one dataset, profile, seed, projection, reading and network, got "
                         f"{sorted(shared)}")
    if len(set(configs)) < len(configs):
        raise ValueError("train_together got the same model twice")


def _checked_training_set(dataset: str, network: nn.Module, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images and labels of ``dataset`` on ``dev``, checked once as an attack checks its inputs
    (images in [0, 1], labels within the network's outputs), so that the steps need not read them again."""
    images, labels, _ = load_dataset(dataset, "train")
    check_images(images, f"the {dataset} training images")
    classes = (network.template if isinstance(network, StackedModels) else network).num_classes
    if labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"the {dataset} training labels must be class indices in [0, {classes}), got labels in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    return images.to(dev), labels.to(dev)


def _batch_indices(step: int, steps_per_epoch: int, batch_size: int, n: int, seed: int,
                   dev: torch.device = torch.device("cpu")) -> torch.Tensor:
    """The minibatch of ``step`` (on ``dev``): a fresh seeded shuffle each epoch, so a resumed run sees the
    same batches."""
    epoch, position = divmod(step, steps_per_epoch)
    return _epoch_order(seed, epoch, n, dev)[position * batch_size:(position + 1) * batch_size]


@functools.lru_cache(maxsize=2)
def _epoch_order(seed: int, epoch: int, n: int, dev: torch.device) -> torch.Tensor:
    """The order of the training images in ``epoch``, drawn once per epoch and moved to ``dev`` once."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).to(dev)
