import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lat_utils.attacks import (
    ATTACK_NAMES,
    PGD,
    localized_autoattack,
    masked_apgd,
    masked_pgd,
    masked_square,
    resolve_precision,
)
from lat_utils.masks import epsilon_matrix
from lat_utils.models import PaperCNN
from lat_utils.spec.budgets import AutoAttackBudget, pgd_step
from lat_utils.study.crosscheck import LocalizingWrapper

from .helpers import accuracy

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


def _with(tensor: torch.Tensor, value: float) -> torch.Tensor:
    """``tensor`` with its first entry set to ``value`` (a NaN or an infinity among good values)."""
    tensor.view(-1)[0] = value
    return tensor


def _losses(model, x, y):
    with torch.no_grad():
        return F.cross_entropy(model(x), y, reduction="none")


@pytest.mark.parametrize("projection", PROJECTIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_invariants_on_real_digits(trained_mnist_model, digits, kind, projection):
    images, labels = digits
    eps_matrix = _eps_matrix(images, kind)
    x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix,
                       PGD(steps=10, step_size=0.05, projection=projection))
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
    x_adv = masked_pgd(model, images, labels, eps_matrix, PGD(steps=5, step_size=0.2, projection=projection))
    _check_invariants(images, x_adv, eps_matrix)


@pytest.mark.parametrize("kind", ["background", "exact", "bbox"])
def test_bf16_arithmetic_keeps_every_invariant(trained_mnist_model, digits, kind):
    images, labels = digits
    eps_matrix = _eps_matrix(images, kind)
    x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix, PGD(steps=5, step_size=0.05), precision="bf16")
    _check_invariants(images, x_adv, eps_matrix)
    assert x_adv.dtype == torch.float32


def test_bf16_attack_is_as_strong_as_torchattacks(trained_mnist_model, mnist_test):
    # bf16 only chooses the direction of each step; it must not make a weaker attack than fp32 PGD. 100 images:
    # on a CPU without bf16 kernels (emulated, ~10x slower) 1,000 took minutes; 1,000, 300, 150 and 100 each gave
    # the same accuracy as torchattacks (37% at 100)
    import torchattacks
    images, labels = mnist_test[0][:100], mnist_test[1][:100]
    eps, steps, alpha = 0.15, 10, 0.03
    torch.manual_seed(0)
    ours = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", eps),
                      PGD(steps=steps, step_size=alpha), precision="bf16")
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


def test_auto_precision_computes_as_the_other_cpu_kind_when_told(monkeypatch):
    for chosen in ("fp32", "bf16"):
        monkeypatch.setenv("LAT_AUTO_PRECISION", chosen)
        assert resolve_precision("auto", "cpu") == chosen and resolve_precision("fp32", "cpu") == "fp32"
    monkeypatch.setenv("LAT_AUTO_PRECISION", "fp16")
    with pytest.raises(ValueError, match=r"\$LAT_AUTO_PRECISION is 'fp16': set it to 'fp32' or 'bf16'"):
        resolve_precision("auto", "cpu")


def test_per_step_loss_never_below_natural_loss(trained_mnist_model, digits):
    # without random start the first iterate is x itself, and the attack returns the best iterate
    images, labels = digits
    for kind in KINDS:
        eps_matrix = _eps_matrix(images, kind)
        x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix,
                           PGD(steps=5, step_size=0.05, random_start=False))
        assert (_losses(trained_mnist_model, x_adv, labels) >= _losses(trained_mnist_model, images, labels) - 1e-5).all()


def test_standard_attack_collapses_a_trained_model(trained_mnist_model, mnist_test):
    images, labels = mnist_test[0][:200], mnist_test[1][:200]
    assert accuracy(trained_mnist_model, images, labels) > 0.9
    x_adv = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", 0.3),
                       PGD(steps=20, step_size=0.025))
    assert accuracy(trained_mnist_model, x_adv, labels) < 0.05


