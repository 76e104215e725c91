"""The paper's setting, written once (``PAPER``), and each run profile as that setting plus named changes.

A profile's departures from the paper, printed in every report's header, are generated from its changes
(``settings.departure``): each changed setting, the paper's value, and the change's one-line reason. How long each
profile takes on which machine is in docs/running.md and bench/README.md, not here.
"""

from __future__ import annotations

from dataclasses import replace

from .spec.budgets import (
    CPU,
    MADRY_STEP,
    NO_FAB,
    SMOKE,
    STANDARD,
    SWEEP_N_CPU,
    SWEEP_STEPS_CPU,
    evaluation_pgd,
    training_pgd,
)
from .spec.paper import (
    BATCH_SIZE,
    DATASETS,
    EPS,
    IMAGENET_PGD_STEPS,
    LEARNING_RATE,
    PGD_STEP_SIZE,
    PGD_STEPS,
    STATED,
    TRAIN_STEPS,
)
from .spec.recipes import AIRBENCH_BATCH_SIZE, AIRBENCH_LEARNING_RATE, AIRBENCH_STEPS, PAPER_CNN
from .spec.settings import DRY_RUN_SUFFIX, Profile, change, dry_run

# Learning curves: the fractions of training at which a profile keeps and evaluates the weights
MILESTONES = (1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)

# The paper's settings; where it is silent, Madry et al.'s MNIST challenge's (lat_utils/spec/paper.py has each source). The
# measurements beyond the paper (the reference AutoAttack, learning curves, the eps sweep, the ImageNet extension,
# the three readings of the CIFAR-10 eps) at their full size.
PAPER = Profile(
    name="the paper", description="The paper's settings.",
    train_steps=TRAIN_STEPS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, lr_schedule="constant",
    train_pgd_steps=PGD_STEPS, train_step_size=PGD_STEP_SIZE, eps_warmup_fraction=0.0, eps=EPS,
    eval_pgd_steps=PGD_STEPS, eval_step_size=PGD_STEP_SIZE, n_test=None, seeds=(0, 1, 2), central_seeds=(),
    **STANDARD.settings(), third_party_n=1000, background_projections=("per_step", "final"), model_kinds=(),
    imagenet=True, imagenet_steps=IMAGENET_PGD_STEPS, imagenet_extra=100,
    imagenet_eps_sweep=(1 / 255, 2 / 255, 4 / 255, 8 / 255),
    attack_precision="auto", weight_precision="fp32", milestones=MILESTONES, curve_n=1000,
    cifar10_readings=("raw", "usual", STATED), sweep_n=None, sweep_pgd_steps=PGD_STEPS,
    sweep_apgd_steps=STANDARD.apgd_steps, variants=(), datasets=DATASETS, optimizer="adam", label_smoothing=0.0,
    augment=False, network_train_steps=None, cifar10_networks=(PAPER_CNN,),
)

# --- Changes that several profiles make ---
CLAIMS_MODELS = ("natural", "standard", "background", "broad")   # MNIST: the claims' models (exact: no claim)
CPU_AUTOATTACK = change(CPU.reason(), **CPU.settings())
CPU_SWEEP = change("the eps sweep's AutoAttack on a CPU: masked PGD, APGD-CE and APGD-DLR of "
                   f"{SWEEP_STEPS_CPU} steps (5 against 20 moves the kept share less than a point near 62%)",
                   sweep_n=SWEEP_N_CPU, sweep_pgd_steps=SWEEP_STEPS_CPU, sweep_apgd_steps=SWEEP_STEPS_CPU)
CPU_PGD = change("PGD-100 costs 20x PGD-5 per training step on a CPU; evaluation adds the localized AutoAttack",
                 **training_pgd(5), **evaluation_pgd(20))
ONE_READING = change("one reading of the CIFAR-10 eps, raw pixels (0.3/255); the paper profile trains the others",
                     cifar10_readings=("raw",))
