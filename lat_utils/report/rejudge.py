"""Judge a committed report's claims again under the current rules (``study.verdicts``), from its committed tables
alone: no model is trained, loaded or attacked.

``python -m lat_utils.report.rejudge quick long deviations airbench`` rewrites, for each profile,
- ``claims.csv`` from ``eval_<dataset>.csv`` and ``per_image_<dataset>.csv.gz`` (as ``05_figures_and_claims`` makes it);
- the deviations study's ``claims_by_configuration.csv`` and ``claims_robustness.csv`` (as ``08_deviations`` does,
  the budget axis read from the long profile's committed ``claims_trends.csv``);
- ``claims_milestones.csv`` from its own rows: the per-image results of the milestones are not committed, so each
  row keeps the interval it was computed with (on the linear scale), clipped to its statistic's range, and is judged
  by the current rules, its ``interval`` column saying so;
- ``claims_budgets.csv`` and ``claims_trends.csv`` (as ``06_budgets`` makes them, from the tables above), and the
  crossings beside the other profiles' (``eps_sweep_crossings_by_profile.csv``, as ``04_cifar10_eps`` does);
and records in ``run.json`` what was judged again and how, which the landing page shows. The executed notebooks
keep the tables of their run: where they differ, the CSV files are the current rules' verdicts.

``python -m lat_utils.report.rejudge --after cifar10-eps``, once a report is added or rerun, makes again what every
other report reads of it (their budgets and crossings beside other profiles; the deviations study's budget axis
after the long profile), so that no committed table reads a superseded run; then ``python -m
lat_utils.report.synthesis``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

import pandas as pd

from ..config import get_profile
from ..paths import output_root, reports_dir, tables_dir
from ..spec.settings import DRY_RUN_SUFFIX
from ..study import (
    claims_across_budgets,
    claims_by_configuration,
    claims_by_network,
    compared_with,
    crossings_by_profile,
    long_trends,
    robustness,
    trends,
    with_budget_axis,
)
from ..study.claims import CLAIMS
from ..study.verdicts import verdict
from .site import RUN_RECORD, write_index

MILESTONE_INTERVAL = "linear scale, clipped to the range: judged again from the stored interval"
RULES = "the verdict rules of docs/method.md (share of the paper's effect, equivalence margin, intervals in range)"


def judged_tables(profile: str) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The committed evaluation and per-image tables of ``profile``, read as the notebooks read them."""
    folder = tables_dir(profile)
    datasets = [d for d in get_profile(profile).datasets if (folder / f"eval_{d}.csv").exists()]
    tables = {d: pd.read_csv(folder / f"eval_{d}.csv") for d in datasets}
    per_image = {d: pd.read_csv(folder / f"per_image_{d}.csv.gz", keep_default_na=False) for d in datasets}
    return tables, per_image


def milestones_judged_again(table: pd.DataFrame, profile: str) -> pd.DataFrame:
    """``claims_milestones.csv`` judged by the current rules on the intervals it holds, clipped to each claim's range."""
    settings, by_text = get_profile(profile), {c.text: c for c in CLAIMS}
    table = table.copy()
    for column in ("share of paper", "share low", "share high", "detectable share", "interval"):
        table[column] = table.get(column, float("nan") if column != "interval" else "")
    for i, row in table.iterrows():
        claim = by_text.get(row["claim"])
        if claim is None or pd.isna(row["low (%)"]) or row["verdict"] == "not comparable":
            continue
        low, high = max(row["low (%)"], claim.scale.low), min(row["high (%)"], claim.scale.high)
        table.loc[i, ["low (%)", "high (%)"]] = low, high
        table.loc[i, ["share of paper", "share low", "share high"]] = claim.share(row["ours (%)"], low, high)
        table.loc[i, "detectable share"] = claim.detectable(low, high)
        table.loc[i, ["verdict", "reason"]] = verdict(claim, low, high, row["ours (%)"], settings)
        table.loc[i, "interval"] = MILESTONE_INTERVAL
    return table


def rejudge(profile: str) -> list[str]:
    """Judge ``profile``'s committed claims again (see the module's docstring); the tables rewritten."""
    folder, settings = tables_dir(profile), get_profile(profile)
    tables, per_image = judged_tables(profile)
    claims_by_network(tables, per_image, settings).to_csv(folder / "claims.csv", index=False)
    written = ["claims.csv"]
    if settings.variants:
        by_configuration = claims_by_configuration(tables, per_image, settings)
        by_configuration.to_csv(folder / "claims_by_configuration.csv", index=False)
        written += ["claims_by_configuration.csv", *robustness_again(profile)]
    if (folder / "claims_milestones.csv").exists():
        milestones = pd.read_csv(folder / "claims_milestones.csv", keep_default_na=False, na_values=[""])
        milestones_judged_again(milestones, profile).to_csv(folder / "claims_milestones.csv", index=False)
        written.append("claims_milestones.csv")
    return written


