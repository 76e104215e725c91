"""The committed reports (reports/<profile>/) against the rules that made them: every verdict of a claims table
follows the documented rule of its kind of claim (docs/method.md, "Verdict rules")."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from lat_utils.config import get_profile
from lat_utils.paths import PROJECT_ROOT
from lat_utils.spec.paper import CIFAR10_READINGS, CROSSING_255, CROSSING_SOURCE, READING_LABELS, TRAIN_STEPS
from lat_utils.spec.settings import DRY_RUN_SUFFIX
from lat_utils.study import claims, plan, verdicts
from lat_utils.study import verdicts as verdicts_module
from lat_utils.study.budgets import MILESTONE_MEASURE
from lat_utils.study.sweep import CIFAR10_BLOCKS

COMMITTED = sorted(p.parent.parent.name for p in (PROJECT_ROOT / "reports").glob("*/tables/claims.csv")
                   if p.parent.parent.name in ("quick", "long", "airbench", "cifar10-eps", "airbench-usual",
                                               "paper-natural", "paper"))
CLAIM = {claim.text: claim for claim in claims.CLAIMS}
# The claims the quotes name, by a short key (claims.CLAIMS' texts)
MNIST_CLAIM = {
    "standard adversarial": "MNIST standard model: at least 99% less adversarial loss than the natural model",
    "background adversarial": "MNIST background model: over 99% less adversarial loss than the natural model",
    "background natural": "MNIST background model: 4.35% less natural loss than the natural model",
    "standard natural": "MNIST standard model: 39.9% more natural loss than the natural model",
    "broad natural": "MNIST broad model: 6.5% less natural loss than the standard model",
    "broad adversarial": "MNIST broad model: up to 99.7% less adversarial loss than the standard model (all 4 attacks)",
}
CIFAR10_CLAIM = {
    "kept": "natural CIFAR-10 model keeps 62.3% of its accuracy under the background attack (59.26% of 95.17%)",
    "standard adversarial": "CIFAR-10 standard model: 95.7% less adversarial loss than the natural model",
    "standard natural": "CIFAR-10 standard model: 88.9% more natural loss than the natural model",
    "background natural": "CIFAR-10 background model: 1.63% less natural loss than the natural model",
    "background adversarial": "CIFAR-10 background model: 15.98% less adversarial loss than the natural model",
}
# the reasons of a claim judged on no model: every seed of one collapsed, a model not trained, models of two configurations
NOT_JUDGED = ("every seed of", "the profile trains no", "mixed configurations")


def documented_verdict(claim, low: float, high: float, trains_as_paper: bool) -> str:
    """docs/method.md's rule of each kind of claim, written out from the text (not from the code)."""
    kind, paper = claim.kind, claim.paper
    if kind in ("absolute", "value"):
        margin = 5.0 if kind == "value" else 1.0
        if not trains_as_paper:
            return "not comparable"
        if paper - margin <= low and high <= paper + margin:
            return "supported"
        return "not supported" if high < paper - margin or low > paper + margin else "inconclusive"
    if low <= 0 <= high:
        return "inconclusive"
    if (low > 0) != (paper > 0):
        return "not supported"
    ratio = -1 if "less" in claim.text else 1     # "x% less": a loss ratio 1 - x/100; "x% more": 1 + x/100

    def share(value):
        return ratio * math.log(1 + ratio * min(value, 100 - 1e-10) / 100) / (ratio * math.log(1 + ratio * paper / 100))
    s_low, s_high = share(low), share(high)
    if s_low >= 0.75 and (s_high <= 1.25 or kind == "at_least"):
        return "supported"
    if s_high < 0.75 or s_low > 1.25:
        return "direction only"
    return "inconclusive"


def test_the_committed_reports_have_claims_tables():
    assert "quick" in COMMITTED and "long" in COMMITTED


@pytest.mark.parametrize("profile", COMMITTED)
def test_every_committed_verdict_follows_the_documented_rule(profile):
    table = pd.read_csv(PROJECT_ROOT / "reports" / profile / "tables" / "claims.csv", keep_default_na=False,
                        na_values=[""])
    checked = 0
    for row in table.to_dict("records"):
        # a network is trained by its own recipe (older tables have no network column: the paper's CNN)
        as_paper = verdicts.trains_as_paper(get_profile(profile).with_network(row.get("network", "paper_cnn")))
        if row["claim"] not in CLAIM:  # the combined claims: their rule needs every model's intervals (tested in test_claims)
            continue
        if str(row["reason"]).startswith(NOT_JUDGED) or str(row["reason"]).endswith("was not run"):
            assert row["verdict"] == "not comparable", row["claim"]
            continue
        expected = documented_verdict(CLAIM[row["claim"]], row["low (%)"], row["high (%)"], as_paper)
        assert row["verdict"] == expected, (f"{profile}: {row['claim']} ({row['reading']}): {row['verdict']}, "
                                            f"the rule says {expected}")
        checked += 1
    # a CIFAR-10-only profile: its 6 claims; a profile of natural models only: its 2 absolute ones
    trains_adversarial = any(c.localization != "natural" for d in get_profile(profile).datasets
                             for c in plan.evaluated_models(d, profile))
    assert checked >= (2 if not trains_adversarial else 10 if "mnist" in get_profile(profile).datasets else 6)


CLAIMS_TABLES = sorted((PROJECT_ROOT / "reports").glob("*/tables/claims*.csv"))


