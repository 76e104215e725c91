"""Masked Auto-PGD (Croce & Hein, ICML 2020, Algorithm 1) with a per-pixel budget.

APGD is PGD without a step size to tune: steps start at 2 x the budget, move with momentum 0.75,
and are halved at checkpoints (after 22% of the iterations, then at shrinking intervals of at least
6%) wherever too few steps improved the loss since the last checkpoint (at most rho = 75% did) or
the best loss did not move and the step was not halved last time; a halving restarts from the best
point. Localized: every step and the random start are scaled by each pixel's budget E (a pixel's
step is (step factor) x E), and every iterate is projected onto [x - E, x + E] ∩ [0, 1], so pixels
with E = 0 never move.

Losses: ``"ce"`` (cross-entropy; APGD-CE), ``"dlr"`` (the difference of logits ratio,
-(z_y - max_{j != y} z_j) / (z_1 - z_3), with z_i the i-th largest logit; APGD-DLR, the original
AutoAttack's second attack) and ``"dlr-targeted"`` (-(z_y - z_t) / (z_1 - (z_3 + z_4) / 2); APGD-T), run
once per target class t, the ``targets`` most likely wrong classes of the natural image.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import check_count
from ._common import (
    autocast,
    better,
    budget_box,
    check_attack_inputs,
    check_labels,
    check_positive,
    eval_mode,
    input_gradient,
    misclassified,
    prepared,
    project,
    resolve_precision,
    rows,
    uniform_start,
)

APGD_LOSSES = ("ce", "dlr", "dlr-targeted")
MOMENTUM = 0.75
RHO = 0.75                                   # a checkpoint halves the step unless more than rho of the steps improved
FIRST_CHECKPOINT, MIN_INTERVAL, INTERVAL_DECREASE = 0.22, 0.06, 0.03   # fractions of the iterations


def masked_apgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_matrix: torch.Tensor,
    *,
    steps: int = 100,
    loss: str = "ce",
    targets: int = 9,
    precision: str = "fp32",
) -> torch.Tensor:
    """Localized APGD; returns detached adversarial images.

    Per image, it returns a misclassified iterate when any run found one (the one of highest loss
    among them), else the iterate of highest loss. One random start per run (the reference's standard
    budget; the ensemble's other attacks bring their own starts); with ``loss="dlr-targeted"`` one run per target class (``targets`` of them, at most classes - 1).
    Every run after the first attacks only the images not misclassified yet.
    ``precision`` as in ``masked_pgd``: bf16 chooses the steps, everything else stays float32.
    """
    check_attack_inputs(images, labels, eps_matrix)
    check_count(steps, "steps")
    if loss not in APGD_LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {APGD_LOSSES}")
    check_positive(targets, "targets")
    bf16 = resolve_precision(precision, images.device) == "bf16"
    if len(images) == 0:
        return images.detach().clone()
    x, eps_matrix, labels = prepared(images, labels, eps_matrix)
    with eval_mode(model):
        with torch.no_grad():
            logits = model(x).float()
        check_labels(labels, logits)
        if loss != "ce" and logits.shape[1] < 4:
            raise ValueError(f"the DLR loss needs at least 4 classes, the model has {logits.shape[1]}")
        best, best_wrong = x.clone(), misclassified(logits, labels)
        best_score = torch.full((len(x),), -float("inf"), device=x.device)
        ranked = _wrong_classes_by_likelihood(logits, labels)
        runs = [None] if loss != "dlr-targeted" else [ranked[:, t] for t in range(min(targets, logits.shape[1] - 1))]
        for target in runs:
            todo = (~best_wrong).nonzero().squeeze(1)
            if len(todo) == 0:
                break
            x_run, wrong, score = _apgd_run(model, x[todo], labels[todo], eps_matrix[todo], loss,
                                            None if target is None else target[todo], steps, bf16)
            take = better(wrong, score, best_wrong[todo], best_score[todo])
            best[todo] = torch.where(rows(take), x_run, best[todo])
            best_wrong[todo] = torch.where(take, wrong, best_wrong[todo])
            best_score[todo] = torch.where(take, score, best_score[todo])
    return best.detach()


def _wrong_classes_by_likelihood(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N, classes - 1): every class but the true one, most likely first (the targets of APGD-T)."""
    order = logits.argsort(dim=1, descending=True)
    keep = order != labels.view(-1, 1)
    return order[keep].view(len(order), -1)


def _objective(logits: torch.Tensor, labels: torch.Tensor, loss: str, target: torch.Tensor | None) -> torch.Tensor:
    """Per image: the cross-entropy, the DLR loss or the targeted DLR loss (``target``), all to be maximized."""
    if loss == "ce":
        return F.cross_entropy(logits, labels, reduction="none")
    top = logits.sort(dim=1, descending=True).values
    index = torch.arange(len(logits), device=logits.device)
    if loss == "dlr":
        best_other = logits.scatter(1, labels.view(-1, 1), -float("inf")).amax(dim=1)
        return -(logits[index, labels] - best_other) / (top[:, 0] - top[:, 2] + 1e-12)
    return -(logits[index, labels] - logits[index, target]) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)


