"""What a profile costs before it runs: image-steps, FLOPs and wall time of each stage on this device.

``./run_all.sh --profile paper --estimate`` prints, without training anything, for each stage of the
study (ImageNet attack, training per dataset, evaluation per dataset):

- **image-steps**: one image through one forward and one backward pass, the unit of PGD and of a
  training update; a forward-only pass (scoring, predicting) counts as ``FORWARD`` = 1/3 of one;
- **FLOPs**: image-steps times the FLOPs of one image-step of the stage's network, counted by torch's
  ``FlopCounterMode`` on one image (forward plus input-gradient backward);
- **time**: image-steps divided by the image-steps per second measured here, in a calibration of a few
  seconds that runs the real attack (``masked_pgd``, the profile's batch size and arithmetic) on each
  network on this device. It is the time of one process doing all the work; ``--jobs``/``--together``
  on several GPUs divide the training stages by up to their count.

The counts follow the code: ``masked_pgd`` with ``k`` steps does ``k`` forward-backward passes plus one
forward scoring the last iterate. To count a new kind of evaluation, extend ``evaluation_image_steps``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ..attacks import PGD, masked_pgd, resolve_precision
from ..devices import device, device_name
from ..models import fast_layout, model_for
from ..spec.paper import ATTACK_KINDS, DATASETS, IMAGENET_EPS, TRAIN_PGD_ITERATE
from ..spec.recipes import PAPER_CNN
from ..spec.settings import Profile
from ..study.sweep import SWEEP_SERIES

FORWARD = 1 / 3                                      # a forward-only pass, in image-steps
TEST_SET_SIZE = {"mnist": 10_000, "cifar10": 10_000}
IMAGE_SHAPE = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
PAPER_PHOTOS = 9                                     # the paper's ImageNet photos (Tables 1 and 2)


@dataclass(frozen=True)
class StageCost:
    stage: str
    image_steps: float
    flops: float
    seconds: float


def attack_image_steps(steps: int, iterate: str = "best") -> float:
    """One ``masked_pgd`` of ``steps`` steps on one image: ``steps`` forward-backward passes, and for the best
    iterate a last forward that scores the last one."""
    return steps + (FORWARD if iterate == "best" else 0.0)


CALIBRATION_BATCH = 32                               # images per calibration attack, at most (airbench trains 1,024)


def _study_models(profile: Profile, dataset: str, network: str | None = None):
    from ..study.plan import study_models  # the profile by name: every profile, dry runs included, resolves

    return [c for c in study_models(dataset, profile.name) if network in (None, c.network)]


def _evaluated_models(profile: Profile, dataset: str, network: str | None = None):
    from ..study.plan import evaluated_models  # each natural CIFAR-10 model once per reading

    return [c for c in evaluated_models(dataset, profile.name) if network in (None, c.network)]


def _test_images(profile: Profile, n: int | None, dataset: str) -> int:
    """How many test images an evaluation of ``n`` (None: all) sees, with the dry run's cap."""
    count = TEST_SET_SIZE[dataset] if n is None else min(n, TEST_SET_SIZE[dataset])
    return count if profile.image_cap is None else min(count, profile.image_cap)


def training_image_steps(profile: Profile, dataset: str, network: str | None = None) -> float:
    """Every training of ``dataset`` (of its models on ``network``; None: all): per step and image, the attack
    (adversarial models) and the update."""
    total = 0.0
    for config in _study_models(profile, dataset, network):  # each with its own settings (a variant's training attack)
        settings = config.settings
        per_image = (1.0 if config.localization == "natural"
                     else attack_image_steps(settings.train_pgd_steps, TRAIN_PGD_ITERATE) + 1.0)
        total += settings.train_steps * settings.batch_size * per_image
    return total


