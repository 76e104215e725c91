"""Does bf16 attack arithmetic move the loss grid? The gate for using ``precision="bf16"`` in a profile.

    python bench/precision_gate.py [--profile quick] [--json bench/results/precision-gate-quick.json]
    python bench/precision_gate.py --square [--n 100] [--json ...]     # the Square Attack alone
    python bench/precision_gate.py --compare OLD/tables NEW/tables [--csv out.csv]

Takes the trained models of a profile (run ``./run_all.sh --profile quick`` first) and evaluates every
model x attack cell of Figure 2 three times on the same test images: float32 attack arithmetic with
random-start seed 0, float32 with seed 1 (how much the grid moves by chance alone), and bf16 with
seed 0. It prints, per cell, the loss and accuracy of each, and summarizes how far bf16 moves the grid
compared with a change of random start. Nothing is asserted here; the verdict is printed.

``--square`` gates the Square Attack instead of PGD (``masked_square`` with the profile's queries, on the first
``--n`` test images of the profile's; the loss is the cross-entropy at Square's points): the localized AutoAttack
runs Square in float32 because this gate fails.

``--compare`` instead sets two finished runs side by side (their ``eval_<dataset>.csv`` tables, e.g.
models trained with fp32 attacks against models trained with bf16 attacks): per cell, both losses
and accuracies and the change.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from lat_utils.attacks import masked_square, resolve_precision
from lat_utils.config import get_profile
from lat_utils.devices import device, device_name
from lat_utils.masks import epsilon_matrix
from lat_utils.models import fast_layout
from lat_utils.spec.paper import ATTACK_KINDS, DATASETS
from lat_utils.study import load_trained, study_models
from lat_utils.study.evaluation import attacked_scores, first_test_images, natural_scores

VARIANTS = (("fp32", 0), ("fp32", 1), ("bf16", 0))


def gate_table(profile_name: str, square: bool = False, n: int | None = None) -> pd.DataFrame:
    """One row per model x attack: loss and accuracy under each variant of ``VARIANTS`` (of the profile's PGD
    alone, or of the Square Attack alone), on the first ``n`` of the profile's test images."""
    profile = get_profile(profile_name)
    rows = []
    for dataset in DATASETS:
        images, labels, _ = first_test_images(dataset, profile.n_test)
        images, labels = images[:n], labels[:n]
        for config in study_models(dataset, profile_name):
            model = load_trained(config)
            for attack in ATTACK_KINDS[dataset]:
                row = {"dataset": dataset, "model": config.name, "seed": config.seed, "attack": attack}
                for precision, seed in VARIANTS:
                    torch.manual_seed(seed)
                    loss, correct = (square_scores if square else pgd_scores)(model, images, labels, attack, profile,
                                                                              precision)
                    row[f"loss {precision} s{seed}"] = loss.mean().item()
                    row[f"accuracy {precision} s{seed}"] = 100 * correct.float().mean().item()
                rows.append(row)
                print(row, flush=True)
    return pd.DataFrame(rows)


def pgd_scores(model, images, labels, attack: str, profile, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: cross-entropy and correctness under the profile's PGD alone (the localized AutoAttack with its
    other attacks switched off)."""
    pgd_only = dataclasses.replace(profile, apgd_steps=0, square_queries=0)
    result = attacked_scores(model, images, labels, attack, pgd_only, precision)
    return result["pgd_loss"], result["pgd_correct"]


def square_scores(model, images, labels, attack: str, profile, precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: cross-entropy and correctness (float32) at the points of ``masked_square`` with the profile's
    queries in ``precision``."""
    x = fast_layout(images, device())
    y = labels.to(x.device)
    adversarial = masked_square(model, x, y, epsilon_matrix(x, attack, profile.eps), queries=profile.square_queries,
                                precision=precision)
    return natural_scores(model, adversarial, y)


def relative_change(a: pd.Series, b: pd.Series) -> pd.Series:
    """|a - b| / b in percent."""
    return 100 * (a - b).abs() / b.abs()


