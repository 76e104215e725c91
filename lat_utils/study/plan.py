"""The plan of the study: which models a profile trains, how each is named, and how they are grouped.

``TrainConfig`` is one model (dataset, localization, projection, profile, seed, reading of the eps, and the
variant of the profile's training settings it was trained under, in the deviations study);
``study_models`` lists every model a profile trains, ``evaluated_models`` every one the evaluation
attacks, and ``together_groups`` the groups ``training.train_together`` trains in lockstep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..config import get_profile
from ..spec.paper import CENTRAL_MODELS, DATASETS, MODEL_KINDS, PROJECTIONS, READING_LABELS, STATED, reading_eps
from ..spec.recipes import NETWORKS, PAPER_CNN
from ..spec.settings import VARIANTS, Profile

# A model's key: what tells it apart from every other model of a profile. Its files are named by it (``key``,
# ``eval_key``), its tables carry it as columns (``key_columns``), and its display name (``name``) is made from it and
# never read back.
KEY_COLUMNS = ("dataset", "localization", "projection", "reading", "variant", "network", "seed")


def model_name(localization: str, projection: str = "per_step", network: str = PAPER_CNN, variant: str = "") -> str:
    """A model's name in tables and figures: its localization, plus the projection where it is not the default, the
    network where it is not the paper's CNN, and the variant it was trained under, if any: ``background (final)``,
    ``standard on airbench``, ``standard [paper_lr]``."""
    name = localization
    if localization != "natural" and projection != "per_step":
        name += f" ({projection})"
    name += "" if network == PAPER_CNN else f" on {network}"
    return name + (f" [{variant}]" if variant else "")


@dataclass(frozen=True)
class TrainConfig:
    """One model of the study: what it is trained on, and with which profile and seed."""

    dataset: str
    localization: str            # "natural", or the mask kind of its adversarial training
    projection: str = "per_step"  # how the training attack localizes (see masked_pgd)
    profile: str = "quick"
    seed: int = 0
    reading: str = STATED         # which eps (``paper.CIFAR10_READINGS``): trained with, or evaluated at
    variant: str = ""             # "" or one of ``settings.VARIANTS``: one of the profile's cuts undone
    network: str = PAPER_CNN      # the classifier (``recipes.NETWORKS``), trained with its recipe

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
        self._check_variant_and_network()

    def _check_variant_and_network(self) -> None:
        if self.variant:
            if self.variant not in VARIANTS:
                raise ValueError(f"unknown variant {self.variant!r}: choose one of {list(VARIANTS)}")
            if self.dataset != "mnist" or self.localization not in VARIANTS[self.variant].localizations:
                raise ValueError(f"the variant {self.variant!r} retrains the MNIST models "
                                 f"{', '.join(VARIANTS[self.variant].localizations)}, not {self.dataset} {self.localization}")
        if self.network not in NETWORKS:
            raise ValueError(f"unknown network {self.network!r}: choose one of {list(NETWORKS)}")
        if self.dataset not in NETWORKS[self.network].datasets:
            raise ValueError(f"the {self.network} network is for {', '.join(NETWORKS[self.network].datasets)}, "
                             f"not {self.dataset}")

    @property
    def settings(self) -> Profile:
        """The profile's settings, under this config's variant, with its network's training recipe, at its eps (its
        reading): what it trains and is evaluated with."""
        return (get_profile(self.profile).with_variant(self.variant).with_network(self.network)
                .at_eps(reading_eps(self.dataset, self.reading)))

    @property
    def trained(self) -> TrainConfig:
        """The config whose checkpoint holds this model's weights: natural models train without an attack,
        so one natural model serves every reading."""
        return replace(self, reading=STATED) if self.localization == "natural" else self

    @property
    def name(self) -> str:
        """The model's name in tables (``model_name``)."""
        return model_name(self.localization, self.projection, self.network, self.variant)

    @property
    def key_columns(self) -> dict[str, object]:
        """The model's key (``KEY_COLUMNS``) as a table row's columns."""
        return {column: getattr(self, column) for column in KEY_COLUMNS}

    @property
    def key(self) -> str:
        """File-name stem of this model's checkpoint and log (a natural model's has no reading: it is shared)."""
        return self.trained.eval_key

    @property
    def eval_key(self) -> str:
        """File-name stem of this model's evaluation at its reading (the key, plus the reading's name when it
        is not the stated eps)."""
        projection = "" if self.localization == "natural" else f"-{self.projection}"
        return (f"{self.dataset}{network_part(self.network)}-{self.localization}{projection}{_variant_part(self.variant)}"
                f"{_reading_part(self.reading)}-seed{self.seed}")


