"""The paper's constants in one place, and the named run profiles.

Every number the paper states lives in the upper block of this file; every profile lists, next to
its settings, each way in which it departs from the paper (``Profile.deviations``), so that every
report can print them beside its results.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

# --- The paper (Rothberg et al., AdvML'19) and the setup it follows (Madry et al.'s MNIST challenge) ---
EPS = 0.3                   # L-inf budget of every pixel that may change, inputs in [0, 1]
PGD_STEPS = 100             # "each attack is iterated over 100 steps"
PGD_STEP_SIZE = 0.01        # not in the paper: Madry's MNIST challenge value
PGD_RANDOM_START = True     # Madry's MNIST challenge: uniform random start in the eps-ball
TRAIN_STEPS = 100_000       # "undergoes 100,000 steps of training"
LEARNING_RATE = 1e-4        # Madry's MNIST challenge: Adam, learning rate 1e-4
BATCH_SIZE = 50             # Madry's MNIST challenge
BACKGROUND_CENTER = 6       # "the middle 36 pixels" stay unaltered: a central 6x6 block
EXACT_THRESHOLD = 0.0       # a digit pixel is one with intensity > 0
BROAD_DILATION = 3          # "directly adjacent": 8-neighbourhood, a 3x3 dilation (our reading)
LOSS_SCALE = {"mnist": 1000, "cifar10": 100}  # Figure 2 scales the natural-input loss by these
IMAGENET_EPS = 2 / 255      # the attack guide the paper adapted (Athalye) uses 2/255

# --- CIFAR-10: which eps did the paper mean? Three readings of "eps 0.3" (README, "What the paper's CIFAR-10
# numbers mean"). The paper's settings are Madry et al.'s MNIST challenge (inputs in [0, 1]); Madry et al.'s
# CIFAR-10 challenge code keeps raw pixels in [0, 255] (its own eps is 8.0 in those units), where the same 0.3
# means 0.3/255 on [0, 1]. A model's reading is part of its name, checkpoint and fingerprint; MNIST has one.
STATED = "stated"
CIFAR10_READINGS = {
    STATED: 0.3,         # "eps 0.3" as stated, on inputs in [0, 1] (76.5/255): the MNIST setting
    "raw": 0.3 / 255,    # "eps 0.3" on raw pixels in [0, 255], as in Madry et al.'s CIFAR-10 pipeline
    "usual": 8 / 255,    # the field's usual CIFAR-10 budget (Madry et al., AutoAttack's benchmark)
}
READING_LABELS = {STATED: "as stated (0.3)", "raw": "raw pixels (0.3/255)", "usual": "the field's usual (8/255)"}
PAPER_CIFAR10_NATURAL_ACCURACY = 95.17      # the natural CIFAR-10 model's natural accuracy, %
PAPER_CIFAR10_BACKGROUND_ACCURACY = 59.26   # ... and under the background attack, %
PAPER_CIFAR10_KEPT = 100 * PAPER_CIFAR10_BACKGROUND_ACCURACY / PAPER_CIFAR10_NATURAL_ACCURACY  # 62.3% of it kept
PAPER_MNIST_NATURAL_ACCURACY = 99.19        # the natural MNIST model's natural accuracy, %
PAPER_MNIST_EXACT_ACCURACY = 0.08           # ... and under the exact-mask attack, %

# The eps sweep (04_cifar10_eps): the natural models under a localized attack at each of these eps (x 255: 0.3 is
# the raw-pixels reading, 8 the field's usual, 76.5 = 0.3 x 255 the reading as stated), per series (dataset, mask,
# central block; the paper gives no block for CIFAR-10: its MNIST 6x6 and a larger one)
SWEEP_EPS = tuple(e / 255 for e in (0.1, 0.2, 0.3, 0.5, 1, 2, 4, 8, 16, 76.5))
SWEEP_SERIES = (("cifar10", "standard", 6), ("cifar10", "background", 6), ("cifar10", "background", 16),
                ("mnist", "exact", 6))
SWEEP_N_CPU = 200           # the CPU profiles' sweep: 200 test images, PGD-5 then APGD-CE and APGD-DLR of 5 steps
SWEEP_STEPS_CPU = 5         # 5 against 20 steps moves the kept share < 1 point near 62%; its time: docs/results.md
IMAGENET_PGD_STEPS = 100

# --- How the field judges robustness: the reference AutoAttack's "standard" settings (Croce & Hein 2020) ---
AUTOATTACK_APGD_STEPS = 100     # APGD-CE and APGD-T, one restart each
AUTOATTACK_TARGETS = 9          # APGD-T: the 9 most likely wrong classes
AUTOATTACK_SQUARE_QUERIES = 5000

# The CPU profiles' localized AutoAttack budget, chosen by measurement on the quick models
# (bench/autoattack_budget.py; docs/method.md has the table): their robust accuracies may lie up to
# AUTOATTACK_BUDGET_GAP_QUICK points above the reference budget's.
APGD_STEPS_QUICK = 50
APGD_TARGETS_QUICK = 3
SQUARE_QUERIES_QUICK = 300
THIRD_PARTY_N_QUICK = 100
# The quick profile, sized to two thirds of its 45 minutes on the 2-core CPU without bf16 kernels (fp32 attacks,
# ~1,000 image-steps/s on MNIST's network); its measured times are in docs/running.md
QUICK_TRAIN_STEPS = 500
QUICK_N_TEST = 200
QUICK_THIRD_PARTY_N = 25
AUTOATTACK_BUDGET_GAP_QUICK = 2.0   # points: the measured gap above, printed next to the CPU profiles

# The long profile, at most 150 minutes of the 2-core CPU with bf16 kernels, sized to two thirds of it (a slow
# day must still fit): its training steps are what the AutoAttack evaluation, the seeds and the learning curves
# leave of that time; the AutoAttack evaluation is most of it, which sets its test images
# (``./run_all.sh --profile long --estimate``; the measured runs are in docs/running.md).
LONG_TRAIN_STEPS = 3200
LONG_N_TEST = 1000
LONG_CURVE_N = 500
LONG_MODELS = ("natural", "standard", "background", "broad")   # MNIST; the claims' models (exact: no claim)
# The deviations study (issue: which verdicts are the paper's and which our cuts'): the long profile's settings at
# a shorter budget, so that its 13 configurations-by-model of 3 seeds each fit two thirds of 150 minutes on the
# 2-core CPU with bf16 kernels (the PGD-40 training attack costs 8x a PGD-5 step); ``--estimate`` says its cost.
# 600 steps: about 1.8 h of one process by --estimate on 2026-12-04 (1,000 steps: about 2.4-2.9 h), so about
# 90 minutes of two processes on such a day; the measured run says whether it holds
DEVIATIONS_TRAIN_STEPS = 600
DEVIATIONS_N_TEST = 200
AIRBENCH_N_TEST = 200       # the airbench profile: test images under the localized AutoAttack ...
AIRBENCH_SWEEP_N = 500      # ... and in its eps sweep (its network is accurate: most images are attacked)
CPU_AUTOATTACK = (f"robust accuracy under a localized AutoAttack with APGD-CE and APGD-T of {APGD_STEPS_QUICK} steps, "
                  f"{APGD_TARGETS_QUICK} APGD-T targets and {SQUARE_QUERIES_QUICK} Square queries instead of "
                  f"AutoAttack's {AUTOATTACK_APGD_STEPS}, {AUTOATTACK_TARGETS} and {AUTOATTACK_SQUARE_QUERIES:,}: "
                  f"measured on the quick models, at most {AUTOATTACK_BUDGET_GAP_QUICK:g} points above the reference "
                  "budget's robust accuracy (bench/autoattack_budget.py)")
NO_FAB = ("beyond the paper, robustness is measured with a localized AutoAttack (masked PGD, APGD-CE, APGD-DLR, APGD-T, "
          "Square), without AutoAttack's FAB-T: it has no per-pixel-budget version")

# Learning curves: the fractions of training at which the long and paper profiles keep and evaluate the weights
MILESTONES = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)

DATASETS = ("mnist", "cifar10")
SPLITS = ("train", "test")
PROJECTIONS = ("per_step", "final")
PGD_ITERATES = ("best", "last")   # what masked_pgd returns per image: its highest-loss iterate, or its last
# Training attacks with the last iterate: Algorithm 1 adds PGD's result (x' = x + PGD(x, n)), and PGD's
# result in Madry et al.'s code and in torchattacks is its last iterate; evaluation keeps the best one.
TRAIN_PGD_ITERATE = "last"
# Arithmetic of the attack's forward and backward passes ("auto": bf16 where the device computes it
# natively, else fp32); the projection, the budgets and the images always stay float32.
PRECISIONS = ("fp32", "bf16", "auto")
OPTIMIZERS = ("adam", "airbench_sgd")
OPTIMIZER_LABELS = {"adam": "Adam", "airbench_sgd": "SGD with Nesterov momentum"}  # in tables and reasons
LR_SCHEDULES = ("constant", "cosine", "triangle")

# Which localizations are trained and attacked on each dataset. On CIFAR-10 the paper uses only
# standard and background: a natural photo has no "digit pixels" (intensity > 0 is every pixel), so
# the exact and broad masks would fix the whole image and are not defined there.
MODEL_KINDS = {
    "mnist": ("natural", "standard", "background", "exact", "broad"),
    "cifar10": ("natural", "standard", "background"),
}
ATTACK_KINDS = {
    "mnist": ("standard", "background", "exact", "broad"),
    "cifar10": ("standard", "background"),
}
# The models the central claims compare (the full paper's Figure 2): profiles may train these with
# more seeds than the rest (``Profile.central_seeds``), so that those claims' intervals include training variance.
CENTRAL_MODELS = {"mnist": ("natural", "standard", "background"), "cifar10": ()}


# --- The deviations study: each of the CPU profiles' cuts undone in turn, on the central MNIST models ---
MADRY_TRAIN_PGD_STEPS = 40   # Madry et al.'s MNIST challenge trains against PGD-40 of step 0.01 with a random start


@dataclass(frozen=True)
class Variant:
    """One of our cuts undone: the training settings it sets (``Profile`` fields) and the models it retrains
    with them. A model trained under a variant carries its name (``TrainConfig.variant``): in its name, its
    files and its fingerprint."""

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


# --- A CIFAR-10 network of the paper's accuracy class (issue 33): airbench94's network and recipe (Jordan 2024,
# arXiv 2404.00498), written here; without its test-time augmentation (the attacks must attack exactly the function
# that is scored) and its alternating flips. Its hyperparameters are airbench94's, restated for a mean loss ---
AIRBENCH_EPOCHS = 10
AIRBENCH_BATCH_SIZE = 1024
AIRBENCH_TRAINING_IMAGES = 50_000        # CIFAR-10's training set: an epoch is 48 steps of 1,024 (the last images left)
AIRBENCH_STEPS = AIRBENCH_EPOCHS * (AIRBENCH_TRAINING_IMAGES // AIRBENCH_BATCH_SIZE)   # 480
AIRBENCH_MOMENTUM = 0.85                 # Nesterov
# airbench94 states its learning rate (11.5) and weight decay (0.0153) per 1,024 examples and per unit of the
# Nesterov step's gain (1 + 1 / (1 - momentum)); for a mean loss over a batch that gives these peak values
AIRBENCH_GAIN = 1 + 1 / (1 - AIRBENCH_MOMENTUM)
AIRBENCH_LEARNING_RATE = 11.5 / AIRBENCH_GAIN                              # 1.5
AIRBENCH_WEIGHT_DECAY = 0.0153 * AIRBENCH_BATCH_SIZE / (1024 * AIRBENCH_GAIN)  # shrink per step at the peak, ~0.002
AIRBENCH_BIAS_LR_SCALE = 64.0            # batch norm's shifts learn 64x faster (their weight decay is not scaled)
AIRBENCH_WHITEN_BIAS_FRACTION = 0.3      # the whitening layer's bias trains for the first 3 of 10 epochs only
AIRBENCH_WHITEN_IMAGES = 5000            # the whitening layer is set from the first 5,000 training images
AIRBENCH_LABEL_SMOOTHING = 0.2
AIRBENCH_TRANSLATE = 2                   # augmentation: random flips and translations by up to 2 pixels
AIRBENCH_LR_TRIANGLE = (0.2, 0.23, 0.07)  # the learning rate's factor: from 0.2 up to 1 at 23% of training, to 0.07
# Lookahead (airbench94's weight averaging, part of its optimizer): after 3 of 10 epochs, every 5 steps the weights
# move to an average of themselves whose memory grows from 0 to 0.95^5 as (step / steps)^3, and at each epoch's end
AIRBENCH_LOOKAHEAD_START = 0.3
AIRBENCH_LOOKAHEAD_EVERY = 5
AIRBENCH_LOOKAHEAD_DECAY = 0.95
AIRBENCH_LOOKAHEAD_POWER = 3.0


@dataclass(frozen=True)
class Network:
    """A classifier and the training recipe it comes with: the training settings it sets (``Profile`` fields, as a
    ``Variant`` does; none for the paper's CNN, which trains with the profile's own). A model carries its network's
    name (``TrainConfig.network``); the paper CNN's is left out of its files' names and fingerprints."""

    name: str                                # in file and model names: "airbench"
    label: str                               # in tables
    datasets: tuple[str, ...]
    settings: tuple[tuple[str, object], ...]  # (Profile field, value)


PAPER_CNN = "paper_cnn"
NETWORKS = {n.name: n for n in (
    Network(PAPER_CNN, "the paper's CNN (Madry et al.'s MNIST-challenge network)", DATASETS, ()),
    Network("airbench", "airbench94's network (Jordan 2024), trained with its recipe", ("cifar10",),
            (("train_steps", AIRBENCH_STEPS), ("batch_size", AIRBENCH_BATCH_SIZE),
             ("learning_rate", AIRBENCH_LEARNING_RATE), ("lr_schedule", "triangle"), ("optimizer", "airbench_sgd"),
             ("label_smoothing", AIRBENCH_LABEL_SMOOTHING), ("augment", True), ("weight_precision", "auto"))),
)}


@dataclass(frozen=True)
class Profile:
    """A named set of run settings. ``deviations`` says, one line each, how it departs from the paper."""

    name: str
    description: str
    train_steps: int
    batch_size: int
    learning_rate: float
    train_pgd_steps: int
    train_step_size: float          # at the full eps; scaled down with eps during a warm-up
    eps_warmup_fraction: float      # eps ramps linearly from 0 to EPS over this fraction of training
    lr_schedule: str                # "constant" (the paper's Adam) or "cosine" (decays to 0 by the last step)
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
    eps: float = EPS
    attack_precision: str = "fp32"  # arithmetic of every PGD step, in training and evaluation (PRECISIONS)
    weight_precision: str = "fp32"  # arithmetic of the training step's weight pass (forward and backward; PRECISIONS)
    deviations: tuple[str, ...] = field(default_factory=tuple)
    model_kinds: tuple[str, ...] = ()    # the MNIST localizations trained, where fewer than MODEL_KINDS (empty: all)
    central_seeds: tuple[int, ...] = ()  # extra seeds of the CENTRAL_MODELS (background: per_step projection only)
    milestones: tuple[float, ...] = ()   # learning curves: fractions of training whose weights are kept and evaluated
    curve_n: int = 0                # learning curves: first this many test images, attacked with the profile's PGD
    dry_run: bool = False           # a dry run (see ``dry_run``): the code path of a profile, not a result
    image_cap: int | None = None    # dry runs: at most this many test images, cut where the test set is sliced
    cifar10_readings: tuple[str, ...] = (STATED,)  # the readings of the CIFAR-10 eps trained (CIFAR10_READINGS)
    sweep_n: int | None = SWEEP_N_CPU   # the eps sweep: first this many test images (None: all) ...
    sweep_pgd_steps: int = SWEEP_STEPS_CPU   # ... masked PGD of this many steps, then ...
    sweep_apgd_steps: int = SWEEP_STEPS_CPU  # ... APGD-CE and APGD-DLR of this many (no APGD-T, no Square)
    variants: tuple[str, ...] = ()  # the deviations study: its central MNIST models again under each (VARIANTS)
    datasets: tuple[str, ...] = DATASETS  # the datasets it trains and evaluates (DATASETS)
    imagenet: bool = True           # whether it runs the ImageNet attack (01_imagenet_attack)
    optimizer: str = "adam"         # "adam" (the paper's) or "airbench_sgd" (a Network's recipe: training.optimizer_for)
    label_smoothing: float = 0.0    # of the training loss
    augment: bool = False           # random flips and translations of the training images (a Network's recipe)
    network_train_steps: int | None = None  # a Network's training steps in this profile (None: its recipe's)
    cifar10_networks: tuple[str, ...] = (PAPER_CNN,)  # the classifiers trained on CIFAR-10 (NETWORKS)

    def __post_init__(self) -> None:
        if self.attack_precision not in PRECISIONS:
            raise ValueError(f"unknown attack_precision {self.attack_precision!r}: choose one of {PRECISIONS}")
        if self.weight_precision not in PRECISIONS:
            raise ValueError(f"unknown weight_precision {self.weight_precision!r}: choose one of {PRECISIONS}")
        unknown = sorted(set(self.cifar10_readings) - set(CIFAR10_READINGS))
        if unknown or not self.cifar10_readings:
            raise ValueError(f"unknown CIFAR-10 readings {unknown}: choose from {list(CIFAR10_READINGS)}")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"unknown variants {unknown}: choose from {list(VARIANTS)}")
        if not self.datasets or set(self.datasets) - set(DATASETS):
            raise ValueError(f"datasets must be some of {list(DATASETS)}, got {list(self.datasets)}")
        unknown = sorted(set(self.cifar10_networks) - {n.name for n in NETWORKS.values() if "cifar10" in n.datasets})
        if unknown or not self.cifar10_networks:
            raise ValueError(f"unknown CIFAR-10 networks {unknown}: choose from {list(NETWORKS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}: choose one of {OPTIMIZERS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}: choose one of {LR_SCHEDULES}")
        if any(not 0 < f <= 1 for f in self.milestones) or list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must be increasing fractions in (0, 1], got {self.milestones}")

    def as_dict(self) -> dict:
        return asdict(self)

    def with_variant(self, variant: str) -> Profile:
        """These settings with ``variant``'s training settings (``VARIANTS``; "" is the profile itself)."""
        if not variant:
            return self
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: choose one of {list(VARIANTS)}")
        settings = dict(VARIANTS[variant].settings)
        if self.dry_run:  # a dry run shrinks a variant's counts as it shrinks the profile's (PGD-40 too)
            settings = {name: dry_run_value(name, value) for name, value in settings.items()}
        return replace(self, **settings)

    def with_network(self, network: str) -> Profile:
        """These settings with ``network``'s training recipe (``NETWORKS``; the paper's CNN: the profile itself); a
        dry run shrinks its counts as it shrinks the profile's."""
        if network == PAPER_CNN:
            return self
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}: choose one of {list(NETWORKS)}")
        settings = dict(NETWORKS[network].settings)
        if self.network_train_steps is not None:
            settings["train_steps"] = self.network_train_steps
        if self.dry_run:
            settings = {name: dry_run_value(name, value) for name, value in settings.items()}
        return replace(self, **settings)

    def networks(self, dataset: str) -> tuple[str, ...]:
        """The networks this profile trains on ``dataset`` (``NETWORKS``): its CIFAR-10 networks, else the paper's CNN."""
        return self.cifar10_networks if dataset == "cifar10" else (PAPER_CNN,)

    def at_eps(self, eps: float) -> Profile:
        """These settings with another eps, the attacks' step sizes scaled with it (each step stays the same
        fraction of eps: the rule of every profile)."""
        scale = eps / self.eps
        return replace(self, eps=eps, train_step_size=self.train_step_size * scale,
                       eval_step_size=self.eval_step_size * scale)


