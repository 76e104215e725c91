"""The settings of a run (``Profile``), and the named changes that make a profile out of the paper's settings.

``config.PAPER`` holds the paper's settings; every other profile is ``PAPER.changed(name, description, *changes)``,
each ``Change`` a set of settings with its one-line reason. A profile's departures from the paper (``deviations``,
printed in every report's header) are generated from those changes, so what a report says it changed is what it
changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from fractions import Fraction

from .budgets import AutoAttackBudget
from .paper import CIFAR10_READINGS, DATASETS, LEARNING_RATE, MADRY_TRAIN_PGD_STEPS, PGD_STEP_SIZE
from .recipes import NETWORKS, PAPER_CNN

PRECISIONS = ("fp32", "bf16", "auto")   # "auto": bf16 where the device computes it natively, else fp32
OPTIMIZERS = ("adam", "airbench_sgd")
OPTIMIZER_LABELS = {"adam": "Adam", "airbench_sgd": "SGD with Nesterov momentum"}  # in tables and reasons
LR_SCHEDULES = ("constant", "cosine", "triangle")


@dataclass(frozen=True)
class Change:
    """One named departure from the paper's settings: the ``Profile`` settings it sets, and why (one line)."""

    reason: str
    settings: tuple[tuple[str, object], ...]


def change(reason: str, **settings: object) -> Change:
    """A ``Change`` of ``settings`` (``Profile`` fields) for ``reason``."""
    unknown = sorted(set(settings) - {f.name for f in fields(Profile)})
    if unknown:
        raise ValueError(f"a change sets unknown settings {unknown}")
    return Change(reason, tuple(settings.items()))


@dataclass(frozen=True)
class Variant:
    """One of the CPU profiles' cuts undone (the deviations study): the training settings it sets (``Profile``
    fields) and the MNIST models it retrains with them. A model trained under a variant carries its name: in its
    name, its files and its fingerprint."""

    name: str                                # in file and model names: "paper_lr"
    label: str                               # in tables: what it undoes, in words
    settings: tuple[tuple[str, object], ...]  # (Profile field, value)
    localizations: tuple[str, ...]           # the MNIST models whose training it changes


VARIANTS = {v.name: v for v in (
    Variant("paper_lr", f"Adam {LEARNING_RATE:g}, the paper's learning rate (instead of 1e-3)",
            (("learning_rate", LEARNING_RATE),), ("natural", "standard", "background")),
    Variant("no_warmup", "no eps warm-up: the full eps from the first step",
            (("eps_warmup_fraction", 0.0),), ("standard", "background")),
    Variant("madry_attack", f"the training attack of Madry et al.: PGD-{MADRY_TRAIN_PGD_STEPS}, step {PGD_STEP_SIZE}, "
                            "random start (instead of PGD-5, step 2.5 eps/5)",
            (("train_pgd_steps", MADRY_TRAIN_PGD_STEPS), ("train_step_size", PGD_STEP_SIZE)),
            ("standard", "background")),
)}

# --- Dry runs (dry_run, below): a profile's exact code path with its counts shrunk, minutes on a CPU ---
DRY_RUN_SUFFIX = "-dry-run"     # "paper-dry-run" is the dry run of "paper"
DRY_RUN_IMAGES = 32             # test images per evaluation
DRY_RUN_BATCH = 64              # training images per step, at most (the paper CNN's 50 stay; airbench's 1,024 shrink)
DRY_RUN_COUNT = 2               # what every other int setting (steps, queries, restarts, ...) becomes at most
DRY_RUN_LIMITS = {"train_steps": 3, "batch_size": DRY_RUN_BATCH, "n_test": DRY_RUN_IMAGES, "curve_n": DRY_RUN_IMAGES,
                  "sweep_n": DRY_RUN_IMAGES, "imagenet_extra": 2}