@pytest.mark.parametrize("path", CLAIMS_TABLES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_committed_interval_lies_in_its_range_and_every_supported_on_an_informative_one(path):
    """No interval of any committed claims table leaves its statistic's range (a loss reduction at most 100%, an
    increase at least -100%, an accuracy or a share of one in [0, 100]); every *supported* relative claim has its
    whole share interval at or inside the equivalence margin (at most 0.5 wide where the claim is two-sided), every
    *supported* absolute one its whole interval within its margin of the paper's."""
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    if "low (%)" not in table:
        return   # claims_trends, claims_robustness: verdicts only
    rows = table[table["claim"].isin(CLAIM) & table["low (%)"].notna()]
    assert len(rows) or path.name != "claims.csv"
    for row in rows.to_dict("records"):
        claim = CLAIM[row["claim"]]
        assert claim.scale.low <= row["low (%)"] <= row["ours (%)"] <= row["high (%)"] <= claim.scale.high, row
        if row["verdict"] != "supported":
            continue
        if claim.relative:
            assert row["share low"] >= 1 - verdicts.EQUIVALENCE_MARGIN, row
            assert claim.kind == "at_least" or row["share high"] - row["share low"] <= 2 * verdicts.EQUIVALENCE_MARGIN, row
        else:
            assert abs(row["low (%)"] - claim.paper) <= claim.margin and abs(row["high (%)"] - claim.paper) <= claim.margin


def test_the_documented_rule_is_the_codes_on_every_kind():
    """The written-out rule and verdicts.verdict agree on a grid of intervals, for every kind of claim."""
    quick, paper_profile = get_profile("quick"), get_profile("paper")
    for claim in claims.CLAIMS:
        for low, high in [(-5, -1), (-1, 1), (1, 5), (5, 50), (50, 120), (98, 99.5), (99, 101)]:
            for profile in (quick, paper_profile):
                ours = (low + high) / 2
                code, _ = verdicts.verdict(claim, low, high, ours, profile)
                expected = documented_verdict(claim, low, high, verdicts.trains_as_paper(profile))
                assert code == expected, (claim.text, low, high, profile.name)
    assert np.isfinite([c.paper for c in claims.CLAIMS]).all()


CROSSINGS_BY_PROFILE = sorted(p.parent.parent.name for p in
                              (PROJECT_ROOT / "reports").glob("*/tables/eps_sweep_crossings_by_profile.csv")
                              if not p.parent.parent.name.endswith(DRY_RUN_SUFFIX))   # dry runs: not committed


@pytest.mark.parametrize("profile", CROSSINGS_BY_PROFILE)
def test_every_committed_crossings_page_reads_the_committed_runs(profile):
    """A report's crossings beside other profiles' (04_cifar10_eps) holds, for each of them, that profile's committed
    crossings: no page reads another run's superseded sweep."""
    table = pd.read_csv(PROJECT_ROOT / "reports" / profile / "tables" / "eps_sweep_crossings_by_profile.csv")
    assert profile in set(table["profile"])
    for other, rows in table.groupby("profile"):
        committed = pd.read_csv(PROJECT_ROOT / "reports" / other / "tables" / "eps_sweep_crossings.csv")
        both = rows.merge(committed, on=["model", "attack", "center"], suffixes=("", " committed"))
        assert len(both) == len(rows) == len(committed), f"{profile}'s page lists other crossings of {other}"
        for column in ("eps", "eps_low", "eps_high"):
            assert np.allclose(both[column], both[f"{column} committed"], equal_nan=True), \
                f"{profile}'s crossings of {other} are not its committed run's ({column})"


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
        committed = committed[committed["reading"].notna()]   # a claim of a dataset the run did not run: no budget
        keys = ["claim", "network", "reading"] if "network" in committed else ["claim", "reading"]
        both = end.merge(committed, on=keys, suffixes=("", " committed"))
        assert len(both) == len(end) == len(committed), f"{profile}'s page lists other claims of {other} than its run"
        assert np.allclose(both["ours (%)"], both["ours (%) committed"], equal_nan=True), \
            f"{profile}'s budgets page reads values of {other} that are not its committed run's"
        assert (both["verdict"] == both["verdict committed"]).all(), f"{profile}'s page: verdicts of {other} differ"
        milestones = rows[rows["measure"].str.startswith(MILESTONE_MEASURE)]
        if len(milestones):
            kept = pd.read_csv(PROJECT_ROOT / "reports" / other / "tables" / "claims_milestones.csv",
                               keep_default_na=False, na_values=[""])
            assert np.allclose(np.sort(milestones["ours (%)"].dropna()), np.sort(kept["ours (%)"].dropna()))


def _table(profile: str, name: str) -> pd.DataFrame:
    return pd.read_csv(PROJECT_ROOT / "reports" / profile / "tables" / name, keep_default_na=False, na_values=[""])


def _paper_network_trends(profile: str) -> pd.Series:
    """How many of the paper network's claims are flat, still moving or not measured in ``profile``'s claims_trends
    (the table also lists the claims of the airbench run, which keeps no milestones)."""
    trends = _table(profile, "claims_trends.csv")
    if "network" in trends:
        trends = trends[trends["network"] == "paper_cnn"]
    return trends["last milestones"].value_counts()


def _interval(row: pd.Series, digits: int = 1) -> str:
    return f"{row['ours (%)']:.{digits}f}% [{row['low (%)']:.{digits}f}, {row['high (%)']:.{digits}f}]"


def _reversed_interval(row: pd.Series) -> str:
    """A claim of less loss whose interval says more (or the reverse): the change the other way, with its interval."""
    return f"{-row['ours (%)']:.1f}% [{-row['high (%)']:.1f}, {-row['low (%)']:.1f}]"


def _accuracy_interval(row: pd.Series) -> str:
    """An evaluation row's accuracy (a share) in %, with its interval."""
    return f"{100 * row['accuracy']:.1f}% [{100 * row['accuracy_low']:.1f}, {100 * row['accuracy_high']:.1f}]"


def quick_run_facts() -> dict:
    """What both the README and docs/results.md quote of the committed quick run: its wall time in minutes, PGD's
    overestimate per attacked MNIST cell (points), the cell of the largest one, the verdict counts, the claims."""
    evaluation, claims_table = _table("quick", "eval_mnist.csv"), _table("quick", "claims.csv")
    attacked = evaluation[evaluation["attack"] != "natural"]
    over = 100 * (attacked["pgd_accuracy"] - attacked["accuracy"])
    seconds = json.loads((PROJECT_ROOT / "reports" / "quick" / "run.json").read_text())["seconds"]
    checks = {d: _table("quick", f"third_party_{d}.csv") for d in ("mnist", "cifar10")}
    return {"minutes": seconds / 60, "over": over, "worst": attacked.loc[over.idxmax()],
            "counts": claims_table["verdict"].value_counts(), "claim": claims_table.set_index("claim"),
            "flagged": {d: (int(c["flag"].sum()), len(c), int(c["n"].max())) for d, c in checks.items()}}


def readme_quotes_of_the_quick_run() -> list[str]:
    """What the README says of the committed quick run, computed from its tables: each must stand in the README."""
    facts = quick_run_facts()
    over, worst, counts, claim = facts["over"], facts["worst"], facts["counts"], facts["claim"]
    standard = claim.loc[MNIST_CLAIM["standard adversarial"]]
    kept = claim.loc[CIFAR10_CLAIM["kept"]]
    crossings = _table("quick", "eps_sweep_crossings.csv").set_index(["attack", "center"])
    background = crossings.loc[("background", 6)]
    readings = _table("quick", "eps_sweep_readings.csv").set_index(["attack", "center", "eps_255"])
    natural = {p: _table(p, "eval_cifar10.csv").query("model == 'natural' and attack == 'natural'")["accuracy"].iloc[0]
               for p in ("quick", "long")}
    cifar_standard = claim.loc[CIFAR10_CLAIM["standard adversarial"]]
    mnist_sweep = _table("quick", "eps_sweep.csv").query("dataset == 'mnist' and attack == 'exact'").set_index("eps_255")
    exact = _table("quick", "eval_mnist.csv").query("model == 'natural' and attack == 'exact'").iloc[0]
    return [
        f"**{facts['minutes']:.1f} minutes**",
        f"by more than 1 point in {(over > 1).sum()} of the {len(over)} attacked MNIST cells",
        f"by up to {over.max():.0f} points (the {worst['model']} model under the {worst['attack']} attack: "
        f"{100 * worst['pgd_accuracy']:.1f}% under PGD-20, {100 * worst['accuracy']:.1f}% under",
        f"{counts.get('direction only', 0)} hold in *direction only*",
        f"{counts.get('not supported', 0)} *not supported*, {counts.get('inconclusive', 0)} *inconclusive*",
        f"{counts.get('not comparable', 0)} *not comparable*",
        f"standard model has {_interval(standard)} less adversarial loss",
        f"**{background['eps_255']:.1f}/255** [{background['eps_low_255']:.1f}, {background['eps_high_255']:.1f}]",
        f"{crossings.loc[('background', 16), 'eps_255']:.1f}/255 with a 16x16 block",
        f"{crossings.loc[('standard', 6), 'eps_255']:.1f}/255 under",
        "the higher the crossing (" + ", ".join(f"{crossings.loc[('background', block), 'eps_255']:.1f}/255 at {block}x{block}"
                                               for block in CIFAR10_BLOCKS) + ";",
        "At 0.3/255 it keeps {:.0f}% [{:.0f}, {:.0f}]".format(*readings.loc[("background", 6, 0.3),
                                                                            ["kept", "kept_low", "kept_high"]]),
        "at 8/255 {:.0f}% [{:.0f}, {:.0f}]".format(*readings.loc[("background", 6, 8.0), ["kept", "kept_low", "kept_high"]]),
        f"is *{kept['verdict']}* ({_interval(kept)})",
        f"({100 * natural['quick']:.0f}% in\n  the quick run, {100 * natural['long']:.0f}% in the long one)",
        "{2} images per cell) flags {0} of the {1} MNIST cells".format(*facts["flagged"]["mnist"]),
        f"the standard model has {_interval(cifar_standard)} less adversarial loss than the natural model",
        "up to 16/255 ({:.0f}% [{:.0f}, {:.0f}])".format(*mnist_sweep.loc[16.0, ["kept", "kept_low", "kept_high"]]),
        "falls only at 0.3 ({:.1f}% [{:.1f}, {:.1f}] under the full evaluation".format(
            *(100 * exact[["accuracy", "accuracy_low", "accuracy_high"]])),
    ]


def test_the_readme_says_what_the_quick_tables_say():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [quote for quote in readme_quotes_of_the_quick_run() if quote not in readme]
    assert not missing, f"the README does not say what the committed quick tables say: {missing}"


def results_quotes_of_the_quick_run() -> list[str]:
    """What docs/results.md says of the committed quick run, computed from its tables."""
    facts = quick_run_facts()
    over, worst, counts, claim = facts["over"], facts["worst"], facts["counts"], facts["claim"]
    background = claim.loc[MNIST_CLAIM["background natural"]]
    trends = _paper_network_trends("quick")
    return [
        f"**{facts['minutes']:.1f} minutes**",
        f"by more than 1 point in {(over > 1).sum()} of the {len(over)}\n  attacked MNIST cells",
        f"{100 * worst['pgd_accuracy']:.1f}% under PGD-20 and\n  {100 * worst['accuracy']:.1f}% under the localized AutoAttack",
        f"{counts.get('direction only', 0)} hold in *direction only*",
        f"{counts.get('not supported', 0)} are *not supported*",
        f"{-background['ours (%)']:.0f}% [{-background['high (%)']:.0f}, {-background['low (%)']:.0f}] *more* natural loss",
        f"{counts.get('inconclusive', 0)} are *inconclusive*",
        f"the {counts.get('not comparable', 0)} absolute accuracies and shares of a natural model are",
        f"{trends.get('flat', 0)} *flat*, {trends.get('still moving', 0)} *still moving*, "
        f"{trends.get('not measured', 0)} not measured",
        "{2} test images of each of the {1} MNIST cells) flags {0} of the {1} MNIST cells".format(*facts["flagged"]["mnist"]),
        "{} of the {} CIFAR-10 cells".format(facts["flagged"]["cifar10"][0] or "none", facts["flagged"]["cifar10"][1]),
    ]


def results_quotes_of_the_quick_run_times() -> list[str]:
    """What docs/results.md says of the quick run's notebooks and of its PGD overestimates, from its tables."""
    timings = pd.read_csv(PROJECT_ROOT / "reports" / "quick" / "timings.csv").set_index("notebook")["seconds"]
    adversarial = timings[timings.index.str.contains("standard|background|broad|exact")]
    evaluation = _table("quick", "eval_mnist.csv").set_index(["model", "attack"])
    cell = evaluation.loc[("background", "standard")]
    return [f"ImageNet {timings['01_imagenet_attack.ipynb'] / 60:.1f} min on one core",
            f"{adversarial.min() / 60:.1f}-{adversarial.max() / 60:.1f} min, two at a time; the eps sweep "
            f"{timings['04_cifar10_eps.ipynb'] / 60:.1f} min)",
            f"the background model under the standard attack\n  {100 * cell['pgd_accuracy']:.1f}% vs {100 * cell['accuracy']:.1f}%",
            f"the CIFAR-10 standard model {_interval(_table('quick', 'claims.csv').set_index('claim').loc[CIFAR10_CLAIM['standard adversarial']])} less"]


def test_the_results_page_says_what_the_quick_tables_say():
    results = (PROJECT_ROOT / "docs" / "results.md").read_text()
    missing = [quote for quote in results_quotes_of_the_quick_run() if quote not in results]
    assert not missing, f"docs/results.md does not say what the committed quick tables say: {missing}"



def _flat(text: str) -> str:
    """``text`` with every run of white space one space: a quote may be folded anywhere in the page."""
    return " ".join(text.split())


def _signed(row: pd.Series, digits: int = 0) -> str:
    """A relative claim's value as the long run's paragraphs quote it: -61% [-214, +93]."""
    return f"{row['ours (%)']:+.{digits}f}% [{row['low (%)']:.{digits}f}, {row['high (%)']:+.{digits}f}]"


def long_run_facts() -> dict:
    """What the README and docs/results.md quote of the committed long run, from its tables."""
    evaluation, claims_table = _table("long", "eval_mnist.csv"), _table("long", "claims.csv")
    attacked = evaluation[evaluation["attack"] != "natural"]
    over = 100 * (attacked["pgd_accuracy"] - attacked["accuracy"])
    run = json.loads((PROJECT_ROOT / "reports" / "long" / "run.json").read_text())
    return {"seconds": run["seconds"], "minutes": run["seconds"] / 60, "over": over, "worst": attacked.loc[over.idxmax()],
            "counts": claims_table["verdict"].value_counts(), "claim": claims_table.set_index("claim"),
            "trends": _paper_network_trends("long"),
            "under_standard": evaluation.query("attack == 'standard'").groupby("model")["accuracy"],
            "cifar": _table("long", "eval_cifar10.csv").query("model == 'natural' and attack == 'natural'"),
            "crossings": _table("long", "eps_sweep_crossings.csv").set_index(["attack", "center"])}


def readme_quotes_of_the_long_run() -> list[str]:
    """What the README says of the committed long run, computed from its tables."""
    facts = long_run_facts()
    claim = facts["claim"]
    cifar = claim.loc[CIFAR10_CLAIM["standard adversarial"]]
    imagenet = _table("long", "imagenet_extension.csv").query("photos == 'paper (9)' and `eps (x/255)` == 8.0")
    kept = {rule: (round(row["adversarial top-1 %"] * 9 / 100), round(row["adversarial top-5 %"] * 9 / 100))
            for rule, row in imagenet.set_index("box rule").iterrows()}
    box_top1, box_top5 = kept["object's box"]
    quick_cifar = _table("quick", "claims.csv").set_index("claim").loc[cifar.name]
    return [
        f"the object's box leaves {box_top1} of the\n9 photos correct in top-1"
        + (" and in top-5" if box_top5 == box_top1 else f" and {box_top5} in top-5"),
        "and the best detection's\nbox {} in top-1 and {} in top-5".format(*kept["best detection"]),
        f"**{facts['minutes']:.1f} minutes**",
        f"{facts['trends'].get('still moving', 0)} of the claims' values still move between the last two milestones",
        f"standard model's lower adversarial loss grows to {_interval(cifar)} (*{cifar['verdict']}*",
        f"at {get_profile('long').train_steps:,} steps ({100 * get_profile('long').train_steps / TRAIN_STEPS:.0f}% of "
        "the paper's training)",
        f"as in the quick run's {quick_cifar['ours (%)']:.1f}%",
    ]


def results_quotes_of_the_long_run() -> list[str]:
    """What docs/results.md says of the committed long run, computed from its tables."""
    facts = long_run_facts()
    claim, counts, trends, over, worst = facts["claim"], facts["counts"], facts["trends"], facts["over"], facts["worst"]
    row = claim.loc
    kept = row[CIFAR10_CLAIM["kept"]]
    up_to = row[MNIST_CLAIM["broad adversarial"]]
    standard = row[MNIST_CLAIM["standard adversarial"]]
    background = row[MNIST_CLAIM["background adversarial"]]
    under_standard = facts["under_standard"]
    crossings = facts["crossings"]
    return [
        f"**{facts['minutes']:.1f} min** of wall time ({facts['seconds']:,.0f} s;",
        f"{trends.get('flat', 0)} *flat*, {trends.get('still moving', 0)} *still moving*, "
        f"{trends.get('not measured', 0)} not measured",
        f"{counts.get('supported', 0) or 'none'} *supported*, {counts.get('direction only', 0)} *direction only*, "
        f"{counts.get('inconclusive', 0)} *inconclusive*, {counts.get('not supported', 0)} *not supported*, "
        f"{counts.get('not comparable', 0)} *not comparable*",
        f"to {_signed(row[MNIST_CLAIM['background natural']])};",
        f"to {_signed(row[MNIST_CLAIM['standard natural']])};",
        f"to {_signed(row[MNIST_CLAIM['broad natural']])}.",
        f"({up_to['ours (%)']:.0f}%, {up_to['low (%)']:.0f}% to {up_to['high (%)']:+.0f}%)",
        f"{100 * under_standard.mean()['broad']:.1f}% accuracy there against the standard model's "
        f"{100 * under_standard.min()['standard']:.1f}-{100 * under_standard.max()['standard']:.1f}% over its 3 seeds",
        f"{_interval(row[CIFAR10_CLAIM['standard adversarial']])} less",
        f"({_signed(row[CIFAR10_CLAIM['background natural']], 1)}",
        f"({100 * facts['cifar']['accuracy'].iloc[0]:.1f}% natural accuracy)",
        f"keeps {_interval(kept)} of its accuracy under the background attack: *{kept['verdict']}*",
        f"at {crossings.loc[('background', 6), 'eps_255']:.1f}/255 [{crossings.loc[('background', 6), 'eps_low_255']:.2f}, "
        f"{crossings.loc[('background', 6), 'eps_high_255']:.2f}]",
        f"{crossings.loc[('background', 16), 'eps_255']:.1f}/255 with a 16x16 block",
        f"standard {_interval(standard)}, background {_interval(background)}",
        f"by more than 1 point in {(over > 1).sum()} of the {len(over)} attacked MNIST cells",
        f"by up to {over.max():.1f} points (the {worst['model']} model under the {worst['attack']} attack)",
    ]


def results_quotes_of_the_long_run_against_the_quick_run() -> list[str]:
    """What docs/results.md says of the long run against the quick run, and of the long run's time, from their tables."""
    quick, long = (_table(p, "claims.csv").set_index("claim") for p in ("quick", "long"))
    row = quick.loc
    natural_loss = row[MNIST_CLAIM["background natural"]]
    more = row[MNIST_CLAIM["standard natural"]]
    broad = row[MNIST_CLAIM["broad natural"]]
    up_to = row[MNIST_CLAIM["broad adversarial"]]
    cifar = row[CIFAR10_CLAIM["standard adversarial"]]
    cifar_natural = row[CIFAR10_CLAIM["background natural"]]
    standard = row[MNIST_CLAIM["standard adversarial"]]
    background = row[MNIST_CLAIM["background adversarial"]]
    crossings = _table("quick", "eps_sweep_crossings.csv").set_index(["attack", "center"])["eps_255"]
    run = json.loads((PROJECT_ROOT / "reports" / "long" / "run.json").read_text())
    timings = pd.read_csv(PROJECT_ROOT / "reports" / "long" / "timings.csv").set_index("notebook")["seconds"]
    gathering = timings[timings.index.str.match(r"0[3-7]_")].sum()
    first, second = (seconds / 60 for seconds in run["invocations"])
    return [
        f"goes from {natural_loss['ours (%)']:.0f}% (*{natural_loss['verdict']}*, quick)",
        f"from {more['ours (%)']:+.0f}% (*{more['verdict']}*)",
        f"from {broad['ours (%)']:.0f}% less to",
        f"*{up_to['verdict']}* ({up_to['ours (%)']:+.0f}%)",
        f"quick {_interval(cifar)}, *{cifar['verdict']}* too",
        f"quick {cifar_natural['ours (%)']:.2f}%",
        f"as in the quick run ({crossings[('background', 6)]:.1f}/255, {crossings[('background', 16)]:.1f}/255 with the "
        "16x16 block",
        f"(quick {standard['ours (%)']:.1f}% and {background['ours (%)']:.1f}%, *{standard['verdict']}*)",
        f"At {get_profile('long').train_steps:,} steps ({100 * get_profile('long').train_steps / TRAIN_STEPS:.0f}% of "
        "the paper's training",
        f"stopped with a session after {first:.0f} min and resumed from its checkpoints by the next, {second:.0f} min)",
        f"ImageNet {timings['01_imagenet_attack.ipynb'] / 60:.1f} min beside the first training",
        f"claims, eps sweep and budgets {gathering / 60:.1f} min",
        f"*{long.loc[standard.name, 'verdict']}*",
    ]


def test_the_results_page_says_what_the_long_run_against_the_quick_run_says():
    results = _flat((PROJECT_ROOT / "docs" / "results.md").read_text())
    missing = [q for q in results_quotes_of_the_long_run_against_the_quick_run() if _flat(q) not in results]
    assert not missing, f"docs/results.md does not say what the committed quick and long tables say: {missing}"


def results_quotes_of_the_imagenet_run() -> list[str]:
    """What docs/results.md says of the quick run's ImageNet attack (Tables 1 and 2), from its tables."""
    rules = _table("quick", "imagenet_box_rules_summary.csv").set_index("box rule")
    best, box, size, paper = (rules.loc[r] for r in ("best detection", "object's box", "paper's box size", "paper (Inception v3)"))
    seconds = pd.read_csv(PROJECT_ROOT / "reports" / "quick" / "timings.csv").set_index("notebook")["seconds"]
    return [
        f"{best['still correct top-1 after the attack']:.0f} stay correct under the best detection (boxes "
        f"{best['mean box % of image']:.1f}% of the image on average, mean confidence in the correct class "
        f"{best['mean confidence after the attack']:.3f}), {box['still correct top-1 after the attack']:.0f} under the "
        f"object's box ({box['mean box % of image']:.1f}%, {box['mean confidence after the attack']:.3f};",
        f"{size['still correct top-1 after the attack']:.0f} under the paper's box size ({size['mean box % of image']:.1f}%, "
        f"{size['mean confidence after the attack']:.3f}), against the paper's {paper['still correct top-1 after the attack']:.0f} "
        f"of 9 ({paper['mean % altered']:.1f}% of the pixels altered, confidence {paper['mean confidence after the attack']:.6f})",
        f"the notebook took {seconds['01_imagenet_attack.ipynb']:.1f} s",
    ]


def test_the_results_page_says_what_the_imagenet_tables_say():
    results = _flat((PROJECT_ROOT / "docs" / "results.md").read_text())
    missing = [q for q in results_quotes_of_the_imagenet_run() if _flat(q) not in results]
    assert not missing, f"docs/results.md does not say what the committed ImageNet tables say: {missing}"


def test_the_readme_says_what_the_long_tables_say():
    readme = _flat((PROJECT_ROOT / "README.md").read_text())
    missing = [quote for quote in readme_quotes_of_the_long_run() if _flat(quote) not in readme]
    assert not missing, f"the README does not say what the committed long tables say: {missing}"


def test_the_results_page_says_what_the_long_tables_say():
    results = _flat((PROJECT_ROOT / "docs" / "results.md").read_text())
    missing = [quote for quote in results_quotes_of_the_long_run() if _flat(quote) not in results]
    assert not missing, f"docs/results.md does not say what the committed long tables say: {missing}"

# What a text may say a profile trains, and what must then hold of that profile's settings.
BOTH_PROJECTIONS = {"per_step", "final"}
TRAINING_PHRASES = {
    "both ways": lambda p: set(p.background_projections) == BOTH_PROJECTIONS,
    "both projections": lambda p: set(p.background_projections) == BOTH_PROJECTIONS,
    "train both": lambda p: set(p.background_projections) == BOTH_PROJECTIONS,
    "trains both": lambda p: set(p.background_projections) == BOTH_PROJECTIONS,
    "per step only": lambda p: tuple(p.background_projections) == ("per_step",),
    "one projection only": lambda p: len(p.background_projections) == 1,
    "all three": lambda p: len(p.cifar10_readings) == 3,
    "every reading": lambda p: len(p.cifar10_readings) == 3,
    "add the others": lambda p: len(p.cifar10_readings) == 3,
    "adds the others": lambda p: len(p.cifar10_readings) == 3,
    "the raw-pixels one": lambda p: tuple(p.cifar10_readings) == ("raw",),
}
PROFILE_NAMES = r"(?:smoke|quick|long|deviations|airbench|paper)"
NAMED_PROFILES = re.compile(rf"\b({PROFILE_NAMES}(?:(?:, | and | or )(?:the )?{PROFILE_NAMES})*) profiles?\b")


def training_statements(text: str) -> list[tuple[str, str, str]]:
    """(profile, phrase, clause) for every clause of ``text`` (split at . ; , ( ) and line ends) that names
    profiles and says one of ``TRAINING_PHRASES`` of them after their names."""
    found = []
    for clause in re.split(r"[.;,()\n]", text):
        for match in NAMED_PROFILES.finditer(clause):
            rest = clause[match.end():]
            for phrase in TRAINING_PHRASES:
                if phrase in rest:
                    for name in re.findall(PROFILE_NAMES, match.group(1)):
                        found.append((name, phrase, clause.strip()))
    return found


def test_training_statements_are_found_and_judged():
    """The checker finds the defects it is for (phrases of an earlier README and report) and passes true ones."""
    wrong = ["one projection only: the quick and paper profiles train both.",
             "the long and paper profiles add the others"]
    right = ["the paper profile trains the MNIST background model both ways, the quick and long profiles per step only.",
             "the paper and deviations profiles train the MNIST background model both ways"]
    judged = [[TRAINING_PHRASES[phrase](get_profile(name)) for name, phrase, _ in training_statements(t)]
              for t in wrong + right]
    assert [all(j) for j in judged] == [False, False, True, True] and all(judged)
    assert [name for name, _, _ in training_statements(right[1])] == ["paper", "deviations"]


def report_texts(profile: str) -> dict[str, str]:
    """Every committed notebook of a report: its markdown and its text outputs, as one string each."""
    texts = {}
    for path in sorted((PROJECT_ROOT / "reports" / profile).glob("*.ipynb")):
        parts = []
        for cell in json.loads(path.read_text())["cells"]:
            parts.append("".join(cell["source"]) if cell["cell_type"] == "markdown" else "")
            for output in cell.get("outputs", []):
                parts.append("".join(output.get("text", "")))
                data = output.get("data", {})
                parts.append("".join(data.get("text/markdown", "")) + "".join(data.get("text/plain", "")))
        texts[path.name] = "\n".join(parts)
    return texts


def training_mistakes(texts: dict[str, str]) -> list[str]:
    """Each clause of ``texts`` that says a profile trains what its settings do not."""
    return [f"{where}: {clause!r} ({name} profile, {phrase!r})" for where, text in texts.items()
            for name, phrase, clause in training_statements(text) if not TRAINING_PHRASES[phrase](get_profile(name))]


def test_no_text_of_the_docs_says_a_profile_trains_what_it_does_not():
    """README and docs: each clause that says what a profile trains (readings of the CIFAR-10 eps, the background
    model's projections) holds for that profile's settings."""
    texts = {p.name: p.read_text() for p in [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]}
    wrong = training_mistakes(texts)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("profile", COMMITTED)
def test_no_text_of_a_report_says_a_profile_trains_what_it_does_not(profile):
    """Every committed report's notebooks, likewise."""
    wrong = training_mistakes({f"reports/{profile}/{name}": text for name, text in report_texts(profile).items()})
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("profile", COMMITTED)
def test_a_report_names_the_readings_and_projections_its_run_trained(profile):
    """The evaluation tables hold exactly the profile's readings and projections, and the report's sentence on
    the readings it trained names exactly those."""
    settings = get_profile(profile)
    if "mnist" in settings.datasets:
        mnist = _table(profile, "eval_mnist.csv")
        trains_background = any(c.localization == "background" for c in plan.evaluated_models("mnist", profile))
        assert ("background (final)" in set(mnist["model"])) == (trains_background and "final" in settings.background_projections)
    if "cifar10" not in settings.datasets:
        return
    cifar = _table(profile, "eval_cifar10.csv")
    assert set(cifar["reading"]) == set(settings.cifar10_readings)
    said = re.findall(rf"readings trained in the {profile} profile: (.*?)(?: \(of \d|\n|$)", "\n".join(report_texts(profile).values()))
    assert said and all(s.strip() == ", ".join(READING_LABELS[r] for r in settings.cifar10_readings) for s in said)


# --- the deviations study (reports/deviations): its verdicts, and what the README and docs/results.md say of it ---

def test_every_verdict_of_the_deviations_study_follows_the_documented_rule():
    """Each claim under each configuration follows docs/method.md's rule, and the robust / depends line says what
    the verdicts across configurations say."""
    table = _table("deviations", "claims_by_configuration.csv")
    checked = 0
    for row in table.to_dict("records"):
        if row["claim"] not in CLAIM:
            continue
        if str(row["reason"]).startswith(NOT_JUDGED):
            assert row["verdict"] == "not comparable", row["claim"]
            continue
        expected = documented_verdict(CLAIM[row["claim"]], row["low (%)"], row["high (%)"], False)
        assert row["verdict"] == expected, (row["configuration"], row["claim"], row["verdict"], expected)
        checked += 1
    assert checked >= 30
    robustness = _table("deviations", "claims_robustness.csv").set_index("claim")
    for claim, rows in table.groupby("claim"):
        mixed = rows["reason"].astype(str).str.startswith("mixed configurations")
        verdicts = dict(zip(rows["configuration"], rows["verdict"]))
        changed = sorted(name for name, v in zip(rows.loc[~mixed, "configuration"], rows.loc[~mixed, "verdict"])
                         if v != verdicts["base"])
        line = robustness.loc[claim, "robust or depends"]
        assert line.startswith("robust to our cuts") == (not changed), claim
        assert all(f"{name} (" in line for name in changed), claim
        assert all(name in line for name in rows.loc[mixed, "configuration"]), claim   # named as not judged


def deviations_run_facts() -> dict:
    """What the README and docs/results.md quote of the committed deviations run, from its tables."""
    by_configuration = _table("deviations", "claims_by_configuration.csv")
    robustness = _table("deviations", "claims_robustness.csv")
    evaluation = _table("deviations", "eval_mnist.csv")
    run = json.loads((PROJECT_ROOT / "reports" / "deviations" / "run.json").read_text())
    configurations = [c for c in robustness.columns
                      if c not in ("claim", "reading", "robust or depends", "across budgets (the long profile)")]
    judged = by_configuration[by_configuration["verdict"] != "not comparable"]
    fails_everywhere = [claim for claim, rows in judged.groupby("claim")
                        if (rows["verdict"] == "not supported").all()
                        and len(rows) == len(by_configuration[by_configuration["claim"] == claim])]
    fails_where_judged = [claim for claim, rows in judged.groupby("claim") if (rows["verdict"] == "not supported").all()]
    judged_in = by_configuration[~by_configuration["reason"].astype(str).str.startswith("mixed configurations")]
    base = judged_in[judged_in["configuration"] == "base"].set_index("claim")["verdict"]
    changes = {name: int((rows.set_index("claim")["verdict"] != base.reindex(rows["claim"]).to_numpy()).sum())
               for name, rows in judged_in.groupby("configuration") if name != "base"}
    mean = evaluation.groupby(["model", "attack"])["accuracy"].mean()
    from lat_utils.study.collapse import collapsed_seeds

    collapsed = pd.Series([model for model, _, _ in collapsed_seeds(evaluation)]).value_counts()
    return {"minutes": run["seconds"] / 60, "invocations": len(run["invocations"]), "configurations": configurations,
            "robust": int(robustness["robust or depends"].str.startswith("robust to our cuts").sum()), "claims": len(robustness),
            "fails_everywhere": fails_everywhere, "fails_where_judged": fails_where_judged, "changes": changes,
            "mean": mean, "collapsed": collapsed, "floored": _floored_accuracy(evaluation),
            "seeds": int(evaluation["seed"].nunique())}


def _floored_accuracy(evaluation: pd.DataFrame) -> float:
    """The natural accuracy of the one model the accuracy floor (and not the one-class rule) finds collapsed."""
    from lat_utils.study.collapse import collapsed_seeds

    natural = evaluation[evaluation["attack"] == "natural"].set_index(["model", "seed", "reading"])
    floored = [key for key in collapsed_seeds(evaluation) if not natural.loc[key, "collapsed"]]
    assert len(floored) == 1, floored
    return float(natural.loc[floored[0], "accuracy"])


def _verdicts(count: int) -> str:
    return {0: "no verdict", 1: "1 verdict"}.get(count, f"{count} verdicts")


def readme_quotes_of_the_deviations_run() -> list[str]:
    """What the README says of the committed deviations run, computed from its tables."""
    facts = deviations_run_facts()
    mean, changes, collapsed = facts["mean"], facts["changes"], facts["collapsed"]
    return [
        f"**{facts['minutes']:.1f} minutes**",
        f"{len(facts['configurations'])} configurations of {facts['seeds']} seeds each",
        f"{len(facts['fails_everywhere']) or 'no'} claim fails under all {len(facts['configurations'])}",
        *[f"*{claim}*" for claim in facts["fails_where_judged"]],
        f"the standard model collapsed in {collapsed['standard [no_warmup]']} of {facts['seeds']} seeds and the "
        f"background model in {collapsed['background [no_warmup]']}",
        f"changes {_verdicts(changes['madry_attack'])}",
        f"changes {_verdicts(changes['final_projection'])}",
        f"{100 * mean[('background (final)', 'background')]:.1f}% against {100 * mean[('background', 'background')]:.1f}%",
    ]


def results_quotes_of_the_deviations_time() -> list[str]:
    """What docs/results.md says of the deviations run's time and collapsed seeds, from its run record and tables."""
    facts = deviations_run_facts()
    run = json.loads((PROJECT_ROOT / "reports" / "deviations" / "run.json").read_text())
    first, second = (seconds / 60 for seconds in run["invocations"])
    return [f"(6,223 s; two invocations: {first:.0f} min, then stopped with a session and resumed from its checkpoints "
            f"by the next, {second:.0f} min)".replace("6,223", f"{run['seconds']:,.0f}"),
            f"It is {100 * facts['minutes'] / 150:.0f}% of the 150-minute limit",
            f"for the background model of seed 1, {100 * facts['floored']:.0f}% natural accuracy"]


def results_quotes_of_the_budget_axis() -> list[str]:
    """What docs/results.md says of the deviations study's budget axis, from its claims_robustness.csv."""
    table = _table("deviations", "claims_robustness.csv")
    robust = table["robust or depends"].str.startswith("robust to our cuts")
    stable = table["across budgets (the long profile)"].str.startswith("stable")
    standard = table.set_index("claim").loc[MNIST_CLAIM["standard adversarial"],
                                            "across budgets (the long profile)"]
    first, last = standard.split(": ", 1)[1].split(" (")[0].split(" -> ")
    return [f"of the {robust.sum()} claims robust to the configurations, {(robust & stable).sum()} also\n  keep their "
            "verdict at every budget",
            f"(the standard model's from *{first}* to\n  *{last}*)"]


def readme_quotes_of_the_deviations_headline() -> list[str]:
    """What the README's paragraph on the deviations run says beyond docs/results.md's quotes."""
    facts = deviations_run_facts()
    return [f"the accuracy floor: {100 * facts['floored']:.0f}% natural accuracy",
            f"Its {facts['minutes']:.1f} minutes ({_count_words(facts['invocations'])} invocations)"]


def _count_words(count: int) -> str:
    return {1: "one", 2: "two", 3: "three"}.get(count, str(count))


def results_quotes_of_the_deviations_run() -> list[str]:
    """What docs/results.md says of the committed deviations run, computed from its tables."""
    facts = deviations_run_facts()
    mean, changes = facts["mean"], facts["changes"]
    return [
        *readme_quotes_of_the_deviations_run(),
        f"{facts['robust']} of the {facts['claims']} claims",
        f"the paper's learning rate changes {_verdicts(changes['paper_lr'])}",
        f"{100 * mean[('standard [paper_lr]', 'natural')]:.1f}% natural accuracy against the base's "
        f"{100 * mean[('standard', 'natural')]:.1f}%",
        f"{100 * mean[('background (final)', 'standard')]:.1f}% against {100 * mean[('background', 'standard')]:.1f}%",
        f"{100 * mean[('standard [madry_attack]', 'standard')]:.1f}% against {100 * mean[('standard', 'standard')]:.1f}%",
    ]


def test_the_readme_says_what_the_deviations_tables_say():
    readme = _flat((PROJECT_ROOT / "README.md").read_text())
    missing = [quote for quote in readme_quotes_of_the_deviations_run() if _flat(quote) not in readme]
    assert not missing, f"the README does not say what the committed deviations tables say: {missing}"


def test_the_results_page_says_what_the_deviations_tables_say():
    results = _flat((PROJECT_ROOT / "docs" / "results.md").read_text())
    missing = [quote for quote in results_quotes_of_the_deviations_run() if _flat(quote) not in results]
    assert not missing, f"docs/results.md does not say what the committed deviations tables say: {missing}"


# --- CIFAR-10 on airbench94's network (reports/airbench): what the README and docs/results.md say of it ---

def _crossing(row: pd.Series) -> str:
    return f"{row['eps_255']:.1f}/255 [{row['eps_low_255']:.1f}, {row['eps_high_255']:.1f}]"


def airbench_run_facts() -> dict:
    """What the README and docs/results.md quote of the committed airbench run, from its tables."""
    test_set = _table("airbench", "test_set_cifar10.csv").set_index("model")
    crossings = _table("airbench", "eps_sweep_crossings_by_profile.csv").set_index(["profile", "attack", "center"])
    claims_table = _table("airbench", "claims.csv")
    evaluation = _table("airbench", "eval_cifar10.csv").set_index(["model", "attack"])
    run = json.loads((PROJECT_ROOT / "reports" / "airbench" / "run.json").read_text())
    readings = _table("airbench", "eps_sweep_readings.csv").set_index(["attack", "center", "eps_255"])
    timings = pd.read_csv(PROJECT_ROOT / "reports" / "airbench" / "timings.csv").set_index("notebook")["seconds"]
    return {"minutes": run["seconds"] / 60, "seconds": run["seconds"], "test_set": test_set, "crossings": crossings,
            "readings": readings, "claims": claims_table.set_index("claim"),
            "verdicts": claims_table["verdict"].value_counts(), "evaluation": evaluation, "timings": timings}


def readme_quotes_of_the_airbench_run() -> list[str]:
    """What the README says of the committed airbench run, computed from its tables."""
    facts = airbench_run_facts()
    natural, crossings = facts["test_set"].loc["natural on airbench"], facts["crossings"]
    return [
        f"**{facts['minutes']:.1f} minutes**",
        f"**{natural['accuracy']:.1f}% [{natural['accuracy_low']:.1f}, {natural['accuracy_high']:.1f}]**",
        f"**{_crossing(crossings.loc[('airbench', 'background', 6)])}**",
        _crossing(crossings.loc[("airbench", "standard", 6)]),
        _crossing(crossings.loc[("quick", "background", 6)]),
        _crossing(crossings.loc[("long", "background", 6)]),
        _kept(facts["readings"].loc[("background", 6, 0.3)]),
        _interval(facts["claims"].loc[CIFAR10_CLAIM["standard adversarial"]]),
        _interval(facts["claims"].loc[CIFAR10_CLAIM["background adversarial"]]),
        f"{facts['test_set'].loc['standard on airbench', 'accuracy']:.1f}% each",
    ]


def readme_quotes_of_the_airbench_headline() -> list[str]:
    """What the README's CIFAR-10 section says of the airbench run beyond docs/results.md's quotes."""
    facts = airbench_run_facts()
    crossings = facts["crossings"]
    return [
        f"{crossings.loc[('airbench', 'background', 16), 'eps_255']:.1f}/255 with a 16x16 block",
        f"{facts['readings'].loc[('background', 6, 8.0), 'kept']:.1f}% at 8/255",
        "(the paper CNN's: {} at {:.0f}% on the quick sweep's images, {} at {:.1f}% on the long one's)".format(
            _crossing(crossings.loc[("quick", "background", 6)]), crossings.loc[("quick", "background", 6), "natural_accuracy"],
            _crossing(crossings.loc[("long", "background", 6)]), crossings.loc[("long", "background", 6), "natural_accuracy"]),
    ]


def _kept(row: pd.Series) -> str:
    return f"{row['kept']:.1f}% [{row['kept_low']:.1f}, {row['kept_high']:.1f}]"


def results_quotes_of_the_airbench_run() -> list[str]:
    """What docs/results.md says of the committed airbench run beyond the README's quotes, from its tables."""
    facts = airbench_run_facts()
    attacked = facts["evaluation"].loc[("natural on airbench", "background")]
    claims_of_run, verdicts, timings = facts["claims"], facts["verdicts"], facts["timings"]
    return [
        *readme_quotes_of_the_airbench_run(),
        f"{_accuracy_interval(attacked)}",
        f"PGD-20 alone: {100 * attacked['pgd_accuracy']:.1f}%",
        _crossing(facts["crossings"].loc[("airbench", "background", 16)]),
        _kept(facts["readings"].loc[("background", 6, 8.0)]),
        _interval(claims_of_run.loc[CIFAR10_CLAIM["background natural"]]),
        _interval(claims_of_run.loc[CIFAR10_CLAIM["standard natural"]]),
        ", ".join(f"{verdicts[v]} *{v}*" for v in verdicts_module.VERDICTS if v in verdicts),
        f"{facts['seconds']:,.0f} s",
        f"{timings['02_train_cifar10-airbench-natural-seed0.ipynb']:,.0f} s",
        f"{timings['02_train_cifar10-airbench-standard-per_step-eps_raw-seed0.ipynb']:,.0f} s",
        f"({timings['04_cifar10_eps.ipynb']:,.0f} s)",
        *_airbench_times_and_accuracies(facts),
    ]


def _airbench_times_and_accuracies(facts: dict) -> list[str]:
    """docs/results.md's airbench section: the accuracies beside the crossings, the invocations, the notebooks' times."""
    crossings, timings = facts["crossings"], facts["timings"]
    accuracy = {p: crossings.loc[(p, "background", 6), "natural_accuracy"] for p in ("quick", "long", "airbench")}
    run = json.loads((PROJECT_ROOT / "reports" / "airbench" / "run.json").read_text())
    first, second = (seconds / 60 for seconds in run["invocations"])
    natural = facts["evaluation"].loc[("natural on airbench", "natural")]
    gathering = timings[timings.index.str.match(r"0[3-7]_")].sum()
    return [
        f"the natural model has {100 * natural['accuracy']:.1f}% and keeps",
        f"at {accuracy['quick']:.0f}% natural accuracy in the quick run and {accuracy['long']:.1f}% in the long one (on each "
        f"sweep's images; airbench's: {accuracy['airbench']:.1f}%)",
        "({}, {} and {} at {:.0f}%, {:.1f}% and {:.0f}%)".format(
            *(f"{crossings.loc[(p, 'background', 6), 'eps_255']:.1f}/255" for p in ("quick", "long", "airbench")),
            accuracy["quick"], accuracy["long"], accuracy["airbench"]),
        f"the standard model's {timings['02_train_cifar10-airbench-standard-per_step-eps_raw-seed0.ipynb'] / 60:.0f} "
        "minutes on one thread",
        f"two invocations: {first:.0f} min, then stopped with a session and resumed from its checkpoints, {second:.0f} min)",
        f"what was left of its notebook ({timings['02_train_cifar10-airbench-background-per_step-eps_raw-seed0.ipynb']:.0f} s "
        "of it)",
        f"the sweep ({timings['04_cifar10_eps.ipynb']:.0f} s) and the figures {gathering / 60:.0f} minutes",
    ]


AIRBENCH_COMMITTED = pytest.mark.skipif(not (PROJECT_ROOT / "reports" / "airbench" / "run.json").exists(),
                                        reason="the airbench profile's first run is not committed yet")


@AIRBENCH_COMMITTED
def test_the_readme_says_what_the_airbench_tables_say():
    readme = _flat((PROJECT_ROOT / "README.md").read_text())
    missing = [quote for quote in readme_quotes_of_the_airbench_run() if _flat(quote) not in readme]
    assert not missing, f"the README does not say what the committed airbench tables say: {missing}"


@AIRBENCH_COMMITTED
def test_the_results_page_says_what_the_airbench_tables_say():
    results = _flat((PROJECT_ROOT / "docs" / "results.md").read_text())
    missing = [quote for quote in results_quotes_of_the_airbench_run() if _flat(quote) not in results]
    assert not missing, f"docs/results.md does not say what the committed airbench tables say: {missing}"


@pytest.mark.parametrize("profile", ["quick", "long", "deviations", "airbench", "cifar10-eps", "airbench-usual"])
def test_the_committed_claims_are_what_the_rules_make_of_the_committed_per_image_tables(profile, tmp_path, monkeypatch):
    """``python -m lat_utils.report.rejudge`` on a copy of a committed report writes its committed claims tables
    again, equal to the last digit: they are the current rules' verdicts on its committed per-image results."""
    import shutil

    from lat_utils.report import rejudge

    shutil.copytree(PROJECT_ROOT / "reports" / profile / "tables", tmp_path / "reports" / profile / "tables")
    if profile == "deviations":   # its budget axis reads the long profile's trends
        (tmp_path / "reports" / "long" / "tables").mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "reports" / "long" / "tables" / "claims_trends.csv", tmp_path / "reports" / "long" / "tables")
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    for name in rejudge.rejudge(profile):
        again = pd.read_csv(tmp_path / "reports" / profile / "tables" / name, keep_default_na=False)
        committed = pd.read_csv(PROJECT_ROOT / "reports" / profile / "tables" / name, keep_default_na=False)
        pd.testing.assert_frame_equal(again, committed, obj=f"{profile}/{name}")


