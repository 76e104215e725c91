"""Cross-evaluation: every model of a dataset on natural inputs and under every localized attack.

Each cell (model x input type) is measured on test images: natural inputs on the whole test set (one forward pass
per image, so the natural-loss claims, a few percent of a heavy-tailed mean, rest on 10,000 images), every attack on
the profile's first ``n_test`` (the first images of the same test set, so cells pair image by image):

- ``accuracy``: robust accuracy under the localized AutoAttack (``attacks.localized_autoattack``:
  the profile's masked PGD, APGD-CE, APGD-DLR, APGD-T and Square, the worst case per image); natural accuracy
  in the ``natural`` column. With its 95% Wilson interval (``accuracy_low``, ``accuracy_high``).
- ``loss``: the paper's measure, the mean cross-entropy; under an attack, per image the highest
  cross-entropy any gradient attack found. With a 95% bootstrap interval over test images.
- ``pgd_accuracy``, ``pgd_loss``: the profile's PGD alone (the paper's attack); ``pgd_overestimate``: how many
  points PGD's accuracy lies above AutoAttack's.

Results are cached per model in ``runs/<profile>/eval/`` (per cell, so an interrupted evaluation
resumes at the cell it was in), keyed by the attack settings and the checkpoint; each cell's random
starts are seeded from its name, so a resumed evaluation ends where an uninterrupted one would.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attacks import ATTACK_NAMES, PGD, localized_autoattack, resolve_precision
from ..data import load_dataset
from ..devices import device
from ..masks import epsilon_matrix
from ..models import fast_layout
from ..paths import runs_dir, tables_dir
from ..progress import tqdm
from ..sealed import DamagedFileError, load_sealed, save_sealed, seal_of
from ..spec.paper import ATTACK_KINDS
from ..spec.settings import Profile
from .checkpoints import checkpoint_path, load_trained
from .plan import TrainConfig, evaluated_models
from .stats import bootstrap_mean_interval, wilson_interval

EVAL_COLUMNS = ["dataset", "reading", "eps", "model", "localization", "projection", "variant", "network", "seed", "attack", "n", "loss", "loss_low", "loss_high", "accuracy", "accuracy_low",
                "accuracy_high", "pgd_loss", "pgd_accuracy", "pgd_overestimate", "broken_by", "pgd_steps", "apgd_steps",
                "apgd_targets", "square_queries", "precision", "collapsed", "exact_data"]
PER_IMAGE_COLUMNS = ["dataset", "reading", "model", "localization", "projection", "variant", "network", "seed", "attack", "image", "loss", "correct", "pgd_loss", "pgd_correct", "broken_by"]
BATCH = 500


def first_test_images(dataset: str, n: int | None, cap: int | None = None) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The first ``n`` test images (all when None) but at most ``cap`` (a dry run's ``image_cap``),
    their labels, and whether the data is exact."""
    images, labels, provenance = load_dataset(dataset, "test")
    return images[:n][:cap], labels[:n][:cap], provenance.exact


ONE_CLASS_SHARE = 0.9   # a model that predicts one class for more than this share of the test images has collapsed


def is_collapsed(model: nn.Module, images: torch.Tensor, threshold: float = ONE_CLASS_SHARE) -> bool:
    """True when one class takes more than ``threshold`` of the predictions: a model that did not learn."""
    with torch.no_grad():
        predictions = model(images.to(next(model.parameters()).device)).argmax(1)
    return predictions.bincount().max().item() > threshold * len(predictions)


