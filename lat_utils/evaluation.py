"""Cross-evaluation: every model of a dataset on natural inputs and under every localized attack.

The paper's measure is the mean cross-entropy; we report accuracy and the number of test images
beside it. Results are tidy DataFrames (one row per model x attack x seed) and are cached in
``runs/<profile>/`` so a rerun only computes what is missing.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .attacks import masked_pgd, resolve_precision
from .checks import check_count
from .config import ATTACK_KINDS, get_profile
from .data import load_dataset
from .masks import epsilon_matrix
from .models import fast_layout
from .paths import runs_dir, tables_dir, write_atomically
from .report import device
from .training import TrainConfig, checkpoint_path, load_trained, study_models

EVAL_COLUMNS = ["dataset", "model", "seed", "attack", "loss", "accuracy", "n", "steps", "restarts",
                "precision", "collapsed", "exact_data"]


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    attack: str,
    *,
    eps: float,
    steps: int,
    step_size: float,
    restarts: int = 1,
    batch_size: int = 500,
    precision: str = "fp32",
) -> dict:
    """Mean cross-entropy and accuracy of ``model`` on ``images``, natural or under ``attack`` (a mask kind).

    Under an attack each image counts its worst case: the highest loss over the ``restarts``, and
    correct only if the natural image and every restart are classified correctly. ``precision`` is
    the attack's arithmetic (see ``masked_pgd``); the reported losses are always computed in float32.
    """
    check_count(restarts, "restarts")
    if attack != "natural" and restarts < 1:
        raise ValueError("an attack needs restarts >= 1")
    dev = next(model.parameters()).device
    total_loss, correct = 0.0, 0
    for start in range(0, len(images), batch_size):
        x, y = fast_layout(images[start:start + batch_size], dev), labels[start:start + batch_size].to(dev)
        worst_loss, always_right = _scores(model, x, y)
        if attack != "natural":
            eps_matrix = epsilon_matrix(x, attack, eps)
            worst_loss = torch.full_like(worst_loss, -float("inf"))
            for _ in range(restarts):
                x_adv = masked_pgd(model, x, y, eps_matrix, steps=steps, step_size=step_size, precision=precision)
                loss, right = _scores(model, x_adv, y)
                worst_loss, always_right = torch.maximum(worst_loss, loss), always_right & right
        total_loss += worst_loss.sum().item()
        correct += always_right.sum().item()
    return {"loss": total_loss / len(images), "accuracy": correct / len(images), "n": len(images)}


def _scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image cross-entropy and correctness."""
    with torch.no_grad():
        logits = model(x)
    return F.cross_entropy(logits, y, reduction="none"), logits.argmax(1) == y


def is_collapsed(model: nn.Module, images: torch.Tensor, threshold: float = 0.9) -> bool:
    """True when one class takes more than ``threshold`` of the predictions: a model that did not learn."""
    with torch.no_grad():
        predictions = model(images.to(next(model.parameters()).device)).argmax(1)
    return predictions.bincount().max().item() > threshold * len(predictions)