def dry_run_value(name: str, value: object) -> object:
    """A setting's value in a dry run: an int count shrunk to ``DRY_RUN_LIMITS[name]``, else ``DRY_RUN_COUNT``;
    anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return min(value, DRY_RUN_LIMITS.get(name, DRY_RUN_COUNT))


@dataclass(frozen=True)
class Profile:
    """A named set of run settings: the paper's (``config.PAPER``) or that plus named changes (``changed``).
    ``deviations``: one line each, how it departs from the paper (generated from its changes)."""

    name: str
    description: str
    train_steps: int
    batch_size: int
    learning_rate: float
    train_pgd_steps: int
    train_step_size: float          # at the full eps; scaled down with eps during a warm-up
    eps_warmup_fraction: float      # eps ramps linearly from 0 to its value over this fraction of training
    lr_schedule: str                # "constant" (the paper's Adam), "cosine" (to 0 by the last step) or "triangle"
    eval_pgd_steps: int
    eval_step_size: float
    n_test: int | None              # first n test images; None = the full test set
    seeds: tuple[int, ...]
    apgd_steps: int                 # localized AutoAttack: APGD-CE and each APGD-T run take this many steps ...
    apgd_targets: int               # ... APGD-T attacks this many target classes ...
    square_queries: int             # ... and the Square Attack makes this many queries per image
    third_party_n: int              # cross-check: torchattacks' APGD-CE and APGD-DLR on the first this many images
    background_projections: tuple[str, ...]  # projections used to train the MNIST background model
    imagenet_steps: int
    imagenet_extra: int             # how many of the 100 extra ImageNet photos to attack
    imagenet_eps_sweep: tuple[float, ...]
    eps: float
    attack_precision: str           # arithmetic of every PGD step, in training and evaluation (PRECISIONS)
    weight_precision: str           # arithmetic of the training step's weight pass (forward and backward; PRECISIONS)
    model_kinds: tuple[str, ...]    # the MNIST localizations trained, where fewer than MODEL_KINDS (empty: all)
    central_seeds: tuple[int, ...]  # extra seeds of the CENTRAL_MODELS (background: per_step projection only)
    milestones: tuple[float, ...]   # learning curves: fractions of training whose weights are kept and evaluated
    curve_n: int                    # learning curves: first this many test images, attacked with the profile's PGD
    cifar10_readings: tuple[str, ...]  # the readings of the CIFAR-10 eps trained (CIFAR10_READINGS)
    sweep_n: int | None             # the eps sweep: first this many test images (None: all) ...
    sweep_pgd_steps: int            # ... masked PGD of this many steps, then ...
    sweep_apgd_steps: int           # ... APGD-CE and APGD-DLR of this many (no APGD-T, no Square)
    variants: tuple[str, ...]       # the deviations study: its central MNIST models again under each (VARIANTS)
    datasets: tuple[str, ...]       # the datasets it trains and evaluates (DATASETS)
    imagenet: bool                  # whether it runs the ImageNet attack (01_imagenet_attack)
    optimizer: str                  # "adam" (the paper's) or "airbench_sgd" (a Network's recipe)
    label_smoothing: float          # of the training loss
    augment: bool                   # random flips and translations of the training images (a Network's recipe)
    network_train_steps: int | None  # a Network's training steps in this profile (None: its recipe's)
    cifar10_networks: tuple[str, ...]  # the classifiers trained on CIFAR-10 (NETWORKS)
    deviations: tuple[str, ...] = field(default_factory=tuple)
    dry_run: bool = False           # a dry run (dry_run): the code path of a profile, not a result
    image_cap: int | None = None    # dry runs and smoke tests: at most this many test images, cut where the test set is sliced

    def __post_init__(self) -> None:
        for name, value, known in (("attack_precision", self.attack_precision, PRECISIONS),
                                   ("weight_precision", self.weight_precision, PRECISIONS),
                                   ("optimizer", self.optimizer, OPTIMIZERS),
                                   ("lr_schedule", self.lr_schedule, LR_SCHEDULES)):
            if value not in known:
                raise ValueError(f"unknown {name} {value!r}: choose one of {known}")
        cifar10_networks = [n.name for n in NETWORKS.values() if "cifar10" in n.datasets]
        for name, values, known in (("CIFAR-10 readings", self.cifar10_readings, list(CIFAR10_READINGS)),
                                    ("CIFAR-10 networks", self.cifar10_networks, cifar10_networks),
                                    ("datasets", self.datasets, list(DATASETS))):
            unknown = sorted(set(values) - set(known))
            if unknown or not values:
                raise ValueError(f"unknown {name} {unknown or list(values)}: choose from {known}")
        if any(not 0 < f <= 1 for f in self.milestones) or list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must be increasing fractions in (0, 1], got {self.milestones}")

    def changed(self, name: str, description: str, *changes: Change, notes: tuple[str, ...] = ()) -> Profile:
        """These settings with ``changes`` applied, named ``name``; its deviations are the changes' lines
        (``departure``), then ``notes`` (what holds for it beyond its settings). A change must change something."""
        settings: dict[str, object] = {}
        for one in changes:
            for key, value in one.settings:
                if key in settings or getattr(self, key) == value:
                    raise ValueError(f"{name}: {key!r} is set twice or to the paper's own value")
                settings[key] = value
        lines = tuple(departure(one, self) for one in changes)
        return replace(self, name=name, description=description, deviations=lines + notes, **settings)

    def with_variant(self, variant: str) -> Profile:
        """These settings with ``variant``'s training settings (``VARIANTS``; "" is the profile itself)."""
        if not variant:
            return self
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: choose one of {list(VARIANTS)}")
        return self._with(VARIANTS[variant].settings)

    def with_network(self, network: str) -> Profile:
        """These settings with ``network``'s training recipe (``NETWORKS``; the paper's CNN: the profile itself)."""
        if network == PAPER_CNN:
            return self
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}: choose one of {list(NETWORKS)}")
        settings = dict(NETWORKS[network].settings)
        if self.network_train_steps is not None:
            settings["train_steps"] = self.network_train_steps
        return self._with(tuple(settings.items()))

    def _with(self, settings: tuple[tuple[str, object], ...]) -> Profile:
        """These settings with ``settings`` on top, shrunk as the profile's are where it is a dry run."""
        return replace(self, **{name: dry_run_value(name, value) if self.dry_run else value
                                for name, value in settings})

    @property
    def autoattack(self) -> AutoAttackBudget:
        """The localized AutoAttack's budget of this profile."""
        return AutoAttackBudget(self.apgd_steps, self.apgd_targets, self.square_queries)

    def networks(self, dataset: str) -> tuple[str, ...]:
        """The networks this profile trains on ``dataset`` (``NETWORKS``): its CIFAR-10 networks, else the paper's CNN."""
        return self.cifar10_networks if dataset == "cifar10" else (PAPER_CNN,)

    def at_eps(self, eps: float) -> Profile:
        """These settings with another eps, the attacks' step sizes scaled with it (each step stays the same
        fraction of eps: the rule of every profile)."""
        scale = eps / self.eps
        return replace(self, eps=eps, train_step_size=self.train_step_size * scale,
                       eval_step_size=self.eval_step_size * scale)


