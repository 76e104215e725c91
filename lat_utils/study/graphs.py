"""The training step as one replayable graph: the study's training loop on a GPU.

On a GPU the training step is launch-bound (bench/README.md: PGD-100 on batches of 50 keeps a GPU busy a fraction of
a percent of the time): each step launches thousands of small kernels from Python. ``CapturedStep`` records
``training.training_step`` once as a CUDA graph (the batch's epsilon matrix, the attack's random start, every PGD
step and projection, the loss, the update) and replays it every step. What changes from step to step lives in
tensors on the device that the graph reads: the batch, the warm-up's eps (the attack's step size follows from it
inside the step) and the learning rate (``optimizers.set_learning_rate`` fills it); the random start is drawn inside
the graph (CUDA graphs advance the generator's offset at each replay). A group of models stacked into one network
(``StackedModels``) is one graph.

Where no graph can be captured (a CPU, or a recipe with work between steps that a graph cannot hold: airbench94's
weight averaging and augmentation) the training loop calls ``training_step`` eagerly as before, with Python
numbers: the CPU's numbers do not change. ``CapturedStep(..., mode="ready")`` runs the graph-ready step eagerly
(the tensors above, no capture): the tests compare it with the eager step on the CPU, and check that it never
makes the host wait for the device.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

import torch

from ..spec.settings import Profile

GRAPHS_VARIABLE = "LAT_CUDA_GRAPHS"   # "0": never capture (the eager step on a GPU too)
WARMUP_STEPS = 3                       # eager steps on a side stream before the capture (allocations, autotuning)
MODES = ("eager", "ready", "capture")  # Python numbers as before; the graph's tensors, run eagerly; captured
Out = TypeVar("Out")


def step_mode(settings: Profile, device: torch.device) -> str:
    """How the training loop runs its step: "capture" on a CUDA device for a recipe with nothing between steps but
    the step itself (Adam, no augmentation) unless ``$LAT_CUDA_GRAPHS`` is "0", "eager" everywhere else."""
    captured = (torch.device(device).type == "cuda" and settings.optimizer == "adam" and not settings.augment
                and os.environ.get(GRAPHS_VARIABLE, "1") != "0")
    return "capture" if captured else "eager"


class CapturedStep(Generic[Out]):
    """A training step ``step(images, labels, eps)`` run once per call as ``captured((images, labels), eps)``.

    ``mode`` (``MODES``): "eager" calls ``step`` with the batch and eps as given (a Python number); "ready" copies
    them into tensors kept on the device (the graph's inputs) and calls ``step`` with those, eps a 0-d tensor;
    "capture" does so for its first ``WARMUP_STEPS`` calls on a side stream, captures ``step`` on its tensors as a
    CUDA graph at the next call and replays it from then on. Every call is one step of training; the output of a
    replay is the captured step's (the same tensors, overwritten by the next call). An optimizer that is captured
    keeps its state and learning rate on the device (``optimizers.optimizer_for(..., capturable=True)``)."""

    def __init__(self, step: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | float], Out], mode: str = "eager") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown step mode {mode!r}: choose one of {MODES}")
        if mode == "capture" and not torch.cuda.is_available():
            raise ValueError("a step is captured as a CUDA graph: this machine has no CUDA device (mode 'ready' runs "
                             "the same step eagerly)")
        self.step, self.mode = step, mode
        self.calls, self.graph, self.output = 0, None, None
        self.inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None   # images, labels, eps

    def __call__(self, batch: tuple[torch.Tensor, torch.Tensor], eps: float) -> Out:
        images, labels = batch
        self.calls += 1
        if self.mode == "eager":
            return self.step(images, labels, eps)
        if self.inputs is None:
            self.inputs = (torch.empty_like(images), torch.empty_like(labels), torch.zeros((), device=images.device))
        x, y, eps_tensor = self.inputs
        x.copy_(images, non_blocking=True)
        y.copy_(labels, non_blocking=True)
        eps_tensor.fill_(eps)
        if self.mode == "ready":
            return self.step(*self.inputs)
        if self.graph is None and self.calls <= WARMUP_STEPS:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                done = self.step(*self.inputs)
            torch.cuda.current_stream().wait_stream(side)
            return done
        if self.graph is None:   # a capture records the step without running it: the replay below runs it
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.output = self.step(*self.inputs)
        self.graph.replay()
        return self.output
