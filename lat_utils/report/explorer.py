"""The explorer (``notebooks/07_explorer.ipynb``): any finished model of a profile under any mask and eps.

``finished_models`` lists what can be explored, ``attack_outcome`` tabulates what an attack did to each
image, and ``explorer_controls`` builds the JupyterLab widgets (dataset, model, mask, eps) that call the
notebook's view with the chosen values. The attack itself is in the notebook, in the open.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..spec.paper import ATTACK_KINDS, DATASETS
from ..study.checkpoints import checkpoint_path, load_checkpoint
from ..study.plan import TrainConfig, evaluated_models, explorer_name


def finished_models(profile: str) -> dict[str, dict[str, TrainConfig]]:
    """Per dataset, the models of ``profile`` whose training has finished, as the evaluation attacks them (a
    natural CIFAR-10 model at each reading of its eps), by name: the model's name in tables, with its reading
    when it is not the stated eps and its seed when it is not the profile's first."""
    found: dict[str, dict[str, TrainConfig]] = {}
    for dataset in DATASETS:
        for config in evaluated_models(dataset, profile):
            state = load_checkpoint(checkpoint_path(config), config)
            if state is None or not state["done"]:
                continue
            found.setdefault(dataset, {})[explorer_name(config)] = config
    return found


def model_config(models: dict[str, dict[str, TrainConfig]], dataset: str, model: str) -> TrainConfig:
    """The config of ``model`` among the finished ``models`` of ``dataset``; a clear error naming the choices."""
    if dataset not in models:
        raise ValueError(f"no finished model of {dataset!r} in this profile: finished are {sorted(models) or 'none'}"
                         " (./run_all.sh trains them)")
    if model not in models[dataset]:
        raise ValueError(f"no finished {dataset} model {model!r}: choose one of {list(models[dataset])}")
    return models[dataset][model]


def attack_outcome(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   adversarial: torch.Tensor) -> pd.DataFrame:
    """Per image: its label, the model's prediction and cross-entropy before and after the attack."""
    with torch.no_grad():
        before, after = model(images), model(adversarial)
    return pd.DataFrame({
        "label": labels.tolist(),
        "prediction": before.argmax(1).tolist(),
        "loss": F.cross_entropy(before, labels, reduction="none").tolist(),
        "attacked prediction": after.argmax(1).tolist(),
        "attacked loss": F.cross_entropy(after, labels, reduction="none").tolist(),
    })


def explorer_controls(models: dict[str, dict[str, TrainConfig]], view: Callable[..., None], *, dataset: str,
                      model: str, mask: str, eps_scale: float):
    """The explorer's widgets, starting at the given values: a dataset, one of its finished ``models``, a
    mask of that dataset and eps as a multiple of the profile's (0.05 to 2). Each change calls
    ``view(dataset=..., model=..., mask=..., eps_scale=...)`` once and shows what it draws below them (a new
    dataset resets the model and mask first); nothing is drawn before the first change (the notebook shows
    the starting view itself)."""
    import ipywidgets as widgets

    datasets = widgets.Dropdown(options=sorted(models), value=dataset, description="dataset")
    names = widgets.Dropdown(options=list(models[dataset]), value=model, description="model")
    masks = widgets.Dropdown(options=ATTACK_KINDS[dataset], value=mask, description="mask")
    scale = widgets.FloatSlider(value=eps_scale, min=0.05, max=2.0, step=0.05, description="eps x profile's")
    shown = widgets.Output()
    resetting = []  # non-empty while a new dataset resets the other controls: one redraw, not three

    def redraw(_: dict | None = None) -> None:
        if resetting:
            return
        with shown:
            shown.clear_output(wait=True)
            view(dataset=datasets.value, model=names.value, mask=masks.value, eps_scale=scale.value)

    def dataset_changed(change: dict) -> None:
        resetting.append(True)
        names.options, masks.options = list(models[change["new"]]), ATTACK_KINDS[change["new"]]
        resetting.clear()
        redraw()

    datasets.observe(dataset_changed, names="value")
    for control in (names, masks, scale):
        control.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox([datasets, names, masks, scale]), shown])
