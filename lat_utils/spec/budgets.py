"""Attack budgets, each named once: the PGD step-size rule, the PGD of training and of evaluation, and the
localized AutoAttack's budgets (the reference's "standard", the CPU profiles' and the smoke test's).

As in the reference AutoAttack, one name stands for a whole budget (its ``version``); a profile takes a budget's
``settings`` and its reason, and its report prints that reason beside its numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..checks import check_count
from .paper import EPS, PGD_STEP_SIZE


def pgd_step(eps: float, steps: int) -> float:
    """Madry et al.'s PGD step for ``steps`` steps within ``eps``: 2.5 eps / steps, so that the iterate can cross
    the whole eps-ball and come back (the paper gives no step size)."""
    return 2.5 * eps / max(steps, 1)


def training_pgd(steps: int, step: float | None = None) -> dict[str, object]:
    """The settings of a training attack of ``steps`` PGD steps (step: ``pgd_step`` at the paper's eps)."""
    return {"train_pgd_steps": steps, "train_step_size": pgd_step(EPS, steps) if step is None else step}


def evaluation_pgd(steps: int) -> dict[str, object]:
    """The settings of an evaluation PGD of ``steps`` steps, with ``pgd_step`` at the paper's eps."""
    return {"eval_pgd_steps": steps, "eval_step_size": pgd_step(EPS, steps)}


@dataclass(frozen=True)
class AutoAttackBudget:
    """What the localized AutoAttack may spend per image: APGD-CE and each APGD-T run take ``apgd_steps``, APGD-T
    attacks ``apgd_targets`` classes, Square makes ``square_queries`` queries. ``gap``: how many points of robust
    accuracy it may lie above the reference budget's (measured by bench/autoattack_budget.py; 0 for the reference)."""

    apgd_steps: int
    apgd_targets: int
    square_queries: int
    name: str = ""
    gap: float = 0.0

    def __post_init__(self) -> None:
        for value, name in ((self.apgd_steps, "apgd_steps"), (self.apgd_targets, "apgd_targets"),
                            (self.square_queries, "square_queries")):
            check_count(value, name)

    def settings(self) -> dict[str, int]:
        """The profile settings of this budget."""
        return {"apgd_steps": self.apgd_steps, "apgd_targets": self.apgd_targets, "square_queries": self.square_queries}

    def reason(self) -> str:
        """Why a profile spends this budget instead of the reference's, with its measured gap (in its report)."""
        if self.gap:
            return (f"the {self.name} budget: measured on the quick models, at most {self.gap:g} points of robust "
                    "accuracy above the reference budget's (bench/autoattack_budget.py)")
        return f"the {self.name} budget: a code path, not a measurement"


STANDARD = AutoAttackBudget(apgd_steps=100, apgd_targets=9, square_queries=5000, name="standard")  # Croce & Hein 2020
CPU = AutoAttackBudget(apgd_steps=50, apgd_targets=3, square_queries=300, name="CPU", gap=2.0)  # the CPU profiles'
SMOKE = AutoAttackBudget(apgd_steps=4, apgd_targets=2, square_queries=20, name="smoke")         # the smoke test's
STANDARD_PGD_STEPS = 100    # the ensemble's first attack, masked PGD, where a caller gives none

# The eps sweep's reduced AutoAttack on the CPU: masked PGD, then APGD-CE and APGD-DLR of this many steps (no APGD-T,
# no Square); 5 against 20 steps moves the kept share less than a point near 62% (docs/results.md)
SWEEP_STEPS_CPU = 5
SWEEP_N_CPU = 200           # ... on the first 200 test images

NO_FAB = ("beyond the paper, robustness is measured with a localized AutoAttack (masked PGD, APGD-CE, APGD-DLR, APGD-T, "
          "Square), without AutoAttack's FAB-T: it has no per-pixel-budget version")
MADRY_STEP = (f"step size {PGD_STEP_SIZE:g} and a uniform random start are Madry et al.'s: the paper gives neither")
