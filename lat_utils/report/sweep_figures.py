"""The eps sweep's figures: the share of its accuracy a natural model keeps against eps, and the eps at which it
falls to the paper's CIFAR-10 share against the size of the central block the background attack leaves alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..spec.paper import (
    BACKGROUND_CENTER,
    CIFAR10_READINGS,
    EPS,
    PAPER_CIFAR10_KEPT,
    PAPER_MNIST_EXACT_ACCURACY,
    PAPER_MNIST_NATURAL_ACCURACY,
    READING_LABELS,
)
from .plots import _save

_SWEEP_READINGS = sorted((eps * 255, READING_LABELS[name].split(" (")[0]) for name, eps in CIFAR10_READINGS.items())
# The block that leaves CIFAR-10 (32 x 32) the share of the image MNIST's 6 x 6 block leaves MNIST (28 x 28): its side
MNIST_SHARE_SIDE = BACKGROUND_CENTER * 32 / 28


def eps_sweep_figure(table: pd.DataFrame, crossings: pd.DataFrame | None = None,
                     path: str | Path | None = None) -> plt.Figure:
    """The eps sweep: the share of its natural accuracy (%) the natural model keeps under each localized
    attack, against eps x 255 (log axis), one line per series (mask, central block) shaded over its 95%
    interval, one panel per dataset; on CIFAR-10 the paper's share (62.3%) dashed, the three readings of its
    eps dotted (0.3/255, 8/255, 76.5/255 = 0.3), and where each series crosses the paper's share marked; on
    MNIST the paper's share at its eps 0.3 (a star)."""
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(1, max(len(datasets), 1), figsize=(6.5 * max(len(datasets), 1), 4.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        part = table[table["dataset"] == dataset]
        for (attack, center), series in part.groupby(["attack", "center"], sort=False):
            series = series.sort_values("eps")
            label = f"{attack}" if attack in ("standard", "exact") else f"{attack}, center {center}x{center}"
            label += f" (natural {series['natural_accuracy'].iloc[0]:.1f}%, n={series['n'].iloc[0]})"
            line, = ax.plot(series["eps_255"], series["kept"], "o-", markersize=3, label=label)
            ax.fill_between(series["eps_255"], series["kept_low"], series["kept_high"], color=line.get_color(),
                            alpha=0.2)
            if crossings is not None:
                found = crossings[(crossings["dataset"] == dataset) & (crossings["attack"] == attack)
                                  & (crossings["center"] == center)]
                for _, row in found.dropna(subset=["eps_255"]).iterrows():
                    ax.plot(row["eps_255"], row["target"], "D", color=line.get_color(), markeredgecolor="black")
        if dataset == "cifar10":
            ax.axhline(PAPER_CIFAR10_KEPT, color="black", linestyle="--", linewidth=1,
                       label=f"paper, background attack: {PAPER_CIFAR10_KEPT:.1f}%")
            for i, (x, reading) in enumerate(_SWEEP_READINGS):  # labelled in a strip above 100%, the last to its left
                last = i == len(_SWEEP_READINGS) - 1
                ax.axvline(x, color="gray", linestyle=":", linewidth=1)
                ax.annotate(f"{x:g}/255\n{reading}", (x, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(-3 if last else 3, -3), textcoords="offset points", va="top",
                            ha="right" if last else "left", fontsize=7, color="dimgray")
        else:  # MNIST: the paper's natural model under the exact-mask attack at its eps 0.3
            kept = 100 * PAPER_MNIST_EXACT_ACCURACY / PAPER_MNIST_NATURAL_ACCURACY
            ax.plot(EPS * 255, kept, "*", color="black", markersize=12,
                    label=f"paper, exact mask at eps 0.3: {kept:.2f}%")
        ax.set_xscale("log")
        ax.set_ylim(-2, 118)
        ax.set_yticks(range(0, 101, 20))
        ax.set_xlabel("eps x 255 (log scale)")
        ax.set_ylabel("kept: robust / naturally correct (%)")
        ax.set_title(f"{dataset}: natural model under localized attacks", fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("Eps sweep: the share of its accuracy the natural model keeps; diamonds: where it falls to the "
                 "paper's CIFAR-10 share", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def crossing_by_block(crossings: pd.DataFrame, path: str | Path | None = None) -> plt.Figure:
    """The eps (x 255) at which each network's natural CIFAR-10 model falls to the paper's share of its accuracy under
    the background attack, against the side of the central block the attack leaves alone, with its 95% interval;
    the block that keeps MNIST's share of the image (6 x 6 of 28 x 28) marked. ``crossings``: rows of
    ``sweep.kept_crossings`` (a ``network`` or ``profile`` column tells the lines apart)."""
    background = crossings[(crossings["dataset"] == "cifar10") & (crossings["attack"] == "background")]
    by = [c for c in ("profile", "network") if c in background]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, line in background.groupby(by, sort=False):
        line = line.sort_values("center").dropna(subset=["eps_255"])
        label = " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        errors = [line["eps_255"] - line["eps_low_255"], line["eps_high_255"] - line["eps_255"]]
        ax.errorbar(line["center"], line["eps_255"], yerr=errors, fmt="o-", capsize=3, label=label)
    ax.axvline(MNIST_SHARE_SIDE, color="gray", linestyle=":", linewidth=1)
    ax.annotate(f"MNIST's share of the image\n({BACKGROUND_CENTER}x{BACKGROUND_CENTER} of 28x28)",
                (MNIST_SHARE_SIDE, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                textcoords="offset points", va="top", fontsize=7, color="dimgray")
    ax.set_xlabel("side of the central block left alone (pixels; CIFAR-10 is 32x32)")
    ax.set_ylabel(f"eps x 255 at which it keeps {PAPER_CIFAR10_KEPT:.1f}%")
    ax.set_title("Where the natural CIFAR-10 model falls to the paper's share, by block size", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)
