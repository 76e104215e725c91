"""Uncertainty: 95% intervals for accuracies (Wilson) and mean losses (bootstrap over test images).

Every interval of the study covers the sampling of test images; where a profile trains several
seeds, ``combine_seeds`` widens it by the spread over seeds (training variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959964                 # the standard normal's 97.5% quantile
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0             # fixed, so that a table is the same every time it is computed


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (well-behaved near 0 and 1)."""
    if n <= 0:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, n], got {successes} of {n}")
    p = successes / n
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # at 0 or n successes the bound is exactly 0 or 1 (where rounding would leave it a hair inside)
    return (0.0 if successes == 0 else max(0.0, center - half)), (1.0 if successes == n else min(1.0, center + half))


def bootstrap_indices(n: int, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(samples, n) indices of test images drawn with replacement; shared by every cell for a paired bootstrap."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def bootstrap_mean_interval(values: np.ndarray, indices: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile 95% interval of the mean of ``values`` over bootstrap resamples of the test images."""
    values = np.asarray(values, dtype=float)
    indices = bootstrap_indices(len(values)) if indices is None else indices
    return percentile_interval(values[indices].mean(axis=1))


def percentile_interval(samples: np.ndarray) -> tuple[float, float]:
    """The 2.5% and 97.5% percentiles of bootstrap samples."""
    low, high = np.percentile(np.asarray(samples, dtype=float), [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class Scale:
    """Where a claim's statistic lies, and the scale on which its seeds are combined: an accuracy, or a share of one,
    in [0, 100] (combined as it is, then clipped to the range); a loss reduction ("x% less") below 100 and an
    increase ("x% more") above -100, combined on the log of the loss ratio they stand for (``effect``), so that
    their intervals stay inside their range without clipping and are as wide in either direction as the data
    make them (a reduction of 99% is a loss 100 times smaller, one of 99.9% 1,000 times)."""

    name: str
    low: float
    high: float
    ratio: int = 0     # 0: combined as it is; -1: "% less" (loss ratio 1 - v/100); +1: "% more" (1 + v/100)

    def effect(self, value: np.ndarray | float) -> np.ndarray:
        """The value as the log of its loss ratio (increasing with the value); the value itself on a 0-100 scale."""
        value = np.asarray(value, dtype=float)
        if self.ratio == 0:
            return value
        ratio = 1 + self.ratio * np.clip(value, self.low, self.high) / 100   # a reduction of 100% is the limit
        return self.ratio * np.log(np.maximum(ratio, 1e-12))

    def value(self, effect: np.ndarray | float) -> np.ndarray:
        """The inverse of ``effect``."""
        effect = np.asarray(effect, dtype=float)
        return effect if self.ratio == 0 else 100 * self.ratio * np.expm1(self.ratio * effect)


PERCENT = Scale("accuracy or share (%)", 0.0, 100.0)
LESS = Scale("% less loss", -math.inf, 100.0, -1)
MORE = Scale("% more loss", -100.0, math.inf, +1)
DIFFERENCE = Scale("difference of losses", -math.inf, math.inf)


def combine_seeds(per_seed: np.ndarray, pooled_bootstrap: np.ndarray,
                  scale: Scale = PERCENT) -> tuple[float, float, float]:
    """Mean over seeds and a 95% interval covering both test-image sampling and training variance, inside
    ``scale``'s range.

    ``per_seed`` holds one value per seed; ``pooled_bootstrap`` the bootstrap samples of their mean
    (the same resampled test images for every seed, since the seeds share the test set). With one
    seed this is the percentile interval. With S > 1 seeds the half-width, on ``scale.effect``, adds in
    quadrature the bootstrap's and a Student-t interval of the mean over seeds:
    sqrt((z sd_boot)^2 + (t_{S-1} sd_seeds / sqrt(S))^2).
    """
    per_seed = np.asarray(per_seed, dtype=float)
    if not len(per_seed):
        raise ValueError("no seed to combine: the claim's models share no seed")
    mean = float(per_seed.mean())
    if len(per_seed) == 1:
        low, high = percentile_interval(pooled_bootstrap)
    else:
        from scipy.stats import t

        test_half = Z95 * float(np.std(scale.effect(pooled_bootstrap), ddof=1))
        seeds = scale.effect(per_seed)
        seed_half = float(t.ppf(0.975, len(per_seed) - 1)) * float(np.std(seeds, ddof=1)) / math.sqrt(len(per_seed))
        half = math.hypot(test_half, seed_half)
        center = float(scale.effect(mean))
        low, high = float(scale.value(center - half)), float(scale.value(center + half))
    return mean, max(low, scale.low), min(high, scale.high)


def wilson_with_seeds(per_seed: np.ndarray, n: int) -> tuple[float, float, float]:
    """An accuracy in % over seeds (each on the same ``n`` test images) and its 95% interval: the Wilson interval
    of the mean accuracy on ``n`` images, each side widened in quadrature by a Student-t interval of the mean
    over seeds where there are several; inside [0, 100]."""
    per_seed = np.asarray(per_seed, dtype=float)
    mean = float(per_seed.mean())
    low, high = (100 * b for b in wilson_interval(round(mean / 100 * n), n))
    if len(per_seed) > 1:
        from scipy.stats import t

        seed_half = float(t.ppf(0.975, len(per_seed) - 1)) * float(np.std(per_seed, ddof=1)) / math.sqrt(len(per_seed))
        low, high = mean - math.hypot(mean - low, seed_half), mean + math.hypot(high - mean, seed_half)
    return mean, max(low, 0.0), min(high, 100.0)
