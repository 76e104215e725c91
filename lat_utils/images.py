"""Images light enough to travel: every figure the study saves and every image an executed notebook shows, as a PNG
of at most 256 colours.

A plot has a few dozen colours, and its PNG shrinks three- to fourfold with a palette; a photo (the ImageNet
figures) loses little that a reader sees. The committed reports must fit a GPU machine's working tree, and their
notebooks embed every figure a second time.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from .paths import write_atomically

if TYPE_CHECKING:
    import matplotlib.figure
    from nbformat import NotebookNode

COLOURS = 256


def compact_png(data: bytes) -> bytes:
    """``data`` (a PNG) with a palette of at most ``COLOURS`` colours, optimized; ``data`` itself where it has a
    palette already or where that is not smaller."""
    image = Image.open(io.BytesIO(data))
    if image.mode == "P":
        return data
    paletted = image.convert("RGB").quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    paletted.save(buffer, "PNG", optimize=True)
    return buffer.getvalue() if len(buffer.getvalue()) < len(data) else data


def save_figure(fig: matplotlib.figure.Figure, path: str | Path, dpi: int, **savefig: object) -> None:
    """``fig`` saved to ``path`` as a compact PNG (``compact_png``) at ``dpi``, written atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, **savefig)
    data = compact_png(buffer.getvalue())
    write_atomically(Path(path), lambda tmp: tmp.write_bytes(data))


def compact_images(notebook: NotebookNode) -> NotebookNode:
    """Rewrite ``notebook`` in place: every PNG its outputs show through ``compact_png``."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                png = base64.b64decode(data["image/png"])
                data["image/png"] = base64.b64encode(compact_png(png)).decode("ascii")
    return notebook
