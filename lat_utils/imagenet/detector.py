"""The object detector that proposes the boxes left untouched: torchvision's SSDlite when its weights
load, else the mirror's SSD MobileNet v1 (TFLite). Every detection of an image at or above
``MIN_DETECTION_SCORE`` is a candidate box (``detect_candidates``); the best one, or the central box when
there is none, is the box of the best-detection rule (``detect_boxes``). Which candidate is kept is a box rule
(``boxes``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torchvision.transforms.functional as TF

from ..data import MIRROR_ENV, DataNotFoundError, offline_mirror
from ..masks import Box
from ..progress import native_stderr_silenced
from .classifier import _torchvision_state_dict

TFLITE_DETECTOR = "detector/ssd_mobilenet_v1_coco_quant.tflite"
TFLITE_LABELS = "detector/coco_labelmap.txt"
MIN_DETECTION_SCORE = 0.3   # our choice: a detection below this is no box (the paper gives no threshold)

# One detection: (x0, y0, x1, y1) as fractions of the width/height, score, COCO name.
RawDetection = tuple[tuple[float, float, float, float], float, str]


class _Backend(Protocol):
    def __call__(self, image: torch.Tensor) -> list[RawDetection]: ...


@dataclass(frozen=True)
class Detector:
    """An object detector whose backend returns every detection of one [0, 1] (3, H, W) image (any order;
    the TFLite model returns at most its 10 best, torchvision's SSDlite up to 300 above a score of 0.001)."""

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
    def __call__(self, image: torch.Tensor) -> list[RawDetection]:
        out = self.model([image.cpu()])[0]
        h, w = image.shape[-2:]
        fractions = (out["boxes"] / torch.tensor([w, h, w, h])).tolist()
        return [(tuple(box), float(score), self.categories[int(label)])
                for box, score, label in zip(fractions, out["scores"], out["labels"])]


class _TFLiteSSDMobileNet:
    def __init__(self, model_path: Path, labels_path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_silenced():  # TFLite's "INFO: Created ... XNNPACK delegate" line
            self.interpreter = Interpreter(model_path=str(model_path), num_threads=max(1, torch.get_num_threads()))
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = [o["index"] for o in self.interpreter.get_output_details()]
        self.labels = labels_path.read_text().splitlines()  # line 0 is '???', the background

    def __call__(self, image: torch.Tensor) -> list[RawDetection]:
        h, w = (int(s) for s in self.input["shape"][1:3])
        x = TF.resize(image.cpu(), [h, w], antialias=True).clamp(0, 1)
        pixels = (x * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()[None]
        self.interpreter.set_tensor(self.input["index"], pixels)
        self.interpreter.invoke()
        boxes, classes, scores, count = (self.interpreter.get_tensor(i) for i in self.outputs)
        found = []
        for k in range(int(count[0])):
            ymin, xmin, ymax, xmax = (float(v) for v in boxes[0][k])
            found.append(((xmin, ymin, xmax, ymax), float(scores[0][k]), self.labels[int(classes[0][k]) + 1]))
        return found


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


def detect_all(detector: Detector, images: torch.Tensor) -> list[list[Detection]]:
    """Per image: every detection the backend returns, in pixel boxes, the highest score first."""
    h, w = images.shape[-2:]
    out = []
    for image in images:
        raw = sorted(detector.backend(image), key=lambda r: -r[1])
        out.append([Detection(to_pixel_box(fractions, h, w), score, label, False) for fractions, score, label in raw])
    return out


def candidates_of(detections: list[Detection], min_score: float = MIN_DETECTION_SCORE) -> list[Detection]:
    """The candidate boxes of one image: its detections scoring at least ``min_score``, order kept."""
    return [d for d in detections if d.score >= min_score]


def best_or_central(detections: list[Detection], height: int, width: int,
                    min_score: float = MIN_DETECTION_SCORE) -> Detection:
    """The best detection of one image (best first), or ``default_box`` when none reaches ``min_score``."""
    if detections and detections[0].score >= min_score:
        return detections[0]
    score, label = (detections[0].score, detections[0].label) if detections else (0.0, "none")
    return Detection(default_box(height, width), score, f"{label} (below {min_score}: central box)", True)


def detect_candidates(detector: Detector, images: torch.Tensor,
                      min_score: float = MIN_DETECTION_SCORE) -> list[list[Detection]]:
    """Per image: every detection scoring at least ``min_score`` (pixel boxes, the highest score first)."""
    return [candidates_of(found, min_score) for found in detect_all(detector, images)]


def detect_boxes(detector: Detector, images: torch.Tensor, min_score: float = MIN_DETECTION_SCORE) -> list[Detection]:
    """One box per image in its pixel coordinates: the best detection, or ``default_box`` when none is good."""
    h, w = images.shape[-2:]
    return [best_or_central(found, h, w, min_score) for found in detect_all(detector, images)]
