"""What every localized attack shares: input checks, the budget box, the model's mode, the arithmetic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn

from ..checks import check_count, check_finite, check_images, in_unit_interval
from ..devices import cpu_has_bf16_kernels
from ..spec.settings import PRECISIONS

ATTACK_DTYPES = (torch.float32, torch.bfloat16)   # what the attacks compute in; convert others with .float()
LABEL_DTYPES = (torch.int64, torch.int32)


def check_attack_inputs(images: torch.Tensor, labels: torch.Tensor, eps_matrix: torch.Tensor) -> None:
    """The input contract of every attack; each error names the problem.

    Images: a finite float32 or bfloat16 (N, C, H, W) tensor in [0, 1]. Budget: a finite tensor of the
    images' shape in [0, 1]. Labels: N integer class indices >= 0 (their upper bound, the model's
    number of outputs, is checked on the first forward pass: :func:`check_labels`). An empty batch
    (N = 0) is valid; the attacks return it unchanged. The values are read from the device once per tensor.
    """
    check_images(images)
    check_attack_shapes(images, labels, eps_matrix)
    if eps_matrix.numel() and not in_unit_interval(eps_matrix):
        check_finite(eps_matrix, "eps_matrix")
        raise ValueError("eps_matrix entries must lie in [0, 1]")
    if labels.numel() and labels.min() < 0:
        raise ValueError(f"labels must be class indices >= 0: {int((labels < 0).sum())} of {len(labels)} are "
                         f"negative (e.g. {int(labels.min())})")


def check_attack_shapes(images: torch.Tensor, labels: torch.Tensor, eps_matrix: torch.Tensor) -> None:
    """The part of :func:`check_attack_inputs` that reads no tensor's values: types, dtypes and shapes."""
    if not isinstance(images, torch.Tensor) or images.dtype not in ATTACK_DTYPES or images.dim() != 4:
        check_images(images)  # names the problem (not a tensor, not floating point, not 4-D)
        raise TypeError(f"images must be float32 or bfloat16, got {images.dtype}: convert them with .float()")
    if not isinstance(eps_matrix, torch.Tensor):
        raise TypeError(f"eps_matrix must be a torch.Tensor, got {type(eps_matrix).__name__}")
    if eps_matrix.shape != images.shape:
        raise ValueError(f"eps_matrix must have the shape of images {tuple(images.shape)}, "
                         f"got {tuple(eps_matrix.shape)}")
    if not eps_matrix.is_floating_point():
        raise TypeError(f"eps_matrix must be a floating-point tensor, got dtype {eps_matrix.dtype}")
    if not isinstance(labels, torch.Tensor) or labels.dtype not in LABEL_DTYPES:
        raise TypeError("labels must be an integer torch.Tensor of class indices")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), one per image, got {tuple(labels.shape)}")


def check_labels(labels: torch.Tensor, logits: torch.Tensor) -> None:
    """Labels within the model's outputs: every label < the width of ``logits`` (the first forward pass)."""
    classes = logits.shape[1]
    out = labels >= classes
    if out.any():
        raise ValueError(f"labels must be class indices in [0, {classes}) (the model has {classes} outputs): "
                         f"{int(out.sum())} of {len(labels)} are not (e.g. {int(labels[out][0])})")


def check_positive(value: int, name: str) -> None:
    """An int >= 1 (queries, targets)."""
    check_count(value, name)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def prepared(images: torch.Tensor, labels: torch.Tensor, eps_matrix: torch.Tensor):
    """Detached float images, the budget on their device and dtype, long labels."""
    x = images.detach()
    return x, eps_matrix.detach().to(dtype=x.dtype, device=x.device), labels.to(device=x.device, dtype=torch.long)


def budget_box(x: torch.Tensor, budget: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lower and upper bound of every pixel: [x - budget, x + budget] ∩ [0, 1]."""
    return (x - budget).clamp(min=0.0), (x + budget).clamp(max=1.0)


def project(x_adv: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    return torch.minimum(torch.maximum(x_adv, lower), upper)


def uniform_start(x: torch.Tensor, budget: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """A uniform random point of the budget box (pixels with budget 0 stay where they are)."""
    return project(x + torch.empty_like(x).uniform_(-1.0, 1.0) * budget, lower, upper)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode for the attack; its previous mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def autocast(x: torch.Tensor, bf16: bool):
    """One bf16 autocast context for a whole attack (so the weights are cast once, not at every step);
    element-wise work outside the model (steps, projections) is not autocast and stays float32. While a CUDA graph
    is captured (``study.graphs``) its cache of cast weights is off, as PyTorch requires there."""
    return torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16, cache_enabled=not capturing(x.device))


def capturing(device: torch.device) -> bool:
    """Whether a CUDA graph is being captured on ``device``'s current stream (``study.graphs.CapturedStep``)."""
    return device.type == "cuda" and torch.cuda.is_current_stream_capturing()


AUTO_PRECISION_VARIABLE = "LAT_AUTO_PRECISION"


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """"fp32" or "bf16": ``precision`` itself, or for "auto" bf16 where ``device`` computes it natively
    (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX) and fp32 elsewhere.

    ``$LAT_AUTO_PRECISION`` ("fp32" or "bf16") decides "auto" instead: a run computes as on the other kind of
    CPU (the same profile gives other numbers with and without bf16 kernels), e.g. to reproduce its report."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: choose one of {PRECISIONS}")
    if precision != "auto":
        return precision
    chosen = os.environ.get(AUTO_PRECISION_VARIABLE, "")
    if chosen:
        if chosen not in ("fp32", "bf16"):
            raise ValueError(f"${AUTO_PRECISION_VARIABLE} is {chosen!r}: set it to 'fp32' or 'bf16', or unset it")
        return chosen
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_bf16_kernels() else "fp32"
    return "fp32"


def misclassified(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return logits.argmax(1) != labels


def better(candidate_wrong: torch.Tensor, candidate_score: torch.Tensor, best_wrong: torch.Tensor,
           best_score: torch.Tensor) -> torch.Tensor:
    """Per image: is the candidate a better adversarial point? Misclassified beats correct; then the higher score."""
    return (candidate_wrong & ~best_wrong) | ((candidate_wrong == best_wrong) & (candidate_score > best_score))


def rows(mask: torch.Tensor) -> torch.Tensor:
    """A per-image boolean as a mask broadcastable over (N, C, H, W)."""
    return mask.view(-1, 1, 1, 1)


def input_gradient(objective: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d objective.sum() / d x; zeros where the model does not depend on its input differentiably
    (a thresholding model, say: gradient attacks then stand still, and Square still attacks it)."""
    (grad,) = torch.autograd.grad(objective.sum(), x, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad
