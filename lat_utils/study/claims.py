"""The paper's claims, one row each, checked against our evaluation with 95% intervals.

Every "x% less loss" is (loss_reference - loss_model) / loss_reference on the same inputs. A claim's
value is computed per seed from the per-image results of the evaluation; its interval comes from a
paired bootstrap over the test images (every cell resampled with the same images) and, where the
profile trains several seeds, the spread over seeds (``stats.combine_seeds``). The paper's numbers
below are only the targets we compare with: every number in the "ours" columns is computed.

Each claim's verdict follows the rules of ``verdicts``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..spec.paper import (
    ATTACK_KINDS,
    CIFAR10_READINGS,
    LOSS_SCALE,
    PAPER_CIFAR10_KEPT,
    PAPER_CIFAR10_NATURAL_ACCURACY,
    PAPER_MNIST_EXACT_ACCURACY,
    PAPER_MNIST_NATURAL_ACCURACY,
    READING_LABELS,
)
from ..spec.recipes import PAPER_CNN
from ..spec.settings import Profile
from .collapse import collapsed_seeds, without_collapsed
from .plan import model_name
from .stats import DIFFERENCE, LESS, MORE, bootstrap_indices, combine_seeds, wilson_with_seeds
from .verdicts import Cell, Claim, verdict

LAT_MODELS = ("background", "background (final)", "exact", "broad")


def _less(model: str, reference: str, attacks: tuple[str, ...] | str, worst: bool = True):
    """% less loss of ``model`` than ``reference`` on ``attacks`` (the smallest reduction when several)."""
    attacks = (attacks,) if isinstance(attacks, str) else attacks

    def value(cell: Cell) -> np.ndarray:
        reductions = [100 * (cell(reference, a) - cell(model, a)) / cell(reference, a) for a in attacks]
        return np.minimum.reduce(reductions) if worst else np.maximum.reduce(reductions)
    return value


def _more(model: str, reference: str, attack: str):
    """% more loss of ``model`` than ``reference`` on ``attack``."""
    return lambda cell: 100 * (cell(model, attack) - cell(reference, attack)) / cell(reference, attack)


def _accuracy(model: str, attack: str):
    return lambda cell: 100 * cell(model, attack)


def _kept(model: str, attack: str):
    """% of ``model``'s natural accuracy that it keeps under ``attack`` (0 where it has none to keep, as in a
    bootstrap resample of a model that is wrong on every resampled image)."""
    def value(cell: Cell) -> np.ndarray:
        natural, attacked = np.asarray(cell(model, "natural"), float), np.asarray(cell(model, attack), float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(natural > 0, 100 * attacked / natural, 0.0)
    return value


ABSTRACT_READING = " [the abstract's other reading: a 'traditional classifier' as the natural model]"
KEPT_MARGIN = 5.0   # points: the share of its accuracy a natural model keeps is the paper's within 5 points
PAPER_ATTACKS = ("standard", "background")   # the adversarial columns of the full paper's Figure 2
ALL_MNIST_ATTACKS = ATTACK_KINDS["mnist"]    # the short version's four attacks

CLAIMS = (
    Claim("natural MNIST model: natural accuracy 99.19%", "full paper", "mnist", PAPER_MNIST_NATURAL_ACCURACY, "absolute",
          _accuracy("natural", "natural"), ("natural",), "accuracy"),
    Claim("natural MNIST model under the exact-mask attack: 0.08% accuracy", "short version", "mnist", PAPER_MNIST_EXACT_ACCURACY,
          "absolute", _accuracy("natural", "exact"), ("natural",), "accuracy"),
    Claim("natural CIFAR-10 model: natural accuracy 95.17%", "full paper", "cifar10", PAPER_CIFAR10_NATURAL_ACCURACY,
          "absolute", _accuracy("natural", "natural"), ("natural",), "accuracy"),
    Claim("natural CIFAR-10 model keeps 62.3% of its accuracy under the background attack (59.26% of 95.17%)",
          "full paper", "cifar10", PAPER_CIFAR10_KEPT, "value", _kept("natural", "background"), ("natural",),
          "accuracy", margin=KEPT_MARGIN),
    Claim("MNIST standard model: at least 99% less adversarial loss than the natural model", "full paper",
          "mnist", 99.0, "at_least", _less("standard", "natural", PAPER_ATTACKS), ("standard", "natural"), scale=LESS),
    Claim("MNIST standard model: 39.9% more natural loss than the natural model", "full paper", "mnist", 39.9,
          "direction", _more("standard", "natural", "natural"), ("standard", "natural"), scale=MORE),
    Claim("CIFAR-10 standard model: 95.7% less adversarial loss than the natural model", "full paper", "cifar10",
          95.7, "direction", _less("standard", "natural", PAPER_ATTACKS), ("standard", "natural"), scale=LESS),
    Claim("CIFAR-10 standard model: 88.9% more natural loss than the natural model", "full paper", "cifar10", 88.9,
          "direction", _more("standard", "natural", "natural"), ("standard", "natural"), scale=MORE),
    Claim("MNIST background model: 4.35% less natural loss than the natural model", "full paper", "mnist", 4.35,
          "direction", _less("background", "natural", "natural"), ("background", "natural"), scale=LESS),
    Claim("MNIST background model: over 99% less adversarial loss than the natural model", "full paper", "mnist",
          99.0, "at_least", _less("background", "natural", PAPER_ATTACKS), ("background", "natural"), scale=LESS),
    Claim("CIFAR-10 background model: 1.63% less natural loss than the natural model", "full paper", "cifar10",
          1.63, "direction", _less("background", "natural", "natural"), ("background", "natural"), scale=LESS),
    Claim("CIFAR-10 background model: 15.98% less adversarial loss than the natural model", "full paper",
          "cifar10", 15.98, "direction", _less("background", "natural", PAPER_ATTACKS), ("background", "natural"), scale=LESS),
    Claim("MNIST broad model: 6.5% less natural loss than the standard model", "short version", "mnist", 6.5,
          "direction", _less("broad", "standard", "natural"), ("broad", "standard"), scale=LESS),
    Claim("MNIST broad model: at least 65.3% less adversarial loss than the standard model (all 4 attacks)",
          "short version", "mnist", 65.3, "at_least", _less("broad", "standard", ALL_MNIST_ATTACKS),
          ("broad", "standard"), scale=LESS),
    Claim("MNIST broad model: up to 99.7% less adversarial loss than the standard model (all 4 attacks)",
          "short version", "mnist", 99.7, "direction", _less("broad", "standard", ALL_MNIST_ATTACKS, worst=False),
          ("broad", "standard"), scale=LESS),
    Claim("MNIST background model: 4.4% less natural loss than the natural model", "short version", "mnist", 4.4,
          "direction", _less("background", "natural", "natural"), ("background", "natural"), scale=LESS),
    Claim("MNIST background model: at least 99% less adversarial loss than the natural model (all 4 attacks)",
          "short version", "mnist", 99.0, "at_least", _less("background", "natural", ALL_MNIST_ATTACKS),
          ("background", "natural"), scale=LESS),
    Claim("MNIST standard model: 39.8% more natural loss than the natural model", "short version", "mnist", 39.8,
          "direction", _more("standard", "natural", "natural"), ("standard", "natural"), scale=MORE),
    # The short version's abstract says the broad model "outperforms a traditional classifier" by these numbers, its
    # body that it "outperformed the standard model": the body's reading (above) is the primary one, the abstract's
    # other reading (against the natural model) is judged too.
    Claim(f"MNIST broad model: 6.5% less natural loss than the natural model{ABSTRACT_READING}", "short version", "mnist",
          6.5, "direction", _less("broad", "natural", "natural"), ("broad", "natural"), scale=LESS),
    Claim(f"MNIST broad model: at least 65.3% less adversarial loss than the natural model (all 4 attacks){ABSTRACT_READING}",
          "short version", "mnist", 65.3, "at_least", _less("broad", "natural", ALL_MNIST_ATTACKS),
          ("broad", "natural"), scale=LESS),
    Claim(f"MNIST broad model: up to 99.7% less adversarial loss than the natural model (all 4 attacks){ABSTRACT_READING}",
          "short version", "mnist", 99.7, "direction", _less("broad", "natural", ALL_MNIST_ATTACKS, worst=False),
          ("broad", "natural"), scale=LESS),
)

CLAIM_COLUMNS = ["network", "claim", "reading", "source", "paper (%)", "ours (%)", "low (%)", "high (%)",
                 "share of paper", "share low", "share high", "detectable share", "seeds", "interval covers", "verdict",
                 "reason"]


def dataset_label(dataset: str) -> str:
    return {"mnist": "MNIST", "cifar10": "CIFAR-10"}[dataset]


def only_lat_claim(dataset: str) -> str:
    """The text of the claim, on ``dataset``, that only the LAT models beat the natural model on every input type."""
    return f"{dataset_label(dataset)}: only the LAT models beat the natural model on all inputs (lower loss in every column)"


class PerImage:
    """The per-image results of one dataset (``evaluation.PER_IMAGE_COLUMNS``), as arrays per seed and cell,
    with the bootstrap resamples of the test images that every cell of a size shares (a paired bootstrap).

    Natural inputs are measured on more images (the whole test set) than the attacks (the first ``n_test``); each
    input type's cells are cut to the images every model of it has (the first ones: the same images everywhere),
    and cells of one size share their resamples."""

    def __init__(self, per_image: pd.DataFrame) -> None:
        self.seeds = sorted(int(s) for s in per_image["seed"].unique())
        common = per_image.groupby(["seed", "model", "attack"])["image"].max().groupby("attack").min() + 1
        self.arrays: dict[tuple[int, str, str, str], np.ndarray] = {}
        for (seed, model, attack), part in per_image.groupby(["seed", "model", "attack"]):
            part = part.sort_values("image").iloc[:int(common[attack])]
            self.arrays[(int(seed), model, attack, "loss")] = part["loss"].to_numpy(float)
            self.arrays[(int(seed), model, attack, "accuracy")] = part["correct"].to_numpy(float)
        self.indices = {n: bootstrap_indices(n) for n in {len(a) for a in self.arrays.values()}}

    def seeds_of(self, models: tuple[str, ...]) -> list[int]:
        """The seeds in which every one of ``models`` was evaluated (a profile may train some with more seeds)."""
        present = {(seed, model) for seed, model, _, _ in self.arrays}
        return [seed for seed in self.seeds if all((seed, model) in present for model in models)]

    def estimate(self, value: Callable[[Cell], np.ndarray], metric: str, models: tuple[str, ...],
                 paired: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
        """``value`` per seed (each seed that has all ``models``) on all the images of its cells (``paired``: on the
        images every cell has, e.g. a share of a model's natural accuracy kept under an attack, image by image),
        the bootstrap samples of its mean over those seeds, and the fewest images of a cell it read."""
        limit = min((len(a) for a in self.arrays.values()), default=0) if paired else None
        points, samples, sizes = [], [], []
        for seed in self.seeds_of(models):
            def full(model: str, attack: str, seed: int = seed) -> float:
                cell = self.arrays[(seed, model, attack, metric)][:limit]
                sizes.append(len(cell))
                return float(cell.mean())

            def resampled(model: str, attack: str, seed: int = seed) -> np.ndarray:
                cell = self.arrays[(seed, model, attack, metric)][:limit]
                return cell[self.indices[len(cell)]].mean(axis=1)
            points.append(float(value(full)))
            samples.append(value(resampled))
        return np.array(points), np.mean(samples, axis=0), min(sizes, default=0)


def collapsed_models(table: pd.DataFrame) -> set[str]:
    """Models that collapsed in some seed (``collapse.collapsed_seeds``)."""
    return {model for model, _, _ in collapsed_seeds(table)}


def readings_in(table: pd.DataFrame) -> list[str]:
    """The readings of the eps in an evaluation table, in ``CIFAR10_READINGS`` order."""
    present = set(table["reading"])
    return [r for r in CIFAR10_READINGS if r in present]


def _at_reading(frame: pd.DataFrame, reading: str) -> pd.DataFrame:
    return frame[frame["reading"] == reading]


def claims_table(tables: dict[str, pd.DataFrame], per_image: dict[str, pd.DataFrame], profile: Profile,
                 network: str = PAPER_CNN) -> pd.DataFrame:
    """One row per claim and reading of the eps (``CLAIM_COLUMNS``), on ``network``: the paper's number, ours with its 95%
    interval, the verdict and why. A CIFAR-10 claim appears once per reading in ``tables["cifar10"]``. Only the
    models of the profile's own settings count: those of the deviations study's variants are judged by
    ``deviations.claims_by_configuration``. ``network``: the network the tables' models are (their training
    judged by ``profile.with_network(network)``)."""
    profile = profile.with_network(network)
    learned = {d: without_collapsed(_own_models(tables[d]), _own_models(per_image[d])) for d in tables}
    rows = []
    units = {(d, r): (_at_reading(learned[d][0], r), PerImage(_at_reading(learned[d][1], r)),
                      {m: c for (m, reading), c in learned[d][2].items() if reading == r})
             for d in tables for r in readings_in(tables[d])}
    for claim in CLAIMS:
        readings = [r for d, r in units if d == claim.dataset]
        if not readings:
            rows.append({"claim": claim.text, "reading": "", "source": claim.source, "paper (%)": claim.paper,
                         "seeds": 0, "verdict": "not comparable", "reason": f"{claim.dataset} was not run"})
        for reading in readings:
            rows.append(_claim_row(claim, reading, *units[(claim.dataset, reading)], profile, network))
    rows += [_only_lat_beats_natural(dataset, reading, *unit) for (dataset, reading), unit in units.items()]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS).assign(network=network)


def without_variant(table: pd.DataFrame) -> pd.Series:
    """Per row: is its model one of the profile's own settings (no variant)? An empty variant read back from a CSV
    is NaN."""
    return table["variant"].isna() | (table["variant"] == "")


def _own_models(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of models trained with the profile's own settings (no variant), on the paper's CNN."""
    return table[without_variant(table) & (table["network"] == PAPER_CNN)]


def network_table(table: pd.DataFrame, network: str) -> pd.DataFrame:
    """The rows of an evaluation or per-image ``table`` of the models on ``network``, under the names the claims
    use (``standard on airbench`` -> ``standard``), so that ``claims_table`` judges them as the paper CNN's."""
    kept = table[table["network"] == network]
    return kept.assign(model=[model_name(*key) for key in kept[["localization", "projection"]].itertuples(index=False)],
                       network=PAPER_CNN)


def claims_by_network(tables: dict[str, pd.DataFrame], per_image: dict[str, pd.DataFrame],
                      profile: Profile) -> pd.DataFrame:
    """The claims table (``claims_table``) once per CIFAR-10 network of ``profile``, with a ``network`` column:
    every claim on the paper's CNN, the CIFAR-10 claims again on each other network."""
    frames = []
    for network in profile.cifar10_networks:
        datasets = tables if network == PAPER_CNN else {d: t for d, t in tables.items() if d == "cifar10"}
        chosen = {d: network_table(tables[d], network) for d in datasets}
        images = {d: network_table(per_image[d], network) for d in datasets}
        if network != PAPER_CNN and not all(len(t) for t in chosen.values()):
            continue   # not trained (yet)
        table = claims_table(chosen, images, profile, network)
        if network != PAPER_CNN:
            table = table[table["claim"].str.contains(dataset_label("cifar10"), regex=False)]   # its claims only
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _claim_row(claim: Claim, reading: str, table: pd.DataFrame, results: PerImage, collapsed: dict,
               profile: Profile, network: str) -> dict:
    """The row of ``claim`` on the models of one dataset at one reading of the eps, judged on the seeds of its models
    that learned (``collapse``); ``collapsed``: per model, the seeds left out and how many it had."""
    left_out = "; ".join(f"{left} of {of} seeds of the {model} model collapsed (left out)"
                         for model, (left, of) in collapsed.items() if model in claim.models)
    missing = [m for m in claim.models if m not in set(table["model"])]
    if missing or not results.seeds_of(claim.models):
        reason = (f"every seed of {', '.join(m for m in claim.models if m in collapsed)} collapsed ({left_out})"
                  if not missing or set(missing) <= set(collapsed) else
                  f"the profile trains no {dataset_label(claim.dataset)} {' or '.join(missing)} model")
        return {"claim": claim.text, "reading": READING_LABELS[reading], "source": claim.source,
                "paper (%)": claim.paper, "seeds": 0, "verdict": "not comparable", "reason": reason}
    points, samples, images = results.estimate(claim.value, claim.metric, claim.models, paired=claim.kind == "value")
    if claim.kind == "absolute" and claim.metric == "accuracy":   # a proportion of the test images: Wilson
        ours, low, high = wilson_with_seeds(points, images)
    else:
        ours, low, high = combine_seeds(points, samples, claim.scale)
    label, reason = verdict(claim, low, high, ours, profile)
    if left_out:
        reason += f"; {left_out}"
    if claim.dataset == "cifar10" and claim.kind == "absolute" and claim.metric == "accuracy":
        reason += "; 95.17% is the natural accuracy of a wide ResNet (Madry et al. report 95.2% for theirs)"
        if network == PAPER_CNN:
            reason += ", not of a two-convolution network like the paper's and ours"
    if claim.dataset == "cifar10" and not table["exact_data"].all():
        reason += "; CIFAR-10 here is a JPEG copy, not the original pixels"
    return {"claim": claim.text, "reading": READING_LABELS[reading], "source": claim.source,
            "paper (%)": claim.paper, "ours (%)": ours, "low (%)": low, "high (%)": high,
            **dict(zip(("share of paper", "share low", "share high"), claim.share(ours, low, high))),
            "detectable share": claim.detectable(low, high), "seeds": len(points),
            "interval covers": _covers(len(points)), "verdict": label, "reason": reason}


