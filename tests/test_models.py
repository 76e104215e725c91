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


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="divisible by 4"):
        PaperCNN(image_size=30)
    with pytest.raises(ValueError, match="unknown dataset"):
        model_for("svhn")
