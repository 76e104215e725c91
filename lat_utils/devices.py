"""Where the tensors go (the GPU when there is one, else the CPU), and what that machine is."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cpu_has_bf16_kernels() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): the same profile gives other numbers
    with and without them, since its attacks' "auto" arithmetic is bf16 there and float32 elsewhere."""
    if not hasattr(torch.cpu, "get_capabilities"):
        return False
    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what the platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name() -> str:
    """The GPU's name and count, or the CPU's model, cores, bf16 kernels and the threads torch uses."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (GPU) x {torch.cuda.device_count()}"
    kernels = "with bf16 kernels (AVX512-BF16 or AMX)" if cpu_has_bf16_kernels() else "without bf16 kernels"
    return f"CPU: {cpu_model()}, {os.cpu_count()} cores, {kernels}; torch uses {torch.get_num_threads()} threads"
