"""The report: what a reader sees of a run.

By what each module holds:

- ``header``: the header every notebook prints first (what ran, where, the profile's deviations);
- ``plots``: the study's figures (localized adversarial digits, loss and accuracy grids, curves, claims);
- ``site``: the landing page of a profile's report (``reports/<profile>/index.html``) and its run record;
- ``portable``: executed notebooks without the machine's absolute paths;
- ``browser``: a headless Chromium that looks at the reports as a reader's browser shows them.

The principal names are importable from ``lat_utils.report`` itself; the figures as ``report.plots``.
"""

from . import plots
from .browser import inspect_page, screenshot
from .header import check_parameters, profile_deviations, run_header
from .portable import make_file_portable, make_portable
from .site import record_run, write_index

__all__ = ["check_parameters", "inspect_page", "make_file_portable", "make_portable", "plots", "profile_deviations", "record_run",
           "run_header", "screenshot", "write_index"]