def test_a_changed_report_is_read_again_by_every_report_that_compares_it(tmp_path, monkeypatch):
    """``rejudge --after``: once a report changes, each report that compares it makes its budgets and crossings again
    from it and says so in its run.json; a report that does not compare it, or whose tables come out the same, is
    left as it is."""
    import shutil

    from lat_utils.report import rejudge

    for profile in ("quick", "long", "airbench", "cifar10-eps", "airbench-usual", "paper-natural"):
        shutil.copytree(PROJECT_ROOT / "reports" / profile / "tables", tmp_path / "reports" / profile / "tables")
        shutil.copy(PROJECT_ROOT / "reports" / profile / "run.json", tmp_path / "reports" / profile)
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    monkeypatch.setattr(rejudge, "write_index", lambda profile: None)
    assert rejudge.after("cifar10-eps") == {}   # the committed tables read the committed cifar10-eps report
    claims_path = tmp_path / "reports" / "cifar10-eps" / "tables" / "claims.csv"
    claims_of_run = pd.read_csv(claims_path, keep_default_na=False)
    claims_of_run.loc[claims_of_run["claim"] == CIFAR10_CLAIM["standard adversarial"], "verdict"] = "supported"   # as if it were rerun
    claims_of_run.to_csv(claims_path, index=False)
    written = rejudge.after("cifar10-eps")
    assert set(written) == {"quick", "long", "airbench", "airbench-usual"} and written["long"] == ["claims_budgets.csv", "claims_trends.csv"]
    budgets = pd.read_csv(tmp_path / "reports" / "quick" / "tables" / "claims_budgets.csv", keep_default_na=False)
    rows = (budgets["profile"] == "cifar10-eps") & (budgets["claim"] == CIFAR10_CLAIM["standard adversarial"])
    assert set(budgets.loc[rows, "verdict"]) == {"supported"}
    assert "after the cifar10-eps report changed" in json.loads((tmp_path / "reports" / "quick" / "run.json").read_text())[
        "tables made again"]
    assert "tables made again" not in json.loads((tmp_path / "reports" / "paper-natural" / "run.json").read_text())


