"""The deviations study: every claim under each configuration of training, and which of our cuts moves it.

The CPU profiles depart from the paper in several ways at once (short training, Adam 1e-3, an eps warm-up,
PGD-5 in training, the per-step projection). The deviations profile trains its central MNIST models once with
its own settings (the *base*) and again under each ``settings.VARIANTS`` entry, one cut undone at a time; where it
trains the background model with both projections, Algorithm 1 read literally is one more configuration.

A configuration is the base grid of models with some of them replaced: ``configuration_table`` puts the
models it retrains in the place of the base's, under the base's names, so that ``claims.claims_table``
judges every claim on it exactly as on the base. A claim is judged under a configuration only on models trained
under it: one that rests on a model the change would change but does not retrain (the exact and broad models
under the paper's learning rate, for instance) is *not comparable: mixed configurations*. The collapsed seeds of
each configuration's models are left out and counted (``collapse``). ``claims_by_configuration`` stacks those
tables, and ``robustness`` says per claim whether its verdict is *robust to our cuts* (the same in every
configuration in which it is judged) or *depends on* the configurations that change it. The budget, the largest
cut, is not retrained here: ``with_budget_axis`` sets beside each claim how its verdict moves across the long
profile's milestones and the quick run's budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..paths import tables_dir
from ..spec.paper import MODEL_KINDS
from ..spec.recipes import PAPER_CNN
from ..spec.settings import VARIANTS, Profile
from .checkpoints import checkpoint_path, load_checkpoint
from .claims import CLAIMS, claims_table, without_variant
from .plan import TrainConfig, study_models

BASE = "base"
FINAL_PROJECTION = "final_projection"
ATTACK_SETTINGS = {"eps_warmup_fraction", "train_pgd_steps", "train_step_size"}   # read by an adversarial training only
ADVERSARIAL = tuple(m for m in MODEL_KINDS["mnist"] if m != "natural")
MASKED = ("background", "exact", "broad")
MIXED = "mixed configurations"   # where a projection can matter: the mask fixes some pixels


@dataclass(frozen=True)
class Configuration:
    """One configuration of training: its name, what it changes in words, and the models it puts in the place
    of the base's (the base's name -> the name of its model in the evaluation tables)."""

    name: str
    label: str
    replaces: dict[str, str] = field(default_factory=dict)
    touches: tuple[str, ...] = ()   # the MNIST models whose training the change would change

    def mixed(self, models: tuple[str, ...]) -> list[str]:
        """Those of ``models`` whose training the change would change but which it does not retrain: a claim on them
        under this configuration would compare models of two configurations."""
        return [m for m in models if m in self.touches and m not in self.replaces]


def configurations(profile: Profile) -> list[Configuration]:
    """The base, each variant the profile trains, and Algorithm 1 read literally where it trains both projections."""
    def named(localization: str, **how) -> str:  # a model's name in the tables (TrainConfig.name)
        return TrainConfig("mnist", localization, profile=profile.name, **how).name

    found = [Configuration(BASE, "the profile's own settings (all of its cuts)")]
    for name in profile.variants:
        variant = VARIANTS[name]
        attack_only = {setting for setting, _ in variant.settings} <= ATTACK_SETTINGS
        found.append(Configuration(name, variant.label, {m: named(m, variant=name) for m in variant.localizations},
                                   ADVERSARIAL if attack_only else MODEL_KINDS["mnist"]))
    if "final" in profile.background_projections:
        found.append(Configuration(FINAL_PROJECTION, "the background model trained with Algorithm 1 read literally "
                                                     "(the mask applied once, after an unmasked PGD)",
                                   {"background": named("background", projection="final")}, MASKED))
    return found


def configuration_table(table: pd.DataFrame, configuration: Configuration) -> pd.DataFrame:
    """The rows of an evaluation or per-image ``table`` that ``configuration``'s claims rest on: the base's models
    (the claims table's: every model of the profile's own settings), with those it retrains in their place under
    the base's names (every other variant's models left out)."""
    models = table["model"]
    retrained = set(configuration.replaces.values())
    base = without_variant(table) & ~models.isin(retrained)
    kept = table[(base & ~models.isin(configuration.replaces)) | models.isin(retrained)]
    return kept.assign(model=kept["model"].replace({v: k for k, v in configuration.replaces.items()}),
                       variant="")   # judged as the profile's own models (claims.claims_table)


def claims_by_configuration(tables: dict[str, pd.DataFrame], per_image: dict[str, pd.DataFrame],
                            profile: Profile) -> pd.DataFrame:
    """The claims table (``claims.claims_table``) under every configuration of ``profile``, stacked, with the
    configuration's name and label in front; the claims about a dataset the profile does not run are left out."""
    frames = []
    for configuration in configurations(profile):
        chosen = {d: configuration_table(t, configuration) for d, t in tables.items()}
        images = {d: configuration_table(t, configuration) for d, t in per_image.items()}
        judged = claims_table(chosen, images, profile)
        frames.append(_unmixed(judged, configuration).assign(configuration=configuration.name,
                                                             change=configuration.label))
    stacked = pd.concat(frames, ignore_index=True)
    not_run = {claim.text for claim in CLAIMS if claim.dataset not in profile.datasets}
    stacked = stacked[~stacked["claim"].isin(not_run)].reset_index(drop=True)
    return stacked[["configuration", "change", *[c for c in stacked.columns if c not in ("configuration", "change")]]]