def test_exact_mask_attack_hurts_a_natural_model(trained_mnist_model, mnist_test):
    # the paper's observation: changing only the background fools a naturally trained model
    images, labels = mnist_test[0][:200], mnist_test[1][:200]
    x_adv = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "exact", 0.3),
                       PGD(steps=20, step_size=0.025))
    assert accuracy(trained_mnist_model, x_adv, labels) < 0.5


def test_at_least_as_strong_as_torchattacks(trained_mnist_model, mnist_test):
    import torchattacks  # a test dependency: a missing one must fail, not skip
    images, labels = mnist_test[0][:200], mnist_test[1][:200]  # 1,000, 500 and 200: the same accuracy as torchattacks
    eps, steps, alpha = 0.15, 10, 0.03  # a mid-strength setting, where differences would show
    torch.manual_seed(0)
    ours = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", eps),
                      PGD(steps=steps, step_size=alpha))
    torch.manual_seed(0)
    theirs = torchattacks.PGD(trained_mnist_model, eps=eps, alpha=alpha, steps=steps, random_start=True)(images, labels)
    acc_ours, acc_theirs = accuracy(trained_mnist_model, ours, labels), accuracy(trained_mnist_model, theirs, labels)
    assert acc_ours <= acc_theirs + 0.01, f"masked_pgd accuracy {acc_ours:.3f} vs torchattacks {acc_theirs:.3f}"
    assert _losses(trained_mnist_model, ours, labels).mean() >= _losses(trained_mnist_model, theirs, labels).mean() * 0.98


def test_final_projection_equals_per_step_when_the_budget_is_uniform(trained_mnist_model, digits):
    images, labels = digits
    eps_matrix = epsilon_matrix(images, "standard", 0.3)
    torch.manual_seed(3)
    a = masked_pgd(trained_mnist_model, images, labels, eps_matrix, PGD(steps=5, step_size=0.05, projection="final"))
    torch.manual_seed(3)
    b = masked_pgd(trained_mnist_model, images, labels, eps_matrix, PGD(steps=5, step_size=0.05, projection="per_step"))
    assert torch.equal(a, b)


def test_per_step_is_stronger_than_final_clipping(trained_mnist_model, mnist_test):
    # Algorithm 1 read literally (unmasked PGD, then one clip) optimizes for the wrong pixels
    images, labels = mnist_test[0][:150], mnist_test[1][:150]
    eps_matrix = epsilon_matrix(images, "exact", 0.3)
    losses = {}
    for projection in PROJECTIONS:
        torch.manual_seed(0)
        x_adv = masked_pgd(trained_mnist_model, images, labels, eps_matrix,
                           PGD(steps=20, step_size=0.025, projection=projection))
        losses[projection] = _losses(trained_mnist_model, x_adv, labels).mean()
    assert losses["per_step"] > losses["final"]


def test_last_iterate_is_plain_pgd_and_the_best_iterate_never_loses_to_it(trained_mnist_model, digits):
    """``iterate="last"`` (what training uses) is PGD written out by hand; ``"best"`` (evaluation) scores at least as high."""
    images, labels = digits
    eps_matrix = epsilon_matrix(images, "background", 0.3)
    lower, upper = (images - eps_matrix).clamp(min=0), (images + eps_matrix).clamp(max=1)
    x = images.clone()
    for _ in range(4):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(trained_mnist_model(x), labels, reduction="none").sum(), x)
        x = torch.minimum(torch.maximum(x.detach() + 0.05 * grad.sign(), lower), upper)
    last = masked_pgd(trained_mnist_model, images, labels, eps_matrix,
                      PGD(steps=4, step_size=0.05, random_start=False, iterate="last"))
    assert torch.equal(last, x)
    best = masked_pgd(trained_mnist_model, images, labels, eps_matrix, PGD(steps=4, step_size=0.05, random_start=False))
    assert (_losses(trained_mnist_model, best, labels) >= _losses(trained_mnist_model, last, labels) - 1e-6).all()


