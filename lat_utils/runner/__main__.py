"""``python -m lat_utils.runner``: the study's command line (``cli.main``)."""

import sys

from .cli import main

sys.exit(main())