def readings(dataset: str) -> dict[str, float]:
    """The readings of ``dataset``'s eps and their values: MNIST has one (0.3, as stated); CIFAR-10 has
    ``CIFAR10_READINGS``."""
    return CIFAR10_READINGS if dataset == "cifar10" else {STATED: EPS}


def reading_eps(dataset: str, reading: str) -> float:
    """The eps of ``reading`` on ``dataset`` (``readings``); a ValueError naming the known ones otherwise."""
    known = readings(dataset)
    if reading not in known:
        raise ValueError(f"unknown reading {reading!r} of the {dataset} eps: choose one of {list(known)}")
    return known[reading]


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="Seconds per model: checks that every notebook runs end to end. Its numbers mean nothing.",
        train_steps=10, batch_size=50, learning_rate=1e-3,
        train_pgd_steps=2, train_step_size=2.5 * EPS / 2, eps_warmup_fraction=0.5, lr_schedule="cosine",
        eval_pgd_steps=3, eval_step_size=2.5 * EPS / 3, n_test=50, seeds=(0,),
        apgd_steps=4, apgd_targets=2, square_queries=20, third_party_n=10, background_projections=("per_step",),
        model_kinds=LONG_MODELS, imagenet_steps=2, imagenet_extra=0, imagenet_eps_sweep=(), attack_precision="auto",
        milestones=(0.5, 1.0), curve_n=20, cifar10_readings=("raw",), sweep_n=20, sweep_pgd_steps=2,
        sweep_apgd_steps=2, network_train_steps=1,
        deviations=(
            "10 training steps instead of 100,000 (a smoke test, not a result)",
            "Adam learning rate 1e-3 with a cosine decay instead of a constant 1e-4",
            "PGD-2 in training and PGD-3 in evaluation instead of PGD-100; step 2.5*eps/steps",
            "eps ramps from 0 to its value over the first half of training",
            "first 50 test images only",
            "the quick profile's models: MNIST natural, standard, background and broad (the paper profile's dry run "
            "runs the exact-mask model and background (final) end to end)",
            "CIFAR-10 at one reading of its eps, raw pixels (0.3/255)",
            "ImageNet attack: 2 PGD steps instead of 100",
            "localized AutoAttack with 4 APGD steps, 2 APGD-T targets and 20 Square queries (a smoke test)",
            NO_FAB,
        ),
    ),
    "quick": Profile(
        name="quick",
        description="The default on a 2-core CPU: the paper's picture at a small scale, CIFAR-10 at the raw-pixels "
                    "reading of its eps.",
        train_steps=QUICK_TRAIN_STEPS, batch_size=50, learning_rate=1e-3,
        train_pgd_steps=5, train_step_size=2.5 * EPS / 5, eps_warmup_fraction=0.5, lr_schedule="cosine",
        eval_pgd_steps=20, eval_step_size=2.5 * EPS / 20, n_test=QUICK_N_TEST, seeds=(0,),
        apgd_steps=APGD_STEPS_QUICK, apgd_targets=APGD_TARGETS_QUICK, square_queries=SQUARE_QUERIES_QUICK,
        third_party_n=QUICK_THIRD_PARTY_N, background_projections=("per_step",), model_kinds=LONG_MODELS,
        imagenet_steps=IMAGENET_PGD_STEPS, imagenet_extra=0, imagenet_eps_sweep=(),
        attack_precision="auto", cifar10_readings=("raw",),
        deviations=(
            f"{QUICK_TRAIN_STEPS:,} training steps instead of 100,000",
            "Adam learning rate 1e-3 with a cosine decay instead of a constant 1e-4 (to converge in few steps)",
            "PGD-5 in training and PGD-20 in evaluation instead of PGD-100; step 2.5*eps/steps instead of 0.01",
            "eps ramps from 0 to its value over the first half of training (without it, adversarial training "
            "collapses to a constant prediction in a short run)",
            f"first {QUICK_N_TEST:,} test images instead of the full test set",
            "one seed",
            "MNIST models: natural, standard, background and broad (the claims' models); the exact-mask model and "
            "Algorithm 1 read literally (background (final)) are in the paper profile only",
            "CIFAR-10 at one reading of its eps, raw pixels (0.3/255); the paper profile adds the others",
            "ImageNet: the paper's nine photos only (no extension to the extra photos and other eps)",
            CPU_AUTOATTACK,
            f"torchattacks cross-check on the first {QUICK_THIRD_PARTY_N} test images",
            NO_FAB,
        ),
    ),
    "long": Profile(
        name="long",
        description="As close to the paper as 150 minutes of a 2-core CPU allow: learning curves, 3 seeds of the "
                    f"central models, {LONG_N_TEST:,} test images under the localized AutoAttack.",
        train_steps=LONG_TRAIN_STEPS, batch_size=BATCH_SIZE, learning_rate=1e-3,
        train_pgd_steps=5, train_step_size=2.5 * EPS / 5, eps_warmup_fraction=3 / 16, lr_schedule="constant",
        eval_pgd_steps=20, eval_step_size=2.5 * EPS / 20, n_test=LONG_N_TEST, seeds=(0,), central_seeds=(1, 2),
        apgd_steps=APGD_STEPS_QUICK, apgd_targets=APGD_TARGETS_QUICK, square_queries=SQUARE_QUERIES_QUICK,
        third_party_n=THIRD_PARTY_N_QUICK, background_projections=("per_step",), model_kinds=LONG_MODELS,
        imagenet_steps=IMAGENET_PGD_STEPS, imagenet_extra=10, imagenet_eps_sweep=(2 / 255, 8 / 255),
        attack_precision="auto", milestones=MILESTONES, curve_n=LONG_CURVE_N, cifar10_readings=("raw",),
        deviations=(
            f"{LONG_TRAIN_STEPS:,} training steps instead of 100,000 ({LONG_TRAIN_STEPS * BATCH_SIZE / 60_000:.1f} "
            f"epochs of MNIST; {LONG_TRAIN_STEPS / QUICK_TRAIN_STEPS:.1f}x the quick profile), on both datasets: the "
            "AutoAttack evaluation below costs as much as about 4,000 training steps per adversarial model on this CPU",
            "Adam learning rate 1e-3 instead of 1e-4, constant as in the paper (so that every milestone is a model "
            "trained for that many steps with the paper's optimizer, not a point of a decay schedule)",
            "PGD-5 in training and PGD-20 in evaluation instead of PGD-100; step 2.5*eps/steps instead of 0.01",
            "eps ramps from 0 to its value over the first 600 steps (3/16 of training; the milestones 1/64 to 1/8 "
            "fall inside the ramp: those models were trained at a smaller eps)",
            "MNIST models: natural, standard, background and broad (the claims' models); the exact-mask model and "
            "Algorithm 1 read literally (background (final)) are in the paper profile only",
            "CIFAR-10 at one reading of its eps, raw pixels (0.3/255); the paper profile adds the others (each "
            "further reading trains two CIFAR-10 models: about 10 more minutes by --estimate, past two thirds of the limit)",
            f"first {LONG_N_TEST:,} test images instead of the full test set (so that the localized AutoAttack "
            f"fits two thirds of the time limit); learning curves on the first {LONG_CURVE_N} with PGD-20 alone",
            "3 seeds for the models the central claims compare (MNIST natural, standard, background), "
            "one seed for the others (MNIST broad, every CIFAR-10 model)",
            "ImageNet extension (beyond the paper): 10 of the 100 extra photos and eps 2/255 and 8/255 only",
            CPU_AUTOATTACK,
            f"torchattacks cross-check on the first {THIRD_PARTY_N_QUICK} test images, of the seed-0 models only",
            NO_FAB,
        ),
    ),
    "deviations": Profile(
        name="deviations",
        description="Which verdicts are the paper's and which our cuts'? The long profile's settings at "
                    f"{DEVIATIONS_TRAIN_STEPS:,} steps (the base), then each cut undone in turn on the central MNIST "
                    "models, and Algorithm 1 read literally; 3 seeds of every configuration.",
        train_steps=DEVIATIONS_TRAIN_STEPS, batch_size=BATCH_SIZE, learning_rate=1e-3,
        train_pgd_steps=5, train_step_size=2.5 * EPS / 5, eps_warmup_fraction=3 / 16, lr_schedule="constant",
        eval_pgd_steps=20, eval_step_size=2.5 * EPS / 20, n_test=DEVIATIONS_N_TEST, seeds=(0, 1, 2),
        apgd_steps=APGD_STEPS_QUICK, apgd_targets=APGD_TARGETS_QUICK, square_queries=SQUARE_QUERIES_QUICK,
        third_party_n=QUICK_THIRD_PARTY_N, background_projections=("per_step", "final"),
        imagenet_steps=IMAGENET_PGD_STEPS, imagenet_extra=0, imagenet_eps_sweep=(), attack_precision="auto",
        variants=tuple(VARIANTS), datasets=("mnist",), imagenet=False,
        deviations=(
            f"the base: {DEVIATIONS_TRAIN_STEPS:,} training steps instead of 100,000; Adam 1e-3 constant instead of "
            "1e-4; PGD-5 in training (step 2.5*eps/5); eps ramps from 0 to its value over the first 3/16 of "
            "training; the per-step projection. Each configuration undoes one of these (08_deviations lists them)",
            "PGD-20 in evaluation instead of PGD-100; step 2.5*eps/20 instead of 0.01",
            f"first {DEVIATIONS_N_TEST:,} test images instead of the full test set",
            "MNIST only (CIFAR-10 and the ImageNet attack are in the other profiles)",
            CPU_AUTOATTACK,
            f"torchattacks cross-check on the first {QUICK_THIRD_PARTY_N} test images",
            NO_FAB,
        ),
    ),
    "airbench": Profile(
        name="airbench",
        description="CIFAR-10 on a network of the paper's accuracy class: airbench94's network trained by its own "
                    "recipe, its eps sweep beside the paper CNN's, and its standard and background models at the "
                    "raw-pixels reading of the eps (of the three, the nearest to where its sweep finds the paper's "
                    "share; none fits).",
        train_steps=AIRBENCH_STEPS, batch_size=AIRBENCH_BATCH_SIZE, learning_rate=AIRBENCH_LEARNING_RATE,
        train_pgd_steps=1, train_step_size=1.25 * EPS, eps_warmup_fraction=0.0, lr_schedule="triangle",
        eval_pgd_steps=20, eval_step_size=2.5 * EPS / 20, n_test=AIRBENCH_N_TEST, seeds=(0,),
        apgd_steps=APGD_STEPS_QUICK, apgd_targets=APGD_TARGETS_QUICK, square_queries=SQUARE_QUERIES_QUICK,
        third_party_n=QUICK_THIRD_PARTY_N, background_projections=("per_step",),
        imagenet_steps=IMAGENET_PGD_STEPS, imagenet_extra=0, imagenet_eps_sweep=(), attack_precision="auto",
        cifar10_readings=("raw",), sweep_n=AIRBENCH_SWEEP_N, datasets=("cifar10",), imagenet=False,
        cifar10_networks=("airbench",),
        deviations=(
            "CIFAR-10 on airbench94's network (Jordan 2024) instead of the paper's CNN, every model trained by the "
            f"network's recipe ({AIRBENCH_EPOCHS} epochs: {AIRBENCH_STEPS} training steps of batch "
            f"{AIRBENCH_BATCH_SIZE:,}, Nesterov SGD with a triangular learning rate, label smoothing {AIRBENCH_LABEL_SMOOTHING:g}, flips and "
            "translations, weight averaging, a bf16 weight pass where the CPU has bf16 kernels) instead of 100,000 "
            "training steps of Adam",
            "the training attack is PGD-1 with a random start and step 1.25 eps (Wong et al. 2020's fast adversarial "
            "training) instead of PGD-100: each PGD step costs a training step on this network; no eps warm-up",
            "PGD-20 in evaluation instead of PGD-100; step 2.5*eps/20",
            "CIFAR-10 at one reading of its eps, raw pixels (0.3/255): none of the three fits where its eps sweep finds "
            "the paper's share (04_cifar10_eps), this one is the nearest; the usual 8/255 is not trained (two more "
            "models, past this profile's time)",
            f"first {AIRBENCH_N_TEST:,} test images under attack instead of the full test set; the eps sweep on the first "
            f"{AIRBENCH_SWEEP_N:,}",
            "one seed",
            "our CIFAR-10 copy is a JPEG re-encoding (quality 75, 4:2:0 chroma): airbench94 reaches about 94% on the "
            "original, below 92% here (bench/README.md)",
            CPU_AUTOATTACK,
            f"torchattacks cross-check on the first {QUICK_THIRD_PARTY_N} test images",
            NO_FAB,
        ),
    ),
    "paper": Profile(
        name="paper",
        description="The paper's settings, for a GPU: 100,000 steps, PGD-100, eps 0.3, full test sets, 3 seeds.",
        train_steps=TRAIN_STEPS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
        train_pgd_steps=PGD_STEPS, train_step_size=PGD_STEP_SIZE, eps_warmup_fraction=0.0,
        lr_schedule="constant",
        eval_pgd_steps=PGD_STEPS, eval_step_size=PGD_STEP_SIZE, n_test=None, seeds=(0, 1, 2),
        apgd_steps=AUTOATTACK_APGD_STEPS, apgd_targets=AUTOATTACK_TARGETS, square_queries=AUTOATTACK_SQUARE_QUERIES,
        third_party_n=1000, background_projections=("per_step", "final"),
        imagenet_steps=IMAGENET_PGD_STEPS, imagenet_extra=100,
        imagenet_eps_sweep=(1 / 255, 2 / 255, 4 / 255, 8 / 255),
        attack_precision="auto", milestones=MILESTONES, curve_n=1000, cifar10_readings=("raw", "usual", STATED),
        sweep_n=None, sweep_pgd_steps=PGD_STEPS, sweep_apgd_steps=AUTOATTACK_APGD_STEPS,
        cifar10_networks=(PAPER_CNN, "airbench"),
        deviations=(
            "step size 0.01 and a uniform random start are Madry et al.'s, the paper gives neither",
            "beyond the paper, CIFAR-10 also on airbench94's network, a network of the paper's accuracy class, trained "
            "by its own recipe (10 epochs; its adversarial models with the paper's PGD-100)",
            NO_FAB,
        ),
    ),
}


