"""Executed notebooks that travel: no absolute path of the machine that ran them, and compact images.

Papermill records the absolute input and output paths of every execution in the notebook's
metadata, and a notebook's own prints (a checkpoint's path, the folder of the tables) show absolute
paths. :func:`make_portable` rewrites both relative to the project folder, the folder the pipeline
runs the notebooks in, so ``/home/me/lat/runs/quick/x.pt`` reads ``runs/quick/x.pt`` (and any other
path in the home folder starts with ``~``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import PROJECT_ROOT, output_root, write_atomically

if TYPE_CHECKING:
    from nbformat import NotebookNode


def relative_text(text: str, root: Path = PROJECT_ROOT) -> str:
    """``text`` with every absolute path under ``root`` written relative to it, and the home folder as ``~``."""
    under_root = re.compile(re.escape(str(root)) + r"(/|(?![\w.-]))")  # the root itself or a path in it
    text = under_root.sub(lambda match: "" if match.group(1) == "/" else ".", text)
    return re.sub(re.escape(str(Path.home())) + r"(?=/)", "~", text)


def make_portable(notebook: NotebookNode, root: Path = PROJECT_ROOT,
                  outputs: Path | None = None) -> NotebookNode:
    """Rewrite ``notebook`` in place: papermill's paths and every output's paths relative to ``root``.

    ``outputs`` is where ``reports/``, ``runs/`` and ``figures/`` live when not in ``root``
    (``$LAT_OUTPUT_ROOT``): paths under it are written relative to it, so a report reads the same
    wherever its run wrote.
    """
    outputs = outputs or root

    def relative(text: str) -> str:  # relative_text is idempotent, so outputs == root needs no case of its own
        return relative_text(relative_text(text, outputs), root)

    recorded = notebook.metadata.get("papermill", {})
    for key, base in (("input_path", root), ("output_path", outputs)):
        if recorded.get(key):
            recorded[key] = os.path.relpath(os.path.abspath(recorded[key]), base)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            _make_output_portable(output, relative)
    return notebook


def _make_output_portable(output: dict, relative: Callable[[str], str]) -> None:
    """One cell output's texts (streams, text data, errors and their tracebacks) through ``relative``."""
    if "text" in output:
        output["text"] = relative(output["text"])
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") and isinstance(value, str):
            output["data"][mime] = relative(value)
    if "evalue" in output:
        output["evalue"] = relative(output["evalue"])
    if "traceback" in output:
        output["traceback"] = [relative(line) for line in output["traceback"]]


def make_file_portable(path: Path) -> None:
    """:func:`make_portable` on the executed notebook at ``path``, its images compacted (``images.compact_images``),
    rewritten atomically."""
    import nbformat  # imported here: it costs seconds (jsonschema), and the notebooks import this package

    from ..images import compact_images

    notebook = nbformat.read(path, as_version=4)
    compact_images(make_portable(notebook, outputs=output_root()))
    write_atomically(path, lambda tmp: nbformat.write(notebook, tmp))
