"""The eps sweep: at which budget does our natural model keep the share of its accuracy the paper's kept?

The paper's natural CIFAR-10 model has 95.17% natural accuracy and 59.26% under the background
attack: it keeps ``paper.PAPER_CIFAR10_KEPT`` = 62.3% of its accuracy. The paper's eps for CIFAR-10 is 0.3, whose
units are open (0.3 on [0, 1] inputs, 0.3/255 in Madry's raw-pixel CIFAR-10 pipeline, or the field's
usual 8/255). The sweep measures, for the study's natural models (seed 0), robust accuracy under a
localized AutoAttack at every eps of ``SWEEP_EPS`` and for every series of ``SWEEP_SERIES`` (dataset,
mask, central block), and ``kept_crossings`` reads off the eps at which the kept share falls to the paper's.

Method. The eps are attacked in increasing order, each only on the images still robust at the
previous one: an image broken at a smaller eps is broken at every larger one (its adversarial example
lies inside the larger budget box, the mask being the same), so carrying it over is exact, makes the
sweep cheap, and makes the kept share non-increasing in eps. Naturally misclassified images are never
attacked. ``kept`` = 100 x robust / naturally correct, with a Wilson interval over the naturally
correct images. Each eps's random starts are seeded from the series and the eps, and the results are
cached per series after every eps, so an interrupted sweep resumes and ends where an uninterrupted one would.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from ..attacks import PGD, localized_autoattack, resolve_precision
from ..config import get_profile
from ..devices import device
from ..masks import epsilon_matrix
from ..models import fast_layout
from ..paths import runs_dir, tables_dir
from ..progress import tqdm
from ..sealed import seal_of
from ..spec.budgets import SWEEP_STEPS_CPU, AutoAttackBudget, pgd_step
from ..spec.paper import (
    PAPER_CIFAR10_KEPT,
    PAPER_MNIST_EXACT_ACCURACY,
    PAPER_MNIST_NATURAL_ACCURACY,
    READING_LABELS,
    readings,
)
from ..spec.recipes import PAPER_CNN
from .checkpoints import checkpoint_path, load_trained
from .evaluation import BATCH, first_test_images, load_cell_cache, natural_scores, save_cell_cache
from .plan import TrainConfig, network_part
from .stats import wilson_interval

# The eps at which the natural models are attacked (x 255: 0.3 is the raw-pixels reading, 8 the field's usual, 76.5 =
# 0.3 x 255 the reading as stated), per series (dataset, mask, central block). The paper gives no block for CIFAR-10
# ("the middle pixels"): the background attack is swept with its MNIST 6x6 and larger blocks, up to 20x20, so that
# the block's size is an axis of the crossing (``report.sweep_figures.crossing_by_block``)
SWEEP_EPS = tuple(e / 255 for e in (0.1, 0.2, 0.3, 0.5, 1, 2, 4, 8, 16, 76.5))
CIFAR10_BLOCKS = (6, 10, 16, 20)
SWEEP_SERIES = (("cifar10", "standard", 6), *(("cifar10", "background", block) for block in CIFAR10_BLOCKS),
                ("mnist", "exact", 6))
SWEEP_TARGETS = 0            # no APGD-T (and no Square): the sweep's reduced AutoAttack

SWEEP_COLUMNS = ["dataset", "model", "network", "attack", "center", "eps", "eps_255", "n", "natural_accuracy", "accuracy",
                 "accuracy_low", "accuracy_high", "kept", "kept_low", "kept_high", "pgd_steps", "apgd_steps"]
READING_COLUMNS = ["dataset", "model", "attack", "center", "reading", "eps_255", "kept", "kept_low", "kept_high", "paper kept",
                   "consistent"]
CROSSING_COLUMNS = ["dataset", "model", "network", "attack", "center", "target", "eps", "eps_255", "eps_low", "eps_low_255",
                    "eps_high", "eps_high_255", "note"]


@dataclass(frozen=True)
class SweepSettings:
    """How the sweep attacks, and on how many test images: the reduced localized AutoAttack (masked PGD, then
    APGD-CE and APGD-DLR; APGD-T with ``targets`` > 0; never Square) at every eps of ``eps_values``."""

    eps_values: tuple[float, ...] = tuple(SWEEP_EPS)   # increasing
    pgd_steps: int = SWEEP_STEPS_CPU
    apgd_steps: int = SWEEP_STEPS_CPU
    targets: int = SWEEP_TARGETS
    precision: str = "fp32"
    n: int | None = None              # the first n test images (None: all)
    image_cap: int | None = None      # at most this many (a dry run's cap)
    keep_examples: bool = False       # keep the worst-case image of every image attacked (``sweep_cells``)


@dataclass(frozen=True)
class Series:
    """What a sweep attacks with: the mask (``attack``) and its central block (``center``), and the seed its
    random starts are drawn from (each eps's from this seed and the eps)."""

    attack: str
    center: int = 6
    seed: int = 0


def sweep_settings(profile_name: str) -> SweepSettings:
    """The sweep's settings in a profile: its ``sweep_n`` test images (None: ``n_test``), ``sweep_pgd_steps`` and
    ``sweep_apgd_steps``, no APGD-T, the eps of ``SWEEP_EPS`` and the profile's attack arithmetic."""
    profile = get_profile(profile_name)
    return SweepSettings(eps_values=tuple(SWEEP_EPS), pgd_steps=profile.sweep_pgd_steps,
                         apgd_steps=profile.sweep_apgd_steps, targets=SWEEP_TARGETS,
                         precision=resolve_precision(profile.attack_precision, device()),
                         n=profile.sweep_n or profile.n_test, image_cap=profile.image_cap)


def eps_name(eps: float) -> str:
    """The cell name of one eps in a sweep's results (exact: the float's repr)."""
    return f"eps {float(eps)!r}"


def sweep_cells(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, series: Series,
                settings: SweepSettings, *, cells: dict | None = None, on_cell: Callable[[dict], None] | None = None,
                progress: str = "") -> dict[str, dict[str, torch.Tensor]]:
    """Robustness of ``model`` on ``images`` under the localized AutoAttack of ``settings`` with the mask of
    ``series`` at every eps of ``settings.eps_values`` (increasing), each eps only on the images still robust at
    the previous one; ``progress``: the label of a progress bar (none where empty).

    Returns ``cells``: ``"natural"`` -> {"loss", "correct"} and ``eps_name(eps)`` -> {"loss", "correct"}
    per image (CPU tensors, ``correct`` = still classified correctly; ``loss`` = the highest cross-entropy
    an attack found, NaN for an image not attacked at that eps). Cells already in ``cells`` are reused
    (a resumed sweep); ``on_cell(cells)`` is called after each new one (to save them). Each eps's random
    starts are seeded from ``series.seed`` and the eps. With ``settings.keep_examples`` an eps cell also holds
    ``"adversarial"``: the worst-case image of each image attacked there, the original image otherwise.
    """
    eps_values = [float(e) for e in settings.eps_values]
    if eps_values != sorted(set(eps_values)):
        raise ValueError(f"eps_values must be increasing, got {eps_values}")
    cells = {} if cells is None else cells
    if "natural" not in cells:
        loss, correct = natural_scores(model, images, labels)
        cells["natural"] = {"loss": loss, "correct": correct}
        if on_cell:
            on_cell(cells)
    robust = cells["natural"]["correct"].clone()
    for eps in tqdm(eps_values, desc=progress, disable=not progress):
        name = eps_name(eps)
        if name not in cells:
            torch.manual_seed(zlib.crc32(f"{series.seed}/{name}".encode()))
            cells[name] = _attacked(model, images, labels, robust, series, eps, settings)
            if on_cell:
                on_cell(cells)
        robust = cells[name]["correct"].clone()
    return cells


def _attacked(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, robust: torch.Tensor, series: Series,
              eps: float, settings: SweepSettings) -> dict[str, torch.Tensor]:
    """One eps cell: the images ``robust`` attacked (in batches), the others carried over as they were."""
    dev, keep_examples = next(model.parameters()).device, settings.keep_examples
    correct, loss = robust.clone(), torch.full((len(images),), float("nan"))
    adversarial = images.clone() if keep_examples else None
    index = robust.nonzero().squeeze(1)
    for start in range(0, len(index), BATCH):
        part = index[start:start + BATCH]
        x, y = fast_layout(images[part], dev), labels[part].to(dev)
        result = localized_autoattack(model, x, y, epsilon_matrix(x, series.attack, eps, center=series.center),
                                      AutoAttackBudget(settings.apgd_steps, settings.targets, square_queries=0),
                                      pgd=PGD(steps=settings.pgd_steps, step_size=pgd_step(eps, settings.pgd_steps)),
                                      precision=settings.precision)
        correct[part] = result.robust
        loss[part] = result.loss.float().cpu()
        if keep_examples:
            adversarial[part] = result.images.cpu().to(adversarial.dtype)
    cell = {"loss": loss, "correct": correct}
    if keep_examples:
        cell["adversarial"] = adversarial
    return cell


def sweep_rows(cells: dict, settings: SweepSettings, *, dataset: str, attack: str, center: int,
               model: str = "natural", network: str = PAPER_CNN) -> pd.DataFrame:
    """The rows of ``SWEEP_COLUMNS`` (accuracies in %) of a ``sweep_cells`` result under ``settings``, one per eps
    it holds."""
    natural = cells["natural"]["correct"]
    n, n_correct = len(natural), int(natural.sum())
    rows = []
    for eps in settings.eps_values:
        if eps_name(eps) not in cells:
            continue
        robust = int(cells[eps_name(eps)]["correct"].sum())
        accuracy = _percent_with_interval(robust, n)
        kept = _percent_with_interval(robust, n_correct) if n_correct else (math.nan,) * 3
        rows.append({"dataset": dataset, "model": model, "network": network, "attack": attack, "center": center,
                     "eps": float(eps),
                     "eps_255": float(eps) * 255, "n": n, "natural_accuracy": 100 * n_correct / n,
                     "accuracy": accuracy[0], "accuracy_low": accuracy[1], "accuracy_high": accuracy[2],
                     "kept": kept[0], "kept_low": kept[1], "kept_high": kept[2],
                     "pgd_steps": settings.pgd_steps, "apgd_steps": settings.apgd_steps})
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def _percent_with_interval(successes: int, n: int) -> tuple[float, float, float]:
    """100 x successes / n and its Wilson interval in %, the bounds clipped to enclose it (float rounding
    puts the Wilson bound of 0 successes a hair above 0)."""
    share = 100 * successes / n
    low, high = (100 * b for b in wilson_interval(successes, n))
    return share, min(low, share), max(high, share)


def eps_sweep(profile_name: str, *, progress: bool = True) -> pd.DataFrame:
    """The sweep (rows of ``SWEEP_COLUMNS``) of every series of ``SWEEP_SERIES`` whose natural model (seed 0)
    of ``profile_name`` is trained, once per CIFAR-10 network of the profile (the ``model`` column names it);
    written to ``reports/<profile>/tables/eps_sweep.csv``.

    Cached per series in ``runs/<profile>/sweep/`` (saved after every eps, keyed by the settings and the
    checkpoint), so an interrupted sweep resumes at the eps it was in.
    """
    settings, profile = sweep_settings(profile_name), get_profile(profile_name)
    tables = []
    for dataset, attack, center in SWEEP_SERIES:
        if dataset not in profile.datasets:
            continue
        for network in profile.networks(dataset):
            config = TrainConfig(dataset, "natural", profile=profile_name, seed=0, network=network)
            table = _sweep_series(config, settings, attack, center, progress=progress)
            if table is not None:
                tables.append(table)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=SWEEP_COLUMNS)
    table.to_csv(tables_dir(profile_name) / "eps_sweep.csv", index=False)
    return table