def test_zero_steps_without_random_start_is_the_identity(trained_mnist_model, digits):
    images, labels = digits
    x_adv = masked_pgd(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", 0.3),
                       PGD(steps=0, step_size=0.1, random_start=False))
    assert torch.equal(x_adv, images)


@pytest.mark.parametrize("training", [True, False])
def test_model_mode_and_parameters_untouched(digits, training):
    images, labels = digits
    torch.manual_seed(0)
    model = nn.Sequential(PaperCNN(), nn.Dropout(0.5))  # dropout: the mode would change the attack
    model.train(training)
    model[0].classifier[1].weight.grad = torch.ones_like(model[0].classifier[1].weight)
    before = copy.deepcopy(model.state_dict())
    masked_pgd(model, images, labels, epsilon_matrix(images, "background", 0.3), PGD(steps=3, step_size=0.05))
    assert model.training == training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model[0].classifier[1].weight.grad, torch.ones_like(model[0].classifier[1].weight))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.classifier.1.weight")


def test_attack_is_batched_not_per_image(trained_mnist_model, digits):
    # one image alone and inside a batch follow the same path (no hidden coupling between images)
    images, labels = digits
    eps_matrix = epsilon_matrix(images, "broad", 0.3)
    alone = masked_pgd(trained_mnist_model, images[:1], labels[:1], eps_matrix[:1],
                       PGD(steps=5, step_size=0.05, random_start=False))
    batched = masked_pgd(trained_mnist_model, images, labels, eps_matrix,
                         PGD(steps=5, step_size=0.05, random_start=False))
    assert torch.allclose(alone, batched[:1], atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_runs_on_the_device_of_its_inputs(trained_mnist_model, digits):
    images, labels = (t.cuda() for t in digits)
    model = copy.deepcopy(trained_mnist_model).cuda()
    x_adv = masked_pgd(model, images, labels, epsilon_matrix(images, "exact", 0.3), PGD(steps=3, step_size=0.05))
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
        (dict(step_size=float("nan")), ValueError, "step_size must be a finite number"),
        (dict(step_size=float("inf")), ValueError, "step_size must be a finite number"),
        (dict(step_size="0.1"), TypeError, "step_size must be a number"),
    ],
)
def test_bad_input_is_named(trained_mnist_model, digits, change, error, message):
    images, labels = digits
    args = dict(images=images, labels=labels, eps_matrix=epsilon_matrix(images, "standard", 0.3), steps=2,
                step_size=0.1, projection="per_step")
    args.update(change)
    with pytest.raises(error, match=message):
        tensors = [args.pop(name) for name in ("images", "labels", "eps_matrix")]
        precision = args.pop("precision", "fp32")
        masked_pgd(trained_mnist_model, *tensors, PGD(**args), precision=precision)


# --- the whole family: every attack keeps the same contract (in bf16 too: tests/test_attack_properties.py) ---

