"""Masked (localized) L-inf PGD: every pixel has its own budget, given by an epsilon matrix.

``masked_pgd`` is the one attack of the project; training and evaluation both call it. It is
batched (no per-image loop), runs on the device of its inputs, never touches the model's parameter
gradients, and returns, per image, the iterate of highest loss it visited, so it is never weaker
than the same PGD returning its last iterate (as torchattacks and Madry et al.'s code do).

``precision="bf16"`` runs the model's forward and backward passes under bfloat16 autocast (about 2x
faster on CPUs with AVX512-BF16 and on GPUs); only the direction of each step comes from them: the
iterates, the budgets and the projection stay float32, so the budget guarantees are unchanged.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_count, check_images
from .config import PRECISIONS, PROJECTIONS


def masked_pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_matrix: torch.Tensor,
    *,
    steps: int,
    step_size: float,
    random_start: bool = True,
    projection: str = "per_step",
    precision: str = "fp32",
) -> torch.Tensor:
    """Localized L-inf PGD on the cross-entropy loss; returns detached adversarial images.

    ``projection="per_step"`` projects onto [x - E, x + E] ∩ [0, 1] after every step (the random
    start is drawn inside the same box): pixels with E = 0 never move. ``projection="final"`` is
    Algorithm 1 read literally: an unmasked PGD with budget max(E) of each image, then one clip
    into [x - E, x + E]. ``precision`` is "fp32", "bf16" or "auto" (see ``resolve_precision``).

    The model is put in eval mode for the attack and its previous mode is restored.
    """
    _check_attack_inputs(images, labels, eps_matrix, steps, step_size, projection)
    bf16 = resolve_precision(precision, images.device) == "bf16"
    x = images.detach()
    eps_matrix = eps_matrix.detach().to(dtype=x.dtype, device=x.device)
    if projection == "per_step":
        budget = eps_matrix
    else:  # Algorithm 1: attack with the largest budget everywhere, localize afterwards
        budget = eps_matrix.amax(dim=(1, 2, 3), keepdim=True).expand_as(x)
    labels = labels.to(device=x.device, dtype=torch.long)

    was_training = model.training
    model.eval()
    try:
        x_adv = _pgd(model, x, labels, budget, steps, step_size, random_start, bf16)
    finally:
        model.train(was_training)
    if projection == "final":
        x_adv = torch.minimum(torch.maximum(x_adv, (x - eps_matrix).clamp(min=0.0)), (x + eps_matrix).clamp(max=1.0))
    return x_adv.detach()


def _pgd(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    budget: torch.Tensor,
    steps: int,
    step_size: float,
    random_start: bool,
    bf16: bool,
) -> torch.Tensor:
    """Sign-gradient ascent inside [x - budget, x + budget] ∩ [0, 1]; the highest-loss iterate of each image."""
    lower, upper = (x - budget).clamp(min=0.0), (x + budget).clamp(max=1.0)
    x_adv = x.clone()
    if random_start:
        noise = torch.empty_like(x).uniform_(-1.0, 1.0) * budget
        x_adv = torch.minimum(torch.maximum(x + noise, lower), upper)
    best, best_loss = x_adv, torch.full((x.shape[0],), -float("inf"), device=x.device)
    # one autocast context for all steps, so the weights are cast to bf16 once, not at every step; the
    # element-wise steps and projections below are not autocast and stay float32
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        for step in range(steps + 1):
            x_adv.requires_grad_(True)
            loss = F.cross_entropy(model(x_adv).float(), labels, reduction="none")
            with torch.no_grad():
                improved = loss > best_loss
                best_loss = torch.where(improved, loss, best_loss)
                best = torch.where(improved.view(-1, 1, 1, 1), x_adv, best)
            if step == steps:  # the last forward only scores the last iterate
                break
            (grad,) = torch.autograd.grad(loss.sum(), x_adv)
            with torch.no_grad():
                x_adv = torch.minimum(torch.maximum(x_adv + step_size * grad.sign(), lower), upper)
    return best


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """"fp32" or "bf16": ``precision`` itself, or for "auto" bf16 where ``device`` computes it natively
    (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX) and fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: choose one of {PRECISIONS}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and hasattr(torch.cpu, "get_capabilities"):
        capabilities = torch.cpu.get_capabilities()
        return "bf16" if capabilities.get("avx512_bf16") or capabilities.get("amx_bf16") else "fp32"
    return "fp32"


def _check_attack_inputs(
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_matrix: torch.Tensor,
    steps: int,
    step_size: float,
    projection: str,
) -> None:
    check_images(images)
    if not isinstance(eps_matrix, torch.Tensor):
        raise TypeError(f"eps_matrix must be a torch.Tensor, got {type(eps_matrix).__name__}")
    if eps_matrix.shape != images.shape:
        raise ValueError(f"eps_matrix must have the shape of images {tuple(images.shape)}, "
                         f"got {tuple(eps_matrix.shape)}")
    if eps_matrix.numel() and (eps_matrix.min() < 0 or eps_matrix.max() > 1):
        raise ValueError("eps_matrix entries must lie in [0, 1]")
    if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32):
        raise TypeError("labels must be an integer torch.Tensor of class indices")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), one per image, got {tuple(labels.shape)}")
    check_count(steps, "steps")
    if isinstance(step_size, bool) or not isinstance(step_size, (int, float)) or step_size < 0:
        raise ValueError(f"step_size must be a number >= 0, got {step_size!r}")
    if projection not in PROJECTIONS:
        raise ValueError(f"unknown projection {projection!r}: choose one of {PROJECTIONS}")