def budgets_again(profile: str) -> list[str]:
    """``06_budgets``'s tables of ``profile`` from the claims tables of the profiles it compares (judged again first)."""
    folder = tables_dir(profile)
    if not (folder / "claims_budgets.csv").exists():
        return []
    budgets, _ = claims_across_budgets(compared_with(profile))
    budgets.to_csv(folder / "claims_budgets.csv", index=False)
    trends(budgets).to_csv(folder / "claims_trends.csv", index=False)
    return ["claims_budgets.csv", "claims_trends.csv"]


def crossings_again(profile: str) -> list[str]:
    """``04_cifar10_eps``'s crossings beside the other profiles' (``eps_sweep_crossings_by_profile.csv``) of
    ``profile``, from their committed sweeps: a profile rerun since is read as it now stands."""
    folder = tables_dir(profile)
    if not (folder / "eps_sweep_crossings_by_profile.csv").exists():
        return []
    crossings_by_profile(compared_with(profile)).to_csv(folder / "eps_sweep_crossings_by_profile.csv", index=False)
    return ["eps_sweep_crossings_by_profile.csv"]


def robustness_again(profile: str) -> list[str]:
    """The deviations study's ``claims_robustness.csv`` of ``profile`` with its budget axis read again from the long
    profile's committed ``claims_trends.csv``."""
    folder = tables_dir(profile)
    if not (folder / "claims_by_configuration.csv").exists():
        return []
    by_configuration = pd.read_csv(folder / "claims_by_configuration.csv", keep_default_na=False, na_values=[""])
    with_budget_axis(robustness(by_configuration), long_trends()).to_csv(folder / "claims_robustness.csv", index=False)
    return ["claims_robustness.csv"]


def after(changed: str) -> dict[str, list[str]]:
    """What every other report here reads of ``changed``'s committed tables, made again from them: the claims across
    budgets and the crossings beside other profiles of each report that compares ``changed`` (``compared_with``), the
    deviations study's budget axis where ``changed`` is the long profile; each recorded in its run.json and landing
    page. What a new or rerun report needs before the synthesis (``python -m lat_utils.report.synthesis``)."""
    get_profile(changed)
    written = {}
    for folder in sorted(output_root().joinpath("reports").glob("*/tables")):
        profile = folder.parent.name
        if profile == changed or profile.endswith(DRY_RUN_SUFFIX):   # a dry run compares itself alone
            continue
        before = {path.name: path.read_bytes() for path in folder.glob("*.csv")}
        tables = budgets_again(profile) + crossings_again(profile) if changed in compared_with(profile) else []
        tables += robustness_again(profile) if changed == "long" else []
        tables = [name for name in tables if (folder / name).read_bytes() != before.get(name)]   # those that changed
        if tables:
            _record(profile, tables, why=f"after the {changed} report changed, from the committed tables")
            write_index(profile)
            written[profile] = tables
    return written


def _record(profile: str, written: list[str], why: str = "") -> None:
    """Say in ``run.json`` (shown on the landing page) which tables were judged again, when and how."""
    path = reports_dir(profile) / RUN_RECORD
    record = json.loads(path.read_text()) if path.exists() else {"profile": profile}
    if why:   # another report's tables read again, not this one's claims
        record["tables made again"] = f"{datetime.now(timezone.utc):%Y-%m-%d}: {', '.join(written)}, {why}"
    else:
        record["claims judged again"] = (
            f"{datetime.now(timezone.utc):%Y-%m-%d}: {', '.join(written)} under {RULES}, from the committed evaluation "
            "and per-image tables (no model trained or attacked again); the executed notebooks show the verdicts of the "
            "run's own rules")
    path.write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profiles", nargs="*", help="committed reports to judge again, e.g. quick long")
    parser.add_argument("--after", metavar="PROFILE", help="a report that was added or rerun: make again what every "
                                                          "other report reads of it (its budgets, crossings)")
    args = parser.parse_args(argv)
    if args.after:
        written = after(args.after)
        for profile, tables in written.items():
            print(f"{profile}: made again after {args.after}: {', '.join(tables)}")
        if not written:
            print(f"every report that reads the {args.after} report's tables is up to date")
    for profile in args.profiles:
        get_profile(profile)   # an unknown profile is refused before any table is written
    written = {profile: rejudge(profile) for profile in args.profiles}
    for profile in args.profiles:   # 06's budgets read every compared profile's claims: judged again above
        written[profile] += budgets_again(profile) + crossings_again(profile)
        _record(profile, written[profile])
        write_index(profile)
        print(f"{profile}: judged again: {', '.join(written[profile])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
