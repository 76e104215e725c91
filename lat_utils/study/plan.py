"""The plan of the study: which models a profile trains, how each is named, and how they are grouped.

``TrainConfig`` is one model (dataset, localization, projection, profile, seed, reading of the eps);
``study_models`` lists every model a profile trains, ``evaluated_models`` every one the evaluation
attacks, and ``together_groups`` the groups ``training.train_together`` trains in lockstep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import CENTRAL_MODELS, DATASETS, MODEL_KINDS, PROJECTIONS, STATED, Profile, get_profile, reading_eps


@dataclass(frozen=True)
class TrainConfig:
    """One model of the study: what it is trained on, and with which profile and seed."""

    dataset: str
    localization: str            # "natural", or the mask kind of its adversarial training
    projection: str = "per_step"  # how the training attack localizes (see masked_pgd)
    profile: str = "quick"
    seed: int = 0
    reading: str = STATED         # which eps (``config.CIFAR10_READINGS``): trained with, or evaluated at

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}: choose one of {DATASETS}")
        if self.localization not in MODEL_KINDS[self.dataset]:
            raise ValueError(f"unknown localization {self.localization!r} for {self.dataset}: "
                             f"choose one of {MODEL_KINDS[self.dataset]}")
        if self.projection not in PROJECTIONS:
            raise ValueError(f"unknown projection {self.projection!r}: choose one of {PROJECTIONS}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        get_profile(self.profile)
        reading_eps(self.dataset, self.reading)

    @property
    def settings(self) -> Profile:
        """The profile's settings at this config's eps (its reading): what it trains and is evaluated with."""
        return get_profile(self.profile).at_eps(reading_eps(self.dataset, self.reading))

    @property
    def trained(self) -> TrainConfig:
        """The config whose checkpoint holds this model's weights: natural models train without an attack,
        so one natural model serves every reading."""
        return replace(self, reading=STATED) if self.localization == "natural" else self

    @property
    def name(self) -> str:
        """The model's name in tables: its localization, plus the projection when it is not the default."""
        if self.localization == "natural" or self.projection == "per_step":
            return self.localization
        return f"{self.localization} ({self.projection})"

    @property
    def key(self) -> str:
        """File-name stem of this model's checkpoint and log (a natural model's has no reading: it is shared)."""
        return self.trained.eval_key

    @property
    def eval_key(self) -> str:
        """File-name stem of this model's evaluation at its reading (the key, plus the reading's name when it
        is not the stated eps)."""
        projection = "" if self.localization == "natural" else f"-{self.projection}"
        return f"{self.dataset}-{self.localization}{projection}{_reading_part(self.reading)}-seed{self.seed}"


def study_models(dataset: str, profile_name: str) -> list[TrainConfig]:
    """Every model the study trains on ``dataset``: one per localization and seed, plus, on MNIST, the
    background model trained with each projection the profile lists (Algorithm 1's ambiguity) and, on
    CIFAR-10, the adversarial models once per reading of its eps the profile lists (the natural model once)."""
    profile = get_profile(profile_name)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {DATASETS}")
    readings = profile.cifar10_readings if dataset == "cifar10" else (STATED,)
    configs = []
    for seed in dict.fromkeys((*profile.seeds, *profile.central_seeds)):
        for localization in MODEL_KINDS[dataset]:
            if dataset == "mnist" and profile.model_kinds and localization not in profile.model_kinds:
                continue
            projections = ("per_step",)
            if dataset == "mnist" and localization == "background":
                projections = profile.background_projections
            if seed not in profile.seeds:  # an extra seed: the central models only
                if localization not in CENTRAL_MODELS[dataset]:
                    continue
                projections = tuple(p for p in projections if p == "per_step")
            for reading in (STATED,) if localization == "natural" else readings:
                configs += [TrainConfig(dataset, localization, p, profile_name, seed, reading) for p in projections]
    return configs


def evaluated_models(dataset: str, profile_name: str) -> list[TrainConfig]:
    """``study_models`` as the evaluation sees them: each natural model once per reading (the same weights,
    attacked at each reading's eps), every adversarial model at its own reading."""
    return [e for config in study_models(dataset, profile_name) for e in readings_of(config)]


def readings_of(config: TrainConfig) -> list[TrainConfig]:
    """The configs under which the weights of ``config`` are evaluated: a natural CIFAR-10 model at every
    reading of its profile, any other model at its own."""
    if config.localization != "natural" or config.dataset != "cifar10":
        return [config]
    return [replace(config, reading=r) for r in get_profile(config.profile).cifar10_readings]


def together_groups(dataset: str, profile_name: str) -> list[list[TrainConfig]]:
    """``study_models`` in the groups ``train_together`` takes: the adversarial models of one seed,
    projection and reading together, each natural model alone."""
    groups: dict[tuple, list[TrainConfig]] = {}
    for config in study_models(dataset, profile_name):
        key = (("natural", config.seed) if config.localization == "natural"
               else (config.projection, config.seed, config.reading))
        groups.setdefault(key, []).append(config)
    return list(groups.values())


def group_name(configs: list[TrainConfig]) -> str:
    """The key of a single model, or for a group trained together e.g. ``mnist-together-per_step-seed0``."""
    if len(configs) == 1:
        return configs[0].key
    first = configs[0]
    return f"{first.dataset}-together-{first.projection}{_reading_part(first.reading)}-seed{first.seed}"


def _reading_part(reading: str) -> str:
    """The reading's part of a file name: none for the stated eps."""
    return "" if reading == STATED else f"-eps_{reading}"
