"""Speed of masked PGD and of adversarial training, against a reference library and the machine's limit.

    python bench/bench_pgd.py [--batch 50] [--steps 20] [--repeats 7] [--json bench/results/NAME.json]

Prints one table of image-steps per second (one image through one PGD iteration: a forward and an
input-gradient backward pass), all measured in this process on the same model, batch and settings:

- ``masked_pgd`` with the standard, background and exact masks (the cost of localization), with
  float32 arithmetic and with bfloat16 autocast (``precision="bf16"``);
- torchattacks' PGD, unmasked (an established reference, float32), on the same model, and on the
  model as a plain PyTorch port of Madry's network would build it (ReLU before pooling, contiguous
  memory layout) to show what the model-level choices of ``lat_utils.models`` are worth;
- Algorithm 1 read literally, one image at a time (PGD, then one clip): the naive baseline;
- the machine's limit: FLOPs of one forward plus input-gradient backward of PaperCNN (counted by
  torch's FlopCounterMode) divided by the dense matmul FLOP/s measured in this process, in float32
  and in bfloat16 (each row is compared with the limit of its own arithmetic);
- one adversarial training step (PGD-k plus the weight update) for the MNIST and CIFAR-10 PaperCNNs,
  as ``lat_utils.study.training`` runs it, with float32 and bf16 attack arithmetic;
- the evaluation's attacks against torchattacks' same attacks on the same model and batch:
  ``masked_apgd`` (cross-entropy, and targeted DLR with one target) against ``APGD`` and ``APGDT``
  in image-steps per second, ``masked_square`` against ``Square`` in image-queries per second (a
  query is one forward pass). The labels are the model's own predictions and eps is tiny
  (``--robust-eps``), so that no image is broken early and both sides do all their work.

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
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lat_utils.attacks import PGD, masked_apgd, masked_pgd, masked_square
from lat_utils.data import load_dataset
from lat_utils.devices import device_name
from lat_utils.masks import epsilon_matrix
from lat_utils.models import PaperCNN, fast_layout, model_for
from lat_utils.spec.budgets import pgd_step
from lat_utils.spec.paper import TRAIN_PGD_ITERATE
from lat_utils.study.optimizers import adam

EPS = 0.3
REFERENCE = "torchattacks PGD (reference, unmasked, fp32)"
LITERAL = "Algorithm 1 literally, one image at a time"


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    return interleaved_median_seconds([fn], repeats)[0]


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


def matmul_flops_per_second(repeats: int, dtype: torch.dtype, n: int = 2048) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats)


def attack_step_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """FLOPs of one PGD iteration on the batch: forward plus the input-gradient backward."""
    frozen = copy.deepcopy(model).requires_grad_(False)  # as in the attack: no weight gradients
    counter = FlopCounterMode(display=False)
    with counter:
        x = x.clone().requires_grad_(True)
        F.cross_entropy(frozen(x), y).backward()
    return float(counter.get_total_flops())


def plain_port(model: PaperCNN) -> nn.Module:
    """The same weights in Madry's layer order (ReLU, then pooling) and the default memory layout."""
    conv1, conv2 = copy.deepcopy(model.features[0]), copy.deepcopy(model.features[3])
    features = nn.Sequential(conv1, nn.ReLU(), nn.MaxPool2d(2), conv2, nn.ReLU(), nn.MaxPool2d(2))
    return nn.Sequential(features, copy.deepcopy(model.classifier)).to(memory_format=torch.contiguous_format).eval()


def literal_algorithm_1(model, images, labels, eps_matrix, steps, step_size) -> torch.Tensor:
    """Algorithm 1 as printed: for each image, an unmasked PGD, then one clip into the epsilon matrix."""
    out = [masked_pgd(model, images[i:i + 1], labels[i:i + 1], eps_matrix[i:i + 1],
                      PGD(steps=steps, step_size=step_size, projection="final")) for i in range(len(images))]
    return torch.cat(out)


