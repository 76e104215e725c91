"""Which box is kept untouched: the candidate boxes of each photo and the box rules that pick one.

The paper keeps "the" MobileNet box of each photo and does not say how it was chosen. Here the detector's
candidates are every detection at or above ``MIN_DETECTION_SCORE``, and a box rule picks the kept box:

- ``best detection``: the highest-scoring detection, whatever its COCO label (the rule of the first runs);
- ``object's box``: the candidate whose content alone keeps the classifier's confidence in the correct
  class highest (the headline rule of the notebook);
- ``paper's box size``: for sensitivity only, a box of the size that the paper's Table 2 implies, centred on
  the object's box (derived from the paper's numbers; the nine paper photos only).

Each rule is a function of ``Candidates`` (``RULES``), documented by its docstring and by one line of
``BOX_RULE_DEVIATIONS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from ..masks import Box, epsilon_matrix
from .classifier import Classifier, predict
from .detector import MIN_DETECTION_SCORE, Detection, Detector, best_or_central, candidates_of, detect_all
from .photos import class_names
from .tables import paper_table

BEST_DETECTION = "best detection"
OBJECTS_BOX = "object's box"
PAPERS_BOX_SIZE = "paper's box size"
BOX_RULES = (BEST_DETECTION, OBJECTS_BOX, PAPERS_BOX_SIZE)
HEADLINE_RULE = OBJECTS_BOX                         # Table 2 and Figure 1 of the notebook
EXTENSION_RULES = (BEST_DETECTION, OBJECTS_BOX)     # the paper's box size is defined for its nine photos only

BOX_RULE_DEVIATIONS = {
    BEST_DETECTION: "the paper keeps 'the' MobileNet box without saying how it was chosen; here the detector's "
                    "highest-scoring detection, whatever its COCO label (often not the labelled object)",
    OBJECTS_BOX: "not in the paper: among the detections scoring at least the threshold, the box whose content "
                 "alone keeps the classifier's confidence in the correct class highest (it uses the label and "
                 "the classifier to choose; no box is chosen by hand)",
    PAPERS_BOX_SIZE: "not a detector box, derived from the paper's numbers for sensitivity only: a box covering "
                     "100% minus the paper's '% altered' (its Table 2) of the image, centred on the object's box; "
                     "defined for the nine paper photos only (not applicable to the extra photos)",
}


def black_outside(images: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
    """The images with every pixel outside their box set to black (Figure 1, middle column)."""
    inside = epsilon_matrix(images, "bbox", 1.0, box=list(boxes)) == 0
    return images * inside


@dataclass(frozen=True)
class Candidates:
    """The candidate boxes of a set of photos and what the rules need to choose among them."""

    detections: list[list[Detection]]        # per photo: every detection scoring >= min_score, best first
    best: list[Detection]                    # per photo: the best detection, or the central box if none
    box_only_confidence: list[list[float]]   # per photo and candidate: P(correct class) on the box alone
    classes: list[str]                       # per photo: the name of its correct class
    height: int
    width: int
    min_score: float = MIN_DETECTION_SCORE


def box_only_confidence(classifier: Classifier, images: torch.Tensor, labels: torch.Tensor,
                        boxes: Sequence[Sequence[Box]]) -> list[list[float]]:
    """Per image and box: the classifier's probability of the correct class with everything outside the box
    black (``black_outside``)."""
    owner = [i for i, image_boxes in enumerate(boxes) for _ in image_boxes]
    if not owner:
        return [[] for _ in boxes]
    flat = [box for image_boxes in boxes for box in image_boxes]
    probs = predict(classifier, black_outside(images[owner], flat))
    confidence = probs[torch.arange(len(owner)), labels[owner]].tolist()
    out: list[list[float]] = [[] for _ in boxes]
    for i, value in zip(owner, confidence):
        out[i].append(value)
    return out


def find_candidates(detector: Detector, classifier: Classifier, images: torch.Tensor, labels: torch.Tensor,
                    min_score: float = MIN_DETECTION_SCORE) -> Candidates:
    """Detect every candidate box of each image (one detector pass) and score it with the classifier."""
    h, w = images.shape[-2:]
    found = detect_all(detector, images)
    detections = [candidates_of(f, min_score) for f in found]
    names = class_names()
    return Candidates(
        detections=detections,
        best=[best_or_central(f, h, w, min_score) for f in found],
        box_only_confidence=box_only_confidence(classifier, images, labels,
                                                [[d.box for d in ds] for ds in detections]),
        classes=[names[int(y)] for y in labels], height=h, width=w, min_score=min_score,
    )


# --- the rules ------------------------------------------------------------------------------------------

def best_detection(candidates: Candidates) -> list[Detection]:
    """The detector's highest-scoring detection, whatever its COCO label; the central box (the middle half
    of the height and of the width) when no detection reaches the threshold."""
    return list(candidates.best)


def objects_box(candidates: Candidates) -> list[Detection]:
    """Among the candidates, the box whose content alone (everything outside it black) keeps the classifier's
    probability of the correct class highest (a tie goes to the higher detector score); the best-detection
    rule's box (so the central box) when a photo has no candidate."""
    kept = []
    for found, confidence, best in zip(candidates.detections, candidates.box_only_confidence, candidates.best):
        kept.append(found[max(range(len(found)), key=confidence.__getitem__)] if found else best)
    return kept


