"""Training one model of the study, natural or (localized) adversarial, resumable and never repeated.

``train_model(TrainConfig(...))`` trains one model; ``train_together(configs)`` trains several
adversarial models of one dataset in lockstep as one stacked network (the GPU path). Checkpoints live in ``runs/<profile>/``
under a name built from the config; each one records the full config and the profile's settings, so
a checkpoint made with other settings is refused instead of silently reused. A finished checkpoint
is loaded, not retrained; an unfinished one is resumed from its last step.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attacks import masked_pgd
from ..config import (
    CENTRAL_MODELS,
    DATASETS,
    MODEL_KINDS,
    PROJECTIONS,
    STATED,
    TRAIN_PGD_ITERATE,
    Profile,
    get_profile,
    reading_eps,
)
from ..data import load_dataset
from ..devices import device
from ..masks import epsilon_matrix
from ..models import StackedModels, fast_layout, model_for
from ..paths import DamagedFileError, load_sealed, runs_dir, save_sealed, shown
from ..progress import tqdm

LOG_FIELDS = ("step", "eps", "loss", "accuracy", "seconds")


@dataclass(frozen=True)
class TrainConfig:
    """One model of the study: what it is trained on, and with which profile and seed."""

    dataset: str
    localization: str            # "natural", or the mask kind of its adversarial training
    projection: str = "per_step"  # how the training attack localizes (see masked_pgd)
    profile: str = "quick"
    seed: int = 0
    reading: str = STATED         # which eps (``config.CIFAR10_READINGS``): trained with, or evaluated at

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}: choose one of {DATASETS}")
        if self.localization not in MODEL_KINDS[self.dataset]:
            raise ValueError(f"unknown localization {self.localization!r} for {self.dataset}: "
                             f"choose one of {MODEL_KINDS[self.dataset]}")
        if self.projection not in PROJECTIONS:
            raise ValueError(f"unknown projection {self.projection!r}: choose one of {PROJECTIONS}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        get_profile(self.profile)
        reading_eps(self.dataset, self.reading)

    @property
    def settings(self) -> Profile:
        """The profile's settings at this config's eps (its reading): what it trains and is evaluated with."""
        return get_profile(self.profile).at_eps(reading_eps(self.dataset, self.reading))

    @property
    def trained(self) -> TrainConfig:
        """The config whose checkpoint holds this model's weights: natural models train without an attack,
        so one natural model serves every reading."""
        return replace(self, reading=STATED) if self.localization == "natural" else self

    @property
    def name(self) -> str:
        """The model's name in tables: its localization, plus the projection when it is not the default."""
        if self.localization == "natural" or self.projection == "per_step":
            return self.localization
        return f"{self.localization} ({self.projection})"

    @property
    def key(self) -> str:
        """File-name stem of this model's checkpoint and log (a natural model's has no reading: it is shared)."""
        return self.trained.eval_key

    @property
    def eval_key(self) -> str:
        """File-name stem of this model's evaluation at its reading (the key, plus the reading's name when it
        is not the stated eps)."""
        projection = "" if self.localization == "natural" else f"-{self.projection}"
        return f"{self.dataset}-{self.localization}{projection}{_reading_part(self.reading)}-seed{self.seed}"


@dataclass
class TrainedModel:
    config: TrainConfig
    model: nn.Module
    log_path: Path
    checkpoint_path: Path
    seconds: float           # training time, summed over interrupted sessions
    resumed_from: int        # 0 for a fresh start, the step it resumed at, or -1 when loaded finished


def study_models(dataset: str, profile_name: str) -> list[TrainConfig]:
    """Every model the study trains on ``dataset``: one per localization and seed, plus, on MNIST, the
    background model trained with each projection the profile lists (Algorithm 1's ambiguity) and, on
    CIFAR-10, the adversarial models once per reading of its eps the profile lists (the natural model once)."""
    profile = get_profile(profile_name)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {DATASETS}")
    readings = profile.cifar10_readings if dataset == "cifar10" else (STATED,)
    configs = []
    for seed in dict.fromkeys((*profile.seeds, *profile.central_seeds)):
        for localization in MODEL_KINDS[dataset]:
            if dataset == "mnist" and profile.model_kinds and localization not in profile.model_kinds:
                continue
            projections = ("per_step",)
            if dataset == "mnist" and localization == "background":
                projections = profile.background_projections
            if seed not in profile.seeds:  # an extra seed: the central models only
                if localization not in CENTRAL_MODELS[dataset]:
                    continue
                projections = tuple(p for p in projections if p == "per_step")
            for reading in (STATED,) if localization == "natural" else readings:
                configs += [TrainConfig(dataset, localization, p, profile_name, seed, reading) for p in projections]
    return configs


