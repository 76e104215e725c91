"""Where one adversarial training step spends its time, and what each speed lever buys, in one process.

    python bench/train_step.py [--dataset mnist] [--threads 2] [--repeats 9] [--json bench/results/NAME.json]

One step of the study's adversarial training (``lat_utils.study.training``): a background-mask PGD-k on
a batch of 50, then the weight update with Adam. Printed, all measured in this process on the same
model and batch, timed in turn (A B C A B C ...) so that the machine's drift hits every row alike:

- **the phases of the step**: the attack's forward and input-gradient backward passes (k of them),
  the extra forward that scores the last iterate when the attack returns its best iterate, the
  weight forward and backward pass, the optimizer (PyTorch's default Adam and its fused one);
- **the whole step**, as the code trained before this benchmark (best iterate, default Adam), as it
  trains now (last iterate, fused Adam: ``TRAIN_PGD_ITERATE``, ``optimizers.adam``) with float32 attack
  arithmetic and, where the CPU has bf16 kernels, with the bf16 attack arithmetic the profiles use there
  (``precision="auto"``), alone and with a bf16 weight pass (``Profile.weight_precision``), each lever alone,
  and the levers tried and not kept: 4 models trained together as one stacked network
  (``StackedModels``, the GPU path; time per model), ``torch.compile`` of the model (its compile time
  printed apart), bf16 autocast for the weight pass where the CPU has no bf16 kernels;
- **the reference**: a plain PyTorch step, torchattacks' PGD (unmasked) plus Adam on the same model;
- image-steps per second (one image through one forward and backward pass: a step is batch x (k + 1)
  of them) and the share of the machine's limit: the step's FLOPs (torch's FlopCounterMode) per
  second over the dense float32 matmul FLOP/s measured here.

Nothing is asserted; tests/test_bench.py only checks that it runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lat_utils.attacks import PGD, masked_pgd, resolve_precision
from lat_utils.devices import device_name
from lat_utils.masks import epsilon_matrix
from lat_utils.models import StackedModels, fast_layout, model_for
from lat_utils.spec.budgets import pgd_step
from lat_utils.spec.paper import EPS, TRAIN_PGD_ITERATE
from lat_utils.study.optimizers import adam

from bench_pgd import attack_step_flops, interleaved_median_seconds, matmul_flops_per_second

TODAY = "before: best iterate, default Adam"
NEW = f"now: {TRAIN_PGD_ITERATE} iterate, fused Adam"
NEW_BF16 = "now, bf16 attack arithmetic (the profiles here)"
NEW_BF16_WEIGHTS = "now, bf16 attacks and bf16 weight pass"
REFERENCE = "reference: torchattacks PGD + default Adam"


class Step:
    """One adversarial training step on a fresh model, with the levers as switches."""

    def __init__(self, dataset: str, batch: int, pgd_steps: int, *, iterate: str, fused: bool, models: int = 1,
                 compiled: bool = False, weight_bf16: bool = False, precision: str = "fp32") -> None:
        torch.manual_seed(0)
        nets = [model_for(dataset) for _ in range(models)]
        self.model = fast_layout(nets[0]) if models == 1 else StackedModels(nets)
        self.forward = torch.compile(self.model) if compiled else self.model
        self.optimizer = (adam(self.model.parameters(), 1e-4) if fused
                          else torch.optim.Adam(self.model.parameters(), lr=1e-4))
        shape = (batch, nets[0].in_channels, nets[0].image_size, nets[0].image_size)
        x, y = fast_layout(torch.rand(shape)), torch.randint(0, 10, (batch,))
        self.x, self.y = x.repeat(models, 1, 1, 1), y.repeat(models)
        self.eps_matrix = epsilon_matrix(self.x, "background", EPS)
        self.pgd_steps, self.iterate, self.models, self.weight_bf16 = pgd_steps, iterate, models, weight_bf16
        self.precision = precision

    def attack(self) -> torch.Tensor:
        return masked_pgd(self.forward, self.x, self.y, self.eps_matrix,
                          PGD(steps=self.pgd_steps, step_size=pgd_step(EPS, self.pgd_steps), iterate=self.iterate),
                          precision=self.precision)

    def weights(self, x_adv: torch.Tensor) -> None:
        self.model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.weight_bf16):
            loss = F.cross_entropy(self.forward(x_adv).float(), self.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()

    def __call__(self) -> None:
        self.weights(self.attack())
        self.optimizer.step()


def reference_step(dataset: str, batch: int, pgd_steps: int) -> Callable[[], None]:
    """torchattacks' PGD and PyTorch's default Adam on the same model: a plain PyTorch training step."""
    import torchattacks

    step = Step(dataset, batch, pgd_steps, iterate="last", fused=False)
    attack = torchattacks.PGD(step.model, eps=EPS, alpha=pgd_step(EPS, pgd_steps), steps=pgd_steps, random_start=True)

    def run() -> None:
        step.weights(attack(step.x, step.y))
        step.optimizer.step()
    return run


def phases(dataset: str, batch: int, pgd_steps: int, precision: str) -> dict[str, Callable[[], object]]:
    """Each part of the step alone, on the same model and batch, the attack in ``precision``."""
    step = Step(dataset, batch, pgd_steps, iterate="last", fused=True, precision=precision)
    plain = Step(dataset, batch, pgd_steps, iterate="last", fused=False)
    plain.weights(step.x)

    def scoring_forward() -> None:
        x = step.x.clone().requires_grad_(True)
        F.cross_entropy(step.model(x), step.y, reduction="none")

    return {f"attack: {pgd_steps} forward + input-gradient backward passes ({precision})": step.attack,
            "attack: the forward that scores the last iterate (best iterate only)": scoring_forward,
            "weights: forward + backward": lambda: step.weights(step.x),
            "optimizer: default Adam": plain.optimizer.step,
            "optimizer: fused Adam": step.optimizer.step}


def step_flops(dataset: str, batch: int, pgd_steps: int) -> float:
    """FLOPs of the step as training runs it: k attack iterations (forward + input-gradient backward) and
    the weight forward + backward (the optimizer's element-wise work is not counted)."""
    step = Step(dataset, batch, pgd_steps, iterate="last", fused=True)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(step.model(step.x), step.y).backward()
    return pgd_steps * attack_step_flops(step.model, step.x, step.y) + counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"))
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--pgd-steps", type=int, default=5, help="PGD iterations per training step")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--together", type=int, default=4, help="models in the stacked row")
    parser.add_argument("--no-compile", action="store_true", help="leave out the torch.compile row")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--json", default=None, help="also save the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    d, b, k = args.dataset, args.batch, args.pgd_steps

    steps = {TODAY: Step(d, b, k, iterate="best", fused=False),
             NEW: Step(d, b, k, iterate=TRAIN_PGD_ITERATE, fused=True),
             REFERENCE: reference_step(d, b, k),
             "lever alone: last iterate": Step(d, b, k, iterate="last", fused=False),
             "lever alone: fused Adam": Step(d, b, k, iterate="best", fused=True),
             f"not kept: {args.together} models together (per model)": Step(d, b, k, iterate="last", fused=True,
                                                                             models=args.together),
             "not kept: bf16 weight pass": Step(d, b, k, iterate="last", fused=True, weight_bf16=True)}
    precision = resolve_precision("auto", "cpu")
    if precision == "bf16":   # the step as the profiles train on this CPU, and with the bf16 weight pass too
        steps[NEW_BF16] = Step(d, b, k, iterate=TRAIN_PGD_ITERATE, fused=True, precision="bf16")
        steps[NEW_BF16_WEIGHTS] = Step(d, b, k, iterate=TRAIN_PGD_ITERATE, fused=True, precision="bf16",
                                       weight_bf16=True)
    compile_seconds = None
    if not args.no_compile:
        compiled = Step(d, b, k, iterate="last", fused=True, compiled=True)
        start = time.perf_counter()
        try:
            compiled()
            compile_seconds = time.perf_counter() - start
            steps["not kept: torch.compile of the model"] = compiled
        except Exception as error:  # noqa: BLE001 - a missing compiler is a result here, not a failure
            print(f"torch.compile failed here ({type(error).__name__}): row left out")
    per_model = {name: (args.together if "together" in name else 1) for name in steps}
    seconds = dict(zip(steps, interleaved_median_seconds(list(steps.values()), args.repeats)))
    seconds = {name: s / per_model[name] for name, s in seconds.items()}
    parts = phases(d, b, k, precision)
    part_seconds = dict(zip(parts, interleaved_median_seconds(list(parts.values()), args.repeats)))

    flops = step_flops(d, b, k)
    peak = matmul_flops_per_second(args.repeats, torch.float32, args.matmul_size)
    image_steps = b * (k + 1)
    print(f"\nOne adversarial training step: {device_name()}, {args.threads} threads, torch {torch.__version__}, "
          f"{d}, batch {b}, PGD-{k}, {datetime.now(timezone.utc):%Y-%m-%d}")
    print(f"{flops / 1e9:.2f} GFLOP per step; dense matmul {peak / 1e9:.0f} GFLOP/s float32 "
          f"(limit {peak / flops:.1f} steps/s)\n")
    print(f"{'step':<50} {'ms':>8} {'image-steps/s':>14} {'vs before':>10} {'vs reference':>13} {'% fp32 limit':>13}")
    for name, s in seconds.items():
        print(f"{name:<50} {s * 1e3:>8.1f} {image_steps / s:>14,.0f} {seconds[TODAY] / s:>9.2f}x "
              f"{seconds[REFERENCE] / s:>12.2f}x {100 * flops / s / peak:>12.1f}%")
    if compile_seconds is not None:
        print(f"(torch.compile: {compile_seconds:.1f} s to compile, before the first step)")
    now = NEW_BF16 if precision == "bf16" else NEW
    print(f"\n{'phase of the step':<72} {'ms':>8} {'share of now':>13}")
    for name, s in part_seconds.items():
        print(f"{name:<72} {s * 1e3:>8.1f} {100 * s / seconds[now]:>12.1f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "platform": platform.platform(), "torch": torch.__version__,
                       "date": datetime.now(timezone.utc).isoformat(), "dataset": d, "batch": b, "pgd_steps": k,
                       "threads": args.threads, "auto_precision": precision, "gflop_per_step": flops / 1e9, "matmul_gflops": peak / 1e9,
                       "step_ms": {n: s * 1e3 for n, s in seconds.items()},
                       "image_steps_per_second": {n: image_steps / s for n, s in seconds.items()},
                       "percent_of_limit": {n: 100 * flops / s / peak for n, s in seconds.items()},
                       "compile_seconds": compile_seconds,
                       "phase_ms": {n: s * 1e3 for n, s in part_seconds.items()}}, f, indent=2)


if __name__ == "__main__":
    main()