def _covers(seeds: int) -> str:
    return "test images only (one seed)" if seeds == 1 else f"test images and {seeds} seeds"


def _only_lat_verdict(beats: list[str], lat: list[str], clearly_loses: list[str]) -> str:
    """The verdict on "only the LAT models beat the natural model": refuted by any other model that beats it;
    not comparable without a LAT model; supported where a LAT model beats it."""
    if set(beats) - set(LAT_MODELS):
        return "not supported"
    if not lat:
        return "not comparable"
    if beats:
        return "supported"
    return "not supported" if set(lat) <= set(clearly_loses) else "inconclusive"


def _only_lat_beats_natural(dataset: str, reading: str, table: pd.DataFrame, results: PerImage,
                            collapsed: dict) -> dict:
    """The claim "only the LAT models beat the natural model on all inputs" on one dataset at one reading of
    the eps, on the seeds that learned: a model beats it where the interval of its loss difference lies above 0 in
    every column."""
    models = [m for m in table["model"].unique() if m != "natural" and results.seeds_of(("natural", m))]
    attacks = list(table["attack"].unique())
    beats, clearly_loses = [], []
    for model in models:
        lows, highs = [], []
        for attack in attacks:
            def difference(cell: Cell, model: str = model, attack: str = attack) -> np.ndarray:
                return cell("natural", attack) - cell(model, attack)
            points, samples, _ = results.estimate(difference, "loss", ("natural", model))
            _, low, high = combine_seeds(points, samples, DIFFERENCE)
            lows.append(low)
            highs.append(high)
        if min(lows) > 0:
            beats.append(model)
        if min(highs) < 0:
            clearly_loses.append(model)
    lat = [m for m in models if m in LAT_MODELS]
    label = _only_lat_verdict(beats, lat, clearly_loses)
    seeds = len(results.seeds_of(("natural", *LAT_MODELS[:1])))
    found = f"{', '.join(beats) or 'none'} beat it" + "".join(
        f"; {left} of {of} seeds of the {model} model collapsed (left out)" for model, (left, of) in collapsed.items())
    lat_losing = [m for m in lat if m in clearly_loses]
    found += f"; LAT models with a higher loss in some column: {', '.join(lat_losing) or 'none'}"
    return {"claim": only_lat_claim(dataset),
            "reading": READING_LABELS[reading], "source": "both", "paper (%)": np.nan, "ours (%)": np.nan,
            "low (%)": np.nan, "high (%)": np.nan, "seeds": seeds, "interval covers": _covers(seeds), "verdict": label,
            "reason": found + " (a model beats it where its loss is lower in every column, with the interval of the "
                              "difference above 0)"}