def compare_runs(before: Path, after: Path) -> pd.DataFrame:
    """Every cell of two runs' cross-evaluation tables: loss and accuracy before and after."""
    tables = []
    for dataset in DATASETS:
        a, b = (pd.read_csv(folder / f"eval_{dataset}.csv").set_index(["dataset", "model", "attack"])
                for folder in (before, after))
        tables.append(pd.DataFrame({"loss before": a["loss"], "loss after": b["loss"],
                                    "accuracy before": 100 * a["accuracy"], "accuracy after": 100 * b["accuracy"]}))
    table = pd.concat(tables)
    table["loss change (%)"] = relative_change(table["loss after"], table["loss before"])
    table["accuracy change (points)"] = table["accuracy after"] - table["accuracy before"]
    return table.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--json", default=None)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), default=None,
                        help="two folders with eval_<dataset>.csv tables to set side by side")
    parser.add_argument("--csv", default=None, help="with --compare: also save the table here")
    parser.add_argument("--square", action="store_true", help="gate the Square Attack instead of PGD")
    parser.add_argument("--n", type=int, default=None, help="the first this many of the profile's test images")
    args = parser.parse_args()
    if args.compare:
        table = compare_runs(*args.compare)
        pd.set_option("display.width", 200)
        print(table.round(4).to_string(index=False))
        print(f"\nloss change: median {table['loss change (%)'].median():.2f}%, max {table['loss change (%)'].max():.2f}%; "
              f"accuracy change: max {table['accuracy change (points)'].abs().max():.1f} points")
        if args.csv:
            table.to_csv(args.csv, index=False)
        return
    if resolve_precision("auto", device()) != "bf16":
        print(f"note: {device_name()} has no native bf16; the bf16 column is emulated (slow, same numbers)")
    table = gate_table(args.profile, args.square, args.n)
    chance = relative_change(table["loss fp32 s1"], table["loss fp32 s0"])
    bf16 = relative_change(table["loss bf16 s0"], table["loss fp32 s0"])
    chance_acc = (table["accuracy fp32 s1"] - table["accuracy fp32 s0"]).abs()
    bf16_acc = (table["accuracy bf16 s0"] - table["accuracy fp32 s0"]).abs()
    summary = {
        "loss change (%), median: random start": statistics.median(chance),
        "loss change (%), median: bf16": statistics.median(bf16),
        "loss change (%), max: random start": chance.max(),
        "loss change (%), max: bf16": bf16.max(),
        "accuracy change (points), max: random start": chance_acc.max(),
        "accuracy change (points), max: bf16": bf16_acc.max(),
    }
    # the grid "does not move" when bf16 moves it no more than drawing another random start does (x2 slack)
    passed = (summary["loss change (%), median: bf16"] <= 2 * summary["loss change (%), median: random start"]
              and summary["accuracy change (points), max: bf16"] <= 2 * summary["accuracy change (points), max: random start"])
    pd.set_option("display.width", 200)
    attack = "the Square Attack" if args.square else "PGD"
    print(f"\nPrecision gate of {attack}, {args.profile} profile, {device_name()}, torch {torch.__version__}, "
          f"{datetime.now(timezone.utc):%Y-%m-%d}\n")
    print(table.round(4).to_string(index=False))
    print()
    for name, value in summary.items():
        print(f"{name:<46} {value:8.3f}")
    print(f"\nverdict: bf16 {'does not move' if passed else 'MOVES'} the loss grid more than a change of random start")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"profile": args.profile, "attack": "square" if args.square else "pgd",
                       "n": args.n or get_profile(args.profile).n_test, "device": device_name(), "torch": torch.__version__,
                       "date": datetime.now(timezone.utc).isoformat(), "summary": summary, "passed": bool(passed),
                       "cells": table.to_dict("records")}, f, indent=2)


if __name__ == "__main__":
    main()