def _sweep_series(config: TrainConfig, settings: SweepSettings, attack: str, center: int, *,
                  progress: bool) -> pd.DataFrame | None:
    """The sweep rows of one series (``attack`` mask, ``center`` block) of the natural model ``config``, from its
    cache or computed; None (and why, printed) where the model is not trained."""
    dataset, profile_name = config.dataset, config.profile
    seal = seal_of(checkpoint_path(config))
    if not seal:
        print(f"eps sweep: no natural {dataset} model {config.name!r} in the {profile_name} profile; "
              f"{attack} mask, center {center} skipped")
        return None
    images, labels, _ = first_test_images(dataset, settings.n, settings.image_cap)
    path = runs_dir(profile_name) / "sweep" / f"{dataset}{network_part(config.network)}-{attack}-center{center}.pt"
    key = {"settings": {**_cache_settings(settings), "n": len(images), "dataset": dataset, "attack": attack,
                        "center": center, "square_queries": 0},
           "checkpoint": seal}
    cache = load_cell_cache(path, key)
    names = ["natural", *map(eps_name, settings.eps_values)]
    if not all(name in cache["cells"] for name in names):
        try:
            model = load_trained(config)
        except FileNotFoundError as error:
            print(f"eps sweep: {error}; {attack} mask, center {center} skipped")
            return None
        series = Series(attack, center, seed=zlib.crc32(f"{config.key}/sweep/{attack}-center{center}".encode()))
        sweep_cells(model, images, labels, series, settings, cells=cache["cells"],
                    on_cell=lambda _, path=path, cache=cache: save_cell_cache(path, cache),
                    progress=f"eps sweep {config.name} ({dataset}), {attack} mask, center {center}" if progress else "")
    return sweep_rows(cache["cells"], settings, dataset=dataset, attack=attack, center=center, model=config.name,
                      network=config.network)