def evaluated_models(dataset: str, profile_name: str) -> list[TrainConfig]:
    """``study_models`` as the evaluation sees them: each natural model once per reading (the same weights,
    attacked at each reading's eps), every adversarial model at its own reading."""
    return [e for config in study_models(dataset, profile_name) for e in readings_of(config)]


def readings_of(config: TrainConfig) -> list[TrainConfig]:
    """The configs under which the weights of ``config`` are evaluated: a natural CIFAR-10 model at every
    reading of its profile, any other model at its own."""
    if config.localization != "natural" or config.dataset != "cifar10":
        return [config]
    return [replace(config, reading=r) for r in get_profile(config.profile).cifar10_readings]


def milestone_steps(profile: Profile) -> list[int]:
    """The training steps at which ``profile`` keeps a copy of the weights (``Profile.milestones``)."""
    return sorted({max(1, round(f * profile.train_steps)) for f in profile.milestones})


def milestone_path(config: TrainConfig, step: int) -> Path:
    return runs_dir(config.profile) / "milestones" / f"{config.key}-step{step}.pt"   # the key: shared by readings


def load_milestone(config: TrainConfig, step: int) -> nn.Module:
    """The weights of ``config`` after ``step`` training steps (eval mode); a clear error if not kept."""
    path = milestone_path(config, step)
    state = load_checkpoint(path, config)
    if state is None:
        raise FileNotFoundError(f"no weights of {config.key} at step {step} ({config.profile} profile): "
                                "they are kept while it trains (notebooks/02_train.ipynb or ./run_all.sh)")
    if state.get("step") != step:
        raise ValueError(f"{shown(path)} holds step {state.get('step')}, not {step}: delete it and retrain this model")
    return _model_with(config, state["model"])


def _save_milestone(config: TrainConfig, model_state: dict, step: int) -> None:
    state = {"fingerprint": fingerprint(config), "step": step, "model": model_state}
    save_sealed(milestone_path(config, step), state)


def checkpoint_path(config: TrainConfig) -> Path:
    return runs_dir(config.profile) / f"{config.key}.pt"


def fingerprint(config: TrainConfig) -> dict:
    """Everything that determines the trained weights: the config (its reading included) and the profile's
    training settings at its eps (and the milestones whose weights a training keeps, where the profile has
    any: a model trained without them cannot give its learning curve, so it is not taken for one)."""
    config = config.trained
    profile = config.settings
    training = {k: v for k, v in profile.as_dict().items()
                if k in ("train_steps", "batch_size", "learning_rate", "lr_schedule", "train_pgd_steps",
                         "train_step_size", "eps_warmup_fraction", "eps", "attack_precision")}
    training["train_pgd_iterate"] = TRAIN_PGD_ITERATE
    if profile.milestones:
        training["milestones"] = milestone_steps(profile)
    return {"config": asdict(config), "training": training}


