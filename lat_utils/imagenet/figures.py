"""Figure 1 (each photo unaltered, box only, attacked, with top-5 bars), the candidate boxes of each photo
and the extension's plot."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import torch

from ..images import save_figure
from .attack import PaperRun
from .boxes import BEST_DETECTION, OBJECTS_BOX, Candidates, black_outside, kept_boxes
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
                 f"{run.classifier}; box rule: {run.rule}; boxes from {run.detector}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=80)
    return fig


def candidates_figure(candidates: Candidates, images: torch.Tensor, path: Path | None = None, columns: int = 3):
    """One panel per photo with every candidate box (COCO label, detector score, and the classifier's
    confidence in the correct class on the box alone); the best detection dashed, the object's box thick.
    A photo without a candidate shows its central box in grey. Saved as PNG to ``path`` when given."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    n = len(images)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.4 * rows), squeeze=False)
    best, obj = kept_boxes(BEST_DETECTION, candidates), kept_boxes(OBJECTS_BOX, candidates)
    colors = plt.get_cmap("tab10").colors
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        _show(ax, images[i])
        found = candidates.detections[i]
        ax.set_title(f"{candidates.classes[i]}: {len(found)} candidates (score >= {candidates.min_score})", fontsize=8)
        if not found:
            x0, y0, x1, y1 = candidates.best[i].box
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="grey", lw=2, ls=":"))
            ax.text(x0, y0, "no candidate: central box", fontsize=6, color="white", va="top", clip_on=True,
                    bbox={"facecolor": "grey", "alpha": 0.7, "pad": 1})
        for k, (d, confidence) in enumerate(zip(found, candidates.box_only_confidence[i])):
            x0, y0, x1, y1 = d.box
            color = colors[k % len(colors)]
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=color,
                                   lw=3.5 if d == obj[i] else 1.2, ls="--" if d == best[i] else "-"))
            ax.text(x0, y0 + 1, f"{d.label} {d.score:.2f} (box alone: {confidence:.2f})", fontsize=6,
                    color="white", va="top", clip_on=True, bbox={"facecolor": color, "alpha": 0.7, "pad": 1})
    fig.suptitle("Candidate boxes: COCO label, detector score, P(correct class) on the box alone; "
                 "dashed: best detection, thick: object's box", fontsize=10)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=80)
    return fig


def plot_extension(summary: pd.DataFrame, path: Path | None = None):
    """Adversarial top-1 accuracy and mean correct-class confidence against eps, one colour per photo set,
    one marker and line style per box rule; the unaltered photos dashed."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = dict(zip(summary["box rule"].unique(), itertools.cycle(["o-", "s:", "^-."])))
    for set_name, part in summary.groupby("photos", sort=False):
        color = None
        for rule, rows in part.groupby("box rule", sort=False):
            label = f"{set_name}, {rule}: attacked"
            line = left.plot(rows["eps (x/255)"], rows["adversarial top-1 %"], styles[rule], color=color,
                             label=label)[0]
            color = line.get_color()
            right.plot(rows["eps (x/255)"], rows["mean adversarial confidence"], styles[rule], color=color,
                       label=label)
        left.axhline(part["natural top-1 %"].iloc[0], color=color, ls="--", lw=1, label=f"{set_name}: unaltered")
        right.axhline(part["mean natural confidence"].iloc[0], color=color, ls="--", lw=1,
                      label=f"{set_name}: unaltered")
    left.set(xlabel="eps (x/255) outside the box", ylabel="top-1 accuracy (%)", ylim=(-3, 103),
             title="accuracy under the localized attack")
    right.set(xlabel="eps (x/255) outside the box", ylabel="mean confidence in the correct class",
              yscale="log", title="confidence in the correct class")
    left.legend(fontsize=7), right.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=100)
    return fig
