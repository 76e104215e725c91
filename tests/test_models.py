import pytest
import torch

from lat_utils.models import PaperCNN, model_for


def test_mnist_network_matches_madry():
    model = PaperCNN()
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    # Madry et al.'s MNIST-challenge model has 3,274,634 parameters
    assert sum(p.numel() for p in model.parameters()) == 3_274_634
    assert model.classifier[1].in_features == 7 * 7 * 64


def test_cifar_network_has_8x8x64_features():
    model = model_for("cifar10")
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert model.classifier[1].in_features == 8 * 8 * 64


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_pooling_before_relu_is_the_same_function_and_gradient(dataset):
    # PaperCNN applies each ReLU after its pooling (cheaper); Madry's order is ReLU then pooling
    torch.manual_seed(0)
    model = model_for(dataset).eval()
    conv1, conv2 = model.features[0], model.features[3]
    madry_order = torch.nn.Sequential(conv1, torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                      conv2, torch.nn.ReLU(), torch.nn.MaxPool2d(2), model.classifier)
    x = torch.rand(8, model.in_channels, model.image_size, model.image_size, requires_grad=True)
    ours, theirs = model(x), madry_order(x)
    assert torch.equal(ours, theirs)
    (g_ours,) = torch.autograd.grad(ours.logsumexp(1).sum(), x)
    (g_theirs,) = torch.autograd.grad(theirs.logsumexp(1).sum(), x)
    assert torch.equal(g_ours, g_theirs)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="divisible by 4"):
        PaperCNN(image_size=30)
    with pytest.raises(ValueError, match="unknown dataset"):
        model_for("svhn")
