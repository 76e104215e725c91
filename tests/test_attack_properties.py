"""Property-based tests of the attack family's contract (hypothesis): for random shapes, masks, budgets
(zeros included), labels and precisions, every attack stays within the epsilon matrix and [0, 1], never
moves a pixel whose budget is 0, and leaves the model's mode and parameters as they were; and every
invalid input raises the documented error."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lat_utils.attacks import PGD, localized_autoattack, masked_apgd, masked_pgd, masked_square
from lat_utils.masks import epsilon_matrix
from lat_utils.spec.budgets import AutoAttackBudget

CLASSES = 10
ATTACKS = {
    "pgd": lambda m, x, y, e, p: masked_pgd(m, x, y, e, PGD(steps=2, step_size=0.1), precision=p),
    "pgd-final": lambda m, x, y, e, p: masked_pgd(m, x, y, e,
                                                  PGD(steps=2, step_size=0.1, projection="final"), precision=p),
    "apgd-ce": lambda m, x, y, e, p: masked_apgd(m, x, y, e, steps=3, precision=p),
    "apgd-t": lambda m, x, y, e, p: masked_apgd(m, x, y, e, steps=3, loss="dlr-targeted", targets=2, precision=p),
    "square": lambda m, x, y, e, p: masked_square(m, x, y, e, queries=6, precision=p),
    "autoattack": lambda m, x, y, e, p: localized_autoattack(m, x, y, e, AutoAttackBudget(2, 1, 3),
                                                             pgd=PGD(steps=1, step_size=0.3), precision=p).images,
}
FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _model(channels: int, seed: int, training: bool) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.2),
                          nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, CLASSES))
    return model.train(training)


@st.composite
def batches(draw):
    """A random batch: shape, images with some black pixels, a mask kind, a budget (0 included), labels."""
    n, channels = draw(st.integers(1, 4)), draw(st.sampled_from([1, 3]))
    height, width = draw(st.integers(6, 14)), draw(st.integers(6, 14))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    images = torch.rand(n, channels, height, width, generator=generator)
    images[torch.rand(n, 1, height, width, generator=generator).expand_as(images) < 0.4] = 0.0  # "background"
    kind = draw(st.sampled_from(["standard", "background", "exact", "broad", "bbox"]))
    eps = draw(st.sampled_from([0.0, 0.01, 0.3, 1.0]) | st.floats(0.0, 1.0))
    boxes = None
    if kind == "bbox":
        boxes = [(draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1)), width, height) for _ in range(n)]
    center = draw(st.integers(0, min(height, width)))
    eps_matrix = epsilon_matrix(images, kind, eps, box=boxes, center=center)
    labels = torch.randint(0, CLASSES, (n,), generator=generator)
    return images, labels, eps_matrix


@FAST
@given(batch=batches(), attack=st.sampled_from(sorted(ATTACKS)), precision=st.sampled_from(["fp32", "bf16"]),
       training=st.booleans(), seed=st.integers(0, 1000))
def test_every_attack_keeps_its_contract_on_random_inputs(batch, attack, precision, training, seed):
    images, labels, eps_matrix = batch
    model = _model(images.shape[1], seed, training)
    before = copy.deepcopy(model.state_dict())
    original = images.clone()
    x_adv = ATTACKS[attack](model, images, labels, eps_matrix, precision)
    assert x_adv.shape == images.shape and x_adv.dtype == images.dtype
    assert ((x_adv - images).abs() <= eps_matrix + 1e-6).all(), "perturbation exceeds the epsilon matrix"
    assert torch.equal(x_adv[eps_matrix == 0], images[eps_matrix == 0]), "a pixel with budget 0 changed"
    assert x_adv.min() >= 0 and x_adv.max() <= 1, "left [0, 1]"
    assert torch.equal(images, original), "the input images were modified"
    assert model.training == training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def _nan_somewhere(tensor: torch.Tensor, where: int, value: float) -> torch.Tensor:
    tensor = tensor.clone()
    tensor.view(-1)[where % tensor.numel()] = value
    return tensor


INVALID = {
    # name: (make the bad input from (images, labels, eps_matrix, position), error, message)
    "NaN in an image": (lambda x, y, e, i: (_nan_somewhere(x, i, float("nan")), y, e), ValueError,
                        r"images must be finite: 1 of"),
    "infinity in an image": (lambda x, y, e, i: (_nan_somewhere(x, i, float("inf")), y, e), ValueError,
                             r"images must be finite: 1 of .*1 infinite"),
    "NaN in the budget": (lambda x, y, e, i: (x, y, _nan_somewhere(e, i, float("nan"))), ValueError,
                          r"eps_matrix must be finite: 1 of"),
    "a negative budget": (lambda x, y, e, i: (x, y, _nan_somewhere(e, i, -0.1)), ValueError,
                          r"eps_matrix entries must lie in \[0, 1\]"),
    "a label too large": (lambda x, y, e, i: (x, _nan_somewhere(y, i, CLASSES + i % 50), e), ValueError,
                          r"labels must be class indices in \[0, 10\)"),
    "a negative label": (lambda x, y, e, i: (x, _nan_somewhere(y, i, -1 - i % 50), e), ValueError,
                         "labels must be class indices >= 0"),
    "float64 images": (lambda x, y, e, i: (x.double(), y, e), TypeError, "float32 or bfloat16"),
    "labels of another length": (lambda x, y, e, i: (x, torch.cat([y, y[:1]]), e), ValueError, "one per image"),
}


@FAST
@given(batch=batches(), attack=st.sampled_from(sorted(ATTACKS)), case=st.sampled_from(sorted(INVALID)),
       position=st.integers(0, 10**6))
def test_every_invalid_input_raises_the_documented_error(batch, attack, case, position):
    images, labels, eps_matrix = batch
    make, error, message = INVALID[case]
    x, y, e = make(images, labels, eps_matrix, position)
    with pytest.raises(error, match=message):
        ATTACKS[attack](_model(images.shape[1], 0, False), x, y, e, "fp32")
