"""Speed of masked PGD and of adversarial training, against a reference library and the machine's limit.

    python bench/bench_pgd.py [--batch 50] [--steps 20] [--repeats 5] [--json bench/results.json]

Prints one table of image-steps per second (one image through one PGD iteration: a forward and an
input-gradient backward pass), all measured in this process on the same model, batch and settings:

- ``masked_pgd`` with the standard, background and exact masks (the cost of localization);
- torchattacks' PGD, unmasked (an established reference);
- Algorithm 1 read literally, one image at a time (PGD, then one clip): the naive baseline;
- the machine's limit: FLOPs of one forward plus input-gradient backward of PaperCNN (counted by
  torch's FlopCounterMode) divided by the dense matmul FLOP/s measured in this process;
- one adversarial training step (PGD-k plus the weight update) for the MNIST and CIFAR-10 PaperCNNs,
  in the channels-last layout that ``lat_utils.training`` uses.

Each figure is the median of ``--repeats`` timed runs after a warm-up; the attacks are timed in turn
(A B C A B C ...) so that the machine's drift affects them alike. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lat_utils.attacks import masked_pgd
from lat_utils.data import load_dataset
from lat_utils.masks import epsilon_matrix
from lat_utils.models import fast_layout, model_for
from lat_utils.report import device_name

EPS = 0.3


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_median_seconds(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median time of each function, timed in turn (A B C A B C ...) so that drift hits all alike."""
    for fn in fns:
        fn()  # warm-up
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def matmul_flops_per_second(repeats: int, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats)


def attack_step_flops(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one PGD iteration on the batch: forward plus the input-gradient backward."""
    frozen = copy.deepcopy(model).requires_grad_(False)  # as in the attack: no weight gradients
    counter = FlopCounterMode(display=False)
    with counter:
        x = x.clone().requires_grad_(True)
        F.cross_entropy(frozen(x), y).backward()
    return float(counter.get_total_flops())


def literal_algorithm_1(model, images, labels, eps_matrix, steps, step_size) -> torch.Tensor:
    """Algorithm 1 as printed: for each image, an unmasked PGD, then one clip into the epsilon matrix."""
    out = [masked_pgd(model, images[i:i + 1], labels[i:i + 1], eps_matrix[i:i + 1], steps=steps,
                      step_size=step_size, projection="final") for i in range(len(images))]
    return torch.cat(out)


def training_step(model, optimizer, images, labels, steps, step_size) -> None:
    x_adv = masked_pgd(model, images, labels, epsilon_matrix(images, "background", EPS), steps=steps,
                       step_size=step_size)
    model.train()
    loss = F.cross_entropy(model(x_adv), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20, help="PGD iterations per attack")
    parser.add_argument("--train-steps", type=int, default=7, help="PGD iterations per training step")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None, help="also save the results here")
    args = parser.parse_args()
    import torchattacks

    torch.manual_seed(0)
    images, labels, _ = load_dataset("mnist", "test")
    x, y = images[:args.batch], labels[:args.batch]
    model = model_for("mnist").eval()
    step_size = 2.5 * EPS / args.steps
    image_steps = args.batch * args.steps

    masks = {kind: epsilon_matrix(x, kind, EPS) for kind in ("standard", "background", "exact")}
    fast_model, x_fast = fast_layout(copy.deepcopy(model)), fast_layout(x)  # the layout training uses
    reference = torchattacks.PGD(model, eps=EPS, alpha=step_size, steps=args.steps, random_start=True)
    literal_n = min(10, args.batch)  # one image at a time is slow: time 10 images, report per image-step
    candidates = {
        **{f"masked_pgd, {kind} mask": (lambda e=e: masked_pgd(model, x, y, e, steps=args.steps,
                                                                step_size=step_size), image_steps)
           for kind, e in masks.items()},
        "masked_pgd, standard mask, channels-last model": (
            lambda: masked_pgd(fast_model, x_fast, y, masks["standard"], steps=args.steps, step_size=step_size),
            image_steps),
        "torchattacks PGD (reference, unmasked)": (lambda: reference(x, y), image_steps),
        "Algorithm 1 literally, one image at a time": (
            lambda: literal_algorithm_1(model, x[:literal_n], y[:literal_n], masks["exact"][:literal_n], args.steps,
                                        step_size), literal_n * args.steps),
    }
    rows = {name: work / seconds for (name, (_, work)), seconds in
            zip(candidates.items(), interleaved_median_seconds([fn for fn, _ in candidates.values()], args.repeats))}

    flops = attack_step_flops(model, x, y) / args.batch
    peak = matmul_flops_per_second(args.repeats)
    rows["machine limit (matmul roofline)"] = peak / flops

    train_rows = {}
    for dataset in ("mnist", "cifar10"):
        net = fast_layout(model_for(dataset))  # as lat_utils.training trains it
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        shape = (args.batch, net.in_channels, net.image_size, net.image_size)
        xb, yb = fast_layout(torch.rand(shape)), torch.randint(0, 10, (args.batch,))
        seconds = median_seconds(lambda: training_step(net, optimizer, xb, yb, args.train_steps, 0.1),
                                 args.repeats)
        train_rows[dataset] = seconds

    ours = rows["masked_pgd, standard mask"]
    ref = rows["torchattacks PGD (reference, unmasked)"]
    print(f"\nMasked PGD benchmark: {device_name()}, torch {torch.__version__}, batch {args.batch}, "
          f"PGD-{args.steps}, {datetime.now(timezone.utc):%Y-%m-%d}")
    print(f"PaperCNN (MNIST): {flops / 1e6:.1f} MFLOP per image-step (forward + input-gradient backward); "
          f"dense matmul {peak / 1e9:.1f} GFLOP/s\n")
    print(f"{'method':<46} {'image-steps/s':>14} {'vs torchattacks':>16} {'% of limit':>11}")
    for name, value in rows.items():
        print(f"{name:<46} {value:>14,.0f} {value / ref:>15.2f}x {100 * value / rows['machine limit (matmul roofline)']:>10.1f}%")
    overhead = {k: 100 * (ours / rows[f'masked_pgd, {k} mask'] - 1) for k in ("background", "exact")}
    print(f"\nlocalization overhead vs the standard mask: background {overhead['background']:+.1f}%, "
          f"exact {overhead['exact']:+.1f}%")
    print(f"masked_pgd / torchattacks: {ours / ref:.2f}x; "
          f"masked_pgd / literal Algorithm 1: {ours / rows['Algorithm 1 literally, one image at a time']:.1f}x")
    for dataset, seconds in train_rows.items():
        print(f"adversarial training step, {dataset} PaperCNN (PGD-{args.train_steps} + update, batch {args.batch}): "
              f"{seconds * 1e3:.0f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "platform": platform.platform(), "torch": torch.__version__,
                       "date": datetime.now(timezone.utc).isoformat(), "batch": args.batch, "steps": args.steps,
                       "mflop_per_image_step": flops / 1e6, "matmul_gflops": peak / 1e9,
                       "image_steps_per_second": rows, "localization_overhead_percent": overhead,
                       "training_step_seconds": train_rows}, f, indent=2)


if __name__ == "__main__":
    main()