def _unmixed(judged: pd.DataFrame, configuration: Configuration) -> pd.DataFrame:
    """``judged`` with every claim that rests on a model the configuration would change but does not retrain made
    *not comparable*, saying which (the combined claims rest on every model of the grid)."""
    models = {claim.text: claim.models for claim in CLAIMS}
    judged = judged.copy()
    for i, claim in judged["claim"].items():
        mixed = configuration.mixed(models.get(claim, MODEL_KINDS["mnist"]))
        if mixed and judged.at[i, "verdict"] != "not comparable":
            judged.loc[i, ["verdict", "reason"]] = "not comparable", (
                f"{MIXED}: {configuration.name} would change the training of the {', '.join(mixed)} "
                "model, which it does not retrain (the base's is in its place)")
    return judged


def robustness(by_configuration: pd.DataFrame) -> pd.DataFrame:
    """Per claim (and reading): its verdict in each configuration, and one line a reader can act on: *robust to
    our cuts* where every configuration gives the base's verdict, else *depends on* the configurations that
    change it (and to what)."""
    rows = []
    for (claim, reading), part in by_configuration.groupby(["claim", "reading"], sort=False, dropna=False):
        verdicts = dict(zip(part["configuration"], part["verdict"]))
        base = verdicts[BASE]
        mixed = set(part.loc[part["reason"].astype(str).str.startswith(MIXED), "configuration"])
        changed = {name: v for name, v in verdicts.items() if v != base and name not in mixed}
        line = ("robust to our cuts" if not changed else
                "depends on " + ", ".join(f"{name} ({base} -> {v})" for name, v in changed.items()))
        if mixed:
            line += f" (not judged under {', '.join(sorted(mixed))}: mixed configurations)"
        rows.append({"claim": claim, "reading": reading, **verdicts, "robust or depends": line})
    return pd.DataFrame(rows)


BUDGET_AXIS = "across budgets (the long profile)"


def with_budget_axis(table: pd.DataFrame, trends: pd.DataFrame | None) -> pd.DataFrame:
    """``robustness``'s table with the budget, the largest of our cuts, as one more axis: per claim, how its verdict
    moves across the quick and long runs' budgets (``budgets.trends`` of the long profile, on the paper's CNN):
    *stable* at every budget, or its first and last verdicts and which way its value moved. "not measured" where
    no long run's trends are at hand."""
    if trends is None:
        return table.assign(**{BUDGET_AXIS: "not measured: no long run here"})
    own = trends[trends["network"] == PAPER_CNN].set_index(["claim", "reading"])
    lines = []
    for claim, reading in zip(table["claim"], table["reading"]):
        if (claim, reading) not in own.index:
            lines.append("not measured: no milestone of the long run holds it")
            continue
        row = own.loc[(claim, reading)]
        lines.append(f"stable: {row['why']}" if row["trend"] == "stable" else
                     f"{row['trend']}: {row['first verdict']} -> {row['last verdict']} ({row['why']})")
    return table.assign(**{BUDGET_AXIS: lines})


def long_trends() -> pd.DataFrame | None:
    """The long profile's ``claims_trends.csv`` (``06_budgets``), where a long run's reports are here."""
    path = tables_dir("long") / "claims_trends.csv"
    return pd.read_csv(path, keep_default_na=False) if path.exists() else None


SETTINGS_SHOWN = ("train_steps", "learning_rate", "lr_schedule", "eps_warmup_fraction", "train_pgd_steps",
                  "train_step_size")


def trained_settings(profile_name: str) -> pd.DataFrame:
    """Per trained MNIST model of ``profile_name``: the training settings its checkpoint records (its fingerprint,
    what its training used), so that a reader sees each configuration's settings reach its training."""
    rows = []
    for config in study_models("mnist", profile_name):
        state = load_checkpoint(checkpoint_path(config), config)
        if state is None:
            continue
        training = state["fingerprint"]["training"]
        rows.append({"model": config.name, "seed": config.seed, "projection": config.projection,
                     **{k: training[k] for k in SETTINGS_SHOWN}, "finished": bool(state["done"])})
    return pd.DataFrame(rows)
