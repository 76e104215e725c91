"""The study's evaluation against torchattacks chained as AutoAttack chains them, on the standard mask, in one process.

    python bench/evaluation_chained.py [--profile quick] [--dataset mnist] [--localization standard] [--n 200]
                                       [--json bench/results/NAME.json]

Takes one trained model of the profile (trained first, as ``02_train`` does, if its run has not trained it) and
its first ``n`` test images, and attacks them with the standard mask (the eps everywhere, where the localized
attacks and torchattacks' whole-image attacks have the same budget):

- **ours**: ``attacked_scores``, what ``03_evaluate`` runs per mask: the localized AutoAttack with the profile's
  budgets (masked PGD on every image, then APGD-CE, APGD-DLR, APGD-T and Square, each on what is still correct);
- **torchattacks**: PGD, APGD (CE), APGD (DLR), APGDT and Square with the same steps, targets and queries, each on
  the images no earlier attack has broken, as the reference AutoAttack chains them.

Printed: the median wall time of each chain over ``repeats`` runs taken in turn, after a warm-up (float32, and the
profile's attack arithmetic where that is bf16), their ratio, the robust accuracy each leaves (ours must not be above torchattacks': a weaker evaluation would not be
faster, only wrong) and what each attack broke. Nothing is asserted; tests/test_bench.py only checks that it runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections import Counter
from datetime import datetime, timezone

import torch
import torchattacks

from lat_utils.attacks import resolve_precision
from lat_utils.config import get_profile
from lat_utils.devices import device, device_name
from lat_utils.study import TrainConfig, load_trained, train_model
from lat_utils.study.evaluation import BATCH, attacked_scores, first_test_images


def model_of(profile: str, dataset: str, localization: str) -> torch.nn.Module:
    """The profile's trained model (trained now, as ``02_train`` would, if it is not yet)."""
    config = TrainConfig(dataset, localization, "per_step", profile)
    try:
        return load_trained(config)
    except FileNotFoundError:
        print(f"{config.name} of the {profile} profile is not trained yet: training it first", flush=True)
        return train_model(config, progress=False).model


def torchattacks_chain(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, profile) -> tuple[torch.Tensor, Counter]:
    """Per image, still correct after torchattacks' PGD, APGD-CE, APGD-DLR, APGDT and Square with the profile's
    budgets, each run on the images that every earlier attack left correct; and what each broke."""
    eps = profile.eps
    attacks = [
        ("pgd", torchattacks.PGD(model, eps=eps, alpha=profile.eval_step_size, steps=profile.eval_pgd_steps,
                                 random_start=True)),
        ("apgd-ce", torchattacks.APGD(model, eps=eps, steps=profile.apgd_steps, loss="ce")),
        ("apgd-dlr", torchattacks.APGD(model, eps=eps, steps=profile.apgd_steps, loss="dlr")),
        # APGDT attacks the n_classes - 1 classes with the highest scores after the true one
        ("apgd-t", torchattacks.APGDT(model, eps=eps, steps=profile.apgd_steps, n_classes=profile.apgd_targets + 1)),
        ("square", torchattacks.Square(model, eps=eps, n_queries=profile.square_queries)),
    ]
    with torch.no_grad():
        correct = model(images).argmax(1) == labels
    broken = Counter({"natural": int((~correct).sum())})
    for name, attack in attacks:
        index = correct.nonzero().squeeze(1)
        for start in range(0, len(index), BATCH):
            part = index[start:start + BATCH]
            adversarial = attack(images[part], labels[part])
            with torch.no_grad():
                still = model(adversarial).argmax(1) == labels[part]
            broken[name] += int((~still).sum())
            correct[part] = still
    return correct, broken


def chains(model: torch.nn.Module, profile, precisions: list[str]) -> dict:
    """Each chain as a function of (images, labels) -> (per image still correct, what each attack broke)."""
    def ours(precision: str):
        def run(images, labels):
            cell = attacked_scores(model, images, labels, "standard", profile, precision)
            return cell["correct"], Counter(b for b in cell["broken_by"] if b)
        return run
    return {"torchattacks, fp32": lambda images, labels: torchattacks_chain(model, images, labels, profile),
            **{f"ours, {precision}": ours(precision) for precision in precisions}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"))
    parser.add_argument("--localization", default="standard", help="the trained model attacked (default: standard)")
    parser.add_argument("--n", type=int, default=200, help="test images (default 200, the quick profile's)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each chain, in turn (the median is shown)")
    parser.add_argument("--json", default=None, help="also save the figures to this file")
    args = parser.parse_args()

    profile = get_profile(args.profile)
    model = model_of(args.profile, args.dataset, args.localization).eval()
    images, labels, _ = first_test_images(args.dataset, args.n)
    images, labels = images.to(device()), labels.to(device())
    precisions = list(dict.fromkeys(["fp32", resolve_precision(profile.attack_precision, images.device)]))
    print(f"{device_name()}; {args.dataset} {args.localization} model of the {args.profile} profile, {len(images)} "
          f"images, standard mask, eps {profile.eps:g}: PGD-{profile.eval_pgd_steps}, APGD {profile.apgd_steps} steps, "
          f"{profile.apgd_targets} targets, Square {profile.square_queries} queries; {args.repeats} runs each, "
          "in turn", flush=True)
    chain = chains(model, profile, precisions)
    for run in chain.values():  # one-time costs (kernels chosen, memory) before anything is timed
        run(images[:8], labels[:8])
    times = {name: [] for name in chain}
    robust, broken = {}, {}
    for _ in range(args.repeats):
        for name, run in chain.items():
            torch.manual_seed(0)
            began = time.perf_counter()
            correct, by_attack = run(images, labels)
            times[name].append(time.perf_counter() - began)
            robust[name], broken[name] = 100 * correct.float().mean().item(), dict(by_attack)
    seconds = {name: statistics.median(t) for name, t in times.items()}

    reference = seconds["torchattacks, fp32"]
    print(f"{'chain':<22}{'seconds':>10}{'vs torchattacks':>18}{'robust (%)':>12}  broken by")
    for name in seconds:
        print(f"{name:<22}{seconds[name]:>10.1f}{reference / seconds[name]:>17.2f}x{robust[name]:>12.1f}  "
              f"{broken[name]}", flush=True)
    weaker = [name for name in robust if name.startswith("ours") and robust[name] > robust["torchattacks, fp32"]]
    print("ours leaves no more images robust than torchattacks" if not weaker else
          f"WEAKER than torchattacks: {weaker} (a robust accuracy above the reference's)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "device": device_name(),
                       "machine": platform.machine(), "torch": torch.__version__, "torchattacks": torchattacks.__version__,
                       "profile": args.profile, "dataset": args.dataset, "model": args.localization, "n": len(images),
                       "threads": torch.get_num_threads(), "repeats": args.repeats, "seconds": seconds,
                       "all_seconds": times, "robust_accuracy": robust,
                       "broken_by": broken}, f, indent=1)


if __name__ == "__main__":
    main()
