"""The study's figures: localized adversarial digits, one attack laid open, the loss and accuracy grids,
training curves.

Each function returns its matplotlib Figure and, given ``path``, saves it as PNG.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib
import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..images import save_figure
from ..spec.paper import (
    ATTACK_KINDS,
    LOSS_SCALE,
)
from ..spec.recipes import PAPER_CNN

# the readings of the CIFAR-10 eps, as eps x 255 and a short label, for the eps sweep's figure


def _seaborn():
    """seaborn, imported on first use: it loads scipy.stats (seconds), which most notebooks never need."""
    import seaborn

    return seaborn


def _save(fig: plt.Figure, path: str | Path | None) -> plt.Figure:
    if path is not None:
        save_figure(fig, path, dpi=130, bbox_inches="tight")
    return fig


def localized_examples(images: torch.Tensor, labels: torch.Tensor, adversarial: dict[str, torch.Tensor],
                       guesses: dict[str, torch.Tensor], *, eps: float, title: str = "",
                       path: str | Path | None = None) -> plt.Figure:
    """Figure 1 of the short version, drawn from attacks computed by the caller: per digit (row), the original
    and each adversarial version (``adversarial``: one batch per localization, in column order) with its
    perturbation below; the titles give the model's guess (``guesses``: per column name, "original" first),
    green when correct, red when wrong."""
    n = len(images)
    fig, axes = plt.subplots(2 * n, 1 + len(adversarial), figsize=(1.6 * (1 + len(adversarial)), 3.2 * n))
    for row in range(n):
        axes[2 * row, 0].imshow(images[row, 0], cmap="gray", vmin=0, vmax=1)
        axes[2 * row, 0].set_title(f"original: {guesses['original'][row].item()}", fontsize=8,
                                   color="green" if guesses["original"][row] == labels[row] else "red")
        axes[2 * row + 1, 0].axis("off")
    for col, (kind, x_adv) in enumerate(adversarial.items(), start=1):
        for row in range(n):
            axes[2 * row, col].imshow(x_adv[row, 0], cmap="gray", vmin=0, vmax=1)
            axes[2 * row, col].set_title(f"{kind}: {guesses[kind][row].item()}", fontsize=8,
                                         color="green" if guesses[kind][row] == labels[row] else "red")
            axes[2 * row + 1, col].imshow((x_adv - images)[row, 0], cmap="seismic", vmin=-eps, vmax=eps)
            axes[2 * row + 1, col].set_title("perturbation", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _picture(image: torch.Tensor) -> np.ndarray:
    """One (C, H, W) image as imshow takes it: (H, W) for one channel, (H, W, C) for colour."""
    image = image.detach().float().cpu()
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()


def attack_anatomy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, eps_matrix: torch.Tensor,
                   adversarial: torch.Tensor, *, title: str = "", path: str | Path | None = None) -> plt.Figure:
    """A localized attack in four rows, one column per image: the image with the model's guess, its
    epsilon matrix (white: may change, black: fixed), the perturbation, and the adversarial image with
    the model's guess (green when still correct)."""
    with torch.no_grad():
        before, after = model(images).argmax(1).cpu(), model(adversarial).argmax(1).cpu()
    labels, eps = labels.cpu(), float(eps_matrix.max()) or 1.0
    perturbation = (adversarial - images).detach().float().cpu().mean(1)  # channels averaged
    n = len(images)
    fig, axes = plt.subplots(4, n, figsize=(1.5 * n, 6.4), squeeze=False)
    for i in range(n):
        axes[0, i].imshow(_picture(images[i]), cmap="gray", vmin=0, vmax=1)
        axes[0, i].set_title(f"guess {before[i].item()}", fontsize=8,
                             color="green" if before[i] == labels[i] else "red")
        axes[1, i].imshow(eps_matrix[i].detach().float().cpu().amax(0), cmap="gray", vmin=0, vmax=eps)
        axes[2, i].imshow(perturbation[i], cmap="seismic", vmin=-eps, vmax=eps)
        axes[3, i].imshow(_picture(adversarial[i]), cmap="gray", vmin=0, vmax=1)
        axes[3, i].set_title(f"guess {after[i].item()}", fontsize=8, color="green" if after[i] == labels[i] else "red")
    for row, name in enumerate(("image", "epsilon matrix", "perturbation", "adversarial")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def with_readings(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each model named with its reading of the eps (``natural @ eps raw``) where it holds
    several readings (CIFAR-10's), so that a model at one eps is never averaged with another."""
    if "reading" not in table or table["reading"].nunique() < 2:
        return table
    return table.assign(model=table["model"] + " @ eps " + table["reading"])


def grid(table: pd.DataFrame, metric: str, *, scale_natural: float = 1.0) -> pd.DataFrame:
    """Model x attack grid of ``metric`` (mean over seeds), columns in the paper's order."""
    values = with_readings(table).groupby(["model", "attack"], sort=False)[metric].mean().unstack()
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
    _seaborn().heatmap(np.log10(positive), annot=values.round(3), fmt="", cmap="rocket_r", cbar_kws={"label": "log10 loss"},
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
    _seaborn().heatmap(values, annot=labels, fmt="", cmap="viridis", vmin=0, vmax=100, cbar_kws={"label": "accuracy %"},
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
    labels = _claim_labels(rows)
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(rows) + 1.6))
    for i, row in rows.iterrows():
        colour = VERDICT_COLOURS.get(row["verdict"], "black")
        ax.plot([row["low (%)"], row["high (%)"]], [i, i], color=colour, linewidth=3, solid_capstyle="butt")
        ax.plot(row["ours (%)"], i, "o", color=colour, markersize=5)
        ax.plot(row["paper (%)"], i, "D", color="black", markersize=4)
    ax.axvline(0, color="gray", linestyle="--", linewidth=1)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{t[:100]}{'...' if len(t) > 100 else ''} [{v}]" for t, v in zip(labels, rows["verdict"])],
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


def learning_curves(curves: pd.DataFrame, dataset: str, paper_steps: int, paper_values: dict[tuple[str, str], float],
                    path: str | Path | None = None) -> plt.Figure:
    """Each claim's quantity against training steps (log axis), one line per model (the mean over seeds,
    shaded between the lowest and highest seed): loss (top) and accuracy (bottom) on natural inputs, under
    the standard attack and under each model's own localization. ``paper_values[(model, column)]``, where
    the paper gives one, is marked as a star at its ``paper_steps``; column is "natural", "standard" or "own"."""
    curves = with_readings(curves)
    columns = ("natural", "standard", "own")
    titles = {"natural": "natural inputs", "standard": "standard attack", "own": "the model's own localization"}
    own = curves[(curves["attack"] == curves["localization"]) & (curves["attack"] != "natural")]
    data = pd.concat([curves.assign(column=curves["attack"]), own.assign(column="own")], ignore_index=True)
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), sharex=True)
    palette = _seaborn().color_palette("tab10")
    colours = {model: palette[i % len(palette)] for i, model in enumerate(data["model"].unique())}  # > 10 models: again
    for col, column in enumerate(columns):
        part = data[data["column"] == column]
        for row, metric in enumerate(("loss", "accuracy")):
            ax = axes[row, col]
            scale = 100 if metric == "accuracy" else 1
            for model, lines in part.groupby("model", sort=False):
                stats = lines.groupby("step")[metric].agg(["mean", "min", "max"]) * scale
                seeds = lines["seed"].nunique()
                ax.plot(stats.index, stats["mean"], "o-", markersize=3, color=colours[model],
                        label=f"{model} ({seeds} seed{'s' if seeds > 1 else ''})")
                if seeds > 1:
                    ax.fill_between(stats.index, stats["min"], stats["max"], color=colours[model], alpha=0.2)
                paper = paper_values.get((model, column)) if metric == "loss" else paper_values.get((model, f"{column} accuracy"))
                if paper is not None:
                    ax.plot(paper_steps, paper * (100 if metric == "accuracy" else 1), "*", markersize=12,
                            color=colours[model], markeredgecolor="black")
            ax.set_xscale("log")
            if metric == "loss":
                ax.set_yscale("log")
            ax.set_title(f"{'cross-entropy' if metric == 'loss' else 'accuracy %'}: {titles[column]}", fontsize=9)
            if row == 1:
                ax.set_xlabel("training steps (log)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Learning curves ({dataset}): each milestone of training on the first {curves['n'].max()} test "
                 f"images, attacks: PGD-{curves['pgd_steps'].max()}; stars: the paper's values (after "
                 f"{paper_steps:,} steps)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _claim_labels(claims: pd.DataFrame) -> list[str]:
    """Each claim's text, with its reading of the eps where the table holds several (CIFAR-10's readings), and the
    network it was judged on where that is not the paper's CNN (a ``network`` column, ``claims_by_network``)."""
    readings = claims["reading"].fillna("")
    several = readings[readings != ""].nunique() > 1
    return [(f"{claim} @ eps {reading}" if several and reading else claim)
            + ("" if network == PAPER_CNN else f" (on {network})")
            for claim, reading, network in zip(claims["claim"], readings, claims["network"])]


def claims_across_budgets(budgets: pd.DataFrame, path: str | Path | None = None) -> plt.Figure:
    """One panel per claim: our value with its 95% interval at every budget (training steps, log axis;
    circles: milestones, squares: the end of a profile), coloured by verdict; the paper's number dashed,
    0 dotted."""
    budgets = budgets.assign(label=_claim_labels(budgets))
    claims = list(dict.fromkeys(budgets.dropna(subset=["ours (%)"])["label"]))
    if not claims:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "No claims to compare: no profile has a claims table yet", ha="center", va="center")
        return _save(fig, path)
    columns = 3
    rows = -(-len(claims) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 2.6 * rows), squeeze=False)
    for ax, claim in zip(axes.flat, claims):
        part = budgets[budgets["label"] == claim]
        for profile, lines in part.groupby("profile", sort=False):
            ends = lines["budget"].str.endswith(", end")
            milestones = lines[~ends]
            if len(milestones):
                ax.plot(milestones["step"], milestones["ours (%)"], "-", color="gray", linewidth=0.8)
            for _, point in lines.iterrows():
                colour = VERDICT_COLOURS.get(point["verdict"], "black")
                marker = "s" if point["budget"].endswith(", end") else "o"
                ax.errorbar(point["step"], point["ours (%)"],
                            yerr=[[point["ours (%)"] - point["low (%)"]], [point["high (%)"] - point["ours (%)"]]],
                            fmt=marker, color=colour, markersize=5, capsize=2)
        paper = part["paper (%)"].iloc[0]
        if not np.isnan(paper):
            ax.axhline(paper, color="black", linestyle="--", linewidth=1)
        ax.axhline(0, color="gray", linestyle=":", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=10)
        ax.set_title("\n".join(textwrap.wrap(claim, 75)), fontsize=7)   # whole: its reading and network end it
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(claims):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], marker="o", color=c, linestyle="", label=v) for v, c in VERDICT_COLOURS.items()]
    handles += [plt.Line2D([], [], marker="s", color="black", linestyle="", label="end of a profile"),
                plt.Line2D([], [], color="black", linestyle="--", label="paper")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle("Claims across training budgets: ours (%) with 95% interval against training steps (log)", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return _save(fig, path)


def claims_by_configuration(by_configuration: pd.DataFrame, path: str | Path | None = None) -> plt.Figure:
    """Claims x configurations of training (the deviations study): each cell coloured by its verdict, with our
    value in it; a claim whose row has one colour is robust to our cuts."""
    frame = by_configuration.assign(label=_claim_labels(by_configuration))
    verdicts = frame.pivot_table(index="label", columns="configuration", values="verdict", aggfunc="first", sort=False)
    values = frame.pivot_table(index="label", columns="configuration", values="ours (%)", aggfunc="first", sort=False)
    values = values.reindex(index=verdicts.index, columns=verdicts.columns)
    colours = list(VERDICT_COLOURS.values())
    codes = verdicts.apply(lambda column: column.map(list(VERDICT_COLOURS).index)).astype(float)
    fig, ax = plt.subplots(figsize=(2.0 + 1.5 * len(verdicts.columns), 0.42 * len(verdicts) + 2.0))
    ax.imshow(codes.to_numpy(), cmap=matplotlib.colors.ListedColormap(colours), vmin=-0.5,
              vmax=len(colours) - 0.5, aspect="auto")
    for (i, j), value in np.ndenumerate(values.to_numpy()):
        ax.text(j, i, "" if np.isnan(value) else f"{value:.3g}", ha="center", va="center", fontsize=7, color="white")
    ax.set_xticks(range(len(verdicts.columns)))
    ax.set_xticklabels(verdicts.columns, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(verdicts)))
    ax.set_yticklabels([t if len(t) <= 90 else t[:87] + "..." for t in verdicts.index], fontsize=7)
    handles = [matplotlib.patches.Patch(color=c, label=v) for v, c in VERDICT_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    ax.set_title("Each claim under each configuration of training: verdict (colour) and our value (%)")
    fig.tight_layout()
    return _save(fig, path)