def test_subset(dataset: str, n: int | None, cap: int | None = None) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The first ``n`` test images (all when None) but at most ``cap`` (a dry run's ``image_cap``),
    their labels, and whether the data is exact."""
    images, labels, provenance = load_dataset(dataset, "test")
    return images[:n][:cap], labels[:n][:cap], provenance.exact


def cross_evaluate(dataset: str, profile_name: str, *, progress: bool = True) -> pd.DataFrame:
    """Every trained model of ``dataset`` x {natural, each attack} for every seed; saved as CSV.

    Returns a tidy DataFrame with the columns ``EVAL_COLUMNS``; also written to
    ``reports/<profile>/tables/eval_<dataset>.csv``.
    """
    profile = get_profile(profile_name)
    precision = resolve_precision(profile.attack_precision, device())
    images, labels, exact = test_subset(dataset, profile.n_test, profile.image_cap)
    attacks = ("natural", *ATTACK_KINDS[dataset])
    jobs = [(config, attack) for config in study_models(dataset, profile_name) for attack in attacks]
    rows = _cached_rows(dataset, profile_name)
    for config, attack in tqdm(jobs, desc=f"cross-evaluation {dataset}", disable=not progress):
        key = _row_key(config, attack, profile.eval_pgd_steps, 1, len(images), precision)
        if key in rows:
            continue
        model = load_trained(config)
        seed_cell(config, attack, profile.eval_pgd_steps, 1)
        result = evaluate(model, images, labels, attack, eps=profile.eps, steps=profile.eval_pgd_steps,
                          step_size=profile.eval_step_size, precision=precision)
        steps = profile.eval_pgd_steps if attack != "natural" else 0
        rows[key] = _record(config, attack, result, steps, 1, precision, is_collapsed(model, images), exact)
        _save_cache(dataset, profile_name, rows)
    keys = {_row_key(config, attack, profile.eval_pgd_steps, 1, len(images), precision) for config, attack in jobs}
    table = pd.DataFrame([rows[k] for k in rows if k in keys])[EVAL_COLUMNS]
    table.to_csv(tables_dir(profile_name) / f"eval_{dataset}.csv", index=False)
    return table


def attack_sanity(dataset: str, profile_name: str, *, progress: bool = True) -> pd.DataFrame:
    """Does robustness survive a stronger attack? For each adversarially trained model, under the
    standard attack and its own localization: accuracy with the profile's attack and with
    ``sanity_step_factor`` x the steps and ``sanity_restarts`` random restarts, on the first
    ``sanity_n`` test images. ``flag`` marks a drop of more than 1 point (the robustness may be an artefact of a weak attack).
    """
    profile = get_profile(profile_name)
    precision = resolve_precision(profile.attack_precision, device())
    images, labels, exact = test_subset(dataset, profile.sanity_n, profile.image_cap)
    strong_steps = profile.eval_pgd_steps * profile.sanity_step_factor
    settings = [(profile.eval_pgd_steps, profile.eval_step_size, 1),
                (strong_steps, profile.eval_step_size * profile.eval_pgd_steps / strong_steps, profile.sanity_restarts)]
    jobs = [(config, attack) for config in study_models(dataset, profile_name) if config.localization != "natural"
            for attack in dict.fromkeys(("standard", config.localization))]
    rows = _cached_rows(dataset, profile_name)
    out = []
    for config, attack in tqdm(jobs, desc=f"attack sanity {dataset}", disable=not progress):
        accuracies, model = [], None
        for steps, step_size, restarts in settings:
            key = _row_key(config, attack, steps, restarts, len(images), precision)
            if key not in rows:
                model = model or load_trained(config)
                seed_cell(config, attack, steps, restarts)
                result = evaluate(model, images, labels, attack, eps=profile.eps, steps=steps,
                                  step_size=step_size, restarts=restarts, precision=precision)
                rows[key] = _record(config, attack, result, steps, restarts, precision, is_collapsed(model, images),
                                    exact)
                _save_cache(dataset, profile_name, rows)
            accuracies.append(rows[key]["accuracy"])
        # in whole images, so that a drop of exactly 1 point is not flagged by a rounding error
        drop = 100 * (round(accuracies[0] * len(images)) - round(accuracies[1] * len(images))) / len(images)
        out.append({"dataset": dataset, "model": config.name, "seed": config.seed, "attack": attack,
                    "n": len(images), f"accuracy PGD-{settings[0][0]}": 100 * accuracies[0],
                    f"accuracy PGD-{strong_steps} x{profile.sanity_restarts} restarts": 100 * accuracies[1],
                    "drop (points)": drop, "flag": drop > 1.0})
    table = pd.DataFrame(out)
    table.to_csv(tables_dir(profile_name) / f"attack_sanity_{dataset}.csv", index=False)
    return table


def seed_cell(config: TrainConfig, attack: str, steps: int, restarts: int) -> None:
    """Seed torch's generators (the attacks' random starts) from what one evaluation cell is, so a
    cell gives the same numbers whichever cells ran before it: a resumed evaluation equals an
    uninterrupted one."""
    torch.manual_seed(zlib.crc32(f"{config.key}/{attack}/{steps}/{restarts}".encode()))


# --- the evaluation cache: one CSV per dataset and profile, keyed by model, attack and attack strength ---

def _cache_path(dataset: str, profile_name: str) -> Path:
    return runs_dir(profile_name) / f"eval-{dataset}.csv"


def _used_precision(attack: str, precision: str) -> str:
    """The attack's arithmetic as recorded: natural inputs are never attacked, so always fp32."""
    return "fp32" if attack == "natural" else precision


def _row_key(config: TrainConfig, attack: str, steps: int, restarts: int, n: int, precision: str) -> tuple:
    return (config.name, config.seed, attack, 0 if attack == "natural" else steps, restarts, n,
            _used_precision(attack, precision), _checkpoint_stamp(config))


def _record(config: TrainConfig, attack: str, result: dict, steps: int, restarts: int, precision: str,
            collapsed: bool, exact: bool) -> dict:
    """One row of the evaluation cache."""
    return {"dataset": config.dataset, "model": config.name, "seed": config.seed, "attack": attack, **result,
            "steps": steps, "restarts": restarts, "precision": _used_precision(attack, precision),
            "collapsed": collapsed, "exact_data": exact, "checkpoint": _checkpoint_stamp(config)}


def _checkpoint_stamp(config: TrainConfig) -> int:
    """Changes whenever the checkpoint is rewritten, so results of a retrained model are not reused."""
    path = checkpoint_path(config)
    return path.stat().st_mtime_ns if path.exists() else 0


def _cached_rows(dataset: str, profile_name: str) -> dict[tuple, dict]:
    path = _cache_path(dataset, profile_name)
    if not path.exists():
        return {}
    rows = {}
    for record in pd.read_csv(path).to_dict("records"):
        record.setdefault("precision", "fp32")  # caches written before the precision option were fp32
        key = (record["model"], int(record["seed"]), record["attack"], int(record["steps"]), int(record["restarts"]),
               int(record["n"]), record["precision"], int(record["checkpoint"]))
        rows[key] = record
    return rows


def _save_cache(dataset: str, profile_name: str, rows: dict[tuple, dict]) -> None:
    write_atomically(_cache_path(dataset, profile_name),
                     lambda tmp: pd.DataFrame(list(rows.values())).to_csv(tmp, index=False))
