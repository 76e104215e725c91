"""Which trained models did not learn: the collapse rule, per model and seed.

A relative-loss claim cannot tell robustness from a model that did not learn, so a claim is judged on the seeds
of its models that learned, the count of those left out beside its verdict (``claims.claims_table``). A model of
one seed has **collapsed** where it predicts one class for more than 90% of the test images (``evaluation.is_collapsed``,
the evaluation table's ``collapsed``), or where its natural accuracy is below half of the natural model's of the
same seed and reading (the natural models' mean where that seed has none): an adversarially trained MNIST model of
27% natural accuracy beside a natural model of 98% did not learn, whatever its predictions' spread.
"""

from __future__ import annotations

import pandas as pd

NATURAL = "natural"
ACCURACY_FLOOR = 0.5   # of the natural model's natural accuracy


def collapsed_seeds(table: pd.DataFrame) -> set[tuple[str, int, str]]:
    """The (model, seed, reading) of an evaluation table whose model collapsed (the module's rule)."""
    flagged = table[table["collapsed"].astype(bool)]
    found = set(zip(flagged["model"], flagged["seed"].astype(int), flagged["reading"]))
    natural = table[table["attack"] == NATURAL]
    reference = natural[natural["model"] == NATURAL].groupby(["seed", "reading"])["accuracy"].mean()
    mean = natural[natural["model"] == NATURAL].groupby("reading")["accuracy"].mean()
    for row in natural[natural["model"] != NATURAL].itertuples(index=False):
        floor = ACCURACY_FLOOR * reference.get((row.seed, row.reading), mean.get(row.reading, 0.0))
        if row.accuracy < floor:
            found.add((row.model, int(row.seed), row.reading))
    return found


def without_collapsed(table: pd.DataFrame, per_image: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The evaluation and per-image rows of the models that learned, and per (model, reading) the seeds left out
    and how many it had: {(model, reading): (left out, of)}."""
    collapsed = collapsed_seeds(table)
    if not collapsed:
        return table, per_image, {}

    def kept(frame: pd.DataFrame) -> pd.Series:
        keys = zip(frame["model"], frame["seed"].astype(int), frame["reading"])
        return pd.Series([key not in collapsed for key in keys], index=frame.index)

    seeds = table.groupby(["model", "reading"])["seed"].nunique()
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for model, _, reading in collapsed:
        left, of = counts.get((model, reading), (0, int(seeds[(model, reading)])))
        counts[(model, reading)] = (left + 1, of)
    return table[kept(table)], per_image[kept(per_image)], counts
