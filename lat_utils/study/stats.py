"""Uncertainty: 95% intervals for accuracies (Wilson) and mean losses (bootstrap over test images).

Every interval of the study covers the sampling of test images; where a profile trains several
seeds, ``combine_seeds`` widens it by the spread over seeds (training variance).
"""

from __future__ import annotations

import math

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
    return max(0.0, center - half), min(1.0, center + half)


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


def combine_seeds(per_seed: np.ndarray, pooled_bootstrap: np.ndarray,
                  bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """Mean over seeds and a 95% interval covering both test-image sampling and training variance.

    ``per_seed`` holds one value per seed; ``pooled_bootstrap`` the bootstrap samples of their mean
    (the same resampled test images for every seed, since the seeds share the test set). With one
    seed this is the percentile interval. With S > 1 seeds the half-width adds, in quadrature, the
    bootstrap's and a Student-t interval of the mean over seeds: sqrt((z sd_boot)^2 + (t_{S-1} sd_seeds / sqrt(S))^2).
    ``bounds`` (an accuracy's or a share's [0, 100]) clip the interval to the values the quantity can take.
    """
    per_seed = np.asarray(per_seed, dtype=float)
    mean = float(per_seed.mean())
    if len(per_seed) == 1:
        low, high = percentile_interval(pooled_bootstrap)
        return mean, low, high
    from scipy.stats import t

    test_half = Z95 * float(np.std(pooled_bootstrap, ddof=1))
    seed_half = float(t.ppf(0.975, len(per_seed) - 1)) * float(np.std(per_seed, ddof=1)) / math.sqrt(len(per_seed))
    half = math.hypot(test_half, seed_half)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, low, high