FAMILY = {
    "pgd": lambda model, x, y, e: masked_pgd(model, x, y, e, PGD(steps=5, step_size=0.05)),
    "pgd-last": lambda model, x, y, e: masked_pgd(model, x, y, e, PGD(steps=5, step_size=0.05, iterate="last")),
    "apgd-ce": lambda model, x, y, e: masked_apgd(model, x, y, e, steps=8),
    "apgd-dlr": lambda model, x, y, e: masked_apgd(model, x, y, e, steps=8, loss="dlr"),
    "apgd-t": lambda model, x, y, e: masked_apgd(model, x, y, e, steps=8, loss="dlr-targeted", targets=3),
    "square": lambda model, x, y, e: masked_square(model, x, y, e, queries=60),
    "autoattack": lambda model, x, y, e: localized_autoattack(model, x, y, e, AutoAttackBudget(6, 2, 30),
                                                              pgd=PGD(steps=3, step_size=0.25)).images,
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("attack", FAMILY)
def test_every_attack_keeps_the_epsilon_matrix_on_real_digits(trained_mnist_model, digits, attack, kind):
    images, labels = digits
    eps_matrix = _eps_matrix(images, kind)
    torch.manual_seed(0)
    x_adv = FAMILY[attack](trained_mnist_model, images, labels, eps_matrix)
    _check_invariants(images, x_adv, eps_matrix)
    assert x_adv.dtype == torch.float32
    assert (x_adv != images).any()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("attack", FAMILY)
def test_every_attack_keeps_the_epsilon_matrix_on_random_models(attack, kind):
    torch.manual_seed(1)
    model = PaperCNN(in_channels=3, image_size=32).eval()
    images = torch.rand(6, 3, 32, 32)
    images[:, :, 10:20, 10:20] = 0.0
    images[0, :, 0, 0] = 1.0
    labels = torch.randint(0, 10, (6,))
    eps_matrix = _eps_matrix(images, kind, eps=0.5)
    x_adv = FAMILY[attack](model, images, labels, eps_matrix)
    _check_invariants(images, x_adv, eps_matrix)


@pytest.mark.parametrize("attack", FAMILY)
@pytest.mark.parametrize("training", [True, False])
def test_every_attack_leaves_mode_and_parameters_untouched(digits, attack, training):
    images, labels = digits
    torch.manual_seed(0)
    model = nn.Sequential(PaperCNN(), nn.Dropout(0.5))
    model.train(training)
    model[0].classifier[1].weight.grad = torch.ones_like(model[0].classifier[1].weight)
    before = copy.deepcopy(model.state_dict())
    FAMILY[attack](model, images, labels, epsilon_matrix(images, "background", 0.3))
    assert model.training == training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model[0].classifier[1].weight.grad, torch.ones_like(model[0].classifier[1].weight))
    assert all(p.grad is None for n, p in model.named_parameters() if n != "0.classifier.1.weight")


@pytest.mark.parametrize("attack", FAMILY)
@pytest.mark.parametrize(
    "change, error, message",
    [
        (dict(eps_matrix=torch.zeros(64, 1, 28, 27)), ValueError, "eps_matrix must have the shape"),
        (dict(eps_matrix=torch.full((64, 1, 28, 28), 1.5)), ValueError, r"eps_matrix entries must lie in \[0, 1\]"),
        (dict(labels=torch.zeros(63, dtype=torch.long)), ValueError, "one per image"),
        (dict(labels=torch.zeros(64)), TypeError, "integer"),
        (dict(images=torch.full((64, 1, 28, 28), 2.0)), ValueError, r"must lie in \[0, 1\]"),
        (dict(images=torch.rand(1, 28, 28)), ValueError, "4-D"),
        # no silent wrong answer: NaN passes every min/max comparison, so each is caught by name
        (dict(images=_with(torch.rand(64, 1, 28, 28), float("nan"))), ValueError,
         r"images must be finite: 1 of its 50176 values are not \(1 NaN, 0 infinite\)"),
        (dict(eps_matrix=_with(torch.full((64, 1, 28, 28), 0.3), float("nan"))), ValueError,
         r"eps_matrix must be finite: 1 of .* \(1 NaN"),
        (dict(eps_matrix=_with(torch.full((64, 1, 28, 28), 0.3), float("inf"))), ValueError,
         r"eps_matrix must be finite: .* \(0 NaN, 1 infinite\)"),
        (dict(eps_matrix=torch.full((64, 1, 28, 28), 1, dtype=torch.long)), TypeError, "eps_matrix must be a floating"),
        (dict(labels=torch.full((64,), 12)), ValueError, r"labels must be class indices in \[0, 10\) .* 64 of 64"),
        (dict(labels=torch.arange(64) % 11), ValueError, r"labels must be class indices in \[0, 10\) .* 5 of 64"),
        (dict(labels=torch.arange(64) - 1), ValueError, "labels must be class indices >= 0: 1 of 64 are negative"),
        (dict(images=torch.rand(64, 1, 28, 28, dtype=torch.float64)), TypeError, "must be float32 or bfloat16"),
        (dict(images=torch.rand(64, 1, 28, 28).half()), TypeError, "must be float32 or bfloat16"),
    ],
)
def test_every_attack_names_bad_input(trained_mnist_model, digits, attack, change, error, message):
    images, labels = digits
    args = dict(images=images, labels=labels, eps_matrix=epsilon_matrix(images, "standard", 0.3))
    args.update(change)
    with pytest.raises(error, match=message):
        FAMILY[attack](trained_mnist_model, args["images"], args["labels"], args["eps_matrix"])


