"""The paper's classifier: Madry et al.'s MNIST-challenge CNN, also used on CIFAR-10."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


class PaperCNN(nn.Module):
    """conv 5x5x32 -> ReLU -> 2x2 max-pool -> conv 5x5x64 -> ReLU -> 2x2 max-pool -> FC 1024 -> ReLU -> logits.

    'same' padding, as in Madry et al.'s MNIST challenge. Each ReLU is applied after its pooling
    instead of before: max-pooling commutes with the (monotone) ReLU, so outputs and gradients are
    identical (tested), and the ReLU and its backward touch 4x fewer values. Takes images in [0, 1]
    without normalization (the attack budgets are in that space). 28x28x1 (MNIST) gives 7x7x64
    features before the FC layer, 32x32x3 (CIFAR-10) gives 8x8x64.
    """

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4 (two 2x2 poolings), got {image_size}")
        self.in_channels, self.image_size, self.num_classes = in_channels, image_size, num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, kernel_size=5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(),
        )
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * side * side, 1024),
            nn.ReLU(),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def fast_layout(x: torch.Tensor | nn.Module, device: torch.device | str | None = None):
    """``x`` (images or a model) in the channels-last memory layout, optionally moved to ``device``.

    Convolutions run 15-20% faster so on CPU (measured by bench/bench_pgd.py); the values, and so the
    results up to float rounding, are the same.
    """
    return x.to(device=device, memory_format=torch.channels_last)


def model_for(dataset: str) -> PaperCNN:
    """A fresh ``PaperCNN`` shaped for ``dataset`` ("mnist" or "cifar10")."""
    shapes = {"mnist": (1, 28), "cifar10": (3, 32)}
    if dataset not in shapes:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {sorted(shapes)}")
    in_channels, image_size = shapes[dataset]
    return PaperCNN(in_channels=in_channels, image_size=image_size)


class StackedModels(nn.Module):
    """Several models of one architecture run as one network with ``torch.func.vmap``: on a GPU, one
    kernel launch per layer for all of them instead of one per model (the GPU path of
    ``training.train_together``).

    Input: the models' batches one after the other, [M * B, ...], model m taking rows m*B to
    (m+1)*B - 1; output: their logits in the same order. Each parameter is stacked along a new first
    dimension, so one element-wise optimizer (Adam) updates every model as M separate ones would.
    """

    def __init__(self, models: list[nn.Module]) -> None:
        super().__init__()
        if not models:
            raise ValueError("StackedModels needs at least one model")
        params, buffers = torch.func.stack_module_state(models)
        if buffers:
            raise ValueError("StackedModels takes models without buffers (such as PaperCNN)")
        self.count, self.names = len(models), list(params)
        self.stacked = nn.ParameterList(nn.Parameter(p.detach()) for p in params.values())
        # the architecture only (no weights, not a submodule): functional_call fills in each model's weights
        object.__setattr__(self, "template", copy.deepcopy(models[0]).to("meta"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def one(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(self.template, params, (x,))

        params = dict(zip(self.names, self.stacked))
        return torch.func.vmap(one)(params, x.unflatten(0, (self.count, -1))).flatten(0, 1)

    def state_dict_of(self, index: int) -> dict[str, torch.Tensor]:
        """The state dict of model ``index``, as the single model's ``state_dict()`` would give it."""
        return {name: p[index].detach().clone() for name, p in zip(self.names, self.stacked)}
