import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lat_utils.attacks import masked_pgd, resolve_precision
from lat_utils.masks import epsilon_matrix
from lat_utils.models import PaperCNN

from .conftest import accuracy

KINDS = ["standard", "background", "exact", "broad", "bbox"]
PROJECTIONS = ["per_step", "final"]


def _eps_matrix(images, kind, eps=0.3):
    n, _, h, w = images.shape
    box = [(2 + i % 5, 3, w - 4, h - 2 - i % 3) for i in range(n)] if kind == "bbox" else None
    return epsilon_matrix(images, kind, eps, box=box)


def _check_invariants(x, x_adv, eps_matrix):
    delta = (x_adv - x).abs()
    assert (delta <= eps_matrix + 1e-6).all(), "perturbation exceeds the epsilon matrix"
    assert torch.equal(x_adv[eps_matrix == 0], x[eps_matrix == 0]), "a pixel with budget 0 changed"
    assert x_adv.min() >= 0 and x_adv.max() <= 1, "adversarial images left [0, 1]"
    assert not x_adv.requires_grad


def _losses(model, x, y):
    with torch.no_grad():
        return F.cross_entropy(model(x), y, reduction="none")


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_invariants_on_real_digits(trained_mnist_model, digits, kind, projection):
    images, labels = digits
    eps_matrix = _eps_matrix(images, kind)
    x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=10, step_size=0.05,
                       projection=projection)
    _check_invariants(images, x_adv, eps_matrix)
    assert _losses(trained_mnist_model, x_adv, labels).mean() > _losses(trained_mnist_model, images, labels).mean()
    assert (x_adv != images).any()


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_invariants_on_random_models_and_inputs(kind, projection):
    torch.manual_seed(1)
    model = PaperCNN(in_channels=3, image_size=32).eval()
    images = torch.rand(6, 3, 32, 32)
    images[:, :, 10:20, 10:20] = 0.0  # some black "background" so exact and broad differ from standard
    images[0, :, 0, 0] = 1.0  # saturated pixels exercise the [0, 1] clip
    labels = torch.randint(0, 10, (6,))
    eps_matrix = _eps_matrix(images, kind, eps=0.5)
    x_adv = masked_pgd(model, images, labels, eps_matrix, steps=5, step_size=0.2, projection=projection)
    _check_invariants(images, x_adv, eps_matrix)


@pytest.mark.parametrize("kind", ["background", "exact", "bbox"])
def test_bf16_arithmetic_keeps_every_invariant(trained_mnist_model, digits, kind):
    images, labels = digits
    eps_matrix = _eps_matrix(images, kind)
    x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=5, step_size=0.05, precision="bf16")
    _check_invariants(images, x_adv, eps_matrix)
    assert x_adv.dtype == torch.float32


def test_bf16_attack_is_as_strong_as_torchattacks(trained_mnist_model, mnist_test):
    # bf16 only chooses the direction of each step; it must not make a weaker attack than fp32 PGD
    import torchattacks
    images, labels = mnist_test[0][:1000], mnist_test[1][:1000]
    eps, steps, alpha = 0.15, 10, 0.03
    torch.manual_seed(0)
    ours = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", eps),
                      steps=steps, step_size=alpha, precision="bf16")
    torch.manual_seed(0)
    theirs = torchattacks.PGD(trained_mnist_model, eps=eps, alpha=alpha, steps=steps, random_start=True)(images, labels)
    acc_ours, acc_theirs = accuracy(trained_mnist_model, ours, labels), accuracy(trained_mnist_model, theirs, labels)
    assert acc_ours <= acc_theirs + 0.01, f"bf16 masked_pgd accuracy {acc_ours:.3f} vs torchattacks {acc_theirs:.3f}"


def test_precision_auto_resolves_to_a_concrete_precision():
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "cpu") in ("fp32", "bf16")
    assert resolve_precision("auto", "meta") == "fp32"
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", "cpu")


def test_per_step_loss_never_below_natural_loss(trained_mnist_model, digits):
    # without random start the first iterate is x itself, and the attack returns the best iterate
    images, labels = digits
    for kind in KINDS:
        eps_matrix = _eps_matrix(images, kind)
        x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=5, step_size=0.05,
                           random_start=False)
        assert (_losses(trained_mnist_model, x_adv, labels) >= _losses(trained_mnist_model, images, labels) - 1e-5).all()


def test_standard_attack_collapses_a_trained_model(trained_mnist_model, mnist_test):
    images, labels = mnist_test[0][:500], mnist_test[1][:500]
    assert accuracy(trained_mnist_model, images, labels) > 0.9
    x_adv = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", 0.3),
                       steps=20, step_size=0.025)
    assert accuracy(trained_mnist_model, x_adv, labels) < 0.05


def test_exact_mask_attack_hurts_a_natural_model(trained_mnist_model, mnist_test):
    # the paper's observation: changing only the background fools a naturally trained model
    images, labels = mnist_test[0][:500], mnist_test[1][:500]
    x_adv = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "exact", 0.3),
                       steps=20, step_size=0.025)
    assert accuracy(trained_mnist_model, x_adv, labels) < 0.5