@pytest.mark.parametrize("attack", FAMILY)
def test_every_attack_returns_an_empty_batch_empty(trained_mnist_model, digits, attack):
    images, labels = digits
    x_adv = FAMILY[attack](trained_mnist_model, images[:0], labels[:0], epsilon_matrix(images[:0], "standard", 0.3))
    assert x_adv.shape == (0, 1, 28, 28)


def test_autoattack_on_an_empty_batch_reports_nothing(trained_mnist_model, digits):
    images, labels = digits
    result = localized_autoattack(trained_mnist_model, images[:0], labels[:0], torch.zeros(0, 1, 28, 28))
    assert result.broken_by == [] and len(result.loss) == len(result.pgd_loss) == len(result.robust) == 0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda m, x, y, e: localized_autoattack(m, x, y, e, pgd=PGD(steps=2, step_size=float("nan"))), ValueError,
         "step_size must be a finite number"),
        (lambda m, x, y, e: localized_autoattack(m, x, y, e, pgd=2), TypeError, "pgd a PGD or None"),
        (lambda m, x, y, e: localized_autoattack(m, x, y, e, precision="half"), ValueError, "unknown precision"),
        (lambda m, x, y, e: masked_square(m, x, y, e, p_init=float("nan")), ValueError, "p_init must be a number"),
        (lambda m, x, y, e: masked_pgd(m, x, y, e, PGD(steps=2, step_size=0.1, iterate="first")), ValueError,
         "unknown iterate 'first'"),
        (lambda m, x, y, e: masked_apgd(m, x, y, e, loss="dlr-untargeted"), ValueError, "unknown loss 'dlr-untargeted'"),
        (lambda m, x, y, e: masked_apgd(m, x, y, e, steps=-1), ValueError, "steps must be >= 0"),
        (lambda m, x, y, e: masked_apgd(m, x, y, e, targets=0, loss="dlr-targeted"), ValueError, "targets must be >= 1"),
        (lambda m, x, y, e: masked_apgd(m, x, y, e, targets=0, loss="dlr-targeted"), ValueError, "targets must be >= 1"),
        (lambda m, x, y, e: masked_apgd(m, x, y, e, precision="half"), ValueError, "unknown precision"),
        (lambda m, x, y, e: masked_square(m, x, y, e, queries=0), ValueError, "queries must be >= 1"),
        (lambda m, x, y, e: masked_square(m, x, y, e, p_init=1.5), ValueError, r"p_init must be a number in \(0, 1\]"),
        (lambda m, x, y, e: localized_autoattack(m, x, y, e, AutoAttackBudget(2, 1, 2.5)), TypeError,
         "square_queries must be an int"),
        (lambda m, x, y, e: localized_autoattack(m, x, y, e, AutoAttackBudget(2, -1, 2)), ValueError,
         "apgd_targets must be >= 0"),
    ],
)
def test_attack_settings_are_checked(trained_mnist_model, digits, call, error, message):
    images, labels = digits
    with pytest.raises(error, match=message):
        call(trained_mnist_model, images, labels, epsilon_matrix(images, "standard", 0.3))


@pytest.mark.parametrize("loss", ["dlr", "dlr-targeted"])
def test_dlr_loss_needs_four_classes(digits, loss):
    images, labels = digits
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 3))
    with pytest.raises(ValueError, match="at least 4 classes"):
        masked_apgd(model, images, labels % 3, epsilon_matrix(images, "standard", 0.3), loss=loss)


