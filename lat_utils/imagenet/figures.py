"""Figure 1 (each photo unaltered, box only, attacked, with top-5 bars) and the extension's plot."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from .attack import PaperRun, black_outside
from .photos import class_names

TOP_K = 5                   # bars per panel in Figure 1


def _bars(ax, probs: torch.Tensor, label: int) -> None:
    names = class_names()
    values, indices = probs.topk(TOP_K)
    colors = ["tab:green" if int(i) == label else "tab:gray" for i in indices]
    ax.barh(range(TOP_K)[::-1], values.tolist(), color=colors)
    ax.set_yticks(range(TOP_K)[::-1], [names[int(i)][:18] for i in indices], fontsize=7)
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=6)


def _show(ax, image: torch.Tensor, title: str | None = None) -> None:
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def figure1(run: PaperRun, path: Path | None = None):
    """Figure 1 for every photo: original, box only, adversarial (each with top-5 bars; correct class
    green) and the perturbation amplified to the full range. Saved as PNG to ``path`` when given."""
    import matplotlib.pyplot as plt

    n = len(run.photos)
    fig, axes = plt.subplots(n, 7, figsize=(19, 2.3 * n), gridspec_kw={"width_ratios": [1, 1.1] * 3 + [1]},
                             squeeze=False)
    blacked = black_outside(run.images, run.boxes)
    delta = (run.adversarial - run.images) / (2 * run.eps) + 0.5
    columns = [("unaltered", run.images, run.natural_probs), ("outside the box black", blacked, run.blackout_probs),
               ("localized adversarial", run.adversarial, run.adversarial_probs)]
    for row in range(n):
        label = int(run.labels[row])
        for k, (title, images, probs) in enumerate(columns):
            _show(axes[row, 2 * k], images[row], title if row == 0 else None)
            _bars(axes[row, 2 * k + 1], probs[row], label)
        _show(axes[row, 6], delta[row], "perturbation (amplified)" if row == 0 else None)
        axes[row, 0].set_ylabel(run.photos[row].name, fontsize=9)
    fig.suptitle(f"Localized adversarial attack (eps {run.eps * 255:g}/255 outside the box, PGD-{run.steps}) on "
                 f"{run.classifier}; boxes: {run.detector}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=80)
    return fig


def plot_extension(summary: pd.DataFrame, path: Path | None = None):
    """Adversarial top-1 accuracy and mean correct-class confidence against eps, one line per photo set."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for set_name, part in summary.groupby("photos", sort=False):
        line = left.plot(part["eps (x/255)"], part["adversarial top-1 %"], "o-", label=f"{set_name}: attacked")[0]
        left.axhline(part["natural top-1 %"].iloc[0], color=line.get_color(), ls="--", lw=1,
                     label=f"{set_name}: unaltered")
        right.plot(part["eps (x/255)"], part["mean adversarial confidence"], "o-", color=line.get_color(),
                   label=f"{set_name}: attacked")
        right.axhline(part["mean natural confidence"].iloc[0], color=line.get_color(), ls="--", lw=1,
                      label=f"{set_name}: unaltered")
    left.set(xlabel="eps (x/255) outside the box", ylabel="top-1 accuracy (%)", ylim=(-3, 103),
             title="accuracy under the localized attack")
    right.set(xlabel="eps (x/255) outside the box", ylabel="mean confidence in the correct class",
              yscale="log", title="confidence in the correct class")
    left.legend(fontsize=7), right.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
