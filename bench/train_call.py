"""The training call against its steps: how much of ``train_model`` is not ``training_step``, in one process.

    python bench/train_call.py [--profile quick] [--localization standard] [--repeats 2] [--json bench/results/NAME.json]

Trains one MNIST model of the profile from scratch with ``study.train_model`` (what ``02_train`` calls: data,
batches, eps warm-up, learning-rate schedule, milestones, log, checkpoints), in a fresh output folder each
time, while a wrapper around ``study.training.training_step`` adds up the time spent inside the steps. Printed:
the whole call, the sum of its steps, their ratio (issue target: at most 1.15x), and what the rest is made of
(the call minus its steps, per step). Each repeat trains anew; the median is reported. Nothing is asserted;
tests/test_bench.py only checks that it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone

import torch

from lat_utils.devices import device_name
from lat_utils.study import TrainConfig, training


def timed_training(config: TrainConfig) -> tuple[float, float, int]:
    """Train ``config`` from scratch in a fresh output folder: (seconds of the whole call, seconds inside its
    training steps, number of steps)."""
    inside, calls = [0.0], [0]
    step = training.training_step

    def counted(*args, **kwargs):
        began = time.perf_counter()
        try:
            return step(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - began
            calls[0] += 1

    with tempfile.TemporaryDirectory() as folder:
        previous = os.environ.get("LAT_OUTPUT_ROOT")
        os.environ["LAT_OUTPUT_ROOT"] = folder
        training.training_step = counted
        try:
            began = time.perf_counter()
            training.train_model(config, progress=False)
            whole = time.perf_counter() - began
        finally:
            training.training_step = step
            if previous is None:
                os.environ.pop("LAT_OUTPUT_ROOT")
            else:
                os.environ["LAT_OUTPUT_ROOT"] = previous
    return whole, inside[0], calls[0]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--localization", default="standard")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    config = TrainConfig("mnist", args.localization, profile=args.profile)
    runs = [timed_training(config) for _ in range(args.repeats)]
    whole = statistics.median(r[0] for r in runs)
    inside = statistics.median(r[1] for r in runs)
    steps = runs[0][2]
    result = {
        "measured": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        "machine": device_name(), "threads": torch.get_num_threads(),
        "versions": f"Python {platform.python_version()}, torch {torch.__version__}",
        "model": config.key, "profile": args.profile, "steps": steps, "repeats": args.repeats,
        "call_seconds": round(whole, 2), "steps_seconds": round(inside, 2),
        "call_over_steps": round(whole / inside, 3),
        "rest_ms_per_step": round(1000 * (whole - inside) / steps, 2),
        "step_ms": round(1000 * inside / steps, 2),
    }
    print(f"{config.key} ({args.profile}, {steps} steps) on {result['machine']}, median of {args.repeats}:")
    print(f"  train_model: {whole:.1f} s; inside training_step: {inside:.1f} s ({result['step_ms']:.1f} ms/step)")
    print(f"  the call / its steps: {result['call_over_steps']:.3f}x "
          f"(the rest: {result['rest_ms_per_step']:.2f} ms per step)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
