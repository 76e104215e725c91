"""The study's figures: localized adversarial digits, the loss and accuracy grids, training curves.

Each function returns its matplotlib Figure and, given ``path``, saves it as PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from .attacks import masked_pgd
from .config import ATTACK_KINDS, LOSS_SCALE
from .masks import epsilon_matrix


def _save(fig: plt.Figure, path: str | Path | None) -> plt.Figure:
    if path is not None:
        fig.savefig(path, dpi=130, bbox_inches="tight")
    return fig


def localized_examples(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, eps: float,
                       steps: int, step_size: float, path: str | Path | None = None) -> plt.Figure:
    """Figure 1 of the short version: per digit (row), the original and its four localized adversarial
    versions (standard, background, exact, broad), each with its perturbation below and the model's guess."""
    kinds = ATTACK_KINDS["mnist"]
    n = len(images)
    fig, axes = plt.subplots(2 * n, 1 + len(kinds), figsize=(1.6 * (1 + len(kinds)), 3.2 * n))
    with torch.no_grad():
        guess = model(images).argmax(1)
    for row in range(n):
        axes[2 * row, 0].imshow(images[row, 0], cmap="gray", vmin=0, vmax=1)
        axes[2 * row, 0].set_title(f"original: {guess[row].item()}", fontsize=8)
        axes[2 * row + 1, 0].axis("off")
    for col, kind in enumerate(kinds, start=1):
        x_adv = masked_pgd(model, images, labels, epsilon_matrix(images, kind, eps), steps=steps, step_size=step_size)
        with torch.no_grad():
            adv_guess = model(x_adv).argmax(1)
        for row in range(n):
            axes[2 * row, col].imshow(x_adv[row, 0], cmap="gray", vmin=0, vmax=1)
            axes[2 * row, col].set_title(f"{kind}: {adv_guess[row].item()}", fontsize=8,
                                         color="green" if adv_guess[row] == labels[row] else "red")
            axes[2 * row + 1, col].imshow((x_adv - images)[row, 0], cmap="seismic", vmin=-eps, vmax=eps)
            axes[2 * row + 1, col].set_title("perturbation", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Localized PGD (eps {eps:g}, {steps} steps) on the natural model; title = its guess",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def grid(table: pd.DataFrame, metric: str, *, scale_natural: float = 1.0) -> pd.DataFrame:
    """Model x attack grid of ``metric`` (mean over seeds), columns in the paper's order."""
    values = table.groupby(["model", "attack"], sort=False)[metric].mean().unstack()
    columns = [c for c in ("natural", *ATTACK_KINDS["mnist"]) if c in values.columns]
    values = values[columns]
    if scale_natural != 1.0:
        values = values.assign(natural=values["natural"] * scale_natural)
    return values.rename(columns={"natural": f"natural (x{scale_natural:g})" if scale_natural != 1 else "natural"})


def loss_grid(table: pd.DataFrame, dataset: str, path: str | Path | None = None) -> plt.Figure:
    """Figure 2: mean cross-entropy of each model (rows) on each input type (columns), natural column
    scaled as in the paper (x1000 MNIST, x100 CIFAR-10). Colours on a log scale: the values span decades."""
    values = grid(table, "loss", scale_natural=LOSS_SCALE[dataset])
    fig, ax = plt.subplots(figsize=(1.4 * values.shape[1] + 2, 0.6 * values.shape[0] + 1.5))
    positive = values.clip(lower=1e-4)
    sns.heatmap(np.log10(positive), annot=values.round(3), fmt="", cmap="rocket_r", cbar_kws={"label": "log10 loss"},
                ax=ax)
    ax.set_xlabel("input")
    ax.set_ylabel("model (trained on)")
    ax.set_title(f"Figure 2 ({dataset}): cross-entropy loss; lower is better")
    fig.tight_layout()
    return _save(fig, path)


def accuracy_grid(table: pd.DataFrame, dataset: str, path: str | Path | None = None) -> plt.Figure:
    """Accuracy (%) of each model on each input type: natural, or robust under the localized AutoAttack,
    with PGD alone's overestimate beside each attacked cell ("+x PGD")."""
    values = grid(table, "accuracy") * 100
    overestimate = grid(table, "pgd_overestimate") if "pgd_overestimate" in table else None
    labels = values.round(1).astype(str)
    if overestimate is not None:
        for column in values.columns:
            if column != "natural":
                labels[column] = labels[column] + "\n(+" + overestimate[column].round(1).astype(str) + " PGD)"
    fig, ax = plt.subplots(figsize=(1.6 * values.shape[1] + 2, 0.7 * values.shape[0] + 1.5))
    sns.heatmap(values, annot=labels, fmt="", cmap="viridis", vmin=0, vmax=100, cbar_kws={"label": "accuracy %"},
                annot_kws={"fontsize": 8}, ax=ax)
    ax.set_xlabel("input (attacks: localized AutoAttack)")
    ax.set_ylabel("model (trained on)")
    ax.set_title(f"Accuracy ({dataset}), %; in brackets: how many points PGD alone overestimates it")
    fig.tight_layout()
    return _save(fig, path)


VERDICT_COLOURS = {"supported": "tab:green", "direction only": "tab:olive", "inconclusive": "tab:gray",
                   "not supported": "tab:red", "not comparable": "tab:purple"}


def claims_forest(claims: pd.DataFrame, path: str | Path | None = None) -> plt.Figure:
    """The claims as a forest plot: per claim our value with its 95% interval (coloured by verdict), the
    paper's number (black diamond) and the boundary 0 (dashed); a symmetric-log axis, since values span decades."""
    rows = claims.dropna(subset=["ours (%)"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(rows) + 1.6))
    for i, row in rows.iterrows():
        colour = VERDICT_COLOURS.get(row["verdict"], "black")
        ax.plot([row["low (%)"], row["high (%)"]], [i, i], color=colour, linewidth=3, solid_capstyle="butt")
        ax.plot(row["ours (%)"], i, "o", color=colour, markersize=5)
        ax.plot(row["paper (%)"], i, "D", color="black", markersize=4)
    ax.axvline(0, color="gray", linestyle="--", linewidth=1)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{t[:80]}{'...' if len(t) > 80 else ''} [{v}]" for t, v in zip(rows["claim"], rows["verdict"])],
                       fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("% (less loss, more loss, or accuracy, as the claim states); symmetric log scale")
    handles = [plt.Line2D([], [], color=c, linewidth=3, label=v) for v, c in VERDICT_COLOURS.items()]
    handles.append(plt.Line2D([], [], marker="D", color="black", linestyle="", label="paper"))
    ax.legend(handles=handles, fontsize=7, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    ax.set_title("Claims: ours with 95% interval vs the paper's number")
    fig.tight_layout()
    return _save(fig, path)


def training_curves(logs: dict[str, pd.DataFrame], title: str, path: str | Path | None = None) -> plt.Figure:
    """Training loss, batch accuracy and eps over steps, one line per model."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for name, log in logs.items():
        smooth = log.rolling(5, min_periods=1).mean()
        axes[0].plot(log["step"], smooth["loss"], label=name)
        axes[1].plot(log["step"], 100 * smooth["accuracy"], label=name)
        axes[2].plot(log["step"], log["eps"], label=name)
    for ax, label in zip(axes, ("training loss (on its training inputs)", "batch accuracy %", "training eps")):
        ax.set_xlabel("step")
        ax.set_title(label)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
