"""How accurate is airbench94's network (``AirbenchNet``) on our CIFAR-10 copy when the study trains it, and what
does its training cost on this machine? The first measurement of issue 33.

    python bench/airbench_natural.py [--weights auto|fp32|bf16] [--epochs E] [--seed S] [--test-images N]
                                     [--json bench/results/NAME.json]

In a fresh output folder, trains the natural model of the airbench network with the study's own loop
(``study.train_model``, the recipe of ``recipes.NETWORKS["airbench"]``; the long profile's settings otherwise) for
``--epochs`` epochs (default: the recipe's), the weight pass in ``--weights`` arithmetic ("auto": bf16 where this CPU
has bf16 kernels). Printed: the training time and seconds per epoch, and the natural accuracy on the whole test set
(or its first ``--test-images``) of our CIFAR-10 copy (a JPEG re-encoding, see shared/data/README.md) with its Wilson 95% interval, in eval mode and
without test-time augmentation (the function the attacks attack), and beside it the accuracy on as many training
images (unaugmented: how well the model fits its training set). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from datetime import datetime, timezone

import torch

from lat_utils import config as lat_config
from lat_utils.attacks import AUTO_PRECISION_VARIABLE, resolve_precision
from lat_utils.data import load_dataset
from lat_utils.devices import device, device_name
from lat_utils.spec import recipes as lat_recipes
from lat_utils.study import TrainConfig, train_model
from lat_utils.study.stats import wilson_interval


def natural_accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> int:
    """How many of ``images`` the model (eval mode, float32) classifies correctly."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images[start:start + batch].to(device(), memory_format=torch.channels_last)
            correct += int((model(x).argmax(1).cpu() == labels[start:start + batch]).sum())
    return correct


def measure(weights: str, epochs: float | None, seed: int, test_images: int | None = None) -> dict:
    if weights != "auto":
        os.environ[AUTO_PRECISION_VARIABLE] = weights   # the recipe's weight pass is "auto"
    steps_per_epoch = 50_000 // lat_recipes.AIRBENCH_BATCH_SIZE
    steps = round(epochs * steps_per_epoch) if epochs else None
    name = "airbench-bench"
    lat_config.PROFILES[name] = dataclasses.replace(lat_config.get_profile("long"), name=name, milestones=(),
                                                    network_train_steps=steps)
    config = TrainConfig("cifar10", "natural", profile=name, seed=seed, network="airbench")
    trained = train_model(config, progress=True)
    images, labels, provenance = load_dataset("cifar10", "test")
    images, labels = images[:test_images], labels[:test_images]
    correct = natural_accuracy(trained.model, images, labels)
    low, high = wilson_interval(correct, len(labels))
    train_images, train_labels, _ = load_dataset("cifar10", "train")
    seen = min(len(labels), len(train_labels))   # as many training images, unaugmented: how well it fits them
    train_correct = natural_accuracy(trained.model, train_images[:seen], train_labels[:seen])
    settings = config.settings
    return {
        "what": "airbench94's network trained naturally by the study's loop, natural test accuracy (no TTA)",
        "processor": device_name(), "weight_pass": resolve_precision(settings.weight_precision, device()),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "seed": seed,
        "train_steps": settings.train_steps, "batch_size": settings.batch_size,
        "epochs": settings.train_steps / steps_per_epoch,
        "train_seconds": round(trained.seconds, 1),
        "seconds_per_epoch": round(trained.seconds / (settings.train_steps / steps_per_epoch), 1),
        "test_images": len(labels), "test_data": str(provenance),
        "natural_accuracy": round(100 * correct / len(labels), 2),
        "interval_95": [round(100 * low, 2), round(100 * high, 2)],
        "train_accuracy": round(100 * train_correct / seen, 2), "train_images_scored": seen,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--epochs", type=float, default=None, help="default: the recipe's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-images", type=int, default=None, help="default: the whole test set")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        os.environ["LAT_OUTPUT_ROOT"] = root
        result = measure(args.weights, args.epochs, args.seed, args.test_images)
    for key, value in result.items():
        print(f"{key:>20}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