def _cache_settings(settings: SweepSettings) -> dict:
    """What a sweep's cache is keyed by: every setting but the image cap (the images' count is keyed instead) and
    whether examples are kept."""
    key = {k: v for k, v in asdict(settings).items() if k not in ("image_cap", "keep_examples")}
    return {**key, "eps_values": list(settings.eps_values)}


def kept_crossings(table: pd.DataFrame, target: float = PAPER_CIFAR10_KEPT) -> pd.DataFrame:
    """Per series of a sweep table: the eps at which ``kept`` falls to ``target`` (linear in log eps between
    the two bracketing sweep points), with an interval from where ``kept_high`` (upper end) and ``kept_low``
    (lower end) fall to it. NaN where a crossing lies outside the swept range, and ``note`` says which."""
    rows = []
    for (dataset, model, network, attack, center), series in table.groupby(
            ["dataset", "model", "network", "attack", "center"], sort=False):
        series = series.sort_values("eps")
        eps = series["eps"].to_numpy(float)
        found, notes = {}, []
        for column, what in (("kept", "eps"), ("kept_low", "eps_low"), ("kept_high", "eps_high")):
            found[what], why = _crossing(eps, series[column].to_numpy(float), target)
            if why:
                notes.append(f"{column} {why}")
        rows.append({"dataset": dataset, "model": model, "network": network, "attack": attack, "center": center,
                     "target": target,
                     "eps": found["eps"], "eps_255": found["eps"] * 255,
                     "eps_low": found["eps_low"], "eps_low_255": found["eps_low"] * 255,
                     "eps_high": found["eps_high"], "eps_high_255": found["eps_high"] * 255,
                     "note": "; ".join(notes)})
    return pd.DataFrame(rows, columns=CROSSING_COLUMNS)