# --- strength: at least as strong as the reference implementations on the same model and settings ---

def test_apgd_ce_at_least_as_strong_as_masked_pgd_with_the_same_steps(trained_mnist_model, mnist_test):
    images, labels = mnist_test[0][:200], mnist_test[1][:200]
    eps_matrix = epsilon_matrix(images, "exact", 0.2)  # mid strength: about half of the images survive PGD
    torch.manual_seed(0)
    pgd = masked_pgd(trained_mnist_model, images, labels, eps_matrix, PGD(steps=20, step_size=pgd_step(0.2, 20)))
    torch.manual_seed(0)
    apgd = masked_apgd(trained_mnist_model, images, labels, eps_matrix, steps=20)
    acc_pgd, acc_apgd = accuracy(trained_mnist_model, pgd, labels), accuracy(trained_mnist_model, apgd, labels)
    assert acc_apgd <= acc_pgd + 0.005, f"APGD-CE {acc_apgd:.3f} vs PGD {acc_pgd:.3f}"


@pytest.mark.parametrize("ours, theirs", [("apgd-ce", "APGD"), ("apgd-dlr", "APGD-DLR"), ("apgd-t", "APGDT"),
                                          ("square", "Square")])
def test_as_strong_as_torchattacks_with_the_standard_mask(trained_mnist_model, mnist_test, ours, theirs):
    import torchattacks
    # 150 images at mid strength (APGD leaves about 60% of them correct, Square about 75%), where differences
    # would show: on 300 images at eps 0.08 (80-90% left correct) every attack gave torchattacks' accuracy
    # on every prefix of 50 to 300 images
    images, labels = mnist_test[0][:150], mnist_test[1][:150]
    eps = 0.2 if ours == "square" else 0.12  # Square, a score-based search, needs the larger budget
    eps_matrix = epsilon_matrix(images, "standard", eps)
    torch.manual_seed(0)
    if ours == "square":
        mine = masked_square(trained_mnist_model, images, labels, eps_matrix, queries=100)
        reference = torchattacks.Square(trained_mnist_model, eps=eps, n_queries=100)
    else:
        kind = {"apgd-ce": dict(loss="ce"), "apgd-dlr": dict(loss="dlr"),
                "apgd-t": dict(loss="dlr-targeted", targets=3)}[ours]
        mine = masked_apgd(trained_mnist_model, images, labels, eps_matrix, steps=25, **kind)
        reference = {"APGD": lambda: torchattacks.APGD(trained_mnist_model, eps=eps, steps=25),
                     "APGD-DLR": lambda: torchattacks.APGD(trained_mnist_model, eps=eps, steps=25, loss="dlr"),
                     "APGDT": lambda: torchattacks.APGDT(trained_mnist_model, eps=eps, steps=25, n_classes=4)}[theirs]()
    acc_mine = accuracy(trained_mnist_model, mine, labels)
    acc_theirs = accuracy(trained_mnist_model, reference(images, labels), labels)
    assert 0.1 < acc_theirs < 0.9, f"eps {eps} does not leave a mid-strength setting: torchattacks {acc_theirs:.3f}"
    assert acc_mine <= acc_theirs + 0.02, f"{ours} accuracy {acc_mine:.3f} vs torchattacks {theirs} {acc_theirs:.3f}"


