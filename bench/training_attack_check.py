"""Does a profile's cheap training attack hold the robustness PGD-5 training gives? Issue 44's check of the
airbench-usual profile: its standard model (airbench94's network at 8/255, trained with PGD-2 of step eps/2 from a
random start, eps ramped over half of training) against the same model trained with the CPU profiles' PGD-5
(``budgets.training_pgd(5)``), every other setting equal.

    python bench/training_attack_check.py [--profile airbench-usual] [--model standard] [--json bench/results/NAME.json]

The profile's own model is the study's: trained, or reused from runs/<profile>/ (completed work is never redone).
The PGD-5 model is the profile "<profile>-pgd5" (``pgd5_profile``: the training attack changed alone), trained into
runs/<profile>-pgd5/. Both are evaluated as the profile evaluates (natural inputs on the test set; the localized
AutoAttack on its first ``n_test`` images under every mask of the dataset), and each row printed with its Wilson 95%
interval: the cheaper attack holds where its robust accuracies are within those intervals of PGD-5's. On a 2-core
CPU the PGD-5 model costs about twice the PGD-2 model's training (6 passes a step against 3).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import datetime, timezone

import pandas as pd

from lat_utils import config as lat_config
from lat_utils.devices import device_name
from lat_utils.spec.budgets import training_pgd
from lat_utils.spec.paper import EPS
from lat_utils.spec.settings import Profile
from lat_utils.study import TrainConfig, train_model
from lat_utils.study.evaluation import evaluate_model

CHECK_STEPS = 5   # the CPU profiles' training attack (config.CPU_PGD), the reference a cheaper attack is held to


def pgd5_profile(profile: Profile) -> Profile:
    """``profile`` with the CPU profiles' PGD-5 training attack and nothing else changed, named
    "<profile>-pgd5"."""
    return dataclasses.replace(profile, name=f"{profile.name}-pgd5", **training_pgd(CHECK_STEPS))


def compared(profile_name: str, model: str, *, progress: bool = True) -> pd.DataFrame:
    """The evaluation rows of ``model`` (a CIFAR-10 model kind) trained with ``profile_name``'s training attack and
    with PGD-5: one row per model and input type, with the training attack's name in "training attack"."""
    profile = lat_config.get_profile(profile_name)
    reference = pgd5_profile(profile)
    lat_config.PROFILES[reference.name] = reference
    network, = profile.cifar10_networks
    reading, = profile.cifar10_readings
    rows = []
    for checked in (profile, reference):
        config = TrainConfig("cifar10", model, profile=checked.name, seed=profile.seeds[0], reading=reading,
                             network=network)
        train_model(config, progress=progress)
        table = evaluate_model(config, progress=progress)
        table.insert(0, "training attack", f"PGD-{checked.train_pgd_steps}, step "
                                           f"{checked.train_step_size / EPS:g} eps")
        rows.append(table)
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="airbench-usual")
    parser.add_argument("--model", default="standard", help="the CIFAR-10 model kind trained both ways")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    table = compared(args.profile, args.model)
    shares = ["accuracy", "accuracy_low", "accuracy_high", "pgd_accuracy"]
    shown = table[["training attack", "attack", "n", *shares, "loss"]]
    print(shown.to_string(index=False, formatters={column: "{:.1%}".format for column in shares}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"what": f"{args.profile}'s {args.model} model, its training attack against PGD-5",
                       "processor": device_name(), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                       "rows": shown.to_dict(orient="records")}, f, indent=1)


if __name__ == "__main__":
    main()