def test_at_least_as_strong_as_torchattacks(trained_mnist_model, mnist_test):
    import torchattacks  # a test dependency: a missing one must fail, not skip
    images, labels = mnist_test[0][:1000], mnist_test[1][:1000]
    eps, steps, alpha = 0.15, 10, 0.03  # a mid-strength setting, where differences would show
    torch.manual_seed(0)
    ours = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", eps),
                      steps=steps, step_size=alpha)
    torch.manual_seed(0)
    theirs = torchattacks.PGD(trained_mnist_model, eps=eps, alpha=alpha, steps=steps, random_start=True)(images, labels)
    acc_ours, acc_theirs = accuracy(trained_mnist_model, ours, labels), accuracy(trained_mnist_model, theirs, labels)
    assert acc_ours <= acc_theirs + 0.01, f"masked_pgd accuracy {acc_ours:.3f} vs torchattacks {acc_theirs:.3f}"
    assert _losses(trained_mnist_model, ours, labels).mean() >= _losses(trained_mnist_model, theirs, labels).mean() * 0.98


def test_final_projection_equals_per_step_when_the_budget_is_uniform(trained_mnist_model, digits):
    images, labels = digits
    eps_matrix = epsilon_matrix(images, "standard", 0.3)
    torch.manual_seed(3)
    a = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=5, step_size=0.05, projection="final")
    torch.manual_seed(3)
    b = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=5, step_size=0.05, projection="per_step")
    assert torch.equal(a, b)


def test_per_step_is_stronger_than_final_clipping(trained_mnist_model, mnist_test):
    # Algorithm 1 read literally (unmasked PGD, then one clip) optimizes for the wrong pixels
    images, labels = mnist_test[0][:300], mnist_test[1][:300]
    eps_matrix = epsilon_matrix(images, "exact", 0.3)
    losses = {}
    for projection in PROJECTIONS:
        torch.manual_seed(0)
        x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=20, step_size=0.025,
                           projection=projection)
        losses[projection] = _losses(trained_mnist_model, x_adv, labels).mean()
    assert losses["per_step"] > losses["final"]


def test_zero_steps_without_random_start_is_the_identity(trained_mnist_model, digits):
    images, labels = digits
    x_adv = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", 0.3),
                       steps=0, step_size=0.1, random_start=False)
    assert torch.equal(x_adv, images)


@pytest.mark.parametrize("training", [True, False])
def test_model_mode_and_parameters_untouched(digits, training):
    images, labels = digits
    torch.manual_seed(0)
    model = nn.Sequential(PaperCNN(), nn.Dropout(0.5))  # dropout: the mode would change the attack
    model.train(training)
    model[0].classifier[1].weight.grad = torch.ones_like(model[0].classifier[1].weight)
    before = copy.deepcopy(model.state_dict())
    masked_pgd(model, images, labels, epsilon_matrix(images, "background", 0.3), steps=3, step_size=0.05)
    assert model.training == training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model[0].classifier[1].weight.grad, torch.ones_like(model[0].classifier[1].weight))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.classifier.1.weight")


def test_attack_is_batched_not_per_image(trained_mnist_model, digits):
    # one image alone and inside a batch follow the same path (no hidden coupling between images)
    images, labels = digits
    eps_matrix = epsilon_matrix(images, "broad", 0.3)
    alone = masked_pgd(trained_mnist_model, images[:1], labels[:1], eps_matrix[:1], steps=5, step_size=0.05,
                       random_start=False)
    batched = masked_pgd(trained_mnist_model, images, labels, eps_matrix, steps=5, step_size=0.05,
                         random_start=False)
    assert torch.allclose(alone, batched[:1], atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_the_device_of_its_inputs(trained_mnist_model, digits):
    images, labels = (t.cuda() for t in digits)
    model = copy.deepcopy(trained_mnist_model).cuda()
    x_adv = masked_pgd(model, images, labels, epsilon_matrix(images, "exact", 0.3), steps=3, step_size=0.05)
    assert x_adv.device == images.device


@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(eps_matrix=torch.zeros(64, 1, 28, 27)), ValueError, "eps_matrix must have the shape"),
        (dict(eps_matrix=torch.full((64, 1, 28, 28), 1.5)), ValueError, r"eps_matrix entries must lie in \[0, 1\]"),
        (dict(labels=torch.zeros(63, dtype=torch.long)), ValueError, "one per image"),
        (dict(labels=torch.zeros(64)), TypeError, "integer"),
        (dict(steps=-1), ValueError, "steps must be >= 0"),
        (dict(steps=2.5), TypeError, "steps must be an int"),
        (dict(step_size=-0.1), ValueError, "step_size"),
        (dict(projection="after"), ValueError, "unknown projection"),
        (dict(precision="half"), ValueError, "unknown precision"),
        (dict(images=torch.full((64, 1, 28, 28), 2.0)), ValueError, r"must lie in \[0, 1\]"),
        (dict(images=torch.rand(1, 28, 28)), ValueError, "4-D"),
    ],
)
def test_bad_input_is_named(trained_mnist_model, digits, change, error, message):
    images, labels = digits
    args = dict(images=images, labels=labels, eps_matrix=epsilon_matrix(images, "standard", 0.3), steps=2,
                step_size=0.1, projection="per_step")
    args.update(change)
    with pytest.raises(error, match=message):
        masked_pgd(trained_mnist_model, args.pop("images"), args.pop("labels"), args.pop("eps_matrix"), **args)
