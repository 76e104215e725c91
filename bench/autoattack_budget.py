"""How much localized AutoAttack does a profile need? The measurement behind its AutoAttack budgets.

    python bench/autoattack_budget.py [--profile quick] [--n 200] [--budgets 30/3/300,30/9/300]
                                      [--json bench/results/autoattack-budget-quick.json]

Takes the trained MNIST models of a profile (run its training first) and, for the cells where
robustness is at stake (each adversarially trained model under the standard attack and under its own
localization), runs the localized AutoAttack on the first ``--n`` test images with the quick profile's budget and with
the reference AutoAttack's "standard" settings (APGD 100 steps, 9 targets, Square 5,000 queries), and with
every other budget given as ``--budgets`` (APGD steps/targets/Square queries). It prints, per cell and budget,
the robust accuracy and the seconds it took,
and how far each budget's accuracy lies above the reference's: a profile can use the cheapest budget
that stays within one image in 100 of the reference on every cell. Nothing is asserted here.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from lat_utils.attacks import PGD, localized_autoattack, resolve_precision
from lat_utils.config import get_profile
from lat_utils.devices import device, device_name
from lat_utils.masks import epsilon_matrix
from lat_utils.models import fast_layout
from lat_utils.spec.budgets import CPU, STANDARD, AutoAttackBudget
from lat_utils.study import load_trained, study_models
from lat_utils.study.evaluation import first_test_images

REFERENCE = (STANDARD.apgd_steps, STANDARD.apgd_targets, STANDARD.square_queries)


def budget_list(text: str) -> list[tuple[int, int, int]]:
    """"30/3/300,30/9/300" -> [(30, 3, 300), (30, 9, 300)], with the reference budget added last."""
    budgets = [tuple(int(v) for v in part.split("/")) for part in text.split(",") if part]
    if any(len(b) != 3 for b in budgets):
        raise SystemExit(f"--budgets takes APGD-steps/targets/Square-queries, comma separated; got {text!r}")
    return list(dict.fromkeys([*budgets, REFERENCE]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--n", type=int, default=200, help="test images per cell")
    parser.add_argument("--budgets", default=f"{CPU.apgd_steps}/{CPU.apgd_targets}/{CPU.square_queries}",
                        help="budgets besides the reference, as APGD-steps/targets/Square-queries, comma separated")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    budgets = budget_list(args.budgets)
    previous = json.loads(Path(args.json).read_text())["rows"] if args.json and Path(args.json).exists() else []
    done = [r for r in previous if r["n"] == args.n]
    profile = get_profile(args.profile)
    precision = resolve_precision(profile.attack_precision, device())
    images, labels, _ = first_test_images("mnist", args.n)
    x, y = fast_layout(images, device()), labels.to(device())
    rows = []
    for config in study_models("mnist", args.profile):
        if config.localization == "natural":
            continue
        model = load_trained(config)
        for attack in dict.fromkeys(("standard", config.localization)):
            eps_matrix = epsilon_matrix(x, attack, profile.eps)
            for apgd_steps, targets, queries in budgets:
                same = [r for r in done if (r["model"], r["attack"], r["apgd_steps"], r["targets"], r["square_queries"])
                        == (config.name, attack, apgd_steps, targets, queries)]
                if same:
                    rows.append(same[0])
                    continue
                torch.manual_seed(0)
                start = time.perf_counter()
                result = localized_autoattack(model, x, y, eps_matrix, AutoAttackBudget(apgd_steps, targets, queries),
                                              pgd=PGD(steps=profile.eval_pgd_steps, step_size=profile.eval_step_size),
                                              precision=precision)
                row = {"model": config.name, "attack": attack, "apgd_steps": apgd_steps, "targets": targets,
                       "square_queries": queries, "n": args.n,
                       "accuracy": 100 * result.robust.float().mean().item(),
                       "pgd_accuracy": 100 * result.pgd_robust.float().mean().item(),
                       "broken_by": {name: result.broken_by.count(name) for name in set(result.broken_by) if name},
                       "seconds": time.perf_counter() - start}
                rows.append(row)
                print(row, flush=True)
    reference = {(r["model"], r["attack"]): r["accuracy"] for r in rows
                 if (r["apgd_steps"], r["targets"], r["square_queries"]) == REFERENCE}
    print(f"\nPGD-{profile.eval_pgd_steps} and each budget against the reference AutoAttack budget "
          f"({device_name()}, {args.n} images per cell):")
    for budget in budgets:
        part = [r for r in rows if (r["apgd_steps"], r["targets"], r["square_queries"]) == budget]
        excess = [r["accuracy"] - reference[(r["model"], r["attack"])] for r in part]
        print(f"APGD {budget[0]} steps, {budget[1]} targets, Square {budget[2]} queries: above the reference by at "
              f"most {max(excess):.2f} points; {sum(r['seconds'] for r in part):.0f} s in all")
    pgd_excess = [r["pgd_accuracy"] - reference[(r["model"], r["attack"])] for r in rows
                  if (r["apgd_steps"], r["targets"], r["square_queries"]) == REFERENCE]
    print(f"PGD-{profile.eval_pgd_steps} alone: above the reference by up to {max(pgd_excess):.2f} points")
    if args.json:  # rows of other budgets measured earlier are kept
        kept = [r for r in previous if r not in rows]
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "date": datetime.now(timezone.utc).isoformat(),
                       "profile": args.profile, "precision": precision, "rows": kept + rows}, f, indent=2)


if __name__ == "__main__":
    main()
