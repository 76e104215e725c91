"""Does a bf16 weight pass in training move the models, and what does it save? The gate for
``Profile.weight_precision``.

    python bench/weight_precision_gate.py [--profile quick] [--models natural standard background] [--n 1000]
                                          [--json bench/results/NAME.json]

In one process and a fresh output folder, trains each of the profile's MNIST ``--models`` three times from
scratch with ``study.train_model``: the weight pass in float32 (seed 0), in bf16 (seed 0), and in float32 with
another seed (seed 1: how much the models move by chance alone); the attacks of training in the profile's
arithmetic on this device in all three. Then evaluates every model under natural inputs and every mask with the
profile's PGD alone (the same random starts for all) on the first ``--n`` test images. A short training first
takes the process's one-time costs. Printed: per cell the
three losses and accuracies; per model the training time of each and the bf16 speed-up; and the summary
(does bf16 move the grid more than another training seed does?). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
from datetime import datetime, timezone

import pandas as pd
import torch
from precision_gate import relative_change

from lat_utils import config as lat_config
from lat_utils.attacks import resolve_precision
from lat_utils.devices import device, device_name
from lat_utils.spec.paper import ATTACK_KINDS
from lat_utils.study import TrainConfig, train_model
from lat_utils.study.evaluation import attacked_scores, first_test_images

RUNS = (("fp32", 0), ("bf16", 0), ("fp32", 1))   # weight pass, training seed


def gate(profile_name: str, models: list[str], n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evaluation grid of each model under each run of ``RUNS``, and the training time of each."""
    base = lat_config.get_profile(profile_name)
    for precision in ("fp32", "bf16"):   # the profile with each weight pass, under a name of its own
        name = f"{profile_name}-weights-{precision}"
        lat_config.PROFILES[name] = dataclasses.replace(base, name=name, weight_precision=precision)
    evaluation = dataclasses.replace(base, apgd_steps=0, square_queries=0)   # the profile's PGD alone
    attack_precision = resolve_precision(base.attack_precision, device())
    images, labels, _ = first_test_images("mnist", n)
    _warm_up()
    cells, times = [], []
    for model_name in models:
        for precision, seed in RUNS:
            config = TrainConfig("mnist", model_name, profile=f"{profile_name}-weights-{precision}", seed=seed)
            trained = train_model(config, progress=False)
            times.append({"model": model_name, "weights": precision, "seed": seed, "seconds": trained.seconds})
            for attack in ("natural", *ATTACK_KINDS["mnist"]):
                torch.manual_seed(0)
                if attack == "natural":
                    with torch.no_grad():
                        logits = trained.model(images.to(device()))
                    loss = torch.nn.functional.cross_entropy(logits, labels.to(device()), reduction="none")
                    correct = logits.argmax(1).cpu() == labels
                else:
                    result = attacked_scores(trained.model, images, labels, attack, evaluation, attack_precision)
                    loss, correct = result["pgd_loss"], result["pgd_correct"]
                cells.append({"model": model_name, "attack": attack, "run": f"{precision} s{seed}",
                              "loss": loss.float().mean().item(), "accuracy": 100 * correct.float().mean().item()})
            print(f"{config.key} ({precision} weights): trained in {trained.seconds:.1f} s", flush=True)
    grid = pd.DataFrame(cells).pivot_table(index=["model", "attack"], columns="run", values=["loss", "accuracy"],
                                           sort=False)
    return grid, pd.DataFrame(times)


def _warm_up() -> None:
    """One short training first, so that the one-time costs of a process (the dataset's first load, the fused
    optimizer's first use, the kernels' first calls) fall on none of the timed trainings."""
    train_model(TrainConfig("mnist", "standard", profile="smoke", seed=99), progress=False)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--models", nargs="+", default=["natural", "standard", "background"])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        os.environ["LAT_OUTPUT_ROOT"] = folder
        grid, times = gate(args.profile, args.models, args.n)
    chance = relative_change(grid["loss"]["fp32 s1"], grid["loss"]["fp32 s0"])
    bf16 = relative_change(grid["loss"]["bf16 s0"], grid["loss"]["fp32 s0"])
    chance_accuracy = (grid["accuracy"]["fp32 s1"] - grid["accuracy"]["fp32 s0"]).abs()
    bf16_accuracy = (grid["accuracy"]["bf16 s0"] - grid["accuracy"]["fp32 s0"]).abs()
    seconds = times.pivot_table(index="model", columns=["weights", "seed"], values="seconds")
    speedup = seconds[("fp32", 0)] / seconds[("bf16", 0)]
    pd.set_option("display.width", 200)
    print(grid.round(4).to_string())
    print("\ntraining seconds:\n" + seconds.round(1).to_string())
    summary = {
        "loss change (%), median: another training seed": statistics.median(chance),
        "loss change (%), median: bf16 weight pass": statistics.median(bf16),
        "accuracy change (points), max: another training seed": float(chance_accuracy.max()),
        "accuracy change (points), max: bf16 weight pass": float(bf16_accuracy.max()),
        "training speed-up of the bf16 weight pass, median over models": statistics.median(speedup),
    }
    for key, value in summary.items():
        print(f"{key}: {value:.3g}")
    moves_less = summary["loss change (%), median: bf16 weight pass"] <= summary[
        "loss change (%), median: another training seed"]
    print("verdict: the bf16 weight pass moves the grid " + ("no more than" if moves_less else "more than")
          + " another training seed does")
    result = {"measured": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", "machine": device_name(),
              "profile": args.profile, "models": args.models, "n": args.n, "summary": summary,
              "moves_no_more_than_a_seed": moves_less,
              "training_seconds": {f"{r.model}, {r.weights} s{r.seed}": round(r.seconds, 2) for r in times.itertuples()},
              "grid": {f"{m}, {a}, {col[0]} {col[1]}": round(v, 5) for (m, a), row in grid.iterrows()
                       for col, v in row.items()}}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
