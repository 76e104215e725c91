"""Claims across training budgets: does a verdict hold, move toward the paper's number, or away from it?

Gathers, for every profile that has run, its claims table at the end (``tables/claims.csv``, written by
``05_figures_and_claims``: the finished models under the localized AutoAttack) and, where the profile
keeps milestones, at each milestone (``tables/claims_milestones.csv``: the profile's PGD alone on its first
``curve_n`` test images, see ``curves``). A profile that has not run is left out, and said to be. A claim is
followed on each network it was judged on (``network``: the airbench profile's CIFAR-10 claims are on its own
network, whose training steps are not the paper CNN's): a trend compares the budgets of one network.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..config import get_profile
from ..paths import tables_dir
from ..spec.paper import READING_ORDER

BUDGET_COLUMNS = ["claim", "network", "reading", "paper (%)", "profile", "budget", "step", "measure", "ours (%)", "low (%)", "high (%)",
                  "share of paper", "share low", "share high", "verdict"]
TREND_COLUMNS = ["claim", "network", "reading", "paper (%)", "budgets", "first verdict", "last verdict", "trend", "why",
                 "last milestones", "move"]
MILESTONE_MEASURE = "PGD-"   # how the milestone rows' measure begins (the end rows use the localized AutoAttack)
COMPARED = ("quick", "long", "airbench", "cifar10-eps", "airbench-usual", "paper")   # the profiles 06_budgets compares


def compared_with(profile: str) -> tuple[str, ...]:
    """The profiles a run of ``profile`` compares: ``COMPARED`` for each of them; a smoke run or a dry
    run compares itself alone (its numbers mean nothing beside real ones)."""
    return COMPARED if profile in COMPARED else (profile,)


def claims_across_budgets(profiles: tuple[str, ...] = COMPARED) -> tuple[pd.DataFrame, list[str]]:
    """Every claim at every budget of ``profiles`` that has run (rows of ``BUDGET_COLUMNS``, ordered by
    training step), and one sentence per profile left out."""
    frames, left_out = [], []
    for name in profiles:
        folder = tables_dir(name)
        final = folder / "claims.csv"
        if not final.exists():
            left_out.append(f"The {name} profile has not run here (no {name}/tables/claims.csv): left out.")
            continue
        profile = get_profile(name)
        end = _with_reading(pd.read_csv(final, keep_default_na=False, na_values=[""]))
        frames.append(end.assign(profile=name, budget=f"{name}, end", step=profile.train_steps,
                                 measure="localized AutoAttack, all evaluated test images"))
        milestones = folder / "claims_milestones.csv"
        if milestones.exists():
            part = _with_reading(pd.read_csv(milestones, keep_default_na=False, na_values=[""]))
            frames.append(part.assign(profile=name, budget=[f"{name}, {_fraction(f)}" for f in part["fraction"]],
                                      measure=f"{MILESTONE_MEASURE}{profile.eval_pgd_steps}, first {profile.curve_n} test images"))
    if not frames:
        return pd.DataFrame(columns=BUDGET_COLUMNS), left_out
    table = pd.concat(frames, ignore_index=True)[BUDGET_COLUMNS]
    order = {claim: i for i, claim in enumerate(dict.fromkeys(table["claim"]))}
    networks = {network: i for i, network in enumerate(dict.fromkeys(table["network"]))}
    keys = {"claim": order, "network": networks, "reading": READING_ORDER}
    table = table.sort_values(["claim", "network", "reading", "step", "measure"], kind="stable",
                              key=lambda c: c.map(keys[c.name]).fillna(-1) if c.name in keys else c)
    return table.reset_index(drop=True), left_out


def trends(budgets: pd.DataFrame) -> pd.DataFrame:
    """Per claim, network and reading of the eps (rows of ``TREND_COLUMNS``): *stable* where every budget gives the same verdict; else
    *toward the paper* or *away from the paper* by whether our value at the largest budget lies closer
    to the paper's number than at the smallest (*changes* for a claim without a number). And whether
    the value has settled (``last milestones``, see :func:`movement`)."""
    rows = []
    for (claim, network, reading), part in budgets.groupby(["claim", "network", "reading"], sort=False):
        part = part.sort_values("step", kind="stable")
        verdicts = list(part["verdict"])
        paper = part["paper (%)"].iloc[0]
        values = part["ours (%)"].to_numpy(float)
        if len(set(verdicts)) == 1:
            trend, why = "stable", f"'{verdicts[0]}' at all {len(verdicts)} budgets"
        elif np.isnan(paper) or np.isnan(values[[0, -1]]).any():
            trend, why = "changes", " -> ".join(v for v, _ in itertools.groupby(verdicts))  # each change, in order
        else:
            first, last = abs(values[0] - paper), abs(values[-1] - paper)
            trend = "toward the paper" if last < first else "away from the paper"
            why = (f"{values[0]:.3g}% at {part['budget'].iloc[0]} -> {values[-1]:.3g}% at {part['budget'].iloc[-1]}; "
                   f"paper {paper:g}%")
        settled, move = movement(part)
        rows.append({"claim": claim, "network": network, "reading": reading, "paper (%)": paper, "budgets": len(verdicts), "first verdict": verdicts[0],
                     "last verdict": verdicts[-1], "trend": trend, "why": why, "last milestones": settled, "move": move})
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def movement(part: pd.DataFrame) -> tuple[str, str]:
    """Has a claim's value settled with training? Between the last two milestones of the largest profile
    that keeps them (one measure, one test subset): *still moving* where the value moved by more than
    the half-width of its 95% interval at the last one, else *flat*; *not measured* without two
    milestones with values. The second string gives the two values."""
    milestones = (part[part["measure"].str.startswith(MILESTONE_MEASURE)].dropna(subset=["ours (%)"])
                  .sort_values("step", kind="stable"))
    if milestones.empty:
        return "not measured", ""
    largest = milestones[milestones["profile"] == milestones["profile"].iloc[-1]]
    if len(largest) < 2:
        return "not measured", ""
    before, last = (row for _, row in largest.iloc[-2:].iterrows())
    moved, margin = abs(last["ours (%)"] - before["ours (%)"]), (last["high (%)"] - last["low (%)"]) / 2
    return ("still moving" if moved > margin else "flat",
            f"{before['ours (%)']:.3g}% at {before['budget']} -> {last['ours (%)']:.3g}% at {last['budget']} "
            f"({moved:.2g} points; interval ±{margin:.2g})")


def _with_reading(claims: pd.DataFrame) -> pd.DataFrame:
    """A claims table without the claims its profile did not judge (their dataset was not run: no reading), its
    readings as strings (a column read all empty is float)."""
    claims = claims.assign(reading=claims["reading"].astype(object).fillna("").astype(str))
    return claims[claims["reading"] != ""]


def _fraction(fraction: float) -> str:
    """1/64, 1/2, all: a milestone's label."""
    return "all of training" if fraction >= 1 else f"1/{round(1 / fraction)}" if round(1 / fraction) * fraction > 0.99 \
        else f"{fraction:.3g}"
