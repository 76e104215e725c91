"""Keeping native libraries' log lines out of the reports.

Some compiled libraries write informational lines straight to the process's file descriptor 2
(TFLite: "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."). Python's ``warnings`` and
``logging`` cannot filter them, and a Jupyter kernel forwards them as stderr output, which an
executed report shows as a red warning block. :func:`native_stderr_silenced` discards them for the
few calls known to print them; errors still surface as Python exceptions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


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
