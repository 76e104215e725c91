"""A localized AutoAttack: masked PGD, APGD-CE, APGD-DLR, APGD-T and Square, the worst case per image.

Croce & Hein's "standard" AutoAttack runs APGD-CE, APGD-T, FAB-T and Square, each only on the
images still classified correctly. Ours takes an epsilon matrix, starts with the study's own attack
(masked PGD, so the ensemble is never weaker than it) and leaves out FAB-T (a minimum-norm attack
whose steps do not extend to a per-pixel budget). In its place it runs APGD with the untargeted DLR
loss (the original AutoAttack's second attack, and part of its "plus" version): a third loss, from a
third random start, for the images the cross-entropy left (images that torchattacks' APGD-DLR can break
and the other attacks, with their random starts, may miss; tests/test_attacks.py compares). As in
AutoAttack, APGD-DLR, APGD-T and Square only attack images still correct. PGD and APGD-CE attack
every image: they maximize the cross-entropy, the paper's measure, and ``loss`` reports per image
the highest cross-entropy that a gradient attack's point has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..spec.budgets import STANDARD, STANDARD_PGD_STEPS, AutoAttackBudget, pgd_step
from ._common import check_attack_inputs, check_labels, eval_mode, misclassified, prepared, resolve_precision, rows
from .apgd import masked_apgd
from .pgd import PGD, masked_pgd
from .square import masked_square

ATTACK_NAMES = ("pgd", "apgd-ce", "apgd-dlr", "apgd-t", "square")   # in the order they run
NATURAL = "natural"                                     # ``broken_by`` of an image wrong without any attack


@dataclass
class AutoAttackResult:
    """Per image: the worst case found, what broke it, and the highest cross-entropy a gradient attack found."""

    images: torch.Tensor        # a misclassified image from the first attack that broke it, else the highest-loss one
    broken_by: list[str]        # the first attack that made it wrong, "natural" if it was wrong already, "" if none did
    loss: torch.Tensor          # the highest cross-entropy over the natural image and the gradient attacks' points
    pgd_loss: torch.Tensor      # the cross-entropy of masked PGD's image alone (the study's attack)

    @property
    def robust(self) -> torch.Tensor:
        """Per image: still correct after every attack."""
        return torch.tensor([name == "" for name in self.broken_by])

    @property
    def pgd_robust(self) -> torch.Tensor:
        """Per image: correct under masked PGD alone."""
        return torch.tensor([name not in (NATURAL, "pgd") for name in self.broken_by])


def localized_autoattack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_matrix: torch.Tensor,
    budget: AutoAttackBudget = STANDARD,
    *,
    pgd: PGD | None = None,
    precision: str = "fp32",
) -> AutoAttackResult:
    """Run the ensemble on ``images`` with budget ``eps_matrix``; see the module's docstring.

    ``budget``: what APGD and Square may spend (``spec.budgets``: the reference's ``STANDARD`` by default).
    ``pgd``: the first attack's settings (default: ``STANDARD_PGD_STEPS`` steps of Madry et al.'s step for the
    largest budget). An attack given 0 steps, targets or queries is left out. ``precision`` is the gradient
    attacks' arithmetic (as in ``masked_pgd``); Square computes in float32.
    """
    if not isinstance(budget, AutoAttackBudget) or not (pgd is None or isinstance(pgd, PGD)):
        raise TypeError(f"budget must be an AutoAttackBudget and pgd a PGD or None, got {type(budget).__name__} "
                        f"and {type(pgd).__name__}")
    check_attack_inputs(images, labels, eps_matrix)
    resolve_precision(precision, images.device)  # an unknown precision is named before any work
    if len(images) == 0:
        empty = torch.zeros(0, device=images.device)
        return AutoAttackResult(images.detach().clone(), [], empty, empty.clone())
    x, eps_matrix, labels = prepared(images, labels, eps_matrix)
    if pgd is None:
        pgd = PGD(steps=STANDARD_PGD_STEPS, step_size=pgd_step(float(eps_matrix.max()), STANDARD_PGD_STEPS))
    with eval_mode(model):
        natural_loss, natural_wrong = _scores(model, x, labels)
    worst = _WorstCase(x, labels, natural_loss, natural_wrong)
    pgd_loss = natural_loss.clone()
    attacks = _ensemble(pgd, budget, precision)
    for name, on_every_image, gradient_attack, attack in attacks:
        index = worst.everyone if on_every_image else worst.still_correct.nonzero().squeeze(1)
        if not len(index):
            continue
        # the attacks on every image take the batch itself (an indexed copy could change its memory layout)
        subset = (x, labels, eps_matrix) if on_every_image else (x[index], labels[index], eps_matrix[index])
        adv_loss = worst.record(model, name, index, attack(model, *subset), gradient_attack)
        if name == "pgd":
            pgd_loss = adv_loss
    return AutoAttackResult(worst.images.detach(), worst.broken_by, worst.loss.detach(), pgd_loss.detach())


Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _ensemble(pgd: PGD, budget: AutoAttackBudget, precision: str) -> list[tuple[str, bool, bool, Attack]]:
    """The attacks in the order they run, each as (name, runs on every image rather than on those still
    correct, is a gradient attack, the attack); an attack given 0 steps, targets or queries is left out."""
    def apgd(loss: str, **extra) -> Attack:
        return lambda model, x, y, eps: masked_apgd(model, x, y, eps, steps=budget.apgd_steps, loss=loss,
                                                    precision=precision, **extra)

    steps, targets, queries = budget.apgd_steps, budget.apgd_targets, budget.square_queries
    attacks = [
        ("pgd", pgd.steps > 0, True, lambda model, x, y, eps: masked_pgd(model, x, y, eps, pgd, precision=precision)),
        ("apgd-ce", steps > 0, True, apgd("ce")),
        ("apgd-dlr", steps > 0, False, apgd("dlr")),
        ("apgd-t", steps > 0 and targets > 0, False, apgd("dlr-targeted", targets=targets)),
        # Square in float32 whatever ``precision``: in bf16 its logits are too coarse to see the small margin
        # gains of its late queries, and it breaks fewer images (bench/precision_gate.py --square)
        ("square", queries > 0, False, lambda model, x, y, eps: masked_square(
            model, x, y, eps, queries=queries, precision="fp32")),
    ]
    gradient = {"pgd", "apgd-ce", "apgd-dlr", "apgd-t"}
    return [(name, on_every_image, name in gradient, attack) for name, runs, on_every_image, attack in attacks if runs]


class _WorstCase:
    """Per image, the worst case the ensemble has found so far: the image, what broke it, the highest
    cross-entropy of a gradient attack's point, and whether it is still classified correctly."""

    def __init__(self, x: torch.Tensor, labels: torch.Tensor, natural_loss: torch.Tensor,
                 natural_wrong: torch.Tensor) -> None:
        self.labels = labels
        self.images, self.image_loss = x.clone(), natural_loss.clone()
        self.loss = natural_loss.clone()
        self.still_correct = ~natural_wrong
        self.broken_by = [NATURAL if wrong else "" for wrong in natural_wrong.tolist()]
        self.everyone = torch.arange(len(x), device=x.device)

    def record(self, model: nn.Module, name: str, index: torch.Tensor, x_adv: torch.Tensor,
               gradient_attack: bool) -> torch.Tensor:
        """Fold one attack's images (of the images ``index``) into the worst case; their cross-entropy."""
        with eval_mode(model):
            adv_loss, adv_wrong = _scores(model, x_adv, self.labels[index])
        was_correct = self.still_correct[index]
        newly_broken = adv_wrong & was_correct
        # the worst case of a broken image is what broke it first; of one still correct, the highest-loss
        # point of a gradient attack (so that its loss is the one reported)
        replace = newly_broken | (was_correct & gradient_attack & (adv_loss > self.image_loss[index]))
        self.images[index] = torch.where(rows(replace), x_adv, self.images[index])
        self.image_loss[index] = torch.where(replace, adv_loss, self.image_loss[index])
        self.still_correct[index] = was_correct & ~adv_wrong
        for i in index[newly_broken].tolist():
            self.broken_by[i] = name
        if gradient_attack:
            self.loss[index] = torch.maximum(self.loss[index], adv_loss)
        return adv_loss


def _scores(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: cross-entropy (float32) and whether it is misclassified."""
    with torch.no_grad():
        logits = model(x).float()
    check_labels(labels, logits)
    return F.cross_entropy(logits, labels, reduction="none"), misclassified(logits, labels)