# How a setting reads in a departure line: its words, and how its values are written
LABELS = {
    "train_steps": "training steps", "batch_size": "batch", "learning_rate": "learning rate",
    "lr_schedule": "learning-rate schedule", "train_pgd_steps": "training PGD steps",
    "train_step_size": "training PGD step", "eps_warmup_fraction": "eps warm-up (fraction of training)",
    "eval_pgd_steps": "evaluation PGD steps", "eval_step_size": "evaluation PGD step", "n_test": "test images",
    "apgd_steps": "APGD steps", "apgd_targets": "APGD-T targets", "square_queries": "Square queries",
    "third_party_n": "torchattacks cross-check images", "background_projections": "background models' projections",
    "imagenet_steps": "ImageNet PGD steps", "imagenet_extra": "extra ImageNet photos",
    "imagenet_eps_sweep": "ImageNet eps sweep", "model_kinds": "MNIST models", "central_seeds": "central models' extra seeds",
    "milestones": "learning-curve milestones", "curve_n": "learning-curve images", "cifar10_readings": "CIFAR-10 readings",
    "sweep_n": "eps-sweep images", "sweep_pgd_steps": "eps-sweep PGD steps", "sweep_apgd_steps": "eps-sweep APGD steps",
    "datasets": "datasets", "imagenet": "ImageNet attack", "cifar10_networks": "CIFAR-10 networks",
    "network_train_steps": "airbench's training steps", "weight_precision": "weight-pass arithmetic",
    "seeds": "seeds", "eps": "eps", "attack_precision": "attack arithmetic", "optimizer": "optimizer",
    "label_smoothing": "label smoothing", "augment": "augmentation", "variants": "configurations",
    "image_cap": "test images at most (natural inputs too)",
}


