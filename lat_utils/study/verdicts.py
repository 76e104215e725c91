"""A claim of the paper, and the rules that give it a verdict from our interval.

Verdicts (``verdict``):
- *not comparable*: the claim rests on a collapsed model (one class for most inputs), or is an
  absolute number or a share of a natural model's accuracy and the profile does not train with the
  paper's steps, batch and optimizer (``trains_as_paper``); where it does, such a number is *supported*
  when the paper's lies inside our interval, *not supported* otherwise;
- *inconclusive*: the interval contains the claim's boundary (0 for its direction; the paper's number
  for an "at least" claim once the direction is clear);
- *not supported*: the interval lies entirely on the other side of the boundary;
- *direction only*: the direction holds, but the paper's magnitude lies outside the interval (the
  reason says by what factor ours differs);
- *supported*: the direction holds and the paper's magnitude lies inside the interval (for an
  "at least" claim: the whole interval is at or above the paper's number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..spec.paper import BATCH_SIZE, LEARNING_RATE, TRAIN_STEPS
from ..spec.settings import OPTIMIZER_LABELS, Profile

VERDICTS = ("supported", "direction only", "inconclusive", "not supported", "not comparable")

# a claim's value from a cell accessor: cell(model, attack) -> mean metric (a number, or bootstrap samples)
Cell = Callable[[str, str], np.ndarray]


@dataclass(frozen=True)
class Claim:
    text: str
    source: str                  # "full paper" or "short version"
    dataset: str
    paper: float                 # the paper's number, in % (accuracy, or % less / more loss)
    kind: str                    # "at_least": ours >= paper; "direction": same sign (and magnitude); "value": the
                                 # paper's number inside our interval (a ratio); "absolute": needs the paper's training (trains_as_paper)
    value: Callable[[Cell], np.ndarray]
    models: tuple[str, ...]      # the models the claim rests on
    metric: str = "loss"


def trains_as_paper(profile: Profile) -> bool:
    """Does ``profile`` train with the paper's steps, batch and optimizer (Adam at its constant learning
    rate)? Then an absolute number about its natural models can be set beside the paper's. A network's own
    recipe is judged by ``profile.with_network(network)``."""
    return (profile.train_steps >= TRAIN_STEPS and profile.batch_size == BATCH_SIZE and profile.optimizer == "adam"
            and profile.learning_rate == LEARNING_RATE and profile.lr_schedule == "constant")


def verdict(claim: Claim, low: float, high: float, ours: float, profile: Profile) -> tuple[str, str]:
    """The verdict of a claim from our interval [low, high] (see the module's docstring) and why."""
    if claim.kind in ("absolute", "value"):
        if not trains_as_paper(profile):
            return "not comparable", _not_trained_as_paper(claim, profile)
        if low <= claim.paper <= high:
            return "supported", f"the paper's {claim.paper:.3g}% lies inside our interval"
        return "not supported", f"the paper's {claim.paper:.3g}% lies outside our interval: ours is {ours:.3g}%"
    return _relative_verdict(claim, low, high, ours)


def _not_trained_as_paper(claim: Claim, profile: Profile) -> str:
    """Why an absolute number, or a share, of a natural model is not comparable in ``profile``."""
    what = "an absolute number" if claim.kind == "absolute" else "a share of a natural model's accuracy"
    reason = (f"{what}: needs a model trained as the paper's ({TRAIN_STEPS:,} steps, batch {BATCH_SIZE}, "
              f"Adam {LEARNING_RATE:g} constant); the '{profile.name}' profile trains {profile.train_steps:,} steps, "
              f"batch {profile.batch_size}, {OPTIMIZER_LABELS[profile.optimizer]} {profile.learning_rate:g} "
              f"{profile.lr_schedule}")
    if claim.kind == "value":
        reason += "; the eps sweep (04_cifar10_eps) measures the share our natural model keeps at every eps"
    return reason


def _relative_verdict(claim: Claim, low: float, high: float, ours: float) -> tuple[str, str]:
    """A relative difference ("x% less loss"), or "at least x%": its direction first, then its magnitude."""
    paper = claim.paper
    if low <= 0 <= high:
        return "inconclusive", "our interval contains 0: the direction is not resolved"
    if np.sign(low) != np.sign(paper):
        return "not supported", "our interval lies entirely on the other side of 0"
    factor = f"ours is {ours / paper:.2g}x the paper's {paper:g}%"
    if claim.kind == "at_least":
        if low >= paper:
            return "supported", f"our whole interval is at or above the paper's {paper:g}%"
        if high < paper:
            return "direction only", f"same direction, below 'at least {paper:g}%': {factor}"
        return "inconclusive", f"our interval contains the paper's {paper:g}%, the boundary of 'at least'"
    if low <= paper <= high:
        return "supported", f"same direction, and the paper's {paper:g}% lies inside our interval"
    return "direction only", f"same direction, magnitude outside our interval: {factor}"
