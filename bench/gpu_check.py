"""The GPU check: what one GPU does with the study's training step and its localized AutoAttack, in minutes.

    python bench/gpu_check.py                      # on the GPU: the paper profile's settings (at most ~5 minutes)
    python bench/gpu_check.py --cpu --tiny         # its CPU half, tiny counts (the suite runs it)
    python bench/gpu_check.py --json bench/results/gpu-check-NAME.json

Measured in one process, on MNIST with the paper's network and the paper profile's settings (training attack
PGD-100 with step 0.01, batch 50; the localized AutoAttack with the profile's APGD steps, targets and Square
queries), each after a warm-up and with the device synchronised around the timing:

- **the training step** (``training.training_step``: the batch's epsilon matrix, ``masked_pgd``, the update):
  one model, and the four adversarial MNIST models stacked (``StackedModels``, how ``train_together`` trains
  on a GPU); in image-steps per second (one image through one forward and backward pass: a step is
  models x batch x (PGD steps + 1) of them) and as a share of the device's limit: the step's FLOPs (torch's
  FlopCounterMode) per second over the dense matmul FLOP/s measured here in the attack's arithmetic;
- **the training step captured as one CUDA graph** (``study.graphs.CapturedStep``, as the training loop runs it on
  a GPU) against the same step run eagerly, for one model and 5 and 15 models stacked: ms per step each way, the
  captured step's share of the device's limit, and 100,000 steps of such a group at that rate (the paper profile's
  training of it); on a CPU the graph-ready step run eagerly;
- **host synchronisations**: the calls that make the host wait for the GPU (counted with
  ``torch.cuda.set_sync_debug_mode``, per line of code; none counted on a CPU): per training step as the
  training loop calls it (its training set checked once, so none are expected), and over a whole training
  call (``train_model``, the quick profile: the checks made once, the log every 1% of the steps, checkpoints);
- **the localized AutoAttack** (``attacks.localized_autoattack``, background mask) on an adversarially
  trained model (so that every attack of the ensemble has images left to attack): test images per second,
  its robust accuracy, and the time the paper profile's evaluation of one model under one attack would take
  for the 10,000 test images at that rate;
- **the paper profile's dry run** (``python -m lat_utils.runner --profile paper --dry-run``) on this device,
  where the notebook stack (papermill) is installed: its wall time and exit status.

Nothing is asserted: the figures are printed (and saved with ``--json``) with the device's name.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lat_utils.attacks import ATTACK_NAMES, PGD, localized_autoattack, resolve_precision
from lat_utils.config import get_profile
from lat_utils.data import load_dataset
from lat_utils.devices import cpu_model, device, device_name
from lat_utils.masks import epsilon_matrix
from lat_utils.models import StackedModels, fast_layout, model_for
from lat_utils.spec.paper import EPS
from lat_utils.study.graphs import WARMUP_STEPS, CapturedStep
from lat_utils.study.optimizers import adam, learning_rate_at
from lat_utils.study.plan import TrainConfig
from lat_utils.study.training import eps_at, train_model, training_step

from bench_pgd import attack_step_flops

ROOT = Path(__file__).resolve().parents[1]
STACKED = ("standard", "background", "exact", "broad")  # the adversarial MNIST models train_together stacks


def synchronize(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def seconds_per_call(fn: Callable[[], object], dev: torch.device, *, warmup: int, seconds: float) -> float:
    """Mean wall time of ``fn`` over as many calls as fit in about ``seconds`` (at least 2), after ``warmup``."""
    for _ in range(warmup):
        fn()
    synchronize(dev)
    calls, began = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - began < seconds:
        fn()
        calls += 1
        if calls % 5 == 0:
            synchronize(dev)
    synchronize(dev)
    return (time.perf_counter() - began) / calls


def matmul_flops_per_second(dev: torch.device, dtype: torch.dtype, n: int) -> float:
    """The device's dense matmul FLOP/s in ``dtype``, measured here: the limit the shares are of."""
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    return 2 * n**3 / seconds_per_call(lambda: a @ b, dev, warmup=3, seconds=1.0)