def adam(parameters: Iterable[torch.Tensor], learning_rate: float) -> torch.optim.Adam:
    """The paper's optimizer, Adam, in PyTorch's fused implementation (one kernel for the whole update:
    about 4x faster than the default on the 2-core CPU, see bench/train_step.py); the default one where
    this PyTorch or device has no fused Adam."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(parameters, lr=learning_rate)


def eps_at(step: int, profile: Profile) -> float:
    """The training eps at ``step``: a linear warm-up over ``eps_warmup_fraction`` of training, then eps."""
    warmup = int(profile.eps_warmup_fraction * profile.train_steps)
    if warmup <= 0:
        return profile.eps
    return profile.eps * min(1.0, (step + 1) / warmup)


def learning_rate_at(step: int, profile: Profile) -> float:
    """The learning rate at ``step``: constant, or a cosine decay from ``learning_rate`` to 0."""
    if profile.lr_schedule == "constant":
        return profile.learning_rate
    if profile.lr_schedule == "cosine":
        return profile.learning_rate * 0.5 * (1 + math.cos(math.pi * step / profile.train_steps))
    raise ValueError(f"unknown lr_schedule {profile.lr_schedule!r}: 'constant' or 'cosine'")


def train_model(config: TrainConfig, *, progress: bool = True, checkpoint_every: float = 60.0) -> TrainedModel:
    """Train (or load, or resume) the model of ``config``; checkpoints at most every ``checkpoint_every`` s."""
    config = config.trained
    profile = config.settings
    dev = device()
    ckpt_path, log_path = checkpoint_path(config), runs_dir(config.profile) / f"{config.key}.csv"
    torch.manual_seed(config.seed)
    model = fast_layout(model_for(config.dataset), dev)
    optimizer = adam(model.parameters(), profile.learning_rate)
    state = load_checkpoint(ckpt_path, config)
    start, seconds = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        seconds = state["seconds"]
        if state["done"]:
            return TrainedModel(config, model.eval(), log_path, ckpt_path, seconds, resumed_from=-1)
        optimizer.load_state_dict(state["optimizer"])
        _restore_rng(state)
        start = state["step"]
    _trim_log(log_path, start)

    images, labels, _ = load_dataset(config.dataset, "train")
    steps_per_epoch = len(images) // profile.batch_size
    bar = tqdm(range(start, profile.train_steps), initial=start, total=profile.train_steps,
               desc=config.key, disable=not progress, mininterval=2.0)
    began, last_save = time.perf_counter() - seconds, time.perf_counter()
    milestones = set(milestone_steps(profile))
    model.train()
    for step in bar:
        index = _batch_indices(step, steps_per_epoch, profile.batch_size, len(images), config.seed)
        x, y = fast_layout(images[index], dev), labels[index].to(dev)
        eps = eps_at(step, profile)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, profile)
        if config.localization != "natural":
            x = masked_pgd(model, x, y, epsilon_matrix(x, config.localization, eps),
                           steps=profile.train_pgd_steps, step_size=profile.train_step_size * eps / profile.eps,
                           projection=config.projection, precision=profile.attack_precision,
                           iterate=TRAIN_PGD_ITERATE)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step + 1 in milestones:
            _save_milestone(config, model.state_dict(), step + 1)

        last = step + 1 == profile.train_steps
        if step % max(1, profile.train_steps // 100) == 0 or last:
            accuracy = (logits.argmax(1) == y).float().mean().item()
            _append_log(log_path, (step + 1, round(eps, 5), loss.item(), accuracy,
                                   round(time.perf_counter() - began, 2)))
            bar.set_postfix(loss=f"{loss.item():.3f}", eps=f"{eps:.3f}")
        if last or time.perf_counter() - last_save > checkpoint_every:
            _save_checkpoint(ckpt_path, config, model.state_dict(), optimizer.state_dict(), step + 1, last,
                             time.perf_counter() - began)
            last_save = time.perf_counter()
    bar.close()
    return TrainedModel(config, model.eval(), log_path, ckpt_path, time.perf_counter() - began, start)


def together_groups(dataset: str, profile_name: str) -> list[list[TrainConfig]]:
    """``study_models`` in the groups ``train_together`` takes: the adversarial models of one seed,
    projection and reading together, each natural model alone."""
    groups: dict[tuple, list[TrainConfig]] = {}
    for config in study_models(dataset, profile_name):
        key = (("natural", config.seed) if config.localization == "natural"
               else (config.projection, config.seed, config.reading))
        groups.setdefault(key, []).append(config)
    return list(groups.values())


def train_together(configs: list[TrainConfig], *, progress: bool = True,
                   checkpoint_every: float = 60.0) -> list[TrainedModel]:
    """Train adversarial models of one dataset, profile, seed and projection in lockstep, as one
    ``StackedModels``: on a GPU, one attack and one update for all of them per step.

    Same initial weights, batches, eps and learning-rate schedules, attack and optimizer as
    ``train_model``, and checkpoints in its format (loading, evaluation and resuming treat the models
    alike); only the attacks' random starts are drawn otherwise (one draw for all models). Finished
    models are loaded; the others resume from their common step. With fewer than two models to train,
    or models stopped at different steps, each goes through ``train_model`` instead.
    """
    _check_group(configs)
    states = {c: load_checkpoint(checkpoint_path(c), c) for c in configs}
    todo = [c for c in configs if not (states[c] and states[c]["done"])]
    starts = {states[c]["step"] if states[c] else 0 for c in todo}
    if len(todo) < 2 or len(starts) > 1:
        return [train_model(c, progress=progress, checkpoint_every=checkpoint_every) for c in configs]

    first, start, dev = todo[0], starts.pop(), device()
    profile = first.settings
    models = []
    for config in todo:
        torch.manual_seed(config.seed)  # the initial weights train_model draws
        models.append(model_for(config.dataset))
        if states[config]:
            models[-1].load_state_dict(states[config]["model"])
    stacked = StackedModels(models).to(dev)
    optimizer = adam(stacked.parameters(), profile.learning_rate)
    seconds = 0.0
    if start:
        optimizer.load_state_dict(_stacked_optimizer_state([states[c]["optimizer"] for c in todo]))
        _restore_rng(states[first])
        seconds = states[first]["seconds"]
    log_paths = [runs_dir(c.profile) / f"{c.key}.csv" for c in todo]
    for path in log_paths:
        _trim_log(path, start)

    images, labels, _ = load_dataset(first.dataset, "train")
    steps_per_epoch, count = len(images) // profile.batch_size, len(todo)
    bar = tqdm(range(start, profile.train_steps), initial=start, total=profile.train_steps,
               desc=f"{first.dataset}: {count} models together", disable=not progress, mininterval=2.0)
    began, last_save = time.perf_counter() - seconds, time.perf_counter()
    milestones = set(milestone_steps(profile))
    for step in bar:
        index = _batch_indices(step, steps_per_epoch, profile.batch_size, len(images), first.seed)
        x, y = images[index].to(dev), labels[index].to(dev)
        eps = eps_at(step, profile)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, profile)
        eps_matrix = torch.cat([epsilon_matrix(x, c.localization, eps) for c in todo])
        xs, ys = x.repeat(count, 1, 1, 1), y.repeat(count)
        x_adv = masked_pgd(stacked, xs, ys, eps_matrix, steps=profile.train_pgd_steps,
                           step_size=profile.train_step_size * eps / profile.eps, projection=first.projection,
                           precision=profile.attack_precision, iterate=TRAIN_PGD_ITERATE)
        logits = stacked(x_adv)
        losses = F.cross_entropy(logits, ys, reduction="none").view(count, -1).mean(1)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # each model's parameters get the gradient of its own loss
        optimizer.step()
        if step + 1 in milestones:
            for m, config in enumerate(todo):
                _save_milestone(config, stacked.state_dict_of(m), step + 1)

        last = step + 1 == profile.train_steps
        if step % max(1, profile.train_steps // 100) == 0 or last:
            accuracies = (logits.argmax(1) == ys).view(count, -1).float().mean(1)
            for path, loss, accuracy in zip(log_paths, losses.tolist(), accuracies.tolist()):
                _append_log(path, (step + 1, round(eps, 5), loss, accuracy, round(time.perf_counter() - began, 2)))
            bar.set_postfix(loss=f"{losses.mean().item():.3f}", eps=f"{eps:.3f}")
        if last or time.perf_counter() - last_save > checkpoint_every:
            optimizer_state = optimizer.state_dict()
            for m, config in enumerate(todo):
                _save_checkpoint(checkpoint_path(config), config, stacked.state_dict_of(m),
                                 _optimizer_state_of(optimizer_state, m), step + 1, last, time.perf_counter() - began)
            last_save = time.perf_counter()
    bar.close()
    seconds = time.perf_counter() - began
    out = []
    for config in configs:
        if config in todo:
            model = fast_layout(model_for(config.dataset), dev)
            model.load_state_dict(stacked.state_dict_of(todo.index(config)))
            out.append(TrainedModel(config, model.eval(), runs_dir(config.profile) / f"{config.key}.csv",
                                    checkpoint_path(config), seconds, start))
        else:
            out.append(train_model(config, progress=False))  # finished: loads it
    return out


def group_name(configs: list[TrainConfig]) -> str:
    """The key of a single model, or for a group trained together e.g. ``mnist-together-per_step-seed0``."""
    if len(configs) == 1:
        return configs[0].key
    first = configs[0]
    return f"{first.dataset}-together-{first.projection}{_reading_part(first.reading)}-seed{first.seed}"


def _reading_part(reading: str) -> str:
    """The reading's part of a file name: none for the stated eps (the names every run had before readings)."""
    return "" if reading == STATED else f"-eps_{reading}"


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
    shared = {(c.dataset, c.profile, c.seed, c.projection, c.reading) for c in configs}
    if len(shared) > 1:
        raise ValueError(f"train_together needs one dataset, profile, seed, projection and reading, got {sorted(shared)}")
    if len(set(configs)) < len(configs):
        raise ValueError("train_together got the same model twice")