def _checkpoint_interval(steps: int) -> tuple[int, int, int]:
    """The first checkpoint's distance, the smallest distance and the decrease between checkpoints, in iterations."""
    return (max(int(FIRST_CHECKPOINT * steps), 1), max(int(MIN_INTERVAL * steps), 1),
            max(int(INTERVAL_DECREASE * steps), 1))


def _apgd_run(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, budget: torch.Tensor, loss: str,
              target: torch.Tensor | None, steps: int, bf16: bool):
    """One APGD run from a random start: per image the best point (misclassified first, then highest
    objective), whether it is misclassified, and its objective."""
    lower, upper = budget_box(x, budget)
    n = len(x)

    def evaluate(point: torch.Tensor):
        point = point.detach().requires_grad_(True)
        logits = model(point).float()
        objective = _objective(logits, labels, loss, target)
        grad = input_gradient(objective, point)
        return objective.detach(), grad.detach(), misclassified(logits.detach(), labels)

    with autocast(x, bf16):
        x_adv = uniform_start(x, budget, lower, upper)
        objective, grad, wrong = evaluate(x_adv)
        out, out_wrong, out_score = x_adv.clone(), wrong, objective.clone()     # what the run returns
        x_max, grad_max, loss_max = x_adv.clone(), grad.clone(), objective.clone()  # where a halving restarts
        x_prev, previous = x_adv.clone(), objective.clone()
        factor = torch.full((n, 1, 1, 1), 2.0, device=x.device)        # a pixel's step is factor x its budget
        interval, min_interval, decrease = _checkpoint_interval(steps)
        since_checkpoint, improvements = 0, torch.zeros(n, device=x.device)
        loss_at_checkpoint, halved_at_checkpoint = loss_max.clone(), torch.ones(n, dtype=torch.bool, device=x.device)
        for step in range(steps):
            with torch.no_grad():
                momentum = 1.0 if step == 0 else MOMENTUM
                z = project(x_adv + factor * budget * grad.sign(), lower, upper)
                x_next = project(x_adv + momentum * (z - x_adv) + (1 - momentum) * (x_adv - x_prev), lower, upper)
                x_prev, x_adv = x_adv, x_next
            objective, grad, wrong = evaluate(x_adv)
            with torch.no_grad():
                take = better(wrong, objective, out_wrong, out_score)
                out = torch.where(rows(take), x_adv, out)
                out_wrong, out_score = torch.where(take, wrong, out_wrong), torch.where(take, objective, out_score)
                improvements += (objective > previous).float()
                previous = objective
                improved = objective > loss_max
                x_max = torch.where(rows(improved), x_adv, x_max)
                grad_max = torch.where(rows(improved), grad, grad_max)
                loss_max = torch.where(improved, objective, loss_max)
                since_checkpoint += 1
                if since_checkpoint == interval:
                    oscillating = improvements <= RHO * interval
                    stalled = ~halved_at_checkpoint & (loss_at_checkpoint >= loss_max)
                    halve = oscillating | stalled
                    factor = torch.where(rows(halve), factor / 2, factor)
                    x_adv = torch.where(rows(halve), x_max, x_adv)
                    grad = torch.where(rows(halve), grad_max, grad)
                    halved_at_checkpoint, loss_at_checkpoint = halve, loss_max.clone()
                    interval = max(interval - decrease, min_interval)
                    since_checkpoint, improvements = 0, torch.zeros_like(improvements)
    return out, out_wrong, out_score
