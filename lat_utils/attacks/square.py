"""Masked L-inf Square Attack (Andriushchenko et al., ECCV 2020): random search, no gradients.

It starts from vertical stripes (each column of each channel at +E or -E) and then, query after
query, redraws one random square window at +E or -E per channel, keeping the change when it lowers
the margin z_y - max_{j != y} z_j; the window's side shrinks with the fraction of pixels ``p``, which
starts at ``p_init`` and is halved at the paper's schedule. Localized: every change is E times a
sign, so pixels with budget 0 never move; and each window is placed over a pixel that has a budget
(in a mostly fixed image, windows on fixed pixels would waste queries). Being gradient-free, it
sees through gradient masking that fools every gradient attack.

``precision="bf16"`` runs the model's forward passes under bfloat16 autocast (the queries' ranking);
the images, budgets and windows stay float32, and an image counts as misclassified, and stops being
queried, only once a float32 forward pass says so.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ._common import (
    autocast,
    budget_box,
    check_attack_inputs,
    check_labels,
    check_positive,
    eval_mode,
    prepared,
    project,
    resolve_precision,
)

# Square's schedule: p is halved after these fractions (in 1/10,000) of the queries
P_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def masked_square(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps_matrix: torch.Tensor,
    *,
    queries: int = 5000,
    p_init: float = 0.8,
    precision: str = "fp32",
) -> torch.Tensor:
    """Localized L-inf Square Attack on the margin loss; returns detached adversarial images.

    ``queries`` model evaluations per image at most (the stripes count as one); an image stops being
    queried once it is misclassified. Returns, per image, the point of lowest margin found.
    ``precision`` as in ``masked_pgd`` ("fp32", "bf16" or "auto"; see the module's docstring).
    """
    check_attack_inputs(images, labels, eps_matrix)
    check_positive(queries, "queries")
    if isinstance(p_init, bool) or not isinstance(p_init, (int, float)) or not 0 < p_init <= 1:
        raise ValueError(f"p_init must be a number in (0, 1], got {p_init!r}")
    bf16 = resolve_precision(precision, images.device) == "bf16"
    if len(images) == 0:
        return images.detach().clone()
    x, budget, labels = prepared(images, labels, eps_matrix)
    lower, upper = budget_box(x, budget)
    n, channels, height, width = x.shape
    has_budget = (budget > 0).any(dim=1).view(n, -1)            # pixels a window may be placed over
    with eval_mode(model), torch.no_grad(), autocast(x, bf16):
        stripes = torch.randint(0, 2, (n, channels, 1, width), device=x.device).float() * 2 - 1
        best = project(x + budget * stripes, lower, upper)
        logits = model(best).float()
        check_labels(labels, logits)
        margin = _checked_margin(model, best, labels, _margin(logits, labels), bf16)
        for query in range(1, queries):
            todo = ((margin > 0) & has_budget.any(dim=1)).nonzero().squeeze(1)
            if len(todo) == 0:
                break
            side = _window_side(p_init, query, queries, height, width)
            window = _windows(has_budget[todo], side, height, width)
            candidate = _changed_candidate(x[todo], budget[todo], best[todo], window, lower[todo], upper[todo])
            candidate_margin = _checked_margin(model, candidate, labels[todo],
                                               _margin(model(candidate).float(), labels[todo]), bf16)
            improved = candidate_margin < margin[todo]
            best[todo] = torch.where(improved.view(-1, 1, 1, 1), candidate, best[todo])
            margin[todo] = torch.where(improved, candidate_margin, margin[todo])
    return best.detach()


def _checked_margin(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, margin: torch.Tensor,
                    bf16: bool) -> torch.Tensor:
    """``margin`` with the float32 margin where a bf16 pass called the image misclassified (margin <= 0),
    so that an image stops being queried only when float32 arithmetic misclassifies it too."""
    if not bf16:
        return margin
    doubtful = (margin <= 0).nonzero().squeeze(1)
    if len(doubtful):
        with torch.autocast(x.device.type, enabled=False):
            margin[doubtful] = _margin(model(x[doubtful]).float(), labels[doubtful])
    return margin


def _changed_candidate(x: torch.Tensor, budget: torch.Tensor, best: torch.Tensor, window: torch.Tensor,
                       lower: torch.Tensor, upper: torch.Tensor, tries: int = 10) -> torch.Tensor:
    """``best`` with the window set to x +- E (a random sign per channel), projected; as in the reference
    code, the signs are redrawn (up to ``tries`` times) where they would leave the window as it is (e.g.
    -E on a black MNIST pixel), so that no query is spent on an unchanged image."""
    n, channels = x.shape[:2]
    signs = torch.randint(0, 2, (n, channels, 1, 1), device=x.device).float() * 2 - 1
    for _ in range(tries):
        candidate = project(torch.where(window, x + budget * signs, best), lower, upper)
        unchanged = (candidate == best).flatten(1).all(dim=1)
        if not unchanged.any():
            break
        redrawn = torch.randint(0, 2, (n, channels, 1, 1), device=x.device).float() * 2 - 1
        signs = torch.where(unchanged.view(-1, 1, 1, 1), redrawn, signs)
    return candidate


def _margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """z_y - max_{j != y} z_j: negative exactly when the image is misclassified."""
    true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, labels.view(-1, 1), -float("inf"))
    return true - others.amax(dim=1)


def _window_side(p_init: float, query: int, queries: int, height: int, width: int) -> int:
    """The side of the square at this query: sqrt(p * pixels), p halved at the schedule's points."""
    progress = int(query / queries * 10_000)
    p = p_init / 2 ** sum(progress > point for point in P_HALVINGS)
    return min(max(int(round(math.sqrt(p * height * width))), 1), height - 1, width - 1)


def _windows(has_budget: torch.Tensor, side: int, height: int, width: int) -> torch.Tensor:
    """(M, 1, H, W) boolean windows of ``side`` x ``side``, each over a random pixel that has a budget."""
    m = len(has_budget)
    pixel = torch.multinomial(has_budget.float(), 1).squeeze(1)
    row, col = pixel // width, pixel % width
    top = _window_start(row, side, height)
    left = _window_start(col, side, width)
    rows = torch.arange(height, device=has_budget.device).view(1, -1)
    cols = torch.arange(width, device=has_budget.device).view(1, -1)
    in_rows = (rows >= top.view(-1, 1)) & (rows < top.view(-1, 1) + side)
    in_cols = (cols >= left.view(-1, 1)) & (cols < left.view(-1, 1) + side)
    return (in_rows.view(m, 1, height, 1) & in_cols.view(m, 1, 1, width))


def _window_start(position: torch.Tensor, side: int, size: int) -> torch.Tensor:
    """A uniformly random first row (or column) of a window of ``side`` that contains ``position``."""
    low = (position - side + 1).clamp(min=0)
    high = position.clamp(max=size - side)
    return low + (torch.rand(len(position), device=position.device) * (high - low + 1)).long().clamp(max=high - low)