NO_CURVES = change("no learning curves (the long and paper profiles have them)", milestones=(), curve_n=0)
PAPERS_PHOTOS = change("the paper's nine ImageNet photos only, at its eps", imagenet_extra=0, imagenet_eps_sweep=())
CIFAR10_ALONE = change("CIFAR-10 alone", datasets=("cifar10",), imagenet=False, imagenet_extra=0, imagenet_eps_sweep=())
# The long profile's training of the paper CNN: 3,200 steps of Adam 1e-3, constant, the eps ramped over 3/16 of them
LONG_STEPS, LONG_LEARNING_RATE, LONG_WARMUP = 3200, 1e-3, 3 / 16
# airbench94's network on a 2-core CPU: its recipe and the AutoAttack's time (each airbench profile adds its own
# training attack, the cheapest that holds at its eps)
AIRBENCH_RECIPE = change(
    "CIFAR-10 on airbench94's network (Jordan 2024), every model trained by the network's recipe "
    "(lat_utils/spec/recipes.py: Nesterov SGD, label smoothing, flips and translations, weight averaging, a "
    "bf16 weight pass where the CPU has bf16 kernels)", cifar10_networks=("airbench",),
    train_steps=AIRBENCH_STEPS, batch_size=AIRBENCH_BATCH_SIZE, learning_rate=AIRBENCH_LEARNING_RATE,
    lr_schedule="triangle")
FAST_TRAINING_ATTACK = change(
    "Wong et al. 2020's fast adversarial training: each PGD step costs a training step on this network",
    **training_pgd(1, step=1.25 * EPS))
# At 8/255 one step overfits catastrophically on this network (Wong et al.'s "catastrophic overfitting"): with a step
# of 1.25 eps its standard model collapsed to a near-constant prediction; with a step of eps and eps ramped over half
# of training, once eps was full it came to resist the one step while PGD-10 broke every test image it was given
# (bench/README.md). Two steps of eps/2 (PGD-5's step) cost 1.5 one-step trainings, PGD-5 three
TWO_STEP_TRAINING_ATTACK = change(
    "PGD-2 with PGD-5's step (eps/2), eps ramped over half of training: one step overfits catastrophically on this "
    "network at 8/255, PGD-5 costs twice as much", **training_pgd(2, step=EPS / 2), eps_warmup_fraction=1 / 2)
AIRBENCH_ON_A_CPU = (
    change("its evaluation's PGD", **evaluation_pgd(20)),
    CIFAR10_ALONE,
    change("the AutoAttack's time; its network is accurate, so most sweep images are attacked", n_test=200,
           sweep_n=500, sweep_pgd_steps=SWEEP_STEPS_CPU, sweep_apgd_steps=SWEEP_STEPS_CPU),
    change("one seed", seeds=(0,)),
    change("the background models with the per-step projection", background_projections=("per_step",)),
    CPU_AUTOATTACK, NO_CURVES,
    change("the torchattacks cross-check on a few images", third_party_n=25),
)
JPEG_CIFAR10 = ("our CIFAR-10 copy is a JPEG re-encoding (quality 75, 4:2:0 chroma): airbench94 reaches about 94% on "
                "the original, below 92% here (bench/README.md)")


def _profile(name: str, description: str, *changes, notes: tuple[str, ...] = ()) -> Profile:
    """``PAPER`` with ``changes``; its deviations end with what holds for every profile (the step size where it
    keeps Madry et al.'s, no FAB-T)."""
    made = PAPER.changed(name, description, *changes)
    kept = (MADRY_STEP,) if made.train_step_size == PGD_STEP_SIZE else ()
    return replace(made, deviations=made.deviations + notes + kept + (NO_FAB,))