@pytest.mark.parametrize("kind", ["background", "exact"])
def test_as_strong_as_torchattacks_apgd_through_a_localizing_wrapper(trained_mnist_model, mnist_test, kind):
    import torchattacks
    images, labels = mnist_test[0][:60], mnist_test[1][:60]  # one torchattacks run per image: few images
    eps = 0.15
    eps_matrix = epsilon_matrix(images, kind, eps)
    torch.manual_seed(0)
    mine = masked_apgd(trained_mnist_model, images, labels, eps_matrix, steps=25)
    theirs = []
    for i in range(len(images)):
        x0, mask = images[i:i + 1], (eps_matrix[i:i + 1] > 0).float()
        wrapper = LocalizingWrapper(trained_mnist_model, x0, mask)
        theirs.append(wrapper.localized(torchattacks.APGD(wrapper, eps=eps, steps=25)(x0, labels[i:i + 1])))
    theirs = torch.cat(theirs).detach()
    _check_invariants(images, theirs, eps_matrix)
    with torch.no_grad():
        broken_mine = trained_mnist_model(mine).argmax(1) != labels
        broken_theirs = trained_mnist_model(theirs).argmax(1) != labels
    acc_mine, acc_theirs = 1 - broken_mine.float().mean().item(), 1 - broken_theirs.float().mean().item()
    assert 0.05 < acc_theirs < 0.95, f"not a mid-strength setting: torchattacks {acc_theirs:.3f}"
    # 60 images make one image 1.7 points, and each attack's random start breaks a few images the other misses: the
    # images only theirs breaks are weighed against those only ours breaks (a one-sided sign test), so that ours
    # fails where it misses significantly more, not where one random start was luckier
    only_theirs, only_mine = int((broken_theirs & ~broken_mine).sum()), int((broken_mine & ~broken_theirs).sum())
    assert _sign_test(only_theirs, only_mine) >= 0.05, (
        f"masked_apgd {acc_mine:.3f} vs torchattacks through the wrapper {acc_theirs:.3f}: {only_theirs} images broken "
        f"by theirs alone, {only_mine} by ours alone")


def _sign_test(more: int, fewer: int) -> float:
    """The one-sided p-value of ``more`` against ``fewer`` paired discordant outcomes, each equally likely."""
    n = more + fewer
    return sum(math.comb(n, k) for k in range(more, n + 1)) / 2 ** n


def test_the_sign_test_tells_luck_from_a_weaker_attack():
    assert _sign_test(2, 0) == 0.25 and _sign_test(0, 0) == 1.0 and _sign_test(5, 0) < 0.05 and _sign_test(6, 4) > 0.05


class _Quantized(nn.Module):
    """A model whose gradients are masked: it rounds its input to 8 grey levels, so every input gradient is 0."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * 7) / 7)


class _WrongOnlyInBf16(nn.Module):
    """Calls every image class 1 under bf16 autocast and class 0 in float32; counts its calls of each kind."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls = {"bf16": 0, "fp32": 0}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bf16 = torch.is_autocast_enabled(x.device.type)
        self.calls["bf16" if bf16 else "fp32"] += 1
        logits = torch.zeros(len(x), 10) + self.weight
        logits[:, 1 if bf16 else 0] = 1.0
        return logits


def test_bf16_square_stops_querying_only_what_float32_misclassifies(digits):
    images, _ = digits
    labels = torch.zeros(len(images), dtype=torch.long)
    model = _WrongOnlyInBf16()
    x_adv = masked_square(model, images, labels, epsilon_matrix(images, "background", 0.3), queries=8, precision="bf16")
    # a bf16 pass calls every image wrong; float32 does not, so Square spends all its queries (one pass each)
    assert model.calls == {"bf16": 8, "fp32": 8}
    _check_invariants(images, x_adv, epsilon_matrix(images, "background", 0.3))


def test_autoattack_runs_square_in_float32(trained_mnist_model, digits, monkeypatch):
    from lat_utils.attacks import autoattack
    asked = []
    monkeypatch.setattr(autoattack, "masked_square", lambda *a, precision, **k: asked.append(precision) or a[1])
    images, labels = digits
    localized_autoattack(trained_mnist_model, images, labels, epsilon_matrix(images, "exact", 0.01),
                         AutoAttackBudget(0, 0, 5), pgd=PGD(steps=1, step_size=0.01), precision="bf16")
    assert asked == ["fp32"]