def test_the_committed_synthesis_is_what_the_committed_claims_tables_make(tmp_path, monkeypatch):
    """reports/synthesis.csv and docs/synthesis.md are ``python -m lat_utils.report.synthesis`` of the committed
    claims tables: one row per claim, reading and network, each with its best evidence; both readings of the short
    version's abstract are there; no interval leaves its range."""
    from lat_utils.report import synthesis

    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    monkeypatch.setattr("lat_utils.study.synthesis.tables_dir", lambda profile: PROJECT_ROOT / "reports" / profile / "tables")
    table = synthesis.write(tmp_path)
    committed = pd.read_csv(PROJECT_ROOT / synthesis.TABLE, keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / synthesis.TABLE, keep_default_na=False, na_values=[""]),
                                  committed)
    assert (tmp_path / synthesis.PAGE).read_text() == (PROJECT_ROOT / synthesis.PAGE).read_text()
    assert not table.duplicated(["claim", "reading", "network"]).any()
    assert table["claim"].str.contains("the abstract's other reading").sum() == 3
    assert table["claim"].str.startswith(MNIST_CLAIM["broad natural"]).any()
    for row in table[table["claim"].isin(CLAIM) & table["low (%)"].notna()].to_dict("records"):
        claim = CLAIM[row["claim"]]
        assert claim.scale.low <= row["low (%)"] <= row["high (%)"] <= claim.scale.high, row