def step_flops(x: torch.Tensor, y: torch.Tensor, settings) -> float:
    """FLOPs of one model's training step on the batch (torch's FlopCounterMode on a plain copy of the work):
    PGD steps x (forward + input-gradient backward), plus the update's forward and backward."""
    model = model_for("mnist").to(x.device)
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), y).backward()
    update = float(counter.get_total_flops())
    return settings.train_pgd_steps * attack_step_flops(model, x, y) + update


def host_syncs(fn: Callable[[], object], dev: torch.device) -> dict[str, int] | None:
    """The host synchronisations one call of ``fn`` makes (CUDA's sync debug mode), counted per line of code
    that made them ("file:line"); None on a CPU, which has none to count (``fn`` is called either way)."""
    if dev.type != "cuda":
        fn()
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    lines = [f"{Path(w.filename).name}:{w.lineno}" for w in caught if "synchroniz" in str(w.message)]
    return dict(Counter(lines))


def seeded_network(count: int, x: torch.Tensor, dev: torch.device) -> tuple[torch.nn.Module, torch.Tensor]:
    """``count`` MNIST networks from seed 0 on ``dev``, one alone or several stacked as ``train_together`` stacks
    them, and the batch ``x`` in the layout that network takes."""
    torch.manual_seed(0)
    nets = [model_for("mnist") for _ in range(count)]
    if count == 1:
        return fast_layout(nets[0], dev), fast_layout(x)
    return StackedModels(nets).to(dev), x


def training_rows(settings, images, labels, dev, *, batch: int, seconds: float, limit: float) -> dict[str, dict]:
    """The training step, one model and the stacked models: image-steps/s, share of the limit, host syncs."""
    rows = {}
    x, y = images[:batch].to(dev), labels[:batch].to(dev)
    for name, localizations in (("one model (background)", ["background"]), (f"{len(STACKED)} models stacked",
                                                                             list(STACKED))):
        model, xs = seeded_network(len(localizations), x, dev)
        optimizer = adam(model.parameters(), settings.learning_rate)

        def step():  # as the training loop calls it: its training set checked once, not at every step
            training_step(model, optimizer, (xs, y), localizations, eps=EPS, settings=settings, check_inputs=False)

        per_step = seconds_per_call(step, dev, warmup=2, seconds=seconds)
        image_steps = len(localizations) * batch * (settings.train_pgd_steps + 1) / per_step
        flops = len(localizations) * step_flops(x, y, settings)
        syncs = host_syncs(step, dev)
        rows[name] = {"ms_per_step": 1000 * per_step, "image_steps_per_second": image_steps,
                      "tflop_per_second": flops / per_step / 1e12, "share_of_limit": flops / per_step / limit,
                      "host_syncs_per_step": None if syncs is None else sum(syncs.values()), "host_syncs_at": syncs}
    return rows


def captured_step_rows(settings, images, labels, dev, *, batch: int, seconds: float, limit: float,
                       counts: tuple[int, ...]) -> dict[str, dict]:
    """The study's training step as the training loop runs it on a GPU (``graphs.CapturedStep``: captured as one
    CUDA graph, replayed) against the same step run eagerly, for one model and for ``counts`` models stacked into one
    network (the adversarial MNIST localizations in turn): ms per step each way, the speed-up, the captured step's
    share of the device's limit, and the paper profile's MNIST training at that rate (100,000 steps of each group).
    On a CPU the "captured" step is the graph-ready one run eagerly (mode "ready"): what the CPU half can check."""
    rows = {}
    x, y = images[:batch].to(dev), labels[:batch].to(dev)
    mode = "capture" if dev.type == "cuda" else "ready"
    for count in counts:
        localizations = [STACKED[i % len(STACKED)] for i in range(count)]
        timings = {}
        for how in ("eager", mode):
            model, xs = seeded_network(count, x, dev)
            optimizer = adam(model.parameters(), settings.learning_rate, capturable=how == "capture")
            step = CapturedStep(lambda a, b, eps, model=model, optimizer=optimizer: training_step(
                model, optimizer, (a, b), localizations, eps=eps, settings=settings, check_inputs=False), how)
            timings[how] = seconds_per_call(lambda step=step: step((xs, y), EPS), dev,
                                            warmup=WARMUP_STEPS + 2, seconds=seconds)
        flops = count * step_flops(x, y, settings)
        rows[f"{count} stacked"] = {
            "models": count, "eager_ms": 1000 * timings["eager"], f"{mode}_ms": 1000 * timings[mode],
            "speedup": timings["eager"] / timings[mode], "share_of_limit": flops / timings[mode] / limit,
            "paper_training_hours": settings.train_steps * timings[mode] / 3600}
    return rows