def study_models(dataset: str, profile_name: str) -> list[TrainConfig]:
    """Every model the study trains on ``dataset``: one per localization and seed, plus, on MNIST, the
    background model trained with each projection the profile lists (Algorithm 1's ambiguity) and, on
    CIFAR-10, the adversarial models once per reading of its eps the profile lists (the natural model once), and
    all of them once per CIFAR-10 network the profile lists;
    in the deviations study, the models each variant retrains, under it, for each of the profile's ``seeds`` (not
    the central models' extra ``central_seeds``: a dry run so trains its variants once). None on a dataset
    the profile does not run."""
    profile = get_profile(profile_name)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {DATASETS}")
    if dataset not in profile.datasets:
        return []
    readings = profile.cifar10_readings if dataset == "cifar10" else (STATED,)
    seeds = tuple(dict.fromkeys((*profile.seeds, *profile.central_seeds)))
    configs = []
    for network in profile.networks(dataset):
        for seed in seeds:
            for localization in MODEL_KINDS[dataset]:
                if dataset == "mnist" and profile.model_kinds and localization not in profile.model_kinds:
                    continue
                if seed not in profile.seeds and localization not in CENTRAL_MODELS[dataset]:
                    continue  # an extra seed: the central models only
                for reading in (STATED,) if localization == "natural" else readings:
                    configs += [TrainConfig(dataset, localization, p, profile_name, seed, reading, network=network)
                                for p in _projections(profile, dataset, localization, seed)]
    if dataset == "mnist":   # a variant against the base at the seeds of every model (not the base's extra seeds)
        configs += [TrainConfig(dataset, localization, "per_step", profile_name, seed, STATED, variant)
                    for seed in profile.seeds for variant in profile.variants
                    for localization in VARIANTS[variant].localizations]
    return configs


def _projections(profile: Profile, dataset: str, localization: str, seed: int) -> tuple[str, ...]:
    """The projections a model is trained with: the MNIST background model with each the profile lists (its extra
    seeds per step only), every other model per step."""
    if dataset == "mnist" and localization == "background" and seed in profile.seeds:
        return profile.background_projections
    return ("per_step",)


def evaluated_models(dataset: str, profile_name: str) -> list[TrainConfig]:
    """``study_models`` as the evaluation sees them: each natural model once per reading (the same weights,
    attacked at each reading's eps), every adversarial model at its own reading."""
    return [e for config in study_models(dataset, profile_name) for e in readings_of(config)]


def shown_model(dataset: str, profile_name: str) -> TrainConfig:
    """The model the notebooks show an attack on and the explorer opens with: the standard model where the profile
    trains one, else its first (the paper-natural profile trains natural models only)."""
    models = evaluated_models(dataset, profile_name)
    return next((c for c in models if c.localization == "standard"), models[0])


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
        key = (("natural", config.seed, config.variant, config.network) if config.localization == "natural"
               else (config.projection, config.seed, config.reading, config.variant, config.network))
        groups.setdefault(key, []).append(config)
    return list(groups.values())


def explorer_name(config: TrainConfig) -> str:
    """The name the explorer gives the model of ``config``: its name in tables, with its reading when it is not the
    stated eps and its seed when it is not its profile's first."""
    name = config.name + ("" if config.reading == STATED else f" @ {READING_LABELS[config.reading]}")
    return name + ("" if config.seed == get_profile(config.profile).seeds[0] else f", seed {config.seed}")


def group_name(configs: list[TrainConfig]) -> str:
    """The key of a single model, or for a group trained together e.g. ``mnist-together-per_step-seed0``."""
    if len(configs) == 1:
        return configs[0].key
    first = configs[0]
    return (f"{first.dataset}{network_part(first.network)}-together-{first.projection}{_variant_part(first.variant)}"
            f"{_reading_part(first.reading)}-seed{first.seed}")


def network_part(network: str) -> str:
    """The network's part of a file name: none for the paper's CNN."""
    return "" if network == PAPER_CNN else f"-{network}"


def _variant_part(variant: str) -> str:
    """The variant's part of a file name: none for the profile's own settings."""
    return f"-{variant}" if variant else ""


def _reading_part(reading: str) -> str:
    """The reading's part of a file name: none for the stated eps."""
    return "" if reading == STATED else f"-eps_{reading}"