# The paper's Figure 2 (full version, MNIST): mean cross-entropy, natural column x1000. For comparison only.
PAPER_FIGURE2_MNIST = {
    "natural": (41.4, 68.19, 61.80),
    "standard": (57.9, 0.27, 0.21),
    "background": (39.6, 0.55, 0.23),
}


def paper_figure2() -> pd.DataFrame:
    """The paper's MNIST Figure 2 grid, labelled like ``plots.grid(..., scale_natural=1000)``."""
    return pd.DataFrame.from_dict(PAPER_FIGURE2_MNIST, orient="index",
                                  columns=["natural (x1000)", "standard", "background"])


def figure2_vs_paper(ours: pd.DataFrame) -> pd.DataFrame:
    """Our MNIST loss grid (``plots.grid(..., scale_natural=1000)``) beside the paper's Figure 2, each cell "ours
    (paper x)", for the models of the paper's figure that the profile trains."""
    paper = paper_figure2()
    paper = paper.loc[paper.index.intersection(ours.index)]
    return ours.loc[paper.index, paper.columns].round(3).astype(str) + "  (paper " + paper.astype(str) + ")"


def paper_curve_values(dataset: str) -> dict[tuple[str, str], float]:
    """The paper's final values a learning curve can be compared with (``plots.learning_curves``):
    Figure 2's MNIST losses on natural inputs, under the standard attack and under each model's own
    localization, and the natural MNIST model's natural accuracy (a fraction)."""
    if dataset != "mnist":
        return {}
    values = {}
    for model, (natural, standard, background) in PAPER_FIGURE2_MNIST.items():
        values[(model, "natural")] = natural / LOSS_SCALE["mnist"]
        values[(model, "standard")] = standard
        own = {"standard": standard, "background": background}.get(model)
        if own is not None:
            values[(model, "own")] = own
    values[("natural", "natural accuracy")] = PAPER_MNIST_NATURAL_ACCURACY / 100
    return values
