"""Input checks shared by the public API: each raises a TypeError/ValueError that names the problem."""

from __future__ import annotations

import math

import torch


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """A float tensor of shape (N, C, H, W) with every value in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [0, 1], got dtype {images.dtype}")
    if images.dim() != 4:
        raise ValueError(f"{name} must be 4-D (N, C, H, W), got shape {tuple(images.shape)}")
    if images.numel() and not in_unit_interval(images):  # one host read; the details only on failure
        check_finite(images, name)
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{images.min().item():.4g}, {images.max().item():.4g}]"
        )


def in_unit_interval(values: torch.Tensor) -> bool:
    """Every value finite and in [0, 1] (NaN fails both comparisons), with one read of the device."""
    return bool(((values >= 0) & (values <= 1)).all())


def check_finite(values: torch.Tensor, name: str) -> None:
    """No NaN and no infinity: they pass every comparison unnoticed (``nan < 0`` is false)."""
    bad = ~torch.isfinite(values)
    if bad.any():
        nans = int(torch.isnan(values).sum())
        raise ValueError(f"{name} must be finite: {int(bad.sum())} of its {values.numel()} values are not "
                         f"({nans} NaN, {int(bad.sum()) - nans} infinite)")


def check_number(value: float, name: str, *, low: float = 0.0) -> None:
    """A finite real number >= ``low`` (a step size, a budget); NaN, infinity and bools are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < low:
        raise ValueError(f"{name} must be a finite number >= {low:g}, got {value!r}")


def check_scalar_tensor(value: object, name: str) -> bool:
    """Whether ``value`` is a 0-d floating-point tensor (a per-step value of the graph-ready training step, which
    the caller checked and which is not read here: reading it would make the host wait for the device); a TypeError
    for any other tensor."""
    if not isinstance(value, torch.Tensor):
        return False
    if value.dim() != 0 or not value.is_floating_point():
        raise TypeError(f"{name} as a tensor must be a 0-d floating-point one, got shape {tuple(value.shape)} "
                        f"and dtype {value.dtype}")
    return True


def check_eps(eps: float) -> None:
    """A number in [0, 1]: inputs live in [0, 1], so larger budgets mean nothing."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a number, got {type(eps).__name__}")
    if not 0.0 <= float(eps) <= 1.0:  # false for NaN too
        raise ValueError(f"eps must be in [0, 1] (inputs are in [0, 1]), got {eps}")


def check_count(value: int, name: str) -> None:
    """A non-negative int (steps, restarts...)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
