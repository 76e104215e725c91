"""The report: what a reader sees of a run.

By what each module holds:

- ``header``: the header every notebook prints first (what ran, where, the profile's deviations);
- ``plots``: the study's figures (localized adversarial digits, loss and accuracy grids, curves, claims);
- ``explorer``: the explorer notebook's models, outcome table and JupyterLab controls;
- ``site``: the landing page of a profile's report (``reports/<profile>/index.html``) and its run record;
- ``portable``: executed notebooks without the machine's absolute paths;
- ``browser``: a headless Chromium that looks at the reports as a reader's browser shows them.

What a notebook uses is importable from ``lat_utils.report`` itself (the figures as ``report.plots``).
``site`` and ``browser`` are also commands (``python -m lat_utils.report.site PROFILE``), so they are
imported where used (``from lat_utils.report import site``), not here: a module run with ``-m`` must
not have been imported already.
"""

from . import explorer, plots
from .header import check_parameters, profile_deviations, run_header
from .portable import make_file_portable, make_portable

__all__ = ["check_parameters", "explorer", "make_file_portable", "make_portable", "plots", "profile_deviations", "run_header"]