# --- Dry runs: a profile's exact code path with its counts shrunk, so it finishes in minutes on a CPU ---
DRY_RUN_SUFFIX = "-dry-run"     # "paper-dry-run" is the dry run of "paper"
DRY_RUN_IMAGES = 32             # test images per evaluation
DRY_RUN_BATCH = 64              # training images per step, at most (the paper CNN's 50 stay; airbench's 1,024 shrink)
DRY_RUN_COUNT = 2               # what every other int setting (steps, queries, restarts, ...) becomes at most
DRY_RUN_LIMITS = {"train_steps": 3, "batch_size": DRY_RUN_BATCH, "n_test": DRY_RUN_IMAGES, "curve_n": DRY_RUN_IMAGES, "sweep_n": DRY_RUN_IMAGES,
                  "imagenet_extra": 2}
DRY_RUN_CUT = ("imagenet_eps_sweep", "cifar10_readings")  # tuples cut to their first DRY_RUN_COUNT values
# seeds: every model in the first seed, the central models in one more (several seeds stay several where the claims
# combine them, and the extra-seed path of the long profile runs too)


def dry_run_value(name: str, value):
    """A setting's value in a dry run: an int count shrunk to ``DRY_RUN_LIMITS[name]``, else ``DRY_RUN_COUNT``;
    anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return min(value, DRY_RUN_LIMITS.get(name, DRY_RUN_COUNT))


def dry_run(profile: Profile) -> Profile:
    """``profile`` with every int setting shrunk (to ``DRY_RUN_LIMITS[name]``, else ``DRY_RUN_COUNT``),
    its ImageNet eps sweep and CIFAR-10 readings cut to their first ``DRY_RUN_COUNT`` values (a sweep stays several),
    its seeds to those of ``dry_run_seeds``, the batch size to at most ``DRY_RUN_BATCH``, and everything else kept: schedules, precision and ``n_test`` (None stays
    None, so the full-test-set path runs; ``image_cap`` cuts it where it is sliced)."""
    if profile.dry_run:
        raise ValueError(f"{profile.name!r} is already a dry run")
    shrunk = {f.name: dry_run_value(f.name, value) for f in fields(profile)
              if isinstance(value := getattr(profile, f.name), int) and not isinstance(value, bool)}
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


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (or ``<profile>-dry-run``); a ValueError naming the known ones otherwise."""
    if name.endswith(DRY_RUN_SUFFIX) and name[:-len(DRY_RUN_SUFFIX)] in PROFILES:
        return dry_run(PROFILES[name[:-len(DRY_RUN_SUFFIX)]])
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {sorted(PROFILES)} "
                         f"(or a dry run of one, e.g. 'paper{DRY_RUN_SUFFIX}')")
    return PROFILES[name]
