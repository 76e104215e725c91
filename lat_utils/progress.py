"""What a run shows while it works: progress bars (widgets in JupyterLab, plain text in papermill runs and logs),
and no native library's log lines.

Every progress bar of ``lat_utils`` comes from :func:`tqdm` here. Interactively (JupyterLab, a
terminal) it is ``tqdm.auto``: a widget in a notebook, text on stderr in a terminal. When the
environment variable ``LAT_PROGRESS`` is ``text`` (the pipeline sets it for the kernels papermill
starts) it is the plain-text bar written to **stdout**: an executed report then holds the bar's
final line as ordinary output, neither widget JSON (which a static HTML page cannot draw) nor a
stderr stream (which nbconvert renders as a red warning block).

Some compiled libraries write informational lines straight to the process's file descriptor 2
(TFLite: "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."). Python's ``warnings`` and
``logging`` cannot filter them, and a Jupyter kernel forwards them as stderr output, which an
executed report shows as a red warning block. :func:`native_stderr_silenced` discards them for the
few calls known to print them; errors still surface as Python exceptions.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENV = "LAT_PROGRESS"
TEXT = "text"


def text_mode() -> bool:
    """True when progress bars are plain text on stdout (``LAT_PROGRESS=text``)."""
    return os.environ.get(ENV, "").strip().lower() == TEXT


def tqdm(*args: Any, **kwargs: Any):
    """A ``tqdm`` progress bar of the kind this process should show (see the module docstring)."""
    if text_mode():
        from tqdm.std import tqdm as text_tqdm

        kwargs.setdefault("file", sys.stdout)
        return text_tqdm(*args, **kwargs)
    from tqdm.auto import tqdm as auto_tqdm

    return auto_tqdm(*args, **kwargs)


class WallClock:
    """Measures a notebook's wall time: ``clock = WallClock()`` ... ``clock.summary()``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def summary(self) -> str:
        return f"wall time: {self.seconds():.0f} s"


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send everything written to file descriptor 2 inside the ``with`` block to ``os.devnull``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
