"""The graph-ready training step (``study.graphs``): on the CPU, what the eager step computes, with no read of the
device inside a step; on a GPU, the captured step against the eager one."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from lat_utils.config import get_profile
from lat_utils.models import StackedModels, model_for
from lat_utils.study import graphs
from lat_utils.study.graphs import CapturedStep, step_mode
from lat_utils.study.optimizers import learning_rate_at, optimizer_for, rates_on_device, set_learning_rate
from lat_utils.study.training import eps_at, training_step

# A warm-up that changes eps at every step, a cosine learning rate, a short PGD: what the captured graph must follow
SETTINGS = dataclasses.replace(get_profile("quick"), train_steps=8, eps_warmup_fraction=0.5, train_pgd_steps=3)
HOST_READS = {"aten._local_scalar_dense.default", "aten.is_nonzero.default", "aten.equal.default"}


def _trained(mode: str, digits, localizations=("background",), device="cpu", steps=4):
    """The outputs of ``steps`` training steps in ``mode`` from the same seed: per step the attacked batch, the
    logits and the losses, and the weights at the end."""
    torch.manual_seed(0)
    models = [model_for("mnist") for _ in localizations]
    network = (StackedModels(models) if len(models) > 1 else models[0]).to(device)
    optimizer = optimizer_for(network, SETTINGS, capturable=mode == "capture")
    step = CapturedStep(lambda x, y, eps: training_step(network, optimizer, (x, y), list(localizations), eps=eps,
                                                        settings=SETTINGS, check_inputs=False), mode)
    images, labels = (t[:16].to(device) for t in digits)
    torch.manual_seed(1)
    outputs = []
    for i in range(steps):
        set_learning_rate(optimizer, i, SETTINGS)
        done = step((images.roll(i, 0), labels.roll(i, 0)), eps_at(i, SETTINGS))
        outputs.append(tuple(t.detach().cpu().clone() for t in (done.adversarial, done.logits, done.losses)))
    return outputs, {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}


def _assert_same(first, second, atol):
    (steps_a, weights_a), (steps_b, weights_b) = first, second
    for a, b in zip(steps_a, steps_b):
        for tensor_a, tensor_b in zip(a, b):
            torch.testing.assert_close(tensor_a, tensor_b, atol=atol, rtol=1e-4)
    for name in weights_a:
        torch.testing.assert_close(weights_a[name], weights_b[name], atol=atol, rtol=1e-4)


@pytest.mark.parametrize("localizations", [("background",), ("standard", "broad")])
def test_the_graph_ready_step_computes_what_the_eager_one_does(digits, localizations):
    """eps as a tensor on the device (the graph's input) changes nothing: the same attacked batches, losses and
    weights, step by step through a warm-up, for one model and for two stacked."""
    eager, ready = _trained("eager", digits, localizations), _trained("ready", digits, localizations)
    _assert_same(eager, ready, atol=1e-5)
    assert not torch.equal(eager[0][0][0], eager[0][-1][0])   # the batches did change: the steps are not one


class _HostReads(TorchDispatchMode):
    """Counts the operations that make the host read a tensor's value (on a GPU: wait for the device)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func) in HOST_READS:
            self.reads.append(str(func))
        return func(*args, **(kwargs or {}))


def test_the_graph_ready_step_never_reads_the_device(digits):
    """Inside a graph-ready step no value goes back to the host (no ``.item()``, no ``if tensor``): a captured graph
    could not hold one, and on a GPU each would stall the step. The eager step reads eps as a number, not a tensor."""
    torch.manual_seed(0)
    model = model_for("mnist")
    optimizer = optimizer_for(model, SETTINGS)
    step = CapturedStep(lambda x, y, eps: training_step(model, optimizer, (x, y), ["exact"], eps=eps, settings=SETTINGS,
                                                        check_inputs=False), "ready")
    images, labels = (t[:16] for t in digits)
    step((images, labels), 0.1)   # the optimizer's state made
    with _HostReads() as reads:
        step((images, labels), 0.2)
    assert reads.reads == []
    with _HostReads() as reads:   # the counter does see a read
        images.sum().item()
    assert reads.reads


def test_a_captured_optimizer_keeps_its_learning_rate_a_tensor_after_a_checkpoint():
    """A captured step reads the learning rate from a tensor that set_learning_rate fills; a checkpoint's optimizer
    state brings Python numbers back, which rates_on_device turns into tensors again."""
    model = model_for("mnist")
    optimizer = optimizer_for(model, SETTINGS, capturable=True)
    rate = optimizer.param_groups[0]["lr"]
    assert isinstance(rate, torch.Tensor)
    set_learning_rate(optimizer, 3, SETTINGS)
    assert optimizer.param_groups[0]["lr"] is rate and rate.item() == pytest.approx(learning_rate_at(3, SETTINGS))
    saved = optimizer_for(model, SETTINGS).state_dict()   # an eager run's checkpoint: Python learning rates
    optimizer.load_state_dict(saved)
    rates_on_device(optimizer)
    assert all(isinstance(group["lr"], torch.Tensor) for group in optimizer.param_groups)


def test_the_step_mode_captures_only_where_a_graph_can_hold_the_step(monkeypatch):
    paper = get_profile("paper")
    assert step_mode(paper, torch.device("cpu")) == "eager"
    assert step_mode(paper, torch.device("cuda")) == "capture"
    assert step_mode(paper.with_network("airbench"), torch.device("cuda")) == "eager"   # weight averaging between steps
    monkeypatch.setenv(graphs.GRAPHS_VARIABLE, "0")
    assert step_mode(paper, torch.device("cuda")) == "eager"
    with pytest.raises(ValueError, match="unknown step mode"):
        CapturedStep(lambda x, y, eps: None, "sometimes")
    with pytest.raises(ValueError, match="only Adam is captured"):
        optimizer_for(model_for("cifar10", "airbench"), paper.with_network("airbench"), capturable=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_the_captured_step_computes_what_the_eager_one_does_on_a_gpu(digits):
    """Two models stacked, the step captured as a CUDA graph after its warm-up steps and replayed, against the eager
    step on the same GPU: a replay draws the random start as the eager step does (the generator's offset advances
    by the graph's draws), so the attacked batches, losses and weights agree within float tolerance."""
    steps = graphs.WARMUP_STEPS + 3
    eager = _trained("eager", digits, ("standard", "background"), device="cuda", steps=steps)
    captured = _trained("capture", digits, ("standard", "background"), device="cuda", steps=steps)
    _assert_same(eager, captured, atol=1e-4)