def evaluation_image_steps(profile: Profile, dataset: str, network: str | None = None) -> float:
    """The evaluation of ``dataset`` (in ``02_train``, gathered by ``03_evaluate``; of the models on ``network``,
    None: all): every model on natural inputs (the whole test set) and under every attack (the first ``n_test``) with the localized AutoAttack (masked PGD and APGD-CE on every image,
    APGD-T and Square on the images still correct), then the torchattacks cross-check (APGD-CE and
    APGD-DLR on the first ``third_party_n`` images). An upper bound: it counts every image as surviving
    every attack, whereas a broken image leaves the later attacks."""
    models = _evaluated_models(profile, dataset, network)
    n, natural = _test_images(profile, profile.n_test, dataset), _test_images(profile, None, dataset)
    apgd = (profile.apgd_steps + 1 + FORWARD) if profile.apgd_steps else 0.0
    autoattack = (attack_image_steps(profile.eval_pgd_steps) + FORWARD + 2 * apgd + profile.apgd_targets * apgd
                  + profile.square_queries * FORWARD)   # APGD-CE and APGD-DLR, APGD-T per target
    cross = len(models) * (2 * natural * FORWARD + n * len(ATTACK_KINDS[dataset]) * autoattack)   # natural: the whole
    # test set, with the collapse check
    n_check = min(profile.third_party_n, n)
    check = len(models) * len(ATTACK_KINDS[dataset]) * n_check * 2 * (max(profile.apgd_steps, 1) + 1)
    return cross + check + milestone_image_steps(profile, dataset, network)


def _sweep_settings(profile: Profile):
    from ..study.sweep import sweep_settings  # the settings the sweep itself attacks with

    return sweep_settings(profile.name)


def sweep_image_steps(profile: Profile, dataset: str, network: str | None = None) -> float:
    """The eps sweep (``study.sweep``) of ``dataset`` (of the natural model of ``network``, None: of every network's
    natural model): per series, the natural scores and, at every eps of its
    settings, masked PGD, APGD-CE and APGD-DLR (and APGD-T per target, none in any profile) on its images. An
    upper bound: it counts every image as attacked at every eps, whereas an image broken at a smaller eps is not
    attacked again."""
    if "cifar10" not in profile.datasets:  # the sweep runs in 04_cifar10_eps, which needs CIFAR-10
        return 0.0
    settings = _sweep_settings(profile)
    series = sum(1 for d, _, _ in SWEEP_SERIES if d == dataset) * (1 if network else len(profile.networks(dataset)))
    n = _test_images(profile, settings.n, dataset)
    apgd = settings.apgd_steps + 1 + FORWARD
    per_eps = attack_image_steps(settings.pgd_steps) + FORWARD + (2 + settings.targets) * apgd
    return series * n * (FORWARD + len(settings.eps_values) * per_eps)


def milestone_image_steps(profile: Profile, dataset: str, network: str | None = None) -> float:
    """The learning curves (``curves``): every model at each milestone, natural (and the collapse check) on the
    whole test set and under every attack with the profile's PGD alone on ``curve_n`` images."""
    n, natural = _test_images(profile, profile.curve_n, dataset), _test_images(profile, None, dataset)
    per_milestone = 2 * natural * FORWARD + n * len(ATTACK_KINDS[dataset]) * (attack_image_steps(profile.eval_pgd_steps) + FORWARD)
    return len(_evaluated_models(profile, dataset, network)) * len(profile.milestones) * per_milestone


def imagenet_image_steps(profile: Profile) -> float:
    """``01_imagenet_attack``: the nine paper photos at 2/255 under every box rule, then the extension (the
    eps sweep over the paper and extra photos under the extension's rules; the paper runs are reused where
    the sweep has 2/255). An upper bound: rules that keep the same box of a photo share its attack."""
    from ..imagenet.boxes import BOX_RULES, EXTENSION_RULES

    attacks = PAPER_PHOTOS * len(BOX_RULES)
    if profile.imagenet_extra or profile.imagenet_eps_sweep:
        eps_values = profile.imagenet_eps_sweep or (IMAGENET_EPS,)
        photos = (PAPER_PHOTOS if profile.imagenet_eps_sweep else 0) + profile.imagenet_extra
        attacks += photos * len(eps_values) * len(EXTENSION_RULES)
        if any(abs(e - IMAGENET_EPS) < 1e-12 for e in profile.imagenet_eps_sweep):
            attacks -= PAPER_PHOTOS * len(EXTENSION_RULES)
    return attacks * (attack_image_steps(profile.imagenet_steps) + 2 * FORWARD)  # + natural and attacked predictions