def crossings_by_profile(profiles: tuple[str, ...]) -> pd.DataFrame:
    """The CIFAR-10 crossings (``kept_crossings``) of every profile of ``profiles`` whose sweep has run here
    (``tables/eps_sweep_crossings.csv``), side by side: rows of ``CROSSING_COLUMNS`` with the ``profile``, the
    ``network`` and its natural model's ``natural_accuracy`` (%, on the sweep's images) in front."""
    frames = []
    for name in profiles:
        folder = tables_dir(name)
        if not (folder / "eps_sweep_crossings.csv").exists():
            continue
        crossings = pd.read_csv(folder / "eps_sweep_crossings.csv", keep_default_na=False, na_values=[""])
        sweep = pd.read_csv(folder / "eps_sweep.csv")
        natural = sweep.groupby(["dataset", "model", "attack", "center"])["natural_accuracy"].first()
        crossings = crossings[crossings["dataset"] == "cifar10"]
        frames.append(crossings.assign(
            profile=name,
            natural_accuracy=[natural.get(tuple(k), math.nan)
                              for k in crossings[["dataset", "model", "attack", "center"]].to_numpy()]))
    columns = ["profile", "network", "natural_accuracy", *(c for c in CROSSING_COLUMNS if c != "network")]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _crossing(eps: np.ndarray, kept: np.ndarray, target: float) -> tuple[float, str]:
    """Where ``kept`` (over increasing ``eps``) first falls to ``target``: (eps, "") or (NaN, why not)."""
    if len(eps) == 0 or np.isnan(kept).all():
        return math.nan, "has no values"
    if kept[0] <= target:
        return math.nan, f"is at or below {target:.1f}% already at the smallest eps ({eps[0] * 255:g}/255)"
    below = np.nonzero(kept <= target)[0]
    if len(below) == 0:
        return math.nan, f"stays above {target:.1f}% up to the largest eps ({eps[-1] * 255:g}/255)"
    i = below[0]
    t = (kept[i - 1] - target) / (kept[i - 1] - kept[i])
    return float(np.exp(np.log(eps[i - 1]) + t * (np.log(eps[i]) - np.log(eps[i - 1])))), ""