def _optimizer_state_of(stacked_state: dict, index: int) -> dict:
    """Model ``index``'s share of an optimizer state over stacked parameters, in the format of the
    same optimizer over that model alone (per-parameter tensors sliced, scalars such as step copied)."""
    return {"state": {i: {k: v[index].clone() if torch.is_tensor(v) and v.ndim else copy.deepcopy(v)
                          for k, v in param_state.items()}
                      for i, param_state in stacked_state["state"].items()},
            "param_groups": copy.deepcopy(stacked_state["param_groups"])}


def _stacked_optimizer_state(states: list[dict]) -> dict:
    """The inverse of ``_optimizer_state_of``: one optimizer state over the stacked parameters."""
    first = states[0]
    return {"state": {i: {k: torch.stack([s["state"][i][k] for s in states]) if torch.is_tensor(v) and v.ndim
                          else copy.deepcopy(v) for k, v in param_state.items()}
                      for i, param_state in first["state"].items()},
            "param_groups": copy.deepcopy(first["param_groups"])}


def load_trained(config: TrainConfig) -> nn.Module:
    """The finished model of ``config`` (eval mode); a clear error if it is missing or unfinished."""
    state = load_checkpoint(checkpoint_path(config), config)
    if state is None or not state["done"]:
        what = "missing" if state is None else f"unfinished (step {state['step']})"
        raise FileNotFoundError(f"the model {config.key} ({config.profile} profile) is {what}: "
                                "run its training first (notebooks/02_train.ipynb or ./run_all.sh)")
    return _model_with(config, state["model"])


