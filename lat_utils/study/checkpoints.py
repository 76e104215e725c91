"""Where a model's training is kept: its checkpoint, its milestones, its log, and the fingerprint that ties
each file to the settings that made it.

Checkpoints live in ``runs/<profile>/`` under the model's key. Each one records its fingerprint (the full
config and the profile's training settings), so a checkpoint made with other settings is refused instead
of silently reused, and a damaged one is named, never rebuilt silently: a checkpoint is hours of training.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn as nn

from ..devices import device
from ..models import fast_layout, model_for
from ..paths import runs_dir, shown
from ..sealed import DamagedFileError, load_sealed, save_sealed
from ..spec.paper import TRAIN_PGD_ITERATE
from ..spec.settings import Profile
from .plan import TrainConfig

LOG_FIELDS = ("step", "eps", "loss", "accuracy", "seconds")
# The profile settings that decide a model's weights (a network's recipe sets some of them)
TRAINING_SETTINGS = ("train_steps", "batch_size", "learning_rate", "lr_schedule", "train_pgd_steps", "train_step_size",
                     "eps_warmup_fraction", "eps", "attack_precision", "weight_precision", "optimizer",
                     "label_smoothing", "augment")


def checkpoint_path(config: TrainConfig) -> Path:
    """``runs/<profile>/<key>.pt``: the weights, optimizer and random state of ``config``'s training."""
    return runs_dir(config.profile) / f"{config.key}.pt"


def log_path(config: TrainConfig) -> Path:
    """``runs/<profile>/<key>.csv``: the training log of ``config`` (``LOG_FIELDS``)."""
    return runs_dir(config.profile) / f"{config.key}.csv"


def fingerprint(config: TrainConfig) -> dict:
    """Everything that determines the trained weights: the config (its reading included) and the profile's
    training settings at its eps (and the milestones whose weights a training keeps, where the profile has
    any: a model trained without them cannot give its learning curve, so it is not taken for one)."""
    config = config.trained
    profile = config.settings
    training = {k: getattr(profile, k) for k in TRAINING_SETTINGS}
    training["train_pgd_iterate"] = TRAIN_PGD_ITERATE
    if profile.milestones:
        training["milestones"] = milestone_steps(profile)
    return {"config": asdict(config), "training": training}


def load_checkpoint(path: Path, config: TrainConfig) -> dict | None:
    """The checkpoint (or milestone) at ``path`` if there is one; a ValueError that names the file, what
    is wrong and how to recover if it is damaged or was made with another config."""
    if not path.exists():
        return None
    try:
        state = load_sealed(path, map_location=device())
    except DamagedFileError as error:
        raise ValueError(f"checkpoint {error}. Restore it from a copy, or delete it to train this model "
                         "anew (its milestones and evaluation are then redone too)") from error
    expected = fingerprint(config)
    if state.get("fingerprint") != expected:
        raise ValueError(
            f"checkpoint {shown(path)} was made with another config:\n  found    {state.get('fingerprint')}\n"
            f"  expected {expected}\nDelete it (or use another profile) to train this model anew."
        )
    return state


def save_checkpoint(config: TrainConfig, model_state: dict, optimizer_state: dict, step: int, done: bool,
                    seconds: float) -> None:
    """Write ``config``'s checkpoint atomically: a kill during the save leaves the previous one intact."""
    state = {"fingerprint": fingerprint(config), "step": step, "done": done, "seconds": seconds,
             "model": model_state, "optimizer": optimizer_state, "rng": torch.get_rng_state()}
    if torch.cuda.is_available():  # the attacks' random starts on a GPU come from its generator
        state["cuda_rng"] = torch.cuda.get_rng_state()
    save_sealed(checkpoint_path(config), state)


def restore_rng(state: dict) -> None:
    """Put torch's global generators where the checkpoint left them (the attacks' random starts).

    Everything else that decides the rest of a run is in the checkpoint too (weights, optimizer with
    its step count, the step itself) or a function of the step (batches, eps, learning rate), so a
    resumed training ends bit-identical to an uninterrupted one on the same device.
    """
    torch.set_rng_state(state["rng"].cpu())
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda_rng"].cpu())


