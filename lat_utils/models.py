"""The study's classifiers: the paper's (Madry et al.'s MNIST-challenge CNN, also used on CIFAR-10) and, for
CIFAR-10, a network of the paper's accuracy class (``AirbenchNet``)."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from .spec.recipes import NETWORKS, PAPER_CNN


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


CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)   # per-channel mean and standard deviation of CIFAR-10's training images
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class AirbenchNet(nn.Module):
    """Keller Jordan's airbench94 network for CIFAR-10 (arXiv 2404.00498), written here: about 94% test accuracy
    in ten epochs of its recipe (``recipes.NETWORKS["airbench"]``) on the original CIFAR-10 (on our JPEG copy:
    bench/README.md), 2M parameters.

    Normalization -> a frozen 2x2 whitening convolution (24 channels, set from the training images'
    patches by ``whiten_from``) -> GELU -> three groups of [conv 3x3 -> 2x2 max-pool -> batch norm -> GELU ->
    conv 3x3 -> batch norm -> GELU] of widths 64, 256, 256 -> 3x3 max-pool -> linear (no bias) -> x 1/9.
    Batch norm has frozen unit scales and trainable shifts; each convolution starts as an identity on its
    first input channels (Dirac). Takes images in [0, 1] (the normalization is the network's first layer,
    so the attack budgets stay in pixel space); an attack runs it in eval mode (batch norm's running
    statistics), as it is scored.
    """

    WHITEN_SIZE = 2

    def __init__(self, num_classes: int = 10, widths: tuple[int, int, int] = (64, 256, 256)) -> None:
        super().__init__()
        self.in_channels, self.image_size, self.num_classes = 3, 32, num_classes
        self.register_buffer("mean", torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CIFAR10_STD).view(1, 3, 1, 1))
        whitened = 2 * 3 * self.WHITEN_SIZE ** 2
        self.whiten = nn.Conv2d(3, whitened, kernel_size=self.WHITEN_SIZE, bias=True)
        self.whiten.weight.requires_grad_(False)
        nn.init.zeros_(self.whiten.bias)
        layers, width = [nn.GELU()], whitened
        for out in widths:
            layers += [_conv(width, out), nn.MaxPool2d(2), _batch_norm(out), nn.GELU(),
                       _conv(out, out), _batch_norm(out), nn.GELU()]
            width = out
        self.features = nn.Sequential(*layers, nn.MaxPool2d(3), nn.Flatten())
        self.head = nn.Linear(width, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.whiten((x - self.mean) / self.std)
        return self.head(self.features(x)) / 9

    @torch.no_grad()
    def whiten_from(self, images: torch.Tensor, eps: float = 5e-4) -> AirbenchNet:
        """Set the whitening convolution from ``images`` (training images in [0, 1]): the eigenvectors of their
        2x2 patches' second-moment matrix, each scaled by 1/sqrt(eigenvalue + eps), and their negatives."""
        x = ((images.float() - self.mean.cpu()) / self.std.cpu())
        k = self.WHITEN_SIZE
        patches = x.unfold(2, k, 1).unfold(3, k, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * k * k).double()
        values, vectors = torch.linalg.eigh(patches.T @ patches / len(patches))
        filters = (vectors.T / (values + eps).sqrt()[:, None]).flip(0).reshape(-1, 3, k, k)
        self.whiten.weight.copy_(torch.cat([filters, -filters]).to(self.whiten.weight))
        return self


def _conv(channels_in: int, channels_out: int) -> nn.Conv2d:
    """A 3x3 'same' convolution without bias, its first ``channels_in`` filters the identity (Dirac)."""
    conv = nn.Conv2d(channels_in, channels_out, kernel_size=3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[:channels_in])
    return conv


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    """Batch norm with a frozen unit scale and a trainable shift; running statistics with momentum 0.4."""
    norm = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    norm.weight.requires_grad_(False)
    return norm


def model_for(dataset: str, network: str = PAPER_CNN) -> nn.Module:
    """A fresh network of ``recipes.NETWORKS`` for ``dataset`` ("mnist" or "cifar10"): ``PaperCNN`` shaped for it,
    or ``AirbenchNet`` ("airbench", CIFAR-10 only; its whitening layer still to be set from the training images)."""
    shapes = {"mnist": (1, 28), "cifar10": (3, 32)}
    if dataset not in shapes:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {sorted(shapes)}")
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}: choose one of {list(NETWORKS)}")
    if dataset not in NETWORKS[network].datasets:
        raise ValueError(f"the {network} network is for {', '.join(NETWORKS[network].datasets)}, not {dataset}")
    if network == "airbench":
        return AirbenchNet()
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
