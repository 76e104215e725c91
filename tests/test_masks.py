import pytest
import torch
import torch.nn.functional as F

from lat_utils.masks import MASK_KINDS, epsilon_matrix, fixed_pixels


@pytest.mark.parametrize("kind", ["standard", "background", "exact", "broad"])
@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (3, 3, 32, 32)])
def test_shape_dtype_and_values(kind, shape):
    images = torch.rand(shape, dtype=torch.float64)
    eps_matrix = epsilon_matrix(images, kind, 0.3)
    assert eps_matrix.shape == images.shape and eps_matrix.dtype == images.dtype
    assert eps_matrix.device == images.device
    assert ((eps_matrix == 0) | (eps_matrix == 0.3)).all()
    # the same pixels are fixed in every channel
    assert (eps_matrix == eps_matrix[:, :1]).all()


def test_standard_fixes_nothing(digits):
    images, _ = digits
    assert (epsilon_matrix(images, "standard", 0.3) == 0.3).all()


def test_background_fixes_the_central_36_pixels(digits):
    images, _ = digits
    eps_matrix = epsilon_matrix(images, "background", 0.3)
    fixed = eps_matrix == 0
    assert (fixed.sum(dim=(1, 2, 3)) == 36).all()
    assert fixed[:, 0, 11:17, 11:17].all()  # rows and columns 11..16 of 0..27: centred


def test_background_center_on_cifar_shape():
    images = torch.rand(2, 3, 32, 32)
    fixed = epsilon_matrix(images, "background", 0.3, center=8) == 0
    assert (fixed.sum(dim=(2, 3)) == 64).all()
    assert fixed[:, :, 12:20, 12:20].all()


def test_exact_fixes_exactly_the_digit(digits):
    images, _ = digits
    fixed = epsilon_matrix(images, "exact", 0.3) == 0
    assert torch.equal(fixed, images > 0)
    assert 50 < fixed.sum(dim=(1, 2, 3)).float().mean() < 250  # a digit covers ~100-200 pixels


def test_exact_threshold_any_channel():
    images = torch.zeros(1, 3, 4, 4)
    images[0, 2, 1, 1] = 0.5
    fixed = fixed_pixels(images, "exact", threshold=0.2)
    assert fixed.sum() == 1 and fixed[0, 0, 1, 1]
    assert fixed_pixels(images, "exact", threshold=0.6).sum() == 0


def test_broad_is_a_3x3_dilation_of_exact(digits):
    images, _ = digits
    exact = epsilon_matrix(images, "exact", 0.3) == 0
    broad = epsilon_matrix(images, "broad", 0.3) == 0
    assert (broad | ~exact).all(), "broad must fix every pixel exact fixes"
    assert broad.sum() > exact.sum()
    dilated = F.max_pool2d(exact.float(), 3, stride=1, padding=1) > 0
    assert torch.equal(broad, dilated)


def test_broad_single_pixel_neighbourhood():
    images = torch.zeros(1, 1, 5, 5)
    images[0, 0, 0, 2] = 1.0  # on the border
    fixed = fixed_pixels(images, "broad")[0, 0]
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[0:2, 1:4] = True
    assert torch.equal(fixed, expected)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_bbox_fixes_exactly_the_box(as_tensor):
    images = torch.rand(2, 3, 20, 30)
    boxes = [(5, 2, 12, 9), (0, 0, 30, 20)]
    eps_matrix = epsilon_matrix(images, "bbox", 0.1, box=torch.tensor(boxes) if as_tensor else boxes)
    fixed = eps_matrix == 0
    expected = torch.zeros_like(fixed)
    expected[0, :, 2:9, 5:12] = True
    expected[1] = True
    assert torch.equal(fixed, expected)


def test_bbox_empty_box_fixes_nothing():
    images = torch.rand(1, 1, 8, 8)
    assert (epsilon_matrix(images, "bbox", 0.2, box=[(3, 3, 3, 3)]) == 0.2).all()


def test_mask_kinds_listed():
    assert set(MASK_KINDS) == {"standard", "background", "exact", "broad", "bbox"}


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: epsilon_matrix(x, "foreground", 0.3), ValueError, "unknown mask kind"),
        (lambda x: epsilon_matrix(x, "standard", -0.1), ValueError, "eps must be in"),
        (lambda x: epsilon_matrix(x, "standard", 1.5), ValueError, "eps must be in"),
        (lambda x: epsilon_matrix(x, "standard", "0.3"), TypeError, "eps must be a number"),
        (lambda x: epsilon_matrix(x * 2, "standard", 0.3), ValueError, r"must lie in \[0, 1\]"),
        (lambda x: epsilon_matrix(x - 1, "standard", 0.3), ValueError, r"must lie in \[0, 1\]"),
        (lambda x: epsilon_matrix(x[0], "standard", 0.3), ValueError, "4-D"),
        (lambda x: epsilon_matrix(x.numpy(), "standard", 0.3), TypeError, "torch.Tensor"),
        (lambda x: epsilon_matrix((x * 255).to(torch.uint8), "standard", 0.3), TypeError, "floating-point"),
        (lambda x: epsilon_matrix(x, "background", 0.3, center=29), ValueError, "center"),
        (lambda x: epsilon_matrix(x, "bbox", 0.3), ValueError, "needs box"),
        (lambda x: epsilon_matrix(x, "bbox", 0.3, box=[(0, 0, 5, 5)]), ValueError, r"shape \(2, 4\)"),
        (lambda x: epsilon_matrix(x, "bbox", 0.3, box=[(0, 0, 29, 5)] * 2), ValueError, "0 <= x0 <= x1"),
        (lambda x: epsilon_matrix(x, "bbox", 0.3, box=[(6, 0, 5, 5)] * 2), ValueError, "0 <= x0 <= x1"),
    ],
)
def test_bad_input_is_named(call, error, message):
    images = torch.rand(2, 1, 28, 28)
    with pytest.raises(error, match=message):
        call(images)
