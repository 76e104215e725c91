"""The header every notebook prints first: what ran, where, with which settings and deviations."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone

import torch

from ..attacks import AUTO_PRECISION_VARIABLE, resolve_precision
from ..devices import device, device_name
from ..spec.settings import Profile


def profile_deviations(profile: Profile, precision: str) -> list[str]:
    """The profile's deviations from the paper, plus bf16 attack arithmetic when ``precision`` is bf16 and a bf16
    weight pass in training where the profile's ``weight_precision`` resolves to bf16 on this device."""
    deviations = list(profile.deviations)
    if precision == "bf16":
        deviations.append("the PGD steps of training and evaluation compute their gradients in bfloat16 (autocast); "
                          "iterates, budgets and every reported loss are float32 (effect measured by "
                          "bench/precision_gate.py)")
    if resolve_precision(profile.weight_precision, device()) == "bf16":
        deviations.append("the training step's weight pass (forward and backward) computes in bfloat16 (autocast); "
                          "weights, optimizer and loss are float32 (effect measured by bench/weight_precision_gate.py)")
    return deviations


def run_header(profile: Profile, title: str) -> str:
    """Markdown: title, date, versions, device, profile and its deviations from the paper."""
    import torchvision

    lines = [
        f"# DRY RUN of the {profile.name.removesuffix('-dry-run')} profile: every number below is meaningless"
        if profile.dry_run else "",
        f"## {title}" + (" (DRY RUN)" if profile.dry_run else ""),
        f"- run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, profile **{profile.name}** ({profile.description})",
        f"- device: {device_name()}; Python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}",
    ]
    precision = resolve_precision(profile.attack_precision, device())
    lines.append(f"- attack arithmetic: {precision}, in training and evaluation ({arithmetic_note(profile, precision)})")
    deviations = profile_deviations(profile, precision)
    if deviations:
        lines.append("- deviations from the paper in this profile:")
        lines += [f"  - {d}" for d in deviations]
    return "\n".join(line for line in lines if line)


def arithmetic_note(profile: Profile, precision: str) -> str:
    """Why the attacks compute in ``precision``, and what that means for the report's numbers."""
    if profile.attack_precision != "auto":
        return f"the profile asks for {profile.attack_precision!r}"
    chosen = os.environ.get(AUTO_PRECISION_VARIABLE)
    why = (f"${AUTO_PRECISION_VARIABLE}={chosen}" if chosen else
           "bf16 where the device computes it natively, fp32 elsewhere")
    return (f"the profile asks for 'auto': {why}; the numbers are those of this arithmetic on this kind of "
            "processor: the same profile computed in the other arithmetic, or on a CPU with other kernels (with or "
            "without AVX512-BF16: their float32 kernels differ too), gives other numbers")


IPYTHON_NAMES = ("In", "Out")   # the kernel's own globals that look like parameters


def check_parameters(namespace: dict, *declared: str) -> None:
    """Refuse what papermill only warns about: a parameter the notebook does not take (a misspelt
    ``-p profil smoke`` would otherwise run the default profile). Called first in a notebook, with its
    globals and the names of its ``parameters`` cell: any other global holding a plain value was
    injected, and is named in a ValueError."""
    plain = (str, int, float, bool, list, tuple, dict, type(None))
    unknown = sorted(name for name, value in namespace.items() if isinstance(value, plain) and not name.startswith("_")
                     and name not in declared and name not in IPYTHON_NAMES)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))}: this notebook takes "
                         f"{', '.join(declared)}")