def load_trained(config: TrainConfig) -> nn.Module:
    """The finished model of ``config`` (eval mode); a clear error if it is missing or unfinished."""
    state = load_checkpoint(checkpoint_path(config), config)
    if state is None or not state["done"]:
        what = "missing" if state is None else f"unfinished (step {state['step']})"
        raise FileNotFoundError(f"the model {config.key} ({config.profile} profile) is {what}: "
                                "run its training first (notebooks/02_train.ipynb or ./run_all.sh)")
    return model_with(config, state["model"])


def model_with(config: TrainConfig, weights: dict) -> nn.Module:
    """A network for ``config``'s dataset on this device holding ``weights``, in eval mode."""
    model = fast_layout(model_for(config.dataset, config.network), device())
    model.load_state_dict(weights)
    return model.eval()


# --- milestones: copies of the weights at fractions of training (the learning curves) ---

def milestone_steps(profile: Profile) -> list[int]:
    """The training steps at which ``profile`` keeps a copy of the weights (``Profile.milestones``)."""
    return sorted({max(1, round(f * profile.train_steps)) for f in profile.milestones})


def milestone_path(config: TrainConfig, step: int) -> Path:
    return runs_dir(config.profile) / "milestones" / f"{config.key}-step{step}.pt"   # the key: shared by readings


def save_milestone(config: TrainConfig, model_state: dict, step: int) -> None:
    save_sealed(milestone_path(config, step), {"fingerprint": fingerprint(config), "step": step, "model": model_state})


def load_milestone(config: TrainConfig, step: int) -> nn.Module:
    """The weights of ``config`` after ``step`` training steps (eval mode); a clear error if not kept."""
    path = milestone_path(config, step)
    state = load_checkpoint(path, config)
    if state is None:
        raise FileNotFoundError(f"no weights of {config.key} at step {step} ({config.profile} profile): "
                                "they are kept while it trains (notebooks/02_train.ipynb or ./run_all.sh)")
    if state.get("step") != step:
        raise ValueError(f"{shown(path)} holds step {state.get('step')}, not {step}: delete it and retrain this model")
    return model_with(config, state["model"])


# --- the optimizer state of models trained stacked, one model's share at a time ---

def optimizer_state_of(stacked_state: dict, index: int) -> dict:
    """Model ``index``'s share of an optimizer state over stacked parameters, in the format of the
    same optimizer over that model alone (per-parameter tensors sliced, scalars such as step copied)."""
    return {"state": {i: {k: v[index].clone() if torch.is_tensor(v) and v.ndim else copy.deepcopy(v)
                          for k, v in param_state.items()}
                      for i, param_state in stacked_state["state"].items()},
            "param_groups": copy.deepcopy(stacked_state["param_groups"])}


def stacked_optimizer_state(states: list[dict]) -> dict:
    """The inverse of ``optimizer_state_of``: one optimizer state over the stacked parameters."""
    first = states[0]
    return {"state": {i: {k: torch.stack([s["state"][i][k] for s in states]) if torch.is_tensor(v) and v.ndim
                          else copy.deepcopy(v) for k, v in param_state.items()}
                      for i, param_state in first["state"].items()},
            "param_groups": copy.deepcopy(first["param_groups"])}


# --- the training log ---

def append_log(path: Path, row: tuple) -> None:
    """Append one row of ``LOG_FIELDS`` to the log at ``path`` (with the header if the file is new)."""
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(LOG_FIELDS)
        writer.writerow(row)


def trim_log(path: Path, step: int) -> None:
    """Keep the log rows up to ``step``, the checkpoint's: later ones are steps an interruption lost, about
    to be redone. Rows that cannot be read (a blank or cut line, say, where a kill or a full disk
    stopped a write) are dropped and counted, so a damaged log never blocks a resume."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header = rows[:1] == [list(LOG_FIELDS)]
    readable = [row for row in rows[header:] if _log_row_step(row) is not None]
    damaged = len(rows) - header - len(readable)
    kept = [row for row in readable if _log_row_step(row) <= step] if step else []
    if damaged:
        print(f"{shown(path)}: {damaged} unreadable line(s) dropped; the log goes on from step {step}")
    if kept:
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([list(LOG_FIELDS), *kept])
    else:
        path.unlink()


def _log_row_step(row: list[str]) -> int | None:
    """The step of a log row whose fields are all numbers, else None."""
    if len(row) != len(LOG_FIELDS):
        return None
    try:
        for value in row:
            float(value)
        return int(row[0])
    except ValueError:
        return None
