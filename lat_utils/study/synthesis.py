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
from .claims import CLAIMS, claims_table

NATURAL = "natural"
BUDGET_COLUMNS = ("pgd_steps", "apgd_steps", "apgd_targets", "square_queries")   # what an attack's result depends on


def with_natural_of(table: pd.DataFrame, per_image: pd.DataFrame, natural_table: pd.DataFrame,
                    natural_per_image: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One profile's MNIST evaluation and per-image tables with the natural model's rows taken from another's, on the
    test images the first evaluates (the other's first ``n``); a ValueError naming the difference where the other
    evaluated fewer images or attacked with another budget."""
    n = int(table["n"].max())
    theirs = natural_table[natural_table["model"] == NATURAL]
    if int(theirs["n"].min()) < n:
        raise ValueError(f"the other natural model is evaluated on {int(theirs['n'].min())} test images, not {n}")
    ours = table[table["model"] == NATURAL].set_index("attack")[list(BUDGET_COLUMNS)].drop_duplicates()
    other = theirs.set_index("attack")[list(BUDGET_COLUMNS)].drop_duplicates()
    if not ours.sort_index().equals(other.sort_index()):
        raise ValueError(f"the attacks' budgets differ: {ours.to_dict('index')} against {other.to_dict('index')}")
    images = natural_per_image[(natural_per_image["model"] == NATURAL) & (natural_per_image["image"] < n)]
    # the evaluation rows keep their own statistics (of the other's n images): the claims read the per-image rows
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