def shown(name: str, value: object) -> str:
    """``value`` of setting ``name`` as a departure line writes it."""
    if value is None:
        return "all" if name in ("n_test", "sweep_n", "image_cap") else "its recipe's"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if name == "imagenet_eps_sweep":
            return f"{value * 255:g}/255"
        return str(Fraction(value).limit_denominator(64)) if name == "milestones" else f"{value:.4g}"
    if isinstance(value, tuple):
        if not value and name == "model_kinds":
            return "all five"
        return ", ".join(shown(name, v) for v in value) if value else "none"
    return str(value)


def departure(one: Change, paper: Profile) -> str:
    """The line a report prints for ``one``: each setting it changes, the paper's value, and why."""
    parts = [f"{LABELS[key]} {shown(key, value)} instead of {shown(key, getattr(paper, key))}"
             for key, value in one.settings]
    return f"{'; '.join(parts)}: {one.reason}"


# --- A profile's dry run: its exact code path with its counts shrunk, so it finishes in minutes on a CPU ---
DRY_RUN_CUT = ("imagenet_eps_sweep", "cifar10_readings")  # tuples cut to their first DRY_RUN_COUNT values


def dry_run(profile: Profile) -> Profile:
    """``profile`` with every int setting shrunk (``settings.dry_run_value``), its ImageNet eps sweep and CIFAR-10
    readings cut to their first ``DRY_RUN_COUNT`` values (a sweep stays several), its seeds to those of
    ``dry_run_seeds``, and everything else kept: schedules, precision and ``n_test`` (None stays None, so the
    full-test-set path runs; ``image_cap`` cuts it where it is sliced)."""
    if profile.dry_run:
        raise ValueError(f"{profile.name!r} is already a dry run")
    shrunk = {f.name: dry_run_value(f.name, value) for f in fields(profile)
              if isinstance(value := getattr(profile, f.name), int) and not isinstance(value, bool)
              and f.name != "image_cap"}   # set below, for every dry run
    cut = {name: getattr(profile, name)[:DRY_RUN_COUNT] for name in DRY_RUN_CUT}
    cut |= dry_run_seeds(profile)
    sweep = ", ".join(f"{eps * 255:g}/255" for eps in cut["imagenet_eps_sweep"]) or "none"
    also = f", the central models also {cut['central_seeds']}" if cut["central_seeds"] else ""
    return replace(
        profile, **shrunk, **cut, name=profile.name + DRY_RUN_SUFFIX, dry_run=True, image_cap=DRY_RUN_IMAGES,
        description=f"DRY RUN of the {profile.name} profile: its code path with every count shrunk; "
                    "its numbers mean nothing. " + profile.description,
        deviations=(f"DRY RUN: counts shrunk ({', '.join(f'{k}={v}' for k, v in shrunk.items())}; "
                    f"seeds {cut['seeds']}{also}; at most {DRY_RUN_IMAGES} test images; ImageNet eps {sweep}): "
                    "not a result", *profile.deviations),
    )


def dry_run_seeds(profile: Profile) -> dict[str, tuple[int, ...]]:
    """A dry run's seeds: every model in the profile's first seed, the central models also in its next one (of
    ``seeds`` or else ``central_seeds``), so that several seeds stay several where a claim combines them."""
    extra = (*profile.seeds[1:], *profile.central_seeds)[:1]
    return {"seeds": profile.seeds[:1], "central_seeds": extra}