def image_step_flops(model: nn.Module, shape: tuple[int, ...]) -> float:
    """FLOPs of one image-step of ``model``: forward plus the input-gradient backward on one image."""
    model = model.cpu().eval()
    x = torch.rand(1, *shape, requires_grad=True)
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), torch.zeros(1, dtype=torch.long)).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def calibrate(model: nn.Module, shape: tuple[int, ...], batch: int, precision: str, *, steps: int = 10,
              channels_last: bool = True, seconds: float = 1.5) -> float:
    """Image-steps per second of ``masked_pgd`` (``steps`` steps on ``batch`` images) on ``model`` on this
    device, in the memory layout the study uses for it (``channels_last``: PaperCNN's, see ``fast_layout``):
    the median over the attacks that fit in about ``seconds`` (robust to a busy machine)."""
    dev = device()
    layout = fast_layout if channels_last else (lambda t, d: t.to(d))
    model = layout(model, dev).eval()
    x = layout(torch.rand(batch, *shape), dev)
    y = torch.zeros(batch, dtype=torch.long, device=dev)
    eps = torch.full_like(x, 0.1)

    def attack() -> float:
        start = time.perf_counter()
        masked_pgd(model, x, y, eps, PGD(steps=steps, step_size=0.01), precision=precision)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    attack()  # warm-up
    times, began = [], time.perf_counter()
    while time.perf_counter() - began < seconds or len(times) < 3:
        times.append(attack())
    return batch * attack_image_steps(steps) / statistics.median(times)


def estimate(profile: Profile, *, imagenet: bool = True) -> tuple[list[StageCost], dict[str, float]]:
    """The cost of each stage of ``profile`` on this device, and the calibration (image-steps/s per network: each
    network of each dataset is counted in its own FLOPs and timed in its own calibration)."""
    precision = resolve_precision(profile.attack_precision, device())
    rates, flops, stages = {}, {}, []
    datasets = [d for d in DATASETS if d in profile.datasets]
    if imagenet and profile.imagenet:
        from ..imagenet import load_classifier

        classifier = load_classifier(device())
        shape = (3, classifier.input_size, classifier.input_size)
        flops["imagenet"] = image_step_flops(classifier.model, shape)
        rates["imagenet"] = calibrate(classifier.model, shape, 2, precision, steps=2, channels_last=False)
        stages.append(StageCost("01 ImageNet attack", imagenet_image_steps(profile),
                                imagenet_image_steps(profile) * flops["imagenet"],
                                imagenet_image_steps(profile) / rates["imagenet"]))
    parts = [(dataset, network) for dataset in datasets for network in profile.networks(dataset)]
    for dataset, network in parts:
        torch.manual_seed(0)
        model, part = model_for(dataset, network), _part_name(dataset, network)
        flops[part] = image_step_flops(model, IMAGE_SHAPE[dataset])
        rates[part] = calibrate(model, IMAGE_SHAPE[dataset], min(profile.batch_size, CALIBRATION_BATCH), precision)
    for name, count in (("02 training", training_image_steps), ("03 evaluation", evaluation_image_steps),
                        ("04 eps sweep", sweep_image_steps)):
        for dataset, network in parts:
            steps, part = count(profile, dataset, network), _part_name(dataset, network)
            stages.append(StageCost(f"{name} {part}", steps, steps * flops[part], steps / rates[part]))
    return stages, rates


def _part_name(dataset: str, network: str) -> str:
    """A dataset's part of the estimate: the dataset, and the network where it is not the paper's CNN."""
    return dataset if network == PAPER_CNN else f"{dataset} ({network})"


def format_estimate(profile: Profile, stages: list[StageCost], rates: dict[str, float]) -> str:
    """The estimate as a text table with a total line."""
    def duration(seconds: float) -> str:
        return f"{seconds:,.0f} s" if seconds < 3600 else f"{seconds / 3600:,.1f} h"

    lines = [f"Estimate for profile {profile.name} on {device_name()} "
             f"(attack arithmetic {resolve_precision(profile.attack_precision, device())}):",
             "  calibration (image-steps/s of masked_pgd, measured now): "
             + ", ".join(f"{k} {v:,.3g}" for k, v in rates.items()),
             f"  {'stage':<34} {'image-steps':>14} {'FLOPs':>10} {'est. time':>12}"]
    for s in stages:
        lines.append(f"  {s.stage:<34} {s.image_steps:>14.3g} {s.flops:>10.2g} {duration(s.seconds):>12}")
    total = StageCost("total", *(sum(getattr(s, f) for s in stages) for f in ("image_steps", "flops", "seconds")))
    lines.append(f"  {'total (one process)':<34} {total.image_steps:>14.3g} {total.flops:>10.2g} "
                 f"{duration(total.seconds):>12}")
    return "\n".join(lines)


def print_estimate(profile: Profile) -> None:
    """Measure, estimate and print (what ``./run_all.sh --estimate`` does)."""
    stages, rates = estimate(profile)
    print(format_estimate(profile, stages, rates))
