"""Masked (localized) L-inf PGD, the attack of the paper and of training.

Batched (no per-image loop). For evaluation it returns, per image, the iterate of highest loss it
visited (``iterate="best"``), so it is never weaker than the same PGD returning its last iterate;
training takes the last iterate (``iterate="last"``, as Algorithm 1, torchattacks and Madry et al.'s
code do), which saves the forward pass that scores it.
``precision="bf16"`` runs the forward and backward passes under bfloat16 autocast (about 2x faster on
CPUs with AVX512-BF16 and on GPUs); only the direction of each step comes from them: iterates,
budgets and the projection stay float32, so the budget guarantees are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_count, check_number, check_scalar_tensor
from ..spec.paper import PGD_ITERATES, PGD_RANDOM_START, PROJECTIONS
from ._common import (
    autocast,
    budget_box,
    check_attack_inputs,
    check_attack_shapes,
    check_labels,
    eval_mode,
    input_gradient,
    prepared,
    project,
    resolve_precision,
    uniform_start,
)


@dataclass(frozen=True)
class PGD:
    """A masked PGD's settings: ``steps`` sign-gradient steps of ``step_size`` (``spec.budgets.pgd_step`` gives Madry
    et al.'s rule), from a uniform random start in the budget (``random_start``). ``projection="per_step"``
    projects onto [x - E, x + E] ∩ [0, 1] after every step (the random start is drawn inside the same box): pixels
    with E = 0 never move. ``projection="final"`` is Algorithm 1 read literally: an unmasked PGD with budget max(E)
    of each image, then one clip into [x - E, x + E]. ``iterate`` is "best" (per image the iterate of highest loss,
    the last included) or "last" (training's: Algorithm 1 adds PGD's last iterate). Checked when made; a
    ``step_size`` may be a 0-d tensor (the graph-ready training step's, which changes during the eps warm-up
    without a new graph), then not read."""

    steps: int
    step_size: float | torch.Tensor
    projection: str = "per_step"
    iterate: str = "best"
    random_start: bool = PGD_RANDOM_START

    def __post_init__(self) -> None:
        check_count(self.steps, "steps")
        if not check_scalar_tensor(self.step_size, "step_size"):   # a tensor: the graph-ready training step's
            check_number(self.step_size, "step_size")
        if self.projection not in PROJECTIONS:
            raise ValueError(f"unknown projection {self.projection!r}: choose one of {PROJECTIONS}")
        if self.iterate not in PGD_ITERATES:
            raise ValueError(f"unknown iterate {self.iterate!r}: choose one of {PGD_ITERATES}")


def masked_pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_matrix: torch.Tensor,
    pgd: PGD,
    *,
    precision: str = "fp32",
    check_inputs: bool = True,
) -> torch.Tensor:
    """Localized L-inf PGD (``pgd``'s settings) on the cross-entropy loss; returns detached adversarial images.

    ``precision`` is "fp32", "bf16" or "auto" (see ``resolve_precision``). ``check_inputs=False`` skips the checks
    that read the tensors' values (images and budget in [0, 1], labels within the model's outputs): for a caller
    that checked them once, like the training loop, whose steps then never wait for the device. Shapes, types and
    settings are checked either way.
    """
    if check_inputs:
        check_attack_inputs(images, labels, eps_matrix)
    else:
        check_attack_shapes(images, labels, eps_matrix)
    if not isinstance(pgd, PGD):
        raise TypeError(f"pgd must be a PGD (its settings), got {type(pgd).__name__}")
    bf16 = resolve_precision(precision, images.device) == "bf16"
    if len(images) == 0:
        return images.detach().clone()
    x, eps_matrix, labels = prepared(images, labels, eps_matrix)
    if pgd.projection == "per_step":
        budget = eps_matrix
    else:  # Algorithm 1: attack with the largest budget everywhere, localize afterwards
        budget = eps_matrix.amax(dim=(1, 2, 3), keepdim=True).expand_as(x)
    with eval_mode(model):
        x_adv = _pgd(model, x, labels, budget, pgd, bf16, check_inputs)
    if pgd.projection == "final":
        x_adv = project(x_adv, *budget_box(x, eps_matrix))
    return x_adv.detach()


def _pgd(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, budget: torch.Tensor, pgd: PGD, bf16: bool,
         check_inputs: bool) -> torch.Tensor:
    """Sign-gradient ascent inside [x - budget, x + budget] ∩ [0, 1]; the highest-loss iterate of each
    image, or with ``iterate="last"`` the last iterate (its scoring forward pass is then not run)."""
    steps, step_size, keep_best = pgd.steps, pgd.step_size, pgd.iterate == "best"
    lower, upper = budget_box(x, budget)
    x_adv = uniform_start(x, budget, lower, upper) if pgd.random_start else x.clone()
    best, best_loss = x_adv, torch.full((x.shape[0],), -float("inf"), device=x.device)
    forwards = steps + 1 if keep_best else max(steps, 1)  # the last iterate is scored only to keep the best
    with autocast(x, bf16):
        for step in range(forwards):
            x_adv.requires_grad_(True)
            logits = model(x_adv).float()
            if step == 0 and check_inputs:
                check_labels(labels, logits)
            loss = F.cross_entropy(logits, labels, reduction="none")
            if keep_best:
                with torch.no_grad():
                    improved = loss > best_loss
                    best_loss = torch.where(improved, loss, best_loss)
                    best = torch.where(improved.view(-1, 1, 1, 1), x_adv, best)
            if step == steps:
                break
            grad = input_gradient(loss, x_adv)
            with torch.no_grad():
                x_adv = project(x_adv + step_size * grad.sign(), lower, upper)
    return best if keep_best else x_adv
