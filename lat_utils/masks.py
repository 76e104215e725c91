"""Epsilon matrices: the per-pixel L-inf budget of a localized attack.

An epsilon matrix E has the shape of the images; E = eps where a pixel may change and 0 where it may
not. The kinds follow the paper (MNIST Figure 1, ImageNet Section 3):

- ``standard``: every pixel may change (Madry et al.'s PGD).
- ``background``: the central ``center`` x ``center`` block is fixed (the paper's "middle 36 pixels").
- ``exact``: the object is fixed: pixels brighter than ``threshold`` in any channel (the digit).
- ``broad``: the digit and every pixel directly adjacent to it (8-neighbourhood, a 3x3 dilation).
- ``bbox``: the pixels inside one detector box per image are fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .checks import check_eps, check_images, check_scalar_tensor
from .spec.paper import BACKGROUND_CENTER, BROAD_DILATION, EXACT_THRESHOLD

MASK_KINDS = ("standard", "background", "exact", "broad", "bbox")

Box = tuple[int, int, int, int]


def fixed_pixels(
    images: torch.Tensor,
    kind: str,
    *,
    center: int = BACKGROUND_CENTER,
    threshold: float = EXACT_THRESHOLD,
    box: Sequence[Box] | torch.Tensor | None = None,
    check_inputs: bool = True,
) -> torch.Tensor:
    """Boolean (N, 1, H, W): True where the localization ``kind`` keeps a pixel unaltered.
    ``check_inputs=False`` skips reading the images' values (the caller checked them: the training loop)."""
    if check_inputs:
        check_images(images)
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}: choose one of {MASK_KINDS}")
    n, _, h, w = images.shape
    if kind == "standard":
        return torch.zeros(n, 1, h, w, dtype=torch.bool, device=images.device)
    if kind == "background":
        if isinstance(center, bool) or not isinstance(center, int) or not 0 <= center <= min(h, w):
            raise ValueError(f"center must be an int in [0, {min(h, w)}] for {h}x{w} images, got {center!r}")
        fixed = torch.zeros(n, 1, h, w, dtype=torch.bool, device=images.device)
        top, left = (h - center) // 2, (w - center) // 2
        fixed[:, :, top:top + center, left:left + center] = True
        return fixed
    if kind in ("exact", "broad"):
        fixed = (images > threshold).any(dim=1, keepdim=True)
        if kind == "broad":
            pad = BROAD_DILATION // 2
            fixed = F.max_pool2d(fixed.float(), BROAD_DILATION, stride=1, padding=pad) > 0
        return fixed
    return _box_pixels(_as_boxes(box, n, h, w), h, w).to(images.device)


def epsilon_matrix(
    images: torch.Tensor,
    kind: str,
    eps: float | torch.Tensor,
    *,
    center: int = BACKGROUND_CENTER,
    threshold: float = EXACT_THRESHOLD,
    box: Sequence[Box] | torch.Tensor | None = None,
    check_inputs: bool = True,
) -> torch.Tensor:
    """The epsilon matrix of ``images`` (N, C, H, W in [0, 1]) for the localization ``kind``.

    Same shape, dtype and device as ``images``; every entry is ``eps`` (may change) or 0 (fixed). ``eps`` is a
    number in [0, 1], or a 0-d tensor that is not read (the graph-ready training step's: its caller checks it).
    The same pixels are fixed in every channel. ``box`` (for ``bbox``) is one ``(x0, y0, x1, y1)``
    end-exclusive pixel box per image, as a sequence of tuples or an (N, 4) tensor. ``check_inputs=False``
    skips reading the images' values (the caller checked them).
    """
    fixed = fixed_pixels(images, kind, center=center, threshold=threshold, box=box, check_inputs=check_inputs)
    if check_scalar_tensor(eps, "eps"):   # the graph-ready training step's: on the device, not read
        budget = eps.to(dtype=images.dtype, device=images.device).expand_as(images)
    else:
        check_eps(eps)
        budget = torch.full_like(images, float(eps))
    return budget.masked_fill(fixed.expand_as(images), 0.0)


def _as_boxes(box: Sequence[Box] | torch.Tensor | None, n: int, h: int, w: int) -> torch.Tensor:
    """``box`` as an int64 (N, 4) CPU tensor, checked against the image size."""
    if box is None:
        raise ValueError("the 'bbox' mask needs box=: one (x0, y0, x1, y1) box per image")
    boxes = torch.as_tensor(box).detach().cpu()
    if boxes.is_floating_point():
        if not torch.equal(boxes, boxes.round()):
            raise ValueError("box coordinates must be whole pixel indices")
        boxes = boxes.long()
    if boxes.dim() != 2 or boxes.shape != (n, 4):
        raise ValueError(f"box must hold one (x0, y0, x1, y1) per image: expected shape ({n}, 4), "
                         f"got {tuple(boxes.shape)}")
    x0, y0, x1, y1 = boxes.unbind(1)
    if (x0 < 0).any() or (y0 < 0).any() or (x1 > w).any() or (y1 > h).any() or (x0 > x1).any() or (y0 > y1).any():
        raise ValueError(f"every box needs 0 <= x0 <= x1 <= {w} and 0 <= y0 <= y1 <= {h} "
                         f"(end-exclusive pixel boxes), got {boxes.tolist()}")
    return boxes


def _box_pixels(boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
    boxes = boxes.to(torch.long)
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    x0, y0, x1, y1 = (c.view(-1, 1, 1) for c in boxes.unbind(1))
    inside = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    return inside.unsqueeze(1)
