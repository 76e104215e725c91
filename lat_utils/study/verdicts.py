"""A claim of the paper, and the rules that give it a verdict from our interval (docs/method.md, "Verdicts").

Every interval lies inside its statistic's range (``stats.Scale``). A relative claim ("x% less loss") is read on
the log of the loss ratio it stands for (``Scale.effect``): its **share of the paper's effect** is ours / the
paper's on that scale (1: the paper's effect, 0: none; 98.4% less loss is 0.90 of the paper's 99%, 1.3% is 0.004
of its 95.7%), shown beside every verdict with its interval.

Verdicts (``verdict``):
- *not comparable*: the claim rests on a collapsed model (one class for most inputs) or on a model the profile
  does not train, or is an absolute number or a share of a natural model's accuracy and the profile does not
  train with the paper's steps, batch and optimizer (``trains_as_paper``);
- *supported*, only on an informative interval: for a relative claim, the direction resolved and the whole
  share interval inside the equivalence margin [1 - ``EQUIVALENCE_MARGIN``, 1 + ``EQUIVALENCE_MARGIN``] (for an
  "at least" claim, at or past its lower edge: going further in the claim's direction is within the claim);
  for an absolute number, the whole interval within ``Claim.margin`` points of the paper's;
- *direction only*: the direction holds, and the whole share interval lies below the margin (or above it);
- *inconclusive*: the interval contains 0 (the direction is not resolved), or reaches both inside and outside
  the margin (too wide to say whether the magnitude is the paper's); *underpowered* (said first in its reason) where
  the smallest effect the data could detect (``Claim.detectable``) is larger than the paper's;
- *not supported*: the interval lies entirely on the other side of 0, or (an absolute number) entirely
  outside the margin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..spec.paper import BATCH_SIZE, LEARNING_RATE, TRAIN_STEPS
from ..spec.settings import OPTIMIZER_LABELS, Profile
from .stats import PERCENT, Scale

CONFIDENCE = 0.95   # every interval of the study
POWER = 0.80        # the smallest detectable effect: a two-sided test at 1 - CONFIDENCE with this power
Z_CONFIDENCE, Z_POWER = 1.959964, 0.841621   # the normal quantiles of 0.975 and 0.80 (tests/test_claims.py checks)
DETECTABLE = (Z_CONFIDENCE + Z_POWER) / Z_CONFIDENCE   # in half-widths of the 95% interval
EQUIVALENCE_MARGIN = 0.25   # a relative effect is the paper's if its share of the paper's lies in [0.75, 1.25]
ABSOLUTE_MARGIN = 1.0      # points: an accuracy is the paper's if our whole interval lies within 1 point of it

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
    scale: Scale = PERCENT       # where the value lies (stats.LESS, MORE or PERCENT) and how seeds combine
    margin: float = ABSOLUTE_MARGIN   # an absolute claim's equivalence margin, in points

    @property
    def relative(self) -> bool:
        """Is the claim a change relative to another model (judged by its share of the paper's effect)?"""
        return self.kind in ("at_least", "direction")

    def share(self, *values: float) -> tuple[float, ...]:
        """Each of ``values`` as a share of the paper's effect (``Scale.effect``); NaN for an absolute claim."""
        if not self.relative:
            return tuple(float("nan") for _ in values)
        paper = float(self.scale.effect(self.paper))
        return tuple(float(self.scale.effect(v)) / paper for v in values)

    def detectable(self, low: float, high: float) -> float:
        """The smallest effect, as a share of the paper's, that data giving the 95% interval [low, high] would detect
        (a two-sided test at 5% with 80% power: ``DETECTABLE`` half-widths on the effect scale); NaN for an absolute
        claim. Above 1, the data cannot resolve an effect as large as the paper's: the claim is underpowered."""
        if not self.relative:
            return float("nan")
        half = (float(self.scale.effect(high)) - float(self.scale.effect(low))) / 2
        return DETECTABLE * half / abs(float(self.scale.effect(self.paper)))


def trains_as_paper(profile: Profile) -> bool:
    """Does ``profile`` train with the paper's steps, batch and optimizer (Adam at its constant learning
    rate)? Then an absolute number about its natural models can be set beside the paper's. A network's own
    recipe is judged by ``profile.with_network(network)``."""
    return (profile.train_steps >= TRAIN_STEPS and profile.batch_size == BATCH_SIZE and profile.optimizer == "adam"
            and profile.learning_rate == LEARNING_RATE and profile.lr_schedule == "constant")


def verdict(claim: Claim, low: float, high: float, ours: float, profile: Profile) -> tuple[str, str]:
    """The verdict of a claim from our interval [low, high] (see the module's docstring) and why."""
    if not claim.relative:
        if not trains_as_paper(profile):
            return "not comparable", _not_trained_as_paper(claim, profile)
        return _absolute_verdict(claim, low, high, ours)
    return _relative_verdict(claim, low, high, ours)


def _absolute_verdict(claim: Claim, low: float, high: float, ours: float) -> tuple[str, str]:
    """An absolute number: equal to the paper's within ``claim.margin`` points, or not."""
    paper, margin = claim.paper, claim.margin
    if paper - margin <= low and high <= paper + margin:
        return "supported", f"our whole interval lies within {margin:g} points of the paper's {paper:.3g}%"
    if high < paper - margin or low > paper + margin:
        return "not supported", f"our whole interval lies more than {margin:g} points from the paper's {paper:.3g}%: ours is {ours:.3g}%"
    return "inconclusive", (f"our interval reaches both within and beyond {margin:g} points of the paper's {paper:.3g}%: "
                            "too wide to say")


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
    """A relative difference ("x% less loss"), or "at least x%": its direction first, then its share of the
    paper's effect against the equivalence margin."""
    if low <= 0 <= high:
        return "inconclusive", _powered(claim, low, high, "our interval contains 0: the direction is not resolved")
    if np.sign(low) != np.sign(claim.paper):
        return "not supported", "our interval lies entirely on the other side of 0"
    share, share_low, share_high = claim.share(ours, low, high)
    bottom, top = 1 - EQUIVALENCE_MARGIN, 1 + EQUIVALENCE_MARGIN
    found = f"{share:.2g} [{share_low:.2g}, {share_high:.2g}] of the paper's effect ({claim.paper:g}%)"
    if share_low >= bottom and (share_high <= top or claim.kind == "at_least"):
        where = "at or past" if claim.kind == "at_least" and share_high > top else "within"
        return "supported", f"same direction, {found}: {where} the margin [{bottom:g}, {top:g}]"
    if share_high < bottom or share_low > top:
        side = "below" if share_high < bottom else "above"
        return "direction only", f"same direction, {found}: {side} the margin [{bottom:g}, {top:g}]"
    return "inconclusive", _powered(claim, low, high, f"same direction, {found}: the interval reaches both inside and "
                                                      f"outside the margin [{bottom:g}, {top:g}], too wide to judge the magnitude")


def _powered(claim: Claim, low: float, high: float, reason: str) -> str:
    """``reason``, led by *underpowered* where the data could not detect an effect as large as the paper's."""
    detectable = claim.detectable(low, high)
    if detectable > 1:
        return (f"underpowered: these data detect an effect only from {detectable:.2g} times the paper's "
                f"({claim.paper:g}%); {reason}")
    return reason