def training_step(model, optimizer, images, labels, steps, step_size, precision) -> None:
    x_adv = masked_pgd(model, images, labels, epsilon_matrix(images, "background", EPS),
                       PGD(steps=steps, step_size=step_size, iterate=TRAIN_PGD_ITERATE), precision=precision)
    model.train()
    loss = F.cross_entropy(model(x_adv), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def attack_rows(batch: int, steps: int, repeats: int) -> tuple[dict[str, float], float]:
    """Image-steps per second of every attack of the table, and the FLOPs of one image-step."""
    import torchattacks

    images, labels, _ = load_dataset("mnist", "test")
    model = fast_layout(model_for("mnist").eval())  # the layout training and evaluation use
    x, y = fast_layout(images[:batch]), labels[:batch]
    step_size = pgd_step(EPS, steps)
    image_steps = batch * steps
    masks = {kind: epsilon_matrix(x, kind, EPS) for kind in ("standard", "background", "exact")}
    literal_n = min(10, batch)  # one image at a time is slow: time 10 images, report per image-step

    candidates: dict[str, tuple[Callable[[], object], int]] = {}
    for precision in ("fp32", "bf16"):
        for kind, e in masks.items():
            candidates[f"masked_pgd, {kind} mask, {precision}"] = (
                lambda e=e, p=precision: masked_pgd(model, x, y, e, PGD(steps=steps, step_size=step_size), precision=p),
                image_steps)
    reference = torchattacks.PGD(model, eps=EPS, alpha=step_size, steps=steps, random_start=True)
    plain = torchattacks.PGD(plain_port(model), eps=EPS, alpha=step_size, steps=steps, random_start=True)
    x_plain = x.contiguous()
    candidates[REFERENCE] = (lambda: reference(x, y), image_steps)
    candidates["torchattacks PGD on a plain port of the model"] = (lambda: plain(x_plain, y), image_steps)
    candidates[LITERAL] = (lambda: literal_algorithm_1(model, x[:literal_n], y[:literal_n],
                                                       masks["exact"][:literal_n], steps, step_size),
                           literal_n * steps)
    seconds = interleaved_median_seconds([fn for fn, _ in candidates.values()], repeats)
    rows = {name: work / s for (name, (_, work)), s in zip(candidates.items(), seconds)}
    return rows, attack_step_flops(model, x, y) / batch


def robust_rows(batch: int, steps: int, queries: int, eps: float, repeats: int) -> dict[str, tuple[float, str]]:
    """Work per second of APGD-CE, APGD-T and Square, ours (standard and background mask) and torchattacks'."""
    import torchattacks

    images, _, _ = load_dataset("mnist", "test")
    model = fast_layout(model_for("mnist").eval())
    x = fast_layout(images[:batch])
    with torch.no_grad():
        y = model(x).argmax(1)  # every image starts correct, for both libraries
    standard, background = epsilon_matrix(x, "standard", eps), epsilon_matrix(x, "background", eps)
    image_steps, image_queries = batch * steps, batch * queries
    apgd = torchattacks.APGD(model, eps=eps, steps=steps)
    apgdt = torchattacks.APGDT(model, eps=eps, steps=steps, n_classes=2)  # one target class, as ours below
    square = torchattacks.Square(model, eps=eps, n_queries=queries)
    candidates = {
        "masked_apgd CE, standard mask": (lambda: masked_apgd(model, x, y, standard, steps=steps), image_steps, "steps"),
        "masked_apgd CE, background mask": (lambda: masked_apgd(model, x, y, background, steps=steps), image_steps,
                                            "steps"),
        "torchattacks APGD CE": (lambda: apgd(x, y), image_steps, "steps"),
        "masked_apgd DLR-targeted, 1 target, standard mask": (
            lambda: masked_apgd(model, x, y, standard, steps=steps, loss="dlr-targeted", targets=1), image_steps,
            "steps"),
        "torchattacks APGDT, 1 target": (lambda: apgdt(x, y), image_steps, "steps"),
        "masked_square, standard mask": (lambda: masked_square(model, x, y, standard, queries=queries), image_queries,
                                         "queries"),
        "masked_square, background mask": (lambda: masked_square(model, x, y, background, queries=queries),
                                           image_queries, "queries"),
        "torchattacks Square": (lambda: square(x, y), image_queries, "queries"),
    }
    seconds = interleaved_median_seconds([fn for fn, _, _ in candidates.values()], repeats)
    return {name: (work / s, unit) for (name, (_, work, unit)), s in zip(candidates.items(), seconds)}


def training_rows(batch: int, pgd_steps: int, repeats: int) -> dict[str, float]:
    """Seconds of one adversarial training step per dataset and attack precision."""
    out = {}
    for dataset in ("mnist", "cifar10"):
        for precision in ("fp32", "bf16"):
            torch.manual_seed(0)
            net = fast_layout(model_for(dataset))  # as lat_utils.study.training trains it
            optimizer = adam(net.parameters(), 1e-3)
            shape = (batch, net.in_channels, net.image_size, net.image_size)
            xb, yb = fast_layout(torch.rand(shape)), torch.randint(0, 10, (batch,))
            out[f"{dataset}, {precision}"] = median_seconds(
                lambda: training_step(net, optimizer, xb, yb, pgd_steps, 0.1, precision), repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20, help="PGD iterations per attack")
    parser.add_argument("--train-steps", type=int, default=5, help="PGD iterations per training step")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--apgd-steps", type=int, default=20, help="APGD iterations per attack")
    parser.add_argument("--queries", type=int, default=100, help="Square Attack queries per image")
    parser.add_argument("--robust-eps", type=float, default=0.002, help="eps of the APGD and Square rows")
    parser.add_argument("--matmul-size", type=int, default=2048, help="side of the square matmul of the limit")
    parser.add_argument("--json", default=None, help="also save the results here")
    args = parser.parse_args()
    torch.manual_seed(0)

    rows, flops = attack_rows(args.batch, args.steps, args.repeats)
    peaks = {p: matmul_flops_per_second(args.repeats, dtype, args.matmul_size) for p, dtype in
             (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    limits = {p: peak / flops for p, peak in peaks.items()}
    train = training_rows(args.batch, args.train_steps, args.repeats)
    robust = robust_rows(args.batch, args.apgd_steps, args.queries, args.robust_eps, args.repeats)

    ref = rows[REFERENCE]
    print(f"\nMasked PGD benchmark: {device_name()}, torch {torch.__version__}, batch {args.batch}, "
          f"PGD-{args.steps}, {datetime.now(timezone.utc):%Y-%m-%d}")
    print(f"PaperCNN (MNIST): {flops / 1e6:.1f} MFLOP per image-step (forward + input-gradient backward); "
          f"dense matmul {peaks['fp32'] / 1e9:.0f} GFLOP/s fp32, {peaks['bf16'] / 1e9:.0f} GFLOP/s bf16\n")
    print(f"{'method':<48} {'image-steps/s':>14} {'vs torchattacks':>16} {'% of limit':>11}")
    for name, value in rows.items():
        limit = limits["bf16" if name.endswith("bf16") else "fp32"]
        print(f"{name:<48} {value:>14,.0f} {value / ref:>15.2f}x {100 * value / limit:>10.1f}%")
    for precision, limit in limits.items():
        print(f"{'machine limit (matmul roofline), ' + precision:<48} {limit:>14,.0f} {limit / ref:>15.2f}x")

    overhead = {f"{kind}, {p}": 100 * (rows[f"masked_pgd, standard mask, {p}"] / rows[f"masked_pgd, {kind} mask, {p}"] - 1)
                for p in ("fp32", "bf16") for kind in ("background", "exact")}
    print("\nlocalization overhead vs the standard mask: "
          + ", ".join(f"{name} {value:+.1f}%" for name, value in overhead.items()))
    for p in ("fp32", "bf16"):
        ours = rows[f"masked_pgd, standard mask, {p}"]
        print(f"masked_pgd ({p}) / torchattacks: {ours / ref:.2f}x; / literal Algorithm 1: {ours / rows[LITERAL]:.1f}x")
    for name, seconds in train.items():
        print(f"adversarial training step, {name} attack (PGD-{args.train_steps} + update, batch {args.batch}): "
              f"{seconds * 1e3:.0f} ms")
    print(f"\nEvaluation attacks (fp32, batch {args.batch}, APGD-{args.apgd_steps}, Square {args.queries} queries, "
          f"eps {args.robust_eps}), ratio against torchattacks' same attack:")
    references = {"steps": None, "queries": robust["torchattacks Square"][0]}
    for name, (value, unit) in robust.items():
        reference = robust["torchattacks APGDT, 1 target" if "DLR" in name or "APGDT" in name
                           else "torchattacks APGD CE"][0] if unit == "steps" else references["queries"]
        print(f"{name:<52} {value:>12,.0f} image-{unit}/s {value / reference:>8.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "platform": platform.platform(), "torch": torch.__version__,
                       "date": datetime.now(timezone.utc).isoformat(), "batch": args.batch, "steps": args.steps,
                       "train_pgd_steps": args.train_steps, "mflop_per_image_step": flops / 1e6,
                       "matmul_gflops": {p: v / 1e9 for p, v in peaks.items()},
                       "image_steps_per_second": rows, "limit_image_steps_per_second": limits,
                       "localization_overhead_percent": overhead, "training_step_seconds": train,
                       "evaluation_attacks": {"apgd_steps": args.apgd_steps, "square_queries": args.queries,
                                              "eps": args.robust_eps,
                                              "work_per_second": {k: v for k, (v, _) in robust.items()}}},
                      f, indent=2)


if __name__ == "__main__":
    main()