def readme_quotes_of_the_synthesis() -> list[str]:
    """What the README says of reports/synthesis.csv: its counts of verdicts and each supported claim's value."""
    table = pd.read_csv(PROJECT_ROOT / "reports" / "synthesis.csv")
    counts = table["verdict"].value_counts()
    quotes = [f"Of its {len(table)} rows: " + ", ".join(f"{counts[v]} *{v}*" for v in verdicts_module.VERDICTS if v in counts)]
    for row in table[table["verdict"] == "supported"].to_dict("records"):
        quotes.append(f"ours {row['ours (%)']:.1f}%, {row['share of paper']:.2f} of the paper's effect"
                      if not pd.isna(row["share of paper"]) else   # an absolute number: its interval
                      f"ours {row['ours (%)']:.2f}% [{row['low (%)']:.2f}, {row['high (%)']:.2f}]")
    return quotes


def test_the_readme_says_what_the_synthesis_says():
    """The README's results open with the synthesis: its counts of verdicts and its one supported claim, computed."""
    readme = _flat((PROJECT_ROOT / "README.md").read_text())
    missing = [q for q in readme_quotes_of_the_synthesis() if _flat(q) not in readme]
    assert not missing, f"the README does not say what reports/synthesis.csv says: {missing}"


def test_the_readme_shows_the_cifar10_claims_by_regime():
    """The README's CIFAR-10 section shows each CIFAR-10 claim's verdict per network and eps, as the synthesis makes
    it from the committed tables: a column per regime judged, none empty."""
    from lat_utils.report.synthesis import regimes_markdown
    from lat_utils.study.synthesis import cifar10_regimes

    table = pd.read_csv(PROJECT_ROOT / "reports" / "synthesis.csv", keep_default_na=False, na_values=[""])
    regimes = cifar10_regimes(table)
    judged = table[table["claim"].str.contains("CIFAR-10")][["network", "reading"]].drop_duplicates()
    assert len(regimes.columns) == 1 + len(judged) and len(regimes) == 7
    assert all(regimes[c].ne("").any() for c in regimes.columns[1:])
    assert regimes_markdown(table) in (PROJECT_ROOT / "README.md").read_text()


