"""Learning curves: every model at the milestones of its training, and the claims at each milestone.

A profile with ``milestones`` keeps each model's weights at those fractions of training
(``checkpoints.milestone_steps``). Each milestone is evaluated on the first ``curve_n`` test images,
natural and under every localized attack of the dataset, with the profile's masked PGD alone
(``curve_measure``): the localized AutoAttack at every milestone would cost more than the training
itself; the finished models get it in ``evaluation``. Results are cached per model and milestone in
``runs/<profile>/curves/``, per cell: a milestone that has its evaluation is never evaluated again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..config import get_profile
from ..paths import runs_dir, tables_dir
from ..sealed import seal_of
from ..spec.settings import Profile
from .checkpoints import load_milestone, milestone_path, milestone_steps
from .claims import claims_table
from .evaluation import EVAL_COLUMNS, evaluated_cells, table_of, tables_of
from .plan import TrainConfig, evaluated_models

CURVE_COLUMNS = ["step", "fraction", *EVAL_COLUMNS]


def curve_measure(profile: Profile) -> Profile:
    """The evaluation settings of a milestone: ``profile``'s masked PGD alone on its first ``curve_n`` images."""
    return replace(profile, n_test=profile.curve_n, apgd_steps=0, apgd_targets=0, square_queries=0)


def milestone_cache(config: TrainConfig, step: int, *, progress: bool = False) -> dict:
    """The ``evaluation.evaluated_cells`` cache of ``config``'s weights after ``step`` training steps."""
    return evaluated_cells(config, curve_measure(config.settings), lambda: load_milestone(config, step),
                           _curve_path(config, step), seal_of(milestone_path(config, step)), salt=f"@{step}",
                           progress=progress)


def evaluate_milestones(config: TrainConfig, *, progress: bool = True) -> pd.DataFrame:
    """Every milestone of one trained model (rows of ``CURVE_COLUMNS``), computing only what is missing."""
    profile = config.settings
    frames = [_rows(config, step, milestone_cache(config, step, progress=progress), profile)
              for step in milestone_steps(profile)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CURVE_COLUMNS)


def learning_curves(dataset: str, profile_name: str) -> pd.DataFrame:
    """``evaluate_milestones`` of every model of ``dataset``, written to ``tables/curves_<dataset>.csv``."""
    frames = [evaluate_milestones(c, progress=False) for c in evaluated_models(dataset, profile_name)]
    table = pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]
    if len(table):
        table.to_csv(tables_dir(profile_name) / f"curves_{dataset}.csv", index=False)
    return table


def milestone_claims(profile_name: str) -> pd.DataFrame:
    """The claims table (``claims.claims_table``) at every milestone of ``profile_name``, one block per
    milestone with its ``step``, ``fraction`` and ``network``, written to ``tables/claims_milestones.csv``."""
    profile = get_profile(profile_name)
    frames = []
    for step in milestone_steps(profile):
        tables, per_image = {}, {}
        for dataset in profile.datasets:
            tables[dataset], per_image[dataset] = tables_of(
                {c: milestone_cache(c, step) for c in evaluated_models(dataset, profile_name)})
        frame = claims_table(tables, per_image, profile)   # the milestones are the paper CNN's models
        frame.insert(0, "fraction", step / profile.train_steps)
        frame.insert(0, "step", step)
        frames.append(frame)
    if not frames:
        return pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    table.to_csv(tables_dir(profile_name) / "claims_milestones.csv", index=False)
    return table


def _rows(config: TrainConfig, step: int, cache: dict, profile: Profile) -> pd.DataFrame:
    rows = table_of(config, cache)
    rows.insert(0, "fraction", step / profile.train_steps)
    rows.insert(0, "step", step)
    return rows


def _curve_path(config: TrainConfig, step: int) -> Path:
    return runs_dir(config.profile) / "curves" / f"{config.eval_key}-step{step}.pt"