def reading_consistency(table: pd.DataFrame) -> pd.DataFrame:
    """Each reading of the eps tested directly on a sweep table (rows of ``READING_COLUMNS``): at the reading's
    eps, does the natural model keep the share of its accuracy the paper's kept? CIFAR-10 (every series) at each
    of ``CIFAR10_READINGS`` against the paper's 62.3%; MNIST (eps 0.3) against its 0.08% under the exact mask,
    as a share of the paper's 99.19%. ``consistent`` says whether the paper's share lies inside our interval,
    else whether our model keeps more or less."""
    paper = {"cifar10": PAPER_CIFAR10_KEPT, "mnist": 100 * PAPER_MNIST_EXACT_ACCURACY / PAPER_MNIST_NATURAL_ACCURACY}
    rows = []
    for (dataset, model, attack, center), series in table.groupby(["dataset", "model", "attack", "center"], sort=False):
        for reading, eps in readings(dataset).items():
            at = series[np.isclose(series["eps"], eps)]
            if at.empty:
                continue
            row = at.iloc[0]
            target = paper[dataset]
            verdict = ("consistent" if row["kept_low"] <= target <= row["kept_high"]
                       else "keeps more than the paper's" if row["kept_low"] > target else "keeps less than the paper's")
            rows.append({"dataset": dataset, "model": model, "attack": attack, "center": center,
                         "reading": READING_LABELS[reading],
                         "eps_255": row["eps_255"], "kept": row["kept"], "kept_low": row["kept_low"],
                         "kept_high": row["kept_high"], "paper kept": target, "consistent": verdict})
    return pd.DataFrame(rows, columns=READING_COLUMNS)