def _model_with(config: TrainConfig, weights: dict) -> nn.Module:
    """A network for ``config``'s dataset on this device holding ``weights``, in eval mode."""
    model = fast_layout(model_for(config.dataset), device())
    model.load_state_dict(weights)
    return model.eval()


def load_checkpoint(path: Path, config: TrainConfig) -> dict | None:
    """The checkpoint (or milestone) at ``path`` if there is one; a ValueError that names the file, what
    is wrong and how to recover if it is damaged or was made with another config. Never rebuilt
    silently: a checkpoint is hours of training."""
    if not path.exists():
        return None
    try:
        state = load_sealed(path, map_location=device(), legacy=True)
    except DamagedFileError as error:
        raise ValueError(f"checkpoint {error}. Restore it from a copy, or delete it to train this model "
                         "anew (its milestones and evaluation are then redone too)") from error
    expected = fingerprint(config)
    if state.get("fingerprint") != expected:
        raise ValueError(
            f"checkpoint {shown(path)} was made with another config:\n  found    {state.get('fingerprint')}\n"
            f"  expected {expected}\nDelete it (or use another profile) to train this model anew."
        )
    return state


def _save_checkpoint(path: Path, config: TrainConfig, model_state: dict, optimizer_state: dict,
                     step: int, done: bool, seconds: float) -> None:
    """Write atomically: a kill during the save leaves the previous checkpoint intact."""
    state = {"fingerprint": fingerprint(config), "step": step, "done": done, "seconds": seconds,
             "model": model_state, "optimizer": optimizer_state, "rng": torch.get_rng_state()}
    if torch.cuda.is_available():  # the attacks' random starts on a GPU come from its generator
        state["cuda_rng"] = torch.cuda.get_rng_state()
    save_sealed(path, state)


def _restore_rng(state: dict) -> None:
    """Put torch's global generators where the checkpoint left them (the attacks' random starts).

    Everything else that decides the rest of a run is in the checkpoint too (weights, optimizer with
    its step count, the step itself) or a function of the step (batches, eps, learning rate), so a
    resumed training ends bit-identical to an uninterrupted one on the same device.
    """
    torch.set_rng_state(state["rng"].cpu())
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda_rng"].cpu())


def _batch_indices(step: int, steps_per_epoch: int, batch_size: int, n: int, seed: int) -> torch.Tensor:
    """The minibatch of ``step``: a fresh seeded shuffle each epoch, so a resumed run sees the same batches."""
    epoch, position = divmod(step, steps_per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
    return order[position * batch_size:(position + 1) * batch_size]


def _append_log(path: Path, row: tuple) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(LOG_FIELDS)
        writer.writerow(row)


def _trim_log(path: Path, step: int) -> None:
    """Keep the log rows up to ``step``, the checkpoint's: later ones are steps an interruption lost, about
    to be redone. Rows that cannot be read (a blank or cut line, say, where a kill or a full disk
    stopped a write) are dropped and counted, so a damaged log never blocks a resume."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[:1] == [list(LOG_FIELDS)]
    readable = [row for row in rows[header:] if _log_row_step(row) is not None]
    damaged = len(rows) - header - len(readable)
    kept = [row for row in readable if _log_row_step(row) <= step] if step else []
    if damaged:
        print(f"{shown(path)}: {damaged} unreadable line(s) dropped; the log goes on from step {step}")
    if kept:
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([list(LOG_FIELDS), *kept])
    else:
        path.unlink()


def _log_row_step(row: list[str]) -> int | None:
    """The step of a log row whose fields are all numbers, else None."""
    if len(row) != len(LOG_FIELDS):
        return None
    try:
        for value in row:
            float(value)
        return int(row[0])
    except ValueError:
        return None