def _cifar10_claims(profile: str) -> pd.DataFrame:
    """A CIFAR-10 run's judged claims, indexed by (CIFAR10_CLAIM key, reading): its CIFAR-10 claims alone."""
    table = _table(profile, "claims.csv").dropna(subset=["reading"])
    names = {text: key for key, text in CIFAR10_CLAIM.items()}
    return table.assign(claim=table["claim"].map(names).fillna(table["claim"])).set_index(["claim", "reading"])


def readme_quotes_of_the_cifar10_eps_run() -> list[str]:
    """What the README says of the committed cifar10-eps run (the paper CNN at 8/255 and at the crossing eps), from
    its tables."""
    claims_of_run = _cifar10_claims("cifar10-eps")
    usual, crossing = READING_LABELS["usual"], READING_LABELS["crossing"]
    standard_adversarial, standard_natural, background_natural, kept = (
        "standard adversarial", "standard natural", "background natural", "kept")
    crossings = _table("cifar10-eps", "eps_sweep_crossings.csv").query("attack == 'background'")
    seconds = json.loads((PROJECT_ROOT / "reports" / "cifar10-eps" / "run.json").read_text())["seconds"]
    row = claims_of_run.loc
    return [
        f"{_interval(row[(standard_adversarial, usual)])} less adversarial loss than the natural model (the paper: 95.7%; "
        f"{row[(standard_adversarial, usual)]['share of paper']:.2f} of its effect) and "
        f"{_interval(row[(standard_natural, usual)])} more natural loss (the paper: 88.9%; "
        f"{row[(standard_natural, usual)]['share of paper']:.2f})",
        f"keeps {row[(kept, usual)]['ours (%)']:.1f}% of its accuracy",
        f"{_reversed_interval(row[(background_natural, usual)])} more natural loss",
        f"({_interval(row[(kept, crossing)])} on this evaluation's 1,000 images)",
        f"{_interval(row[(standard_adversarial, crossing)])} less adversarial loss "
        f"({row[(standard_adversarial, crossing)]['share of paper']:.2g} of the paper's effect)",
        f"({_interval(row[(standard_natural, crossing)])}, *{row[(standard_natural, crossing)]['verdict']}*)",
        "crosses at {}, {}, {} and {} with 6x6".format(*(f"{e:.1f}/255" for e in crossings.sort_values("center")["eps_255"])),
        f"**{seconds / 60:.1f} minutes**",
    ]


