"""What a network's training recipe does beyond the adversarial step: its optimizer (the paper's Adam, or
airbench94's Nesterov SGD with its parameter groups and weight averaging), its learning-rate schedule, its
augmentation, and what it sets from the training data before the first step (airbench94's whitening layer).

The training loop (``training``) reads all of it through ``network_for``, ``optimizer_for``, ``set_learning_rate``
and ``augmented`` and names no network; the hyperparameters are in ``spec.recipes``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn as nn

from ..data import load_dataset
from ..models import fast_layout, model_for
from ..spec.recipes import (
    AIRBENCH_BIAS_LR_SCALE,
    AIRBENCH_LOOKAHEAD_DECAY,
    AIRBENCH_LOOKAHEAD_EVERY,
    AIRBENCH_LOOKAHEAD_POWER,
    AIRBENCH_LOOKAHEAD_START,
    AIRBENCH_LR_TRIANGLE,
    AIRBENCH_MOMENTUM,
    AIRBENCH_TRAINING_IMAGES,
    AIRBENCH_TRANSLATE,
    AIRBENCH_WEIGHT_DECAY,
    AIRBENCH_WHITEN_BIAS_FRACTION,
    AIRBENCH_WHITEN_IMAGES,
)
from ..spec.settings import LR_SCHEDULES, OPTIMIZERS, Profile


def network_for(dataset: str, network: str, device: torch.device, *, fresh: bool = True) -> nn.Module:
    """A new ``network`` for ``dataset`` on ``device``; a ``fresh`` one (not about to take a checkpoint's weights) set
    from the training data where its recipe says so (airbench94's whitening layer, from the first
    ``AIRBENCH_WHITEN_IMAGES`` training images)."""
    model = model_for(dataset, network)
    if fresh and network == "airbench":
        model.whiten_from(load_dataset(dataset, "train").images[:AIRBENCH_WHITEN_IMAGES])
    return fast_layout(model, device)


def adam(parameters: Iterable[torch.Tensor], learning_rate: float, *, capturable: bool = False) -> torch.optim.Adam:
    """The paper's optimizer, Adam, in PyTorch's fused implementation (one kernel for the whole update:
    about 4x faster than the default on the 2-core CPU, see bench/train_step.py); the default one where
    this PyTorch or device has no fused Adam. ``capturable``: for a step captured as a CUDA graph
    (``graphs.CapturedStep``), its state and learning rate (a tensor, which ``set_learning_rate`` fills) on the
    parameters' device."""
    parameters = list(parameters)
    if capturable:
        optimizer = torch.optim.Adam(parameters, lr=learning_rate, capturable=True)
        rates_on_device(optimizer)
        return optimizer
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.Adam(parameters, lr=learning_rate)


def optimizer_for(model: nn.Module, settings: Profile, *, capturable: bool = False) -> torch.optim.Optimizer:
    """The optimizer of ``settings.optimizer`` over ``model``'s trainable parameters: the paper's ``adam``, or
    airbench94's recipe ("airbench_sgd", ``recipes.NETWORKS``): SGD with Nesterov momentum, batch norm's shifts at
    ``AIRBENCH_BIAS_LR_SCALE`` times the learning rate, a weight decay that shrinks the weights by
    ``AIRBENCH_WEIGHT_DECAY`` per step at the peak learning rate whatever a group's rate, and the whitening layer's
    bias trained for the first ``AIRBENCH_WHITEN_BIAS_FRACTION`` of the steps only, all inside its weight averaging
    (``Lookahead``). Each parameter group keeps its
    factor of the scheduled rate in ``"lr_scale"`` (``set_learning_rate``; Adam's: 1). ``capturable``: Adam's
    state on the device, for a step captured as a CUDA graph (``adam``)."""
    if settings.optimizer == "adam":
        return adam(model.parameters(), settings.learning_rate, capturable=capturable)
    if capturable:
        raise ValueError(f"only Adam is captured as a CUDA graph, not {settings.optimizer!r} (graphs.step_mode)")
    if settings.optimizer != "airbench_sgd":
        raise ValueError(f"unknown optimizer {settings.optimizer!r}: choose one of {OPTIMIZERS}")
    shifts = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    whiten_bias = [model.whiten.bias]   # the recipe's network: AirbenchNet
    special = {id(p) for p in shifts + whiten_bias}
    weights = [p for p in model.parameters() if p.requires_grad and id(p) not in special]
    groups = [(weights, 1.0, 1.0), (shifts, AIRBENCH_BIAS_LR_SCALE, 1.0),
              (whiten_bias, 1.0, AIRBENCH_WHITEN_BIAS_FRACTION)]
    sgd = torch.optim.SGD(
        [dict(params=params, lr=settings.learning_rate * scale, lr_scale=scale, until=until,
              weight_decay=AIRBENCH_WEIGHT_DECAY / (settings.learning_rate * scale))
         for params, scale, until in groups if params],
        momentum=AIRBENCH_MOMENTUM, nesterov=True)
    return Lookahead(sgd, model, settings.train_steps, max(1, AIRBENCH_TRAINING_IMAGES // settings.batch_size))


class Lookahead:
    """airbench94's weight averaging around an optimizer (its ``step``, ``zero_grad``, ``param_groups`` and
    ``state_dict`` pass through, the average included, so a checkpoint resumes it). After ``start`` of the
    ``total`` steps, every ``every`` steps the model's weights and batch-norm statistics move into a running
    average of themselves, whose memory grows from 0 to ``decay ** every`` as (step / total) ** ``power``, and are
    replaced by it; at the end of each epoch, and of training, they are replaced by it again. The model scored
    and attacked is the one these weights make: no copy is kept aside."""

    def __init__(self, optimizer: torch.optim.Optimizer, model: nn.Module, total: int, steps_per_epoch: int) -> None:
        self.optimizer, self.model, self.total, self.steps_per_epoch = optimizer, model, total, steps_per_epoch
        self.steps, self.average = 0, None

    @property
    def param_groups(self) -> list[dict]:
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        self.optimizer.step()
        self.steps += 1
        if self.steps > AIRBENCH_LOOKAHEAD_START * self.total and self.steps % AIRBENCH_LOOKAHEAD_EVERY == 0:
            if self.average is None:
                self.average = {k: v.detach().clone() for k, v in self._floats().items()}
            else:
                progress = self.steps / self.total
                self._pull(AIRBENCH_LOOKAHEAD_DECAY ** AIRBENCH_LOOKAHEAD_EVERY * progress ** AIRBENCH_LOOKAHEAD_POWER)
        if self.average is not None and (self.steps % self.steps_per_epoch == 0 or self.steps == self.total):
            self._pull(1.0)

    def _floats(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def _pull(self, memory: float) -> None:
        """average <- memory * average + (1 - memory) * weights, then weights <- average."""
        for name, value in self._floats().items():
            self.average[name].lerp_(value, 1 - memory)
            value.copy_(self.average[name])

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "steps": self.steps, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.average = state["steps"], state["average"]


def rates_on_device(optimizer: torch.optim.Optimizer) -> None:
    """Each parameter group's learning rate as a 0-d tensor on its parameters' device, which ``set_learning_rate``
    fills in place: what a step captured as a CUDA graph reads at every replay (a Python number would be frozen
    into the graph). Called again after a checkpoint's state is loaded, which brings Python numbers back."""
    for group in optimizer.param_groups:
        if not isinstance(group["lr"], torch.Tensor):
            group["lr"] = torch.tensor(float(group["lr"]), device=group["params"][0].device)


def set_learning_rate(optimizer: torch.optim.Optimizer, step: int, profile: Profile) -> None:
    """Each parameter group's learning rate at ``step``: the schedule's (``learning_rate_at``) times the group's
    ``lr_scale``, and 0 from the fraction ``until`` of training on, where a group has one."""
    rate = learning_rate_at(step, profile)
    for group in optimizer.param_groups:
        trains = step < group.get("until", 1.0) * profile.train_steps
        value = rate * group.get("lr_scale", 1.0) if trains else 0.0
        if isinstance(group["lr"], torch.Tensor):   # a captured step's: filled on the device, the graph reads it
            group["lr"].fill_(value)
        else:
            group["lr"] = value


def augmented(images: torch.Tensor, step: int, seed: int, translate: int = AIRBENCH_TRANSLATE) -> torch.Tensor:
    """``images`` randomly flipped left-right and shifted by up to ``translate`` pixels each way (the shifted-in
    border reflected), drawn from (``seed``, ``step``) alone, so a resumed training sees the same batches."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    n, _, height, width = images.shape
    flips = torch.rand(n, generator=generator) < 0.5
    shifts = torch.randint(0, 2 * translate + 1, (2, n), generator=generator)
    x = torch.where(flips.to(images.device).view(-1, 1, 1, 1), images.flip(-1), images)
    padded = torch.nn.functional.pad(x, (translate,) * 4, mode="reflect")
    rows = (shifts[0, :, None] + torch.arange(height)).to(images.device)   # [n, height]
    cols = (shifts[1, :, None] + torch.arange(width)).to(images.device)    # [n, width]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]].contiguous(
        memory_format=torch.channels_last if images.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format)


def learning_rate_at(step: int, profile: Profile) -> float:
    """The learning rate at ``step``: constant, or a cosine decay from ``learning_rate`` to 0."""
    if profile.lr_schedule == "constant":
        return profile.learning_rate
    if profile.lr_schedule == "cosine":
        return profile.learning_rate * 0.5 * (1 + math.cos(math.pi * step / profile.train_steps))
    if profile.lr_schedule == "triangle":  # airbench94's: linear up from a start factor to 1, then down to an end one
        start, peak, end = AIRBENCH_LR_TRIANGLE
        top = int(peak * profile.train_steps)
        if step < top:
            return profile.learning_rate * (start + (1 - start) * step / top)
        return profile.learning_rate * (1 + (end - 1) * (step - top) / max(1, profile.train_steps - top))
    raise ValueError(f"unknown lr_schedule {profile.lr_schedule!r}: choose one of {LR_SCHEDULES}")
