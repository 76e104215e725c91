"""The MNIST claims judged against another profile's natural model.

Every MNIST ratio claim divides by the natural model's loss, and a natural model grows more confident, and its
adversarial loss larger, the longer it trains: the CPU profiles train theirs as briefly as their adversarial models
(500-3,200 steps at Adam 1e-3), the paper 100,000 steps at Adam 1e-4. The ``paper-natural`` profile trains the natural
model as the paper does; ``claims_against_natural`` judges a profile's claims with the natural model's rows taken from
it (the same test images, the same attacks and budgets) beside the profile's own, a column saying which.
"""

from __future__ import annotations

import pandas as pd

from ..config import get_profile
from ..paths import tables_dir
from ..spec.paper import READING_ORDER
from ..spec.recipes import NETWORKS
from .claims import CLAIMS, claims_table, only_lat_claim
from .deviations import BUDGET_AXIS

NATURAL = "natural"
BUDGET_COLUMNS = ("pgd_steps", "apgd_steps", "apgd_targets", "square_queries")   # what an attack's result depends on


def with_natural_of(table: pd.DataFrame, per_image: pd.DataFrame, natural_table: pd.DataFrame,
                    natural_per_image: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One profile's MNIST evaluation and per-image tables with the natural model's rows taken from another's, on the
    test images the first evaluates (the other's first ``n`` of each input type); a ValueError naming the difference
    where the other attacked fewer images or with another budget. Natural inputs are the exception: where one
    profile measured them on fewer images (a run from before they were measured on the whole test set), the claims
    read the images both have (``claims.PerImage``)."""
    theirs = natural_table[natural_table["model"] == NATURAL]
    ours_n, theirs_n = (t[t["model"] == NATURAL].groupby("attack")["n"].min() for t in (table, theirs))
    for attack, n in ours_n.items():
        if attack != "natural" and theirs_n.get(attack, 0) < n:
            raise ValueError(f"the other natural model is evaluated on {int(theirs_n.get(attack, 0))} test images "
                             f"under the {attack} attack, not {n}")
    ours = table[table["model"] == NATURAL].set_index("attack")[list(BUDGET_COLUMNS)].drop_duplicates()
    other = theirs.set_index("attack")[list(BUDGET_COLUMNS)].drop_duplicates()
    if not ours.sort_index().equals(other.sort_index()):
        raise ValueError(f"the attacks' budgets differ: {ours.to_dict('index')} against {other.to_dict('index')}")
    natural_rows = natural_per_image[natural_per_image["model"] == NATURAL]
    images = natural_rows[natural_rows["image"] < natural_rows["attack"].map(ours_n)]
    # the evaluation rows keep their own statistics (of the other's images): the claims read the per-image rows
    return (pd.concat([table[table["model"] != NATURAL], theirs], ignore_index=True),
            pd.concat([per_image[per_image["model"] != NATURAL], images], ignore_index=True))


def claims_against_natural(profile: str, natural_profile: str) -> pd.DataFrame:
    """The MNIST ratio claims that rest on the natural model, of ``profile``'s committed tables, judged against its
    own natural model and against ``natural_profile``'s, one row each (``natural model`` says which). The absolute
    claims about the natural model are ``natural_profile``'s own claims table's."""
    folder, other = tables_dir(profile), tables_dir(natural_profile)
    table, per_image = (pd.read_csv(folder / "eval_mnist.csv"),
                        pd.read_csv(folder / "per_image_mnist.csv.gz", keep_default_na=False))
    theirs = with_natural_of(table, per_image, pd.read_csv(other / "eval_mnist.csv"),
                             pd.read_csv(other / "per_image_mnist.csv.gz", keep_default_na=False))
    settings, natural_settings = get_profile(profile), get_profile(natural_profile)
    resting = [c.text for c in CLAIMS if c.dataset == "mnist" and c.relative and NATURAL in c.models]
    frames = []
    for (tables, images), label in (((table, per_image), f"{profile}'s own ({settings.train_steps:,} steps)"),
                                    (theirs, f"{natural_profile}'s ({natural_settings.train_steps:,} steps, "
                                             f"Adam {natural_settings.learning_rate:g} {natural_settings.lr_schedule})")):
        judged = claims_table({"mnist": tables}, {"mnist": images}, settings)
        judged = judged[judged["claim"].isin(resting)]
        frames.append(judged.assign(profile=profile, **{"natural model": label}))
    return pd.concat(frames, ignore_index=True)


JUDGED = ("quick", "long", "deviations")   # the profiles whose MNIST adversarial models the ratio claims compare


def against_this_natural_model(natural_profile: str) -> tuple[pd.DataFrame, list[str]]:
    """``claims_against_natural`` of every profile of ``JUDGED`` that has run here, against ``natural_profile``'s
    natural models, written to its ``tables/claims_against_natural.csv``; and one sentence per profile left out.
    Only a profile that trains natural MNIST models alone judges others' claims so (a dry run's numbers mean
    nothing beside real ones: none)."""
    settings = get_profile(natural_profile)
    if settings.model_kinds != (NATURAL,) or "mnist" not in settings.datasets or settings.dry_run:
        return pd.DataFrame(), [f"The {natural_profile} profile is not a real run of natural MNIST models alone: "
                                "it judges no other profile's claims."]
    frames, left_out = [], []
    for profile in JUDGED:
        if not (tables_dir(profile) / "per_image_mnist.csv.gz").exists():
            left_out.append(f"The {profile} profile has not run here: left out.")
            continue
        frames.append(claims_against_natural(profile, natural_profile))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(table):
        table.to_csv(tables_dir(natural_profile) / "claims_against_natural.csv", index=False)
    return table, left_out


# --- What this study concludes: per claim, reading and network, the verdict of its best evidence ---

# the profiles whose claims tables count
EVIDENCE = ("quick", "long", "deviations", "airbench", "paper-natural", "cifar10-eps", "airbench-usual")
SYNTHESIS_COLUMNS = ["claim", "reading", "network", "verdict", "ours (%)", "low (%)", "high (%)", "share of paper",
                     "share low", "share high", "detectable share", "paper (%)", "evidence", "robust to our cuts",
                     "reason"]
NETWORK_ORDER = {name: i for i, name in enumerate(NETWORKS)}   # the paper's CNN first
NO_EVIDENCE = ("was not run", "the profile trains no")   # the reasons of a row that judged nothing


def _candidates(natural_profile: str) -> pd.DataFrame:
    """Every judged row of the committed claims tables, and of the ratio claims against ``natural_profile``'s
    natural model, with what its evidence is: training steps, seeds, test images, and how its natural model trained."""
    frames = []
    for profile in EVIDENCE:
        path = tables_dir(profile) / "claims.csv"
        if not path.exists():
            continue
        rows = pd.read_csv(path, keep_default_na=False, na_values=[""]).assign(profile=profile)
        frames.append(rows.assign(**{"natural model": f"{profile}'s own"}))
    against = tables_dir(natural_profile) / "claims_against_natural.csv"
    if against.exists():
        rows = pd.read_csv(against, keep_default_na=False, na_values=[""])
        frames.append(rows[rows["natural model"].str.startswith(natural_profile)])
    table = pd.concat(frames, ignore_index=True)
    table = table[~table["reason"].astype(str).str.contains("|".join(NO_EVIDENCE))]
    counts = {p: _image_counts(p) for p in table["profile"].unique()}
    steps = [get_profile(p).with_network(n).train_steps for p, n in zip(table["profile"], table["network"])]
    natural_as_paper = table["natural model"].str.startswith(natural_profile) | (table["profile"] == natural_profile)
    return table.assign(steps=steps, images=table["profile"].map(lambda p: counts[p][0]),
                        natural_images=table["profile"].map(lambda p: counts[p][1]), natural_as_paper=natural_as_paper,
                        judged=table["verdict"] != "not comparable")


def _image_counts(profile: str) -> tuple[int, int]:
    """The test images a profile's claims rest on (its evaluation's, the largest of its datasets): the attacked
    ones, and those it scores natural inputs on."""
    tables = [pd.read_csv(path) for path in tables_dir(profile).glob("eval_*.csv")]
    natural = [t["attack"] == "natural" for t in tables]
    return (max(int(t.loc[~n, "n"].max()) for t, n in zip(tables, natural)),
            max(int(t.loc[n, "n"].max()) for t, n in zip(tables, natural)))


def _evidence(row: pd.Series) -> str:
    seeds, natural = int(row["seeds"]), int(row["natural_images"])
    text = (f"{row['profile']}: {row['steps']:,} training steps, {seeds} seed{'s' if seeds != 1 else ''}, "
            f"{row['images']:,} attacked test images" + (f", natural inputs on {natural:,}" if natural > row["images"] else ""))
    return text + (f"; natural model: {row['natural model']}" if row["natural model"] != f"{row['profile']}'s own" else "")


def best_evidence(natural_profile: str = "paper-natural") -> pd.DataFrame:
    """Per claim, reading of the eps and network: the row of the strongest evidence that judges it (a verdict
    other than *not comparable* first, then a natural model trained as the paper's, then the longest training,
    the most seeds, the most test images), what that evidence is, and whether the deviations study found the claim
    robust to our cuts (rows of ``SYNTHESIS_COLUMNS``), in the order of ``claims.CLAIMS``."""
    candidates = _candidates(natural_profile)
    order = {c.text: i for i, c in enumerate(CLAIMS)}
    ranked = candidates.sort_values(["judged", "natural_as_paper", "steps", "seeds", "images"], ascending=False,
                                    kind="stable")
    best = ranked.drop_duplicates(["claim", "reading", "network"]).copy()
    best["evidence"] = best.apply(_evidence, axis=1)
    robust = _robustness()
    best["robust to our cuts"] = best["claim"].map(robust).fillna("not studied (the deviations study runs MNIST only)")
    ranks = {"claim": order, "reading": READING_ORDER, "network": NETWORK_ORDER}
    best = best.sort_values(["claim", "network", "reading"], key=lambda c: c.map(ranks[c.name]).fillna(len(ranks[c.name])),
                            kind="stable")
    return best[SYNTHESIS_COLUMNS].reset_index(drop=True)


def cifar10_regimes(synthesis: pd.DataFrame) -> pd.DataFrame:
    """The CIFAR-10 claims' verdicts by regime: one row per claim, one column per network and reading of the eps
    that judged any (``best_evidence``'s rows), in the order of the networks and of ``READING_LABELS``; empty where
    no profile trains that regime."""
    cifar10 = {c.text for c in CLAIMS if c.dataset == "cifar10"} | {only_lat_claim("cifar10")}
    rows = synthesis[synthesis["claim"].isin(cifar10)]
    table = rows.pivot_table(index="claim", columns=["network", "reading"], values="verdict", aggfunc="first", sort=False)
    columns = sorted(table.columns, key=lambda c: (NETWORK_ORDER[c[0]], READING_ORDER[c[1]]))
    table = table[columns].fillna("")
    table.columns = [f"{network}, {reading}" for network, reading in columns]
    return table.reset_index()


def _robustness() -> dict[str, str]:
    path = tables_dir("deviations") / "claims_robustness.csv"
    if not path.exists():
        return {}
    table = pd.read_csv(path, keep_default_na=False)
    budget = table.get(BUDGET_AXIS, pd.Series([""] * len(table)))
    lines = [f"{line}; across budgets: {axis}" if axis else line for line, axis in zip(table["robust or depends"], budget)]
    return dict(zip(table["claim"], lines))