def results_quotes_of_the_cifar10_eps_run() -> list[str]:
    """What docs/results.md says of the committed cifar10-eps run beyond the README's quotes, from its tables."""
    claims_of_run = _cifar10_claims("cifar10-eps")
    usual, crossing = READING_LABELS["usual"], READING_LABELS["crossing"]
    kept, background = "kept", "background adversarial"
    evaluation = _table("cifar10-eps", "eval_cifar10.csv").set_index(["reading", "model", "attack"])
    natural = evaluation.loc[("usual", "natural", "natural")]
    crossings = _table("cifar10-eps", "eps_sweep_crossings.csv").query("attack == 'background'").sort_values("center")
    timings = pd.read_csv(PROJECT_ROOT / "reports" / "cifar10-eps" / "timings.csv").set_index("notebook")["seconds"]
    adversarial = timings[timings.index.str.contains("eps_")]
    verdicts = claims_of_run["verdict"].value_counts()
    accuracy = {(r, m, a): 100 * evaluation.loc[(r, m, a), "accuracy"] for r, m, a in evaluation.index}
    standard_adversarial, standard_natural, background_natural = (
        "standard adversarial", "standard natural", "background natural")
    row = claims_of_run.loc
    seconds = json.loads((PROJECT_ROOT / "reports" / "cifar10-eps" / "run.json").read_text())["seconds"]
    return [
        f"{_interval(row[(standard_adversarial, usual)])} less adversarial loss than the natural model and "
        f"{_interval(row[(standard_natural, usual)])} more natural loss (*direction only*, "
        f"{row[(standard_adversarial, usual)]['share of paper']:.2f} and {row[(standard_natural, usual)]['share of paper']:.2f} "
        "of the paper's effects)",
        f"{_reversed_interval(row[(background_natural, usual)])} *more* natural loss",
        f"{_interval(row[(standard_adversarial, crossing)])}\nless adversarial loss "
        f"({row[(standard_adversarial, crossing)]['share of paper']:.2g} of the paper's effect)",
        f"**{seconds / 60:.1f} minutes**",
        f"{_accuracy_interval(natural)} on all "
        "10,000 images",
        f"({_crossing(crossings.iloc[0])} with the 6x6 block; "
        + ", ".join(f"{e:.1f}/255" for e in crossings["eps_255"].iloc[:-1]) + f" and {crossings['eps_255'].iloc[-1]:.1f}/255",
        f"{_interval(claims_of_run.loc[(kept, crossing)])} at 1.24/255",
        f"and {claims_of_run.loc[(kept, usual), 'ours (%)']:.1f}% at 8/255",
        f"keeps {accuracy[('usual', 'standard', 'natural')]:.1f}% natural accuracy and "
        f"{accuracy[('usual', 'standard', 'standard')]:.1f}% under the standard attack (PGD-20 alone: "
        f"{100 * evaluation.loc[('usual', 'standard', 'standard'), 'pgd_accuracy']:.1f}%",
        f"{_interval(claims_of_run.loc[(background, usual)])} less adversarial loss "
        f"({claims_of_run.loc[(background, usual), 'share of paper']:.1f} times the paper's 15.98%)",
        f"keeps {accuracy[('crossing', 'standard', 'natural')]:.1f}% natural accuracy (the natural model's "
        f"{accuracy[('crossing', 'natural', 'natural')]:.1f}%) and {accuracy[('crossing', 'standard', 'standard')]:.1f}% "
        f"under the standard attack (the natural model's {accuracy[('crossing', 'natural', 'standard')]:.1f}%)",
        f"Verdicts of its {len(claims_of_run)} "
        "CIFAR-10 rows: " + ", ".join(f"{verdicts[v]} *{v}*" for v in verdicts_module.VERDICTS if v in verdicts),
        f"({timings['TOTAL']:,.0f} s, one invocation)",
        f"the natural model {timings['02_train_cifar10-natural-seed0.ipynb']:.0f} s, the adversarial models "
        f"{adversarial.min():,.0f} to {adversarial.max():,.0f} s",
        f"the figures {timings[timings.index.str.match(r'0[3-7]_')].sum() / 60:.0f} minutes",
    ]


def test_the_results_page_says_what_the_cifar10_eps_tables_say():
    results = _flat((PROJECT_ROOT / "docs" / "results.md").read_text())
    missing = [quote for quote in results_quotes_of_the_cifar10_eps_run() if _flat(quote) not in results]
    assert not missing, f"docs/results.md does not say what the committed cifar10-eps tables say: {missing}"


def test_the_readme_says_what_the_cifar10_eps_tables_say():
    readme = _flat((PROJECT_ROOT / "README.md").read_text())
    missing = [quote for quote in readme_quotes_of_the_cifar10_eps_run() if _flat(quote) not in readme]
    assert not missing, f"the README does not say what the committed cifar10-eps tables say: {missing}"


def test_the_crossing_eps_is_the_committed_sweeps():
    """The eps the cifar10-eps profile trains at is the crossing of the committed sweep it names, fixed to two
    decimals of /255 (spec.CROSSING_255)."""
    profile, network, attack, center = CROSSING_SOURCE
    crossings = _table(profile, "eps_sweep_crossings.csv")
    row = crossings[(crossings["network"] == network) & (crossings["attack"] == attack)
                    & (crossings["center"] == center)].iloc[0]
    assert round(row["eps_255"], 2) == CROSSING_255
    assert CIFAR10_READINGS["crossing"] * 255 == pytest.approx(CROSSING_255)


# --- airbench94's network at 8/255 (reports/airbench-usual): what the README and docs/results.md say of it ---

def airbench_usual_run_facts() -> dict:
    """What the README and docs/results.md quote of the committed airbench-usual run, from its tables."""
    claims_of_run = _cifar10_claims("airbench-usual")
    crossings = _table("airbench-usual", "eps_sweep_crossings.csv").set_index(["attack", "center"])
    evaluation = _table("airbench-usual", "eval_cifar10.csv").set_index(["model", "attack"])
    run = json.loads((PROJECT_ROOT / "reports" / "airbench-usual" / "run.json").read_text())
    timings = pd.read_csv(PROJECT_ROOT / "reports" / "airbench-usual" / "timings.csv").set_index("notebook")["seconds"]
    usual = READING_LABELS["usual"]
    return {"claim": lambda key: claims_of_run.loc[(key, usual)], "verdicts": claims_of_run["verdict"].value_counts(),
            "crossings": crossings, "evaluation": evaluation, "run": run, "timings": timings,
            "accuracy": lambda model, attack: 100 * evaluation.loc[(f"{model} on airbench", attack), "accuracy"]}


def readme_quotes_of_the_airbench_usual_run() -> list[str]:
    """What the README says of the committed airbench-usual run (airbench94's network at 8/255), from its tables."""
    facts = airbench_usual_run_facts()
    claim, crossings = facts["claim"], facts["crossings"]
    return [
        f"**{facts['run']['seconds'] / 60:.1f} minutes**",
        f"{_interval(claim('standard adversarial'))} less adversarial loss than the natural model (the paper: 95.7%; "
        f"{claim('standard adversarial')['share of paper']:.2f} of its effect)",
        f"{_interval(claim('standard natural'))} more natural loss (the paper: 88.9%; "
        f"{claim('standard natural')['share of paper']:.2f}, *{claim('standard natural')['verdict']}*)",
        f"{_reversed_interval(claim('background natural'))} more natural loss (*{claim('background natural')['verdict']}*)",
        "crosses at {}, {}, {} and {} with 6x6".format(
            *(f"{crossings.loc[('background', block), 'eps_255']:.1f}/255" for block in CIFAR10_BLOCKS)),
        f"keeps {claim('kept')['ours (%)']:.1f}% of its accuracy under the background attack",
    ]


