"""Helpers that several test modules share: a model's accuracy, the trainings of a plan, and a synthetic
evaluation for the claims."""

import numpy as np
import pandas as pd
import torch

from lat_utils import runner
from lat_utils.config import get_profile
from lat_utils.spec.paper import ATTACK_KINDS, MODEL_KINDS
from lat_utils.study import plan
from lat_utils.study.claims import claims_table


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(images).argmax(1) == labels).float().mean().item()


def trainings(stages: list[list[runner.Execution]]) -> list[runner.Execution]:
    """The executions of ``02_train`` in a plan (the first stage, beside the ImageNet attack)."""
    return [e for e in stages[0] if e.notebook == "02_train.ipynb"]


def training_config(execution: runner.Execution) -> plan.TrainConfig:
    """The model that an execution of ``02_train`` names, as the notebook builds it from its parameters."""
    p = execution.parameters
    return plan.TrainConfig(p["dataset"], p["localization"], p["projection"], p["profile"], p["seed"], p["reading"],
                            p["variant"], p["network"])


def synthetic_results(dataset, losses, seeds=(0,), n=200, noise=0.0, collapsed=()):
    """An evaluation table and its per-image results: ``losses`` maps model -> loss on every input, or
    model -> {attack: loss}; per-image losses scatter around it by ``noise`` (relative)."""
    rng = np.random.default_rng(0)
    rows, images = [], []
    for seed in seeds:
        for model in MODEL_KINDS[dataset]:
            for attack in ("natural", *ATTACK_KINDS[dataset]):
                loss = losses[model][attack] if isinstance(losses[model], dict) else losses[model]
                loss = loss * (1 + 0.1 * seed) if model == "standard" else loss  # training variance
                per_image = loss * (1 + noise * rng.standard_normal(n)).clip(min=0.01)
                key = {"localization": model, "projection": "per_step", "variant": "", "network": "paper_cnn"}
                rows.append({"dataset": dataset, "reading": "stated", "model": model, **key, "seed": seed, "attack": attack,
                             "loss": per_image.mean(), "accuracy": 0.9, "n": n, "collapsed": model in collapsed,
                             "exact_data": dataset == "mnist"})
                images.append(pd.DataFrame({"reading": "stated", "model": model, **key, "seed": seed, "attack": attack,
                                            "image": np.arange(n),
                                            "loss": per_image, "correct": np.arange(n) % 10 != 0,
                                            "pgd_loss": per_image, "pgd_correct": True, "broken_by": ""}))
    return pd.DataFrame(rows), pd.concat(images, ignore_index=True)


def claims_of(results, profile="quick"):
    tables = {d: r[0] for d, r in results.items()}
    per_image = {d: r[1] for d, r in results.items()}
    return claims_table(tables, per_image, get_profile(profile)).set_index("claim")
