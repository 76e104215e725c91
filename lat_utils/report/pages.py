"""The HTML page of every executed notebook, built from the notebook.

A run writes each page beside its executed notebook (``runner.notebooks.execute``); the repository commits the
notebooks only, so that a checkout travels light to a GPU machine. ``python -m lat_utils.report.pages`` builds the pages
of every report folder (or of the profiles named) where a page is missing or older than its notebook, one process
per core: under a minute for every committed report on the 2-core CPU. Then open ``reports/<profile>/index.html``.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ..paths import output_root, write_atomically
from .site import INDEX


def render_page(notebook: Path) -> Path:
    """The HTML page of the executed ``notebook``, written beside it (atomically: whole or none); its path."""
    from nbconvert import HTMLExporter  # imported here: it costs seconds

    page = notebook.with_suffix(".html")
    body, _ = HTMLExporter().from_filename(str(notebook))
    write_atomically(page, lambda tmp: tmp.write_text(body, encoding="utf-8"))
    return page


def missing_pages(folder: Path) -> list[Path]:
    """The executed notebooks of a report folder whose page is missing or older than the notebook."""
    notebooks = sorted(folder.glob("*.ipynb"))
    return [n for n in notebooks if not n.with_suffix(".html").exists()
            or n.with_suffix(".html").stat().st_mtime < n.stat().st_mtime]


def build_pages(profiles: list[str] | None = None, workers: int | None = None) -> list[Path]:
    """``render_page`` of every notebook of ``profiles``' report folders (every folder with a landing page when
    None) that ``missing_pages`` finds; the pages written."""
    root = output_root() / "reports"
    folders = ([root / p for p in profiles] if profiles else
               sorted(p.parent for p in root.glob(f"*/{INDEX}")))
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"no report folder {folder.name!r} in {root}: run the profile first")
    todo = [n for folder in folders for n in missing_pages(folder)]
    if not todo:
        return []
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(render_page, todo))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the HTML page of every executed notebook of the reports.")
    parser.add_argument("profiles", nargs="*", help="the profiles' report folders (default: every one)")
    args = parser.parse_args(argv)
    pages = build_pages(args.profiles or None)
    print(f"{len(pages)} pages built" + (f" in {len({p.parent for p in pages})} report folders" if pages else
                                         ": every page is up to date") + "; open reports/<profile>/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
