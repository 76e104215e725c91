"""Has an adversarial training overfit catastrophically? A look at a model's latest checkpoint, finished or not.

    python bench/overfitting_check.py --profile airbench-usual --dataset cifar10 --model standard --reading usual
                                      --network airbench [--n 300] [--json bench/results/NAME.json]

Loads the model's checkpoint from runs/<profile>/ (a training in progress saves one every minute) and prints its
accuracy on the first ``--n`` test images: natural, under one step from a random start (FGSM with a step of eps,
the attack of Wong et al. 2020's fast adversarial training) and under PGD-10 (Madry et al.'s step), each attack with
the model's own training mask at its eps, in float32. A one-step accuracy near the natural one while PGD-10 leaves
almost nothing is Wong et al.'s catastrophic overfitting: the model has learned to defeat the one-step attack, not
to be robust. Nothing is asserted; it reads no more than it is given and trains nothing.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

import torch

from lat_utils.attacks.pgd import PGD, masked_pgd
from lat_utils.devices import device
from lat_utils.masks import epsilon_matrix
from lat_utils.spec.budgets import pgd_step
from lat_utils.spec.paper import STATED
from lat_utils.study import TrainConfig
from lat_utils.study.checkpoints import checkpoint_path, load_checkpoint, model_with
from lat_utils.study.evaluation import first_test_images

PGD_STEPS = 10


def accuracies(config: TrainConfig, n: int) -> dict:
    """The step ``config``'s checkpoint holds, and its accuracy (%) on the first ``n`` test images: natural, under one
    step of eps from a random start, and under PGD-10, each attack with its training mask at its eps."""
    state = load_checkpoint(checkpoint_path(config), config)
    if state is None:
        raise FileNotFoundError(f"no checkpoint of {config.key} in the {config.profile} profile's runs/ folder")
    model = model_with(config, state["model"])
    images, labels, _ = first_test_images(config.dataset, n)
    images, labels = images.to(device()), labels.to(device())
    eps = config.settings.eps
    budget = epsilon_matrix(images, config.localization, eps)
    row = {"model": config.key, "step": state["step"], "of": config.settings.train_steps, "n": len(labels)}
    with torch.no_grad():
        row["natural"] = 100 * (model(images).argmax(1) == labels).float().mean().item()
    for name, pgd in (("one step of eps", PGD(steps=1, step_size=eps)),
                      (f"PGD-{PGD_STEPS}", PGD(steps=PGD_STEPS, step_size=pgd_step(eps, PGD_STEPS)))):
        attacked = masked_pgd(model, images, labels, budget, pgd)
        with torch.no_grad():
            row[name] = 100 * (model(attacked).argmax(1) == labels).float().mean().item()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, help="the model's localization: standard, background, ...")
    parser.add_argument("--reading", default=STATED, help="the CIFAR-10 eps it was trained at")
    parser.add_argument("--network", default="paper_cnn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    config = TrainConfig(args.dataset, args.model, profile=args.profile, seed=args.seed, reading=args.reading,
                         network=args.network)
    row = accuracies(config, args.n)
    print(", ".join(f"{k} {v:.1f}%" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row | {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}, f, indent=1)


if __name__ == "__main__":
    main()