def training_loop_row(dev: torch.device, profile: str) -> dict:
    """The host synchronisations of a whole training call (``train_model``, background model, ``profile``, from
    scratch into a temporary output folder): where they are made and how many per step on average. The
    steps themselves should make none; the checks made once, the log written every 1% of the steps and the
    checkpoints may."""
    config = TrainConfig("mnist", "background", profile=profile)
    with tempfile.TemporaryDirectory() as folder, mock.patch.dict(os.environ, LAT_OUTPUT_ROOT=folder):
        began = time.perf_counter()
        syncs = host_syncs(lambda: train_model(config, progress=False), dev)
        seconds = time.perf_counter() - began
    steps = config.settings.train_steps
    total = None if syncs is None else sum(syncs.values())
    return {"profile": profile, "steps": steps, "seconds": seconds, "host_syncs": total,
            "host_syncs_per_step": None if total is None else total / steps, "host_syncs_at": syncs}


def robust_model(images, labels, dev, steps: int):
    """A PaperCNN adversarially trained for ``steps`` steps (``training_step``, standard mask, the quick profile's
    PGD-5 and eps warm-up): a model that masked PGD does not break on every image, so that APGD and Square have
    work left and the AutoAttack's throughput is the ensemble's, not PGD's alone."""
    settings = dataclasses.replace(get_profile("quick"), train_steps=steps)
    torch.manual_seed(0)
    model = fast_layout(model_for("mnist"), dev).train()
    optimizer = adam(model.parameters(), settings.learning_rate)
    for step in range(steps):
        index = torch.randint(0, len(images), (settings.batch_size,))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, settings)
        training_step(model, optimizer, (fast_layout(images[index], dev), labels[index].to(dev)), "standard",
                      eps=eps_at(step, settings), settings=settings)
    return model.eval()


def autoattack_row(settings, model, images, labels, dev, *, n: int) -> dict:
    """The localized AutoAttack on ``n`` test images under the background mask, timed once after a warm-up."""
    x, y = fast_layout(images[:n], dev), labels[:n].to(dev)
    eps = epsilon_matrix(x, "background", EPS)
    kwargs = dict(budget=settings.autoattack, pgd=PGD(steps=settings.eval_pgd_steps, step_size=settings.eval_step_size),
                  precision=settings.attack_precision)
    localized_autoattack(model, x[:8], y[:8], eps[:8], **kwargs)  # warm-up
    synchronize(dev)
    began = time.perf_counter()
    result = localized_autoattack(model, x, y, eps, **kwargs)
    synchronize(dev)
    seconds = time.perf_counter() - began
    robust = result.robust.float().mean().item()
    return {"images": n, "seconds": seconds, "images_per_second": n / seconds,
            "minutes_for_10000_images": 10_000 / (n / seconds) / 60, "robust_accuracy": robust,
            "broken_by": {name: result.broken_by.count(name) for name in ("natural", *ATTACK_NAMES)}}


