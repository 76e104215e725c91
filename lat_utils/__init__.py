"""lat_utils: the reproduction of "Localized Adversarial Training" (Rothberg et al., AdvML'19).

The core the paper needs is importable from here: an epsilon matrix gives every pixel its own L-inf
budget (``epsilon_matrix``: 0 on the object, eps on the background), a localized attack never exceeds
it (``masked_pgd``, the paper's attack; ``localized_autoattack``, the strongest we have), the paper's
classifier is ``PaperCNN``, the data ``load_dataset``, and ``device`` says where tensors go::

    from lat_utils import PGD, PaperCNN, epsilon_matrix, load_dataset, masked_pgd
    images, labels, _ = load_dataset("mnist", "test")
    eps = epsilon_matrix(images[:8], "background", 0.3)
    adversarial = masked_pgd(PaperCNN().eval(), images[:8], labels[:8], eps, PGD(steps=100, step_size=0.01))

The package is layered; a module imports only from its own layer or the layers before it (checked
by ``tests/test_layout.py``), so a change belongs in the lowest layer that needs it:

0. foundations: ``spec/`` (what the paper states, the attacks' named budgets, the networks' recipes, a run's
   settings and the named changes that make a profile), ``config`` (the paper's setting and the profiles), ``checks``
   (input checks), ``paths`` (where outputs go, atomic writes), ``sealed`` (the checksummed file format of
   every tensor file a run keeps), ``progress`` (bars, wall time, native libraries' log lines kept
   out of the reports), ``devices``, ``images`` (every saved figure and notebook image as a compact PNG);
1. the core: ``masks``, ``models``, ``data``, ``attacks/`` (one family, one contract);
2. ``imagenet/``: the paper's Section 3 on an ImageNet classifier;
3. ``study/``: training, evaluation, learning curves, claims, budgets, statistics;
4. ``report/``: notebook headers, figures, the landing page, portable notebooks, the browser check;
5. ``runner/``: the plan of notebooks, the executors (local, SLURM), estimates, the command line.
"""

from .attacks import PGD, localized_autoattack, masked_apgd, masked_pgd, masked_square
from .data import load_dataset
from .devices import device
from .masks import epsilon_matrix
from .models import PaperCNN

__version__ = "0.1.0"

LAYERS = (
    ("spec", "config", "checks", "paths", "sealed", "progress", "devices", "images"),
    ("masks", "models", "data", "attacks"),
    ("imagenet",),
    ("study",),
    ("report",),
    ("runner",),
)
"""The layers above, lowest first, by their top-level module or subpackage."""

__all__ = ["LAYERS", "PGD", "PaperCNN", "device", "epsilon_matrix", "load_dataset", "localized_autoattack", "masked_apgd",
           "masked_pgd", "masked_square"]
