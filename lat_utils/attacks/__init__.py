"""Localized attacks: every pixel has its own L-inf budget, given by an epsilon matrix.

One family with one contract (``_common.py``): the same input checks; the perturbation never exceeds
the epsilon matrix and never touches a pixel whose budget is 0; images stay in [0, 1]; the model's
mode and parameters (and their gradients) are left as they were; batched, on the inputs' device.

- ``masked_pgd``: L-inf PGD (Madry et al.), the attack of training and of the paper.
- ``masked_apgd``: Auto-PGD (Croce & Hein 2020) on the cross-entropy or the targeted DLR loss.
- ``masked_square``: the gradient-free L-inf Square Attack (Andriushchenko et al. 2020).
- ``localized_autoattack``: the ensemble of the three, each only on what is still unbroken.
"""

from ._common import AUTO_PRECISION_VARIABLE, capturing, resolve_precision
from .apgd import APGD_LOSSES, masked_apgd
from .autoattack import ATTACK_NAMES, AutoAttackResult, localized_autoattack
from .pgd import PGD, masked_pgd
from .square import masked_square

__all__ = ["APGD_LOSSES", "ATTACK_NAMES", "AUTO_PRECISION_VARIABLE", "AutoAttackResult", "PGD", "capturing",
           "localized_autoattack",
           "masked_apgd", "masked_pgd",
           "masked_square", "resolve_precision"]