def dry_run_row(dev: torch.device, timeout: float) -> dict:
    """The paper profile's dry run on this device, where papermill is installed; else why it was skipped."""
    try:
        import papermill  # noqa: F401
    except ImportError:
        return {"skipped": "papermill is not installed here (pip install -e . installs the notebook stack)"}
    began = time.perf_counter()
    env = {**os.environ, "LAT_OUTPUT_ROOT": os.environ.get("LAT_OUTPUT_ROOT", "/tmp/lat-gpu-check")}
    run = subprocess.run([sys.executable, "-m", "lat_utils.runner", "--profile", "paper", "--dry-run"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=timeout)
    return {"seconds": time.perf_counter() - began, "exit_code": run.returncode, "tail": run.stdout[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even where a GPU is present")
    parser.add_argument("--tiny", action="store_true", help="tiny counts: checks that the script runs (the suite)")
    parser.add_argument("--no-dry-run", action="store_true", help="skip the paper profile's dry run")
    parser.add_argument("--json", type=Path, help="save the figures to this file")
    args = parser.parse_args()

    dev = torch.device("cpu") if args.cpu else device()
    settings = get_profile("smoke" if args.tiny else "paper")
    precision = resolve_precision(settings.attack_precision, dev)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    images, labels, _ = load_dataset("mnist", "test")
    train_images, train_labels, _ = load_dataset("mnist", "train")
    limit = matmul_flops_per_second(dev, dtype, 256 if args.tiny else 8192)
    machine = device_name() if dev.type == "cuda" else f"CPU: {cpu_model()}"  # --cpu on a GPU machine: its CPU
    print(f"device: {machine}; "
          f"torch {torch.__version__}; attack arithmetic {precision}; matmul limit {limit / 1e12:.1f} TFLOP/s ({dtype})")

    training = training_rows(settings, train_images, train_labels, dev, batch=settings.batch_size,
                             seconds=0.2 if args.tiny else 10.0, limit=limit)
    print(f"\ntraining step, PGD-{settings.train_pgd_steps} + update, batch {settings.batch_size}:")
    for name, row in training.items():
        print(f"  {name:24s} {row['ms_per_step']:9.1f} ms/step  {row['image_steps_per_second']:12,.0f} image-steps/s  "
              f"{row['tflop_per_second']:7.2f} TFLOP/s = {100 * row['share_of_limit']:5.1f}% of limit  "
              f"host syncs/step: {row['host_syncs_per_step']} {row['host_syncs_at'] or ''}")

    captured = captured_step_rows(settings, train_images, train_labels, dev, batch=settings.batch_size,
                                  seconds=0.2 if args.tiny else 5.0, limit=limit, counts=(1, 2) if args.tiny else (1, 5, 15))
    how = "captured as one CUDA graph" if dev.type == "cuda" else "graph-ready, run eagerly (no CUDA here)"
    print(f"\nthe training step {how}, against the eager step ({settings.train_steps:,} steps of a group of stacked "
          "models: its training time at that rate):")
    for name, row in captured.items():
        graphed = row.get("capture_ms", row.get("ready_ms"))
        print(f"  {name:12s} eager {row['eager_ms']:8.1f} ms/step  graph {graphed:8.1f} ms/step  "
              f"speed-up {row['speedup']:5.2f}x  {100 * row['share_of_limit']:5.1f}% of limit  "
              f"{row['paper_training_hours']:7.2f} h")

    loop = training_loop_row(dev, "smoke" if args.tiny else "quick")
    print(f"\ntraining loop (train_model, {loop['profile']} profile, {loop['steps']} steps, background): "
          f"{loop['seconds']:.1f} s; host syncs {loop['host_syncs']} ({loop['host_syncs_per_step']} per step) "
          f"at {loop['host_syncs_at']}")

    model = robust_model(train_images, train_labels, dev, steps=20 if args.tiny else 2000)
    autoattack = autoattack_row(settings, model, images, labels, dev, n=16 if args.tiny else 1000)
    print(f"\nlocalized AutoAttack (background mask; PGD-{settings.eval_pgd_steps}, APGD {settings.apgd_steps} steps, "
          f"{settings.apgd_targets} targets, Square {settings.square_queries} queries) on {autoattack['images']} "
          f"images: {autoattack['seconds']:.1f} s, {autoattack['images_per_second']:.1f} images/s, robust accuracy "
          f"{100 * autoattack['robust_accuracy']:.1f}% (broken by: {autoattack['broken_by']}); 10,000 images "
          f"would take {autoattack['minutes_for_10000_images']:.1f} min per model and attack")

    skip = "--tiny" if args.tiny else "--no-dry-run" if args.no_dry_run else ""
    dry_run = {"skipped": skip} if skip else dry_run_row(dev, timeout=240)
    if "skipped" in dry_run:
        print(f"\npaper profile's dry run: skipped ({dry_run['skipped']})")
    else:
        print(f"\npaper profile's dry run: exit {dry_run['exit_code']} after {dry_run['seconds']:.0f} s")

    if args.json:
        args.json.write_text(json.dumps({
            "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": machine,
            "torch": torch.__version__, "attack_precision": precision, "limit_flop_per_second": limit,
            "profile": settings.name, "training_step": training, "training_loop": loop, "captured_step": captured, "autoattack": autoattack, "dry_run": dry_run,
        }, indent=1))


if __name__ == "__main__":
    main()