def results_quotes_of_the_airbench_usual_run() -> list[str]:
    """What docs/results.md says of the committed airbench-usual run beyond the README's quotes, from its tables."""
    facts = airbench_usual_run_facts()
    claim, verdicts, evaluation, timings = facts["claim"], facts["verdicts"], facts["evaluation"], facts["timings"]
    accuracy = facts["accuracy"]
    natural = evaluation.loc[("natural on airbench", "natural")]
    return [
        *readme_quotes_of_the_airbench_usual_run(),
        f"{_accuracy_interval(natural)} on "
        "all 10,000 images",
        _crossing(facts["crossings"].loc[("background", 6)]),
        f"keeps {accuracy('standard', 'natural'):.1f}% natural accuracy and {accuracy('standard', 'standard'):.1f}% under "
        f"the standard attack (PGD-20 alone: {100 * evaluation.loc[('standard on airbench', 'standard'), 'pgd_accuracy']:.1f}%)",
        f"keeps {accuracy('background', 'natural'):.1f}% natural accuracy, {accuracy('background', 'background'):.1f}% under "
        f"the background attack and {accuracy('background', 'standard'):.1f}% under the standard one",
        f"{_interval(claim('background adversarial'))} less adversarial loss "
        f"({claim('background adversarial')['share of paper']:.1f} times the paper's 15.98%)",
        "Verdicts of its {} CIFAR-10 rows: ".format(verdicts.sum())
        + ", ".join(f"{verdicts[v]} *{v}*" for v in verdicts_module.VERDICTS if v in verdicts),
        f"({timings['TOTAL']:,.0f} s, one invocation)",
        f"the natural model {timings['02_train_cifar10-airbench-natural-seed0.ipynb']:,.0f} s, the standard and background "
        f"models {timings['02_train_cifar10-airbench-standard-per_step-eps_usual-seed0.ipynb']:,.0f} and "
        f"{timings['02_train_cifar10-airbench-background-per_step-eps_usual-seed0.ipynb']:,.0f} s",
        f"the sweep {timings['04_cifar10_eps.ipynb']:.0f} s",
    ]


TRAINING_ATTACK_CHECK = PROJECT_ROOT / "bench" / "results" / "training-attack-check-airbench-usual-2026-12-07.json"


def training_attack_check_facts() -> dict:
    """bench/training_attack_check.py's committed run: airbench-usual's standard model trained with its PGD-2 and
    with PGD-5, each row by (training attack's steps, input type); and, for each, the standard model's claims against
    the run's natural model (``CIFAR10_CLAIM`` keys "standard natural" and "standard adversarial"), computed by the
    claims' own value functions from the mean losses, with their shares of the paper's effects."""
    rows = pd.DataFrame(json.loads(TRAINING_ATTACK_CHECK.read_text())["rows"])
    rows["steps"] = rows["training attack"].str.extract(r"PGD-(\d+)", expand=False).astype(int)
    rows = rows.set_index(["steps", "attack"])
    natural = _table("airbench-usual", "eval_cifar10.csv").set_index(["model", "attack"]).loc["natural on airbench", "loss"]

    def claim_of(steps: int, key: str) -> tuple[float, float]:
        claim = CLAIM[CIFAR10_CLAIM[key]]
        value = float(claim.value(lambda model, attack: rows.loc[(steps, attack), "loss"] if model == "standard"
                                  else natural[attack]))
        return value, claim.share(value)[0]
    return {"rows": rows, "claim": {(steps, key): claim_of(steps, key) for steps in (2, 5)
                                    for key in ("standard natural", "standard adversarial")}}


def results_quotes_of_the_training_attack_check() -> list[str]:
    """What docs/results.md says of the PGD-5 check of airbench-usual's training attack, from its committed JSON."""
    facts = training_attack_check_facts()
    rows, claim = facts["rows"], facts["claim"]

    def accuracy(steps: int, attack: str) -> str:
        return _accuracy_interval(rows.loc[(steps, attack)])

    (natural_2, share_2), (natural_5, share_5) = claim[(2, "standard natural")], claim[(5, "standard natural")]
    return [
        f"under the standard attack {accuracy(2, 'standard')} trained with PGD-2 and {accuracy(5, 'standard')} with PGD-5",
        f"under the background attack {accuracy(2, 'background')} and {accuracy(5, 'background')}",
        f"natural accuracy {accuracy(2, 'natural')} and {accuracy(5, 'natural')}",
        f"{natural_5:.1f}% more natural loss than the natural model ({share_5:.2f} of the paper's effect; with "
        f"PGD-2 {natural_2:.1f}%, {share_2:.2f})",
        f"{claim[(5, 'standard adversarial')][0]:.1f}% less adversarial loss (with PGD-2 "
        f"{claim[(2, 'standard adversarial')][0]:.1f}%)",
    ]


# --- the natural model trained as the paper's (reports/paper-natural) ---

def readme_quotes_of_the_paper_natural_run() -> list[str]:
    """What the README says of the committed paper-natural run, computed from its tables."""
    folder = PROJECT_ROOT / "reports" / "paper-natural"
    claim = pd.read_csv(folder / "tables" / "claims.csv").set_index("claim")
    curves = pd.read_csv(folder / "tables" / "curves_mnist.csv")
    standard = curves[curves["attack"] == "standard"].groupby("step")["loss"].mean()
    figure2 = pd.read_csv(folder / "tables" / "fig2_mnist_vs_paper.csv").set_index("model").loc["natural"]
    seconds = json.loads((folder / "run.json").read_text())["seconds"]
    natural, exact = (claim.loc["natural MNIST model: natural accuracy 99.19%"],
                      claim.loc["natural MNIST model under the exact-mask attack: 0.08% accuracy"])
    counts = pd.read_csv(folder / "tables" / "eval_mnist.csv").groupby("attack")["n"].min()
    images, attacked = int(counts["natural"]), int(counts.drop("natural").min())
    return [
        f"natural accuracy {natural['ours (%)']:.2f}% [{natural['low (%)']:.2f}, {natural['high (%)']:.2f}] against the "
        f"paper's 99.19%, *{natural['verdict']}*",
        f"and {exact['ours (%)']:.2f}% [{exact['low (%)']:.2f}, {exact['high (%)']:.2f}] under the exact-mask attack "
        f"against its 0.08%, *{exact['verdict']}*",
        f"natural inputs on all {images:,} test images, the localized AutoAttack on {attacked:,}",
        f"{standard.iloc[0]:.1f} at {standard.index[0]:,} steps, {standard.iloc[-1]:.1f} at {standard.index[-1]:,})",
        f"it reaches {float(figure2['standard'].split()[0]):.1f} under the standard attack and "
        f"{float(figure2['background'].split()[0]):.1f} under the background attack",
        f"**{seconds / 60:.1f} minutes** of wall time",
    ]


def results_quotes_of_the_paper_natural_run() -> list[str]:
    """What docs/results.md says of the committed paper-natural run beyond the README's quotes, from its tables."""
    folder = PROJECT_ROOT / "reports" / "paper-natural"
    claim = pd.read_csv(folder / "tables" / "claims.csv").set_index("claim")
    test_set = pd.read_csv(folder / "tables" / "test_set_mnist.csv")
    run = json.loads((folder / "run.json").read_text())
    timings = pd.read_csv(folder / "timings.csv").set_index("notebook")["seconds"]
    trainings = timings[timings.index.str.startswith("02_")].sort_values()
    natural, exact = (claim.loc["natural MNIST model: natural accuracy 99.19%"],
                      claim.loc["natural MNIST model under the exact-mask attack: 0.08% accuracy"])
    natural_n = test_set["n"].min()
    invocations = {1: "one invocation", 2: "two invocations"}.get(len(run["invocations"]), f"{len(run['invocations'])} invocations")
    return [
        f"natural accuracy on all {int(natural_n):,} test images {natural['ours (%)']:.2f}% [{natural['low (%)']:.2f}, "
        f"{natural['high (%)']:.2f}] against the paper's 99.19%, *{natural['verdict']}*",
        f"{exact['ours (%)']:.2f}% [{exact['low (%)']:.2f}, {exact['high (%)']:.2f}] under the exact-mask attack",
        "the two seeds: " + " and ".join(f"{a:.2f}%" for a in test_set["accuracy"]),
        f"({run['seconds']:,.0f} s; {invocations})",
        f"the two trainings {trainings.iloc[0]:,.0f} s and {trainings.iloc[1]:,.0f} s side by side, the evaluation, tables "
        f"and figures {timings[timings.index.str.match(r'0[3-7]_')].sum():.0f} s",
    ]


def test_the_readme_says_what_the_paper_natural_tables_say():
    readme = _flat((PROJECT_ROOT / "README.md").read_text())
    missing = [quote for quote in readme_quotes_of_the_paper_natural_run() if _flat(quote) not in readme]
    assert not missing, f"the README does not say what the committed paper-natural tables say: {missing}"


@pytest.mark.parametrize("name", ["readme_quotes_of_the_deviations_headline", "readme_quotes_of_the_airbench_headline",
                                  "results_quotes_of_the_deviations_time", "results_quotes_of_the_paper_natural_run",
                                  "results_quotes_of_the_quick_run_times", "results_quotes_of_the_budget_axis",
                                  "readme_quotes_of_the_airbench_usual_run", "results_quotes_of_the_airbench_usual_run",
                                  "results_quotes_of_the_training_attack_check"])
def test_the_pages_say_what_their_quotes_compute(name):
    page = "README.md" if name.startswith("readme") else "docs/results.md"
    text = _flat((PROJECT_ROOT / page).read_text())
    missing = [quote for quote in globals()[name]() if _flat(quote) not in text]
    assert not missing, f"{page} does not say what {name} computes: {missing}"
