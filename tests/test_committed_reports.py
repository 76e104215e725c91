"""The committed reports (reports/<profile>/) against the rules that made them: every verdict of a claims table
follows the documented rule of its kind of claim (docs/method.md, "Verdict rules")."""

import numpy as np
import pandas as pd
import pytest

from lat_utils.config import get_profile
from lat_utils.paths import PROJECT_ROOT
from lat_utils.study import claims
from lat_utils.study.budgets import MILESTONE_MEASURE

COMMITTED = sorted(p.parent.parent.name for p in (PROJECT_ROOT / "reports").glob("*/tables/claims.csv")
                   if p.parent.parent.name in ("quick", "long", "paper"))
KIND = {claim.text: claim.kind for claim in claims.CLAIMS}


def documented_verdict(kind: str, paper: float, low: float, high: float, trains_as_paper: bool) -> str:
    """docs/method.md's rule of each kind of claim, written out from the text (not from the code)."""
    if kind == "absolute" and not trains_as_paper:
        return "not comparable"
    if kind in ("absolute", "value"):
        return "supported" if low <= paper <= high else "not supported"
    if low <= 0 <= high:
        return "inconclusive"
    if (low > 0) != (paper > 0):
        return "not supported"
    if kind == "at_least":
        return "supported" if low >= paper else "direction only" if high < paper else "inconclusive"
    return "supported" if low <= paper <= high else "direction only"


def test_the_committed_reports_have_claims_tables():
    assert "quick" in COMMITTED and "long" in COMMITTED


@pytest.mark.parametrize("profile", COMMITTED)
def test_every_committed_verdict_follows_the_documented_rule(profile):
    table = pd.read_csv(PROJECT_ROOT / "reports" / profile / "tables" / "claims.csv", keep_default_na=False,
                        na_values=[""])
    as_paper = claims.trains_as_paper(get_profile(profile))
    checked = 0
    for row in table.to_dict("records"):
        if row["claim"] not in KIND:  # the combined claims: their rule needs every model's intervals (tested in test_claims)
            continue
        if str(row["reason"]).startswith("rests on collapsed") or str(row["reason"]).endswith("was not run"):
            assert row["verdict"] == "not comparable", row["claim"]
            continue
        paper, low, high = row["paper (%)"], row["low (%)"], row["high (%)"]
        expected = documented_verdict(KIND[row["claim"]], paper, low, high, as_paper)
        assert row["verdict"] == expected, (f"{profile}: {row['claim']} ({row['reading']}): {row['verdict']}, "
                                            f"the rule says {expected}")
        checked += 1
    assert checked >= 10


def test_the_documented_rule_is_the_codes_on_every_kind():
    """The written-out rule and claims.verdict agree on a grid of intervals, for every kind of claim."""
    quick, paper_profile = get_profile("quick"), get_profile("paper")
    for claim in claims.CLAIMS:
        for low, high in [(-5, -1), (-1, 1), (1, 5), (5, 50), (50, 120), (98, 99.5), (99, 101)]:
            for profile in (quick, paper_profile):
                ours = (low + high) / 2
                code, _ = claims.verdict(claim, low, high, ours, profile)
                expected = documented_verdict(claim.kind, claim.paper, low, high, claims.trains_as_paper(profile))
                assert code == expected, (claim.text, low, high, profile.name)
    assert np.isfinite([c.paper for c in claims.CLAIMS]).all()


@pytest.mark.parametrize("profile", COMMITTED)
def test_every_committed_budgets_page_reads_the_committed_runs(profile):
    """A report's claims across budgets holds, for every profile it compares, that profile's committed claims (its
    end) and milestones: no page reads another run's superseded tables."""
    budgets = pd.read_csv(PROJECT_ROOT / "reports" / profile / "tables" / "claims_budgets.csv",
                          keep_default_na=False, na_values=[""])
    for other, rows in budgets.groupby("profile"):
        end = rows[~rows["measure"].str.startswith(MILESTONE_MEASURE)]
        committed = pd.read_csv(PROJECT_ROOT / "reports" / other / "tables" / "claims.csv", keep_default_na=False,
                                na_values=[""])
        both = end.merge(committed, on=["claim", "reading"], suffixes=("", " committed"))
        assert len(both) == len(end) == len(committed), f"{profile}'s page lists other claims of {other} than its run"
        assert np.allclose(both["ours (%)"], both["ours (%) committed"], equal_nan=True), \
            f"{profile}'s budgets page reads values of {other} that are not its committed run's"
        assert (both["verdict"] == both["verdict committed"]).all(), f"{profile}'s page: verdicts of {other} differ"
        milestones = rows[rows["measure"].str.startswith(MILESTONE_MEASURE)]
        if len(milestones):
            kept = pd.read_csv(PROJECT_ROOT / "reports" / other / "tables" / "claims_milestones.csv",
                               keep_default_na=False, na_values=[""])
            assert np.allclose(np.sort(milestones["ours (%)"].dropna()), np.sort(kept["ours (%)"].dropna()))