def natural_scores(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: cross-entropy and correctness on the unattacked images."""
    dev = next(model.parameters()).device
    losses, correct = [], []
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            logits = model(fast_layout(images[start:start + BATCH], dev)).float()
            y = labels[start:start + BATCH].to(dev)
            losses.append(F.cross_entropy(logits, y, reduction="none").cpu())
            correct.append((logits.argmax(1) == y).cpu())
    return torch.cat(losses), torch.cat(correct)


def attacked_scores(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: str, profile: Profile,
                    precision: str) -> dict[str, torch.Tensor | list[str]]:
    """Per image under the localized AutoAttack with mask ``attack``: the highest cross-entropy, robust
    or not, PGD's loss and correctness alone, and which attack broke it."""
    dev = next(model.parameters()).device
    parts = []
    for start in range(0, len(images), BATCH):
        x, y = fast_layout(images[start:start + BATCH], dev), labels[start:start + BATCH].to(dev)
        parts.append(localized_autoattack(model, x, y, epsilon_matrix(x, attack, profile.eps), profile.autoattack,
                                          pgd=PGD(steps=profile.eval_pgd_steps, step_size=profile.eval_step_size),
                                          precision=precision))
    return {"loss": torch.cat([p.loss.cpu() for p in parts]), "correct": torch.cat([p.robust for p in parts]),
            "pgd_loss": torch.cat([p.pgd_loss.cpu() for p in parts]),
            "pgd_correct": torch.cat([p.pgd_robust for p in parts]),
            "broken_by": [name for p in parts for name in p.broken_by]}


def cell_row(config: TrainConfig, attack: str, cell: dict, profile: Profile, precision: str, collapsed: bool,
             exact: bool) -> dict:
    """One row of the evaluation table, with its intervals, from a cell's per-image results."""
    n = len(cell["loss"])
    loss = cell["loss"].double().numpy()
    correct = int(cell["correct"].sum())
    natural = attack == "natural"
    pgd_correct = correct if natural else int(cell["pgd_correct"].sum())
    counts = {name: sum(b == name for b in cell.get("broken_by", [])) for name in ATTACK_NAMES}
    return {
        **config.key_columns, "eps": profile.eps, "model": config.name, "attack": attack, "n": n,
        "loss": float(loss.mean()), **dict(zip(("loss_low", "loss_high"), bootstrap_mean_interval(loss))),
        "accuracy": correct / n, **dict(zip(("accuracy_low", "accuracy_high"), wilson_interval(correct, n))),
        "pgd_loss": float(loss.mean()) if natural else float(cell["pgd_loss"].double().mean()),
        "pgd_accuracy": pgd_correct / n, "pgd_overestimate": 100 * (pgd_correct - correct) / n,
        "broken_by": "" if natural else ", ".join(f"{k} {v}" for k, v in counts.items()),
        "pgd_steps": 0 if natural else profile.eval_pgd_steps, "apgd_steps": 0 if natural else profile.apgd_steps,
        "apgd_targets": 0 if natural else profile.apgd_targets,
        "square_queries": 0 if natural else profile.square_queries,
        "precision": "fp32" if natural else precision, "collapsed": collapsed, "exact_data": exact,
    }


def evaluate_model(config: TrainConfig, *, progress: bool = True) -> pd.DataFrame:
    """Every input type of the study on one trained model (rows of ``EVAL_COLUMNS``); cached per cell."""
    return table_of(config, evaluation_cache(config, progress=progress))


def evaluated_cells(config: TrainConfig, profile: Profile, load_model: Callable[[], nn.Module], cache_path: Path,
                    seal: str, *, salt: str = "", progress: bool = True) -> dict:
    """The cache of one model's evaluation: natural inputs on the whole test set (at most ``profile.image_cap``
    images) and every attack of its dataset under ``profile``'s localized AutoAttack on the first
    ``profile.n_test``, each cell computed only if missing.

    ``cache_path`` holds the cells (saved after each, so an interrupted evaluation resumes at the cell it
    was in); they are reused only if made with the same settings from the weights sealed as ``seal``
    (``sealed.seal_of`` the checkpoint). Each cell's
    random starts are seeded from the model, the cell and ``salt``. The model is loaded only if a cell is missing.
    """
    precision = resolve_precision(profile.attack_precision, device())
    all_images, all_labels, exact = first_test_images(config.dataset, None, profile.image_cap)
    images, labels = all_images[:profile.n_test], all_labels[:profile.n_test]
    settings = _settings(profile, precision, len(images), len(all_images))
    cache = load_cell_cache(cache_path, {"settings": settings, "checkpoint": seal})
    cache.update(profile=profile, precision=precision, exact=exact)
    model = None
    attacks = ("natural", *ATTACK_KINDS[config.dataset])
    for attack in tqdm(attacks, desc=f"evaluating {config.eval_key}{salt and ' ' + salt}", disable=not progress):
        if attack in cache["cells"]:
            continue
        model = model or load_model()
        if "collapsed" not in cache:
            cache["collapsed"] = is_collapsed(model, all_images)
        torch.manual_seed(_cell_seed(config, attack + salt))
        if attack == "natural":
            loss, correct = natural_scores(model, all_images, all_labels)
            cache["cells"][attack] = {"loss": loss, "correct": correct}
        else:
            cache["cells"][attack] = attacked_scores(model, images, labels, attack, profile, precision)
        save_cell_cache(cache_path, cache)
    return cache


def evaluation_cache(config: TrainConfig, *, progress: bool) -> dict:
    """``evaluated_cells`` of the finished model of ``config`` with its profile's settings."""
    return evaluated_cells(config, config.settings, lambda: load_trained(config), cache_path(config),
                           seal_of(checkpoint_path(config)), progress=progress)


def table_of(config: TrainConfig, cache: dict) -> pd.DataFrame:
    """The rows of ``EVAL_COLUMNS`` of an ``evaluated_cells`` cache, one per cell."""
    return pd.DataFrame([cell_row(config, attack, cell, cache["profile"], cache["precision"], cache["collapsed"],
                                  cache["exact"]) for attack, cell in cache["cells"].items()])[EVAL_COLUMNS]


def per_image_of(config: TrainConfig, cache: dict) -> pd.DataFrame:
    """The rows of ``PER_IMAGE_COLUMNS`` of an ``evaluated_cells`` cache."""
    frames = []
    for attack, cell in cache["cells"].items():
        n = len(cell["loss"])
        natural = attack == "natural"
        frames.append(pd.DataFrame({
            **config.key_columns, "model": config.name, "attack": attack, "image": np.arange(n),
            "loss": cell["loss"].numpy(), "correct": cell["correct"].numpy(),
            "pgd_loss": (cell["loss"] if natural else cell["pgd_loss"]).numpy(),
            "pgd_correct": (cell["correct"] if natural else cell["pgd_correct"]).numpy(),
            "broken_by": [""] * n if natural else cell["broken_by"]}))
    return pd.concat(frames, ignore_index=True)[PER_IMAGE_COLUMNS]


def cross_evaluate(dataset: str, profile_name: str, *, progress: bool = True) -> pd.DataFrame:
    """Every trained model of ``dataset`` x {natural, each attack} for every seed and reading of the eps
    (``evaluate_model`` each, computing only what is missing). Written to ``reports/<profile>/tables/eval_<dataset>.csv``,
    and the per-image results to ``per_image_<dataset>.csv.gz`` (the claims' paired bootstrap reads them)."""
    table, images = tables_of({c: evaluation_cache(c, progress=progress) for c in evaluated_models(dataset, profile_name)})
    table.to_csv(tables_dir(profile_name) / f"eval_{dataset}.csv", index=False)
    images.to_csv(tables_dir(profile_name) / f"per_image_{dataset}.csv.gz", index=False)
    return table


TEST_SET_COLUMNS = ["dataset", "model", "seed", "n", "accuracy", "accuracy_low", "accuracy_high", "loss", "exact_data"]


def test_set_accuracy(dataset: str, profile_name: str) -> pd.DataFrame:
    """Every trained model of ``dataset`` (its weights once: a natural model serves every reading) on natural inputs,
    which the evaluation measures on the whole test set: accuracy in % with its 95% Wilson interval, and the mean
    cross-entropy (rows of ``TEST_SET_COLUMNS``), read from the evaluation's caches (``cross_evaluate`` first); written
    to ``reports/<profile>/tables/test_set_<dataset>.csv``."""
    rows, first_reading = [], {}
    for config in evaluated_models(dataset, profile_name):
        first_reading.setdefault(config.trained, config)   # a natural model's natural inputs: the same at every reading
    for config in first_reading.values():
        cache = evaluation_cache(config, progress=False)
        losses, correct = cache["cells"]["natural"]["loss"], cache["cells"]["natural"]["correct"]
        low, high = wilson_interval(int(correct.sum()), len(correct))
        rows.append({"dataset": dataset, "model": config.name, "seed": config.seed, "n": len(correct),
                     "accuracy": 100 * float(correct.float().mean()), "accuracy_low": 100 * low,
                     "accuracy_high": 100 * high, "loss": float(losses.mean()), "exact_data": cache["exact"]})
    table = pd.DataFrame(rows, columns=TEST_SET_COLUMNS)
    table.to_csv(tables_dir(profile_name) / f"test_set_{dataset}.csv", index=False)
    return table


def tables_of(caches: dict[TrainConfig, dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evaluation table (``EVAL_COLUMNS``) and the per-image results (``PER_IMAGE_COLUMNS``) of several
    models' ``evaluated_cells`` caches."""
    return (pd.concat([table_of(c, cache) for c, cache in caches.items()], ignore_index=True),
            pd.concat([per_image_of(c, cache) for c, cache in caches.items()], ignore_index=True))


def pgd_overestimate(table: pd.DataFrame) -> pd.DataFrame:
    """How much the profile's PGD alone overestimates robust accuracy, per attacked cell, in points;
    ``flag`` where it does by more than 1 point."""
    attacked = table[table["attack"] != "natural"]
    out = attacked[["model", "reading", "seed", "attack", "n", "pgd_accuracy", "accuracy", "pgd_overestimate", "broken_by"]].copy()
    out[["pgd_accuracy", "accuracy"]] *= 100
    out = out.rename(columns={"pgd_accuracy": "PGD accuracy (%)", "accuracy": "AutoAttack accuracy (%)",
                              "pgd_overestimate": "PGD overestimate (points)"})
    out["flag"] = out["PGD overestimate (points)"] > 1.0
    return out.reset_index(drop=True)


# --- the evaluation cache: one file per model, one entry per cell ---

def _settings(profile: Profile, precision: str, n: int, n_natural: int) -> dict:
    """Everything a cached cell depends on besides the checkpoint: the images, the eps, the attacks' budgets."""
    return {"n": n, "n_natural": n_natural, "eps": profile.eps, "pgd_steps": profile.eval_pgd_steps, "pgd_step_size": profile.eval_step_size,
            **profile.autoattack.settings(), "precision": precision, "ensemble": list(ATTACK_NAMES)}


def cache_path(config: TrainConfig) -> Path:
    return runs_dir(config.profile) / "eval" / f"{config.eval_key}.pt"


def _cell_seed(config: TrainConfig, attack: str) -> int:
    return zlib.crc32(f"{config.eval_key}/{attack}".encode())


_STORED = ("key", "cells", "collapsed", "third_party")   # what a cache file holds; the rest is in memory only


def load_cell_cache(path: Path, key: dict) -> dict:
    """The cells cached at ``path`` if they were made under ``key`` (settings and checkpoint), else none.

    A cache that is damaged (its seal does not match), foreign, or whose cells do not hold one value
    per test image is said to be and rebuilt: it only saves time, and a wrong cell would change a number.
    """
    if path.exists():
        try:
            cache = load_sealed(path)
            if cache.get("key") == key:
                settings = key["settings"]   # the eps sweep's caches hold every cell on the same n images
                _check_cells(path, cache, settings["n"], settings.get("n_natural", settings["n"]))
                return {k: v for k, v in cache.items() if k in _STORED}
        except DamagedFileError as error:
            print(f"Rebuilding the evaluation cache: {error}")
    return {"key": key, "cells": {}}


def _check_cells(path: Path, cache: dict, n: int, n_natural: int) -> None:
    """Every cached cell holds a loss and a correctness per image, each of its columns ``n`` long (``n_natural``
    for the natural cell), and every cross-check holds per-image booleans; else a DamagedFileError that says which
    is not."""
    cells = cache.get("cells")
    if not isinstance(cells, dict):
        raise DamagedFileError(path, "has no table of cells")
    for attack, cell in cells.items():
        if not isinstance(cell, dict) or not {"loss", "correct"} <= set(cell):
            raise DamagedFileError(path, f"holds a cell {attack!r} without its losses and correctness")
        lengths = {name: len(column) for name, column in cell.items()}
        expected = n_natural if attack == "natural" else n
        if any(length != expected for length in lengths.values()):
            raise DamagedFileError(path, f"holds a cell {attack!r} with columns of lengths {lengths}, not {expected} "
                                         "(one per test image)")
    for entry, broken in cache.get("third_party", {}).items():
        if not isinstance(broken, torch.Tensor) or broken.dtype != torch.bool or len(broken) > n:
            raise DamagedFileError(path, f"holds a cross-check {entry!r} that is not one boolean per image")


def save_cell_cache(path: Path, cache: dict) -> None:
    """What ``load_cell_cache`` reads back (the profile and other in-memory extras are left out), sealed."""
    save_sealed(path, {k: v for k, v in cache.items() if k in _STORED})