PROFILES: dict[str, Profile] = {p.name: p for p in (
    _profile(
        "smoke", "Seconds per model: checks that every notebook runs end to end. Its numbers mean nothing.",
        change("a smoke test, not a result", train_steps=10, n_test=50, image_cap=200, seeds=(0,), third_party_n=10, imagenet_steps=2,
               imagenet_extra=0, imagenet_eps_sweep=(), milestones=(0.5, 1.0), curve_n=20, network_train_steps=1),
        change("to converge in few steps", learning_rate=1e-3, lr_schedule="cosine"),
        change("a smoke test", **training_pgd(2), **evaluation_pgd(3), **SMOKE.settings(), sweep_n=20,
               sweep_pgd_steps=2, sweep_apgd_steps=2),
        change("without it, adversarial training collapses to a constant prediction in a short run",
               eps_warmup_fraction=0.5),
        change("the quick profile's models (the paper profile's dry run runs the exact-mask model and Algorithm 1 "
               "read literally, background (final), end to end)", model_kinds=CLAIMS_MODELS,
               background_projections=("per_step",)),
        ONE_READING,
    ),
    _profile(
        "quick", "The default on a 2-core CPU: the paper's picture at a small scale, CIFAR-10 at the raw-pixels "
                 "reading of its eps.",
        change("the profile's time, two thirds of 45 minutes on a 2-core CPU", train_steps=500, n_test=200),
        change("to converge in few steps", learning_rate=1e-3, lr_schedule="cosine"),
        CPU_PGD,
        change("without it, adversarial training collapses to a constant prediction in a short run",
               eps_warmup_fraction=0.5),
        change("one seed", seeds=(0,)),
        change("the claims' models; the exact-mask model and Algorithm 1 read literally (background (final)) are "
               "in the paper profile only", model_kinds=CLAIMS_MODELS, background_projections=("per_step",)),
        ONE_READING, PAPERS_PHOTOS, CPU_AUTOATTACK, CPU_SWEEP, NO_CURVES,
        change("the torchattacks cross-check on a few images", third_party_n=25),
    ),
    _profile(
        "long", "As close to the paper as 150 minutes of a 2-core CPU allow: learning curves, 3 seeds of the "
                "central models, 1,000 test images under the localized AutoAttack.",
        change("what the AutoAttack evaluation, the seeds and the learning curves leave of two thirds of 150 "
               "minutes (the evaluation costs about 4,000 training steps per adversarial model on this CPU)",
               train_steps=LONG_STEPS),
        change("constant as in the paper, so that every milestone is a model trained that long with the paper's "
               "optimizer", learning_rate=LONG_LEARNING_RATE),
        CPU_PGD,
        change("the milestones 1/64 to 1/8 fall inside the ramp: those models were trained at a smaller eps",
               eps_warmup_fraction=LONG_WARMUP),
        change("so that the localized AutoAttack fits two thirds of the time limit; learning curves with PGD-20 "
               "alone", n_test=1000, curve_n=500),
        change("3 seeds for the models the central claims compare (MNIST natural, standard, background), one for "
               "the others", seeds=(0,), central_seeds=(1, 2)),
        change("the claims' models; the exact-mask model and Algorithm 1 read literally (background (final)) are "
               "in the paper profile only", model_kinds=CLAIMS_MODELS, background_projections=("per_step",)),
        ONE_READING,
        change("the ImageNet extension on a few photos and two eps", imagenet_extra=10,
               imagenet_eps_sweep=(2 / 255, 8 / 255)),
        CPU_AUTOATTACK, CPU_SWEEP,
        change("the torchattacks cross-check of the seed-0 models on a few images", third_party_n=100),
    ),
    _profile(
        "paper-natural", "The natural MNIST model trained as the paper's (100,000 steps, batch 50, Adam 1e-4, constant): "
                         "the denominator of every MNIST ratio claim and the subject of its two absolute claims, "
                         "evaluated as the long profile's models are; its learning curves show its adversarial loss "
                         "grow with training.",
        change("the natural MNIST model alone: trained without an attack, it takes the paper's training on a CPU; "
               "the adversarial models it is compared with are the other profiles'", model_kinds=("natural",),
               datasets=("mnist",), imagenet=False, imagenet_extra=0, imagenet_eps_sweep=()),
        change("as the long profile evaluates: 1,000 test images, learning curves on 500 with PGD-20 alone",
               n_test=1000, curve_n=500, **evaluation_pgd(20)),
        change("two seeds, trained side by side: a third does not fit two thirds of 150 minutes on a 2-core CPU "
               "(docs/running.md)", seeds=(0, 1)),
        CPU_AUTOATTACK,
        change("the torchattacks cross-check on a few images", third_party_n=100),
    ),
    _profile(
        "deviations", "Which verdicts are the paper's and which our cuts'? The long profile's settings at 600 steps "
                      "(the base), then each cut undone in turn on the central MNIST models, and Algorithm 1 read "
                      "literally; 3 seeds of every configuration.",
        change("the base's budget: each configuration undoes one cut of the base (08_deviations lists them)",
               train_steps=600, n_test=200),
        change("the long profile's optimizer", learning_rate=1e-3),
        CPU_PGD,
        change("the long profile's warm-up", eps_warmup_fraction=3 / 16),
        change("MNIST only: CIFAR-10 and the ImageNet attack are in the other profiles", datasets=("mnist",),
               imagenet=False, imagenet_extra=0, imagenet_eps_sweep=()),
        change("each of our cuts undone in turn (its configurations)", variants=("paper_lr", "no_warmup", "madry_attack")),
        CPU_AUTOATTACK, CPU_SWEEP, NO_CURVES,
        change("the torchattacks cross-check on a few images", third_party_n=25),
    ),
    _profile(
        "airbench", "CIFAR-10 on a network of the paper's accuracy class: airbench94's network trained by its own "
                    "recipe, its eps sweep beside the paper CNN's, and its standard and background models at the "
                    "raw-pixels reading of the eps (of the three, the nearest to where its sweep finds the paper's "
                    "share; none fits).",
        AIRBENCH_RECIPE, FAST_TRAINING_ATTACK, *AIRBENCH_ON_A_CPU, ONE_READING, notes=(JPEG_CIFAR10,),
    ),
    _profile(
        "airbench-usual", "airbench94's network where adversarial training shows: its standard and background models at "
                          "the field's usual 8/255, trained by the airbench profile's recipe with a two-step "
                          "attack, and its eps sweep with central blocks from 6x6 to 20x20.",
        AIRBENCH_RECIPE, TWO_STEP_TRAINING_ATTACK, *AIRBENCH_ON_A_CPU,
        change("the field's usual reading of the CIFAR-10 eps, 8/255: at the raw pixels' 0.3/255 (the airbench profile) "
               "adversarial training changes little", cifar10_readings=("usual",)),
        notes=(JPEG_CIFAR10,),
    ),
    _profile(
        "cifar10-eps", "The paper's CNN where adversarial training shows: its standard and background models at the "
                       "field's usual 8/255 and at 1.24/255, the eps at which the long profile's natural model keeps "
                       "the paper's 62.3% under the background attack, all trained and evaluated as the long "
                       "profile's CIFAR-10 models are.",
        change("the long profile's training: the crossing eps comes from its natural model's sweep",
               train_steps=LONG_STEPS, learning_rate=LONG_LEARNING_RATE, eps_warmup_fraction=LONG_WARMUP),
        CPU_PGD, CIFAR10_ALONE,
        change("the field's usual 8/255 and the eps the paper's numbers point to (lat_utils/spec/paper.py: "
               "CROSSING_255, fixed from the long profile's sweep before training); at the raw pixels' 0.3/255 (the "
               "long profile) adversarial training changes little", cifar10_readings=("usual", "crossing")),
        change("as the long profile evaluates: 1,000 test images", n_test=1000),
        change("one seed", seeds=(0,)),
        CPU_AUTOATTACK, CPU_SWEEP, NO_CURVES,
        change("the torchattacks cross-check on a few images", third_party_n=100),
    ),
    _profile(
        "paper", "The paper's settings, for a GPU: 100,000 steps, PGD-100, eps 0.3, full test sets, 3 seeds.",
        change("beyond the paper, a network of the paper's accuracy class, trained by its own recipe (its "
               "adversarial models with the paper's PGD-100)", cifar10_networks=(PAPER_CNN, "airbench")),
    ),
)}


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (or ``<profile>-dry-run``); a ValueError naming the known ones otherwise."""
    if name.endswith(DRY_RUN_SUFFIX) and name[:-len(DRY_RUN_SUFFIX)] in PROFILES:
        return dry_run(PROFILES[name[:-len(DRY_RUN_SUFFIX)]])
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {sorted(PROFILES)} "
                         f"(or a dry run of one, e.g. 'paper{DRY_RUN_SUFFIX}')")
    return PROFILES[name]