def papers_box_size(candidates: Candidates) -> list[Detection]:
    """For sensitivity only, derived from the paper's numbers: a box covering 100% minus the paper's
    "% altered" of the photo's class (Table 2) of the image, centred on the object's box with its aspect ratio
    and moved, not shrunk, to stay inside the image (``paper_size_box``). The nine paper photos only."""
    shares = paper_box_percent()
    missing = sorted({name for name in candidates.classes if name not in shares})
    if missing:
        raise ValueError(f"the {PAPERS_BOX_SIZE!r} rule is not applicable to {missing}: it is defined only for "
                         "the nine paper photos (the paper's Table 2 gives their '% altered')")
    kept = []
    for obj, name in zip(objects_box(candidates), candidates.classes):
        box = paper_size_box(obj.box, shares[name], candidates.height, candidates.width)
        kept.append(Detection(box, obj.score, f"{obj.label}, resized to the paper's {shares[name]:.1f}% (derived)",
                              obj.fallback))
    return kept


RULES: dict[str, Callable[[Candidates], list[Detection]]] = {
    BEST_DETECTION: best_detection, OBJECTS_BOX: objects_box, PAPERS_BOX_SIZE: papers_box_size,
}


def kept_boxes(rule: str, candidates: Candidates) -> list[Detection]:
    """The box each photo keeps untouched under ``rule`` (one of ``BOX_RULES``)."""
    if rule not in RULES:
        raise ValueError(f"unknown box rule {rule!r}: one of {BOX_RULES}")
    return RULES[rule](candidates)


def rule_applies(rule: str, classes: Sequence[str]) -> bool:
    """Whether ``rule`` is defined for photos of these classes (the paper's box size: its nine photos only)."""
    return rule != PAPERS_BOX_SIZE or set(classes) <= set(paper_box_percent())


def rules_markdown(rules: Sequence[str] = BOX_RULES) -> str:
    """Markdown: each rule, what it does (its docstring) and how it departs from the paper."""
    lines = []
    for rule in rules:
        doc = " ".join((RULES[rule].__doc__ or "").split())
        lines.append(f"- **{rule}**: {doc}  \n  *deviation from the paper:* {BOX_RULE_DEVIATIONS[rule]}")
    return "\n".join(lines)


# --- the paper's box size -------------------------------------------------------------------------------

def paper_box_percent() -> dict[str, float]:
    """Per class of the paper's nine photos: the box share of the image its Table 2 implies, 100 - % altered."""
    table = paper_table(2).iloc[:-1]
    return {name: 100.0 - altered for name, altered in zip(table["Correct Class"], table["Percent of Pixels Altered"])}


def paper_size_box(around: Box, percent: float, height: int, width: int) -> Box:
    """A box covering ``percent`` of the (height x width) image, centred on ``around`` with its aspect ratio;
    where that is wider or taller than the image, as wide (tall) as the image and taller (wider) to keep the
    area; then moved, not shrunk, to lie inside the image. Integer pixels, end-exclusive."""
    area = min(max(percent, 0.0), 100.0) / 100.0 * height * width
    x0, y0, x1, y1 = around
    ratio = max(x1 - x0, 1) / max(y1 - y0, 1)
    w = math.sqrt(area * ratio)
    h = area / w if w > 0 else 0.0
    if w > width:
        w, h = width, area / width
    if h > height:
        w, h = area / height, height
    w, h = min(max(round(w), 1), width), min(max(round(h), 1), height)
    left = min(max(round((x0 + x1 - w) / 2), 0), width - w)
    top = min(max(round((y0 + y1 - h) / 2), 0), height - h)
    return (left, top, left + w, top + h)


# --- what the notebook shows ----------------------------------------------------------------------------

def candidates_table(candidates: Candidates, rules: Sequence[str] = EXTENSION_RULES) -> pd.DataFrame:
    """One row per photo and candidate box (a photo without one: a row for its central box), with the rules
    that keep it."""
    kept = {rule: kept_boxes(rule, candidates) for rule in rules}
    size = candidates.height * candidates.width
    rows = []
    for i, name in enumerate(candidates.classes):
        found = candidates.detections[i] or [candidates.best[i]]
        confidence = candidates.box_only_confidence[i] or [float("nan")]
        for detection, conf in zip(found, confidence):
            rows.append({
                "Correct Class": name, "COCO label": detection.label, "score": detection.score,
                "box (x0, y0, x1, y1)": detection.box, "box % of image": 100.0 * detection.area / size,
                "confidence on the box alone": conf,
                "kept by": ", ".join(rule for rule in rules if kept[rule][i] == detection),
            })
    return pd.DataFrame(rows)