def test_autoattack_breaks_a_model_that_masks_its_gradients(trained_mnist_model, mnist_test):
    images, labels = mnist_test[0][:100], mnist_test[1][:100]
    model = _Quantized(trained_mnist_model).eval()
    eps_matrix = epsilon_matrix(images, "standard", 0.3)
    torch.manual_seed(0)
    pgd = masked_pgd(model, images, labels, eps_matrix, PGD(steps=20, step_size=0.0375, random_start=False))
    result = localized_autoattack(model, images, labels, eps_matrix, AutoAttackBudget(20, 2, 200),
                                  pgd=PGD(steps=20, step_size=pgd_step(float(eps_matrix.max()), 20)))
    natural = accuracy(model, images, labels)
    assert natural > 0.8
    assert accuracy(model, pgd, labels) >= natural - 0.01, "PGD should see zero gradients and fail"
    assert result.robust.float().mean() < natural - 0.3, "the gradient-free Square Attack should break it"
    assert "square" in result.broken_by


def test_autoattack_result_is_consistent(trained_mnist_model, mnist_test):
    images, labels = mnist_test[0][:150], mnist_test[1][:150]
    eps_matrix = epsilon_matrix(images, "exact", 0.15)
    torch.manual_seed(0)
    result = localized_autoattack(trained_mnist_model, images, labels, eps_matrix, AutoAttackBudget(10, 2, 50),
                                  pgd=PGD(steps=10, step_size=pgd_step(float(eps_matrix.max()), 10)))
    _check_invariants(images, result.images, eps_matrix)
    with torch.no_grad():
        correct = trained_mnist_model(result.images).argmax(1) == labels
        natural_correct = trained_mnist_model(images).argmax(1) == labels
    assert torch.equal(correct, result.robust), "robust must mean: the worst-case image is still classified right"
    assert [b == "natural" for b in result.broken_by] == (~natural_correct).tolist()
    assert set(result.broken_by) <= {"", "natural", *ATTACK_NAMES}
    assert (result.loss >= result.pgd_loss - 1e-6).all()
    assert result.robust.float().mean() <= result.pgd_robust.float().mean()
    with torch.no_grad():  # the reported loss is at least the worst-case image's, wherever a gradient attack made it
        worst_loss = F.cross_entropy(trained_mnist_model(result.images), labels, reduction="none")
    by_gradient = torch.tensor([b in ("", "pgd", "apgd-ce", "apgd-dlr", "apgd-t") for b in result.broken_by])
    assert (result.loss[by_gradient] >= worst_loss[by_gradient] - 1e-5).all()


def test_every_attack_takes_colour_images_in_the_channels_last_layout():
    """The evaluation runs CIFAR-10 in the layout of ``models.fast_layout`` (channels last), where a
    flattening ``view`` of a 3-channel batch fails: every attack must take it, and keep the invariants."""
    from lat_utils.models import fast_layout, model_for

    torch.manual_seed(0)
    model = fast_layout(model_for("cifar10"), torch.device("cpu")).eval()
    images = fast_layout(torch.rand(6, 3, 32, 32), torch.device("cpu"))
    with torch.no_grad():
        labels = model(images).argmax(1)  # every image "correct", so that every attack works on all of them
    eps_matrix = epsilon_matrix(images, "background", 0.01)
    for adversarial in (masked_pgd(model, images, labels, eps_matrix, PGD(steps=2, step_size=0.05)),
                        masked_apgd(model, images, labels, eps_matrix, steps=3),
                        masked_apgd(model, images, labels, eps_matrix, steps=3, loss="dlr"),
                        masked_apgd(model, images, labels, eps_matrix, steps=3, loss="dlr-targeted", targets=2),
                        masked_square(model, images, labels, eps_matrix, queries=5),
                        localized_autoattack(model, images, labels, eps_matrix, AutoAttackBudget(3, 2, 5),
                                             pgd=PGD(steps=2, step_size=pgd_step(float(eps_matrix.max()), 2))).images):
        _check_invariants(images, adversarial, eps_matrix)
