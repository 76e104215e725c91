"""A cross-check of our robust accuracies with a third-party implementation: torchattacks' APGD-CE and APGD-DLR,
localized by a wrapper (``LocalizingWrapper``), attack every image our localized AutoAttack left correct. A cell is
flagged where they find more than one image in 100 that ours missed.
"""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn as nn

from ..masks import epsilon_matrix
from ..models import fast_layout
from ..paths import tables_dir
from ..progress import tqdm
from ..spec.paper import ATTACK_KINDS
from .checkpoints import load_trained
from .evaluation import cache_path, evaluation_cache, first_test_images, save_cell_cache
from .plan import TrainConfig, evaluated_models

THIRD_PARTY_COLUMNS = ["dataset", "reading", "model", "seed", "attack", "n", "ours", "worst case with torchattacks",
                       "difference (points)", "broken only by torchattacks", "flag"]


class LocalizingWrapper(nn.Module):
    """z -> x0 + m * (z - x0): a scalar-eps attack on z becomes a localized attack on the images x0 (only the
    pixels with m = 1 move). The attack must pass the whole batch each time: an attack library that re-indexes
    its batch (torchattacks' APGD attacks only the images it finds correct at the start) would pair images with
    other images' x0, and is refused with ``ReindexedBatchError``."""

    def __init__(self, model: nn.Module, x0: torch.Tensor, mask: torch.Tensor) -> None:
        super().__init__()
        self.model, self.x0, self.mask = model, x0, mask

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.localized(z))

    def localized(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[0] != self.x0.shape[0]:
            raise ReindexedBatchError(f"the attack passed {z.shape[0]} images to a wrapper of {self.x0.shape[0]}")
        return self.x0 + self.mask * (z - self.x0)


class ReindexedBatchError(RuntimeError):
    """An attack passed ``LocalizingWrapper`` a part of its batch."""


def torchattacks_broken(model: nn.Module, x0: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, eps: float,
                        steps: int) -> torch.Tensor:
    """Per image of ``x0`` (each classified correctly): does torchattacks' APGD-CE, or else its APGD-DLR, ``steps``
    steps with scalar ``eps`` through ``LocalizingWrapper``, misclassify it? The images go in one batch; should
    torchattacks re-index it (a borderline image it calls wrong at the start), one at a time instead."""
    broken = torch.zeros(len(x0), dtype=torch.bool, device=x0.device)
    for loss in ("ce", "dlr"):
        todo = (~broken).nonzero().squeeze(1)
        if not len(todo):
            break
        try:
            broken[todo] = _misled(model, x0[todo], labels[todo], mask[todo], eps, steps, loss)
        except ReindexedBatchError:
            broken[todo] = torch.cat([_misled(model, x0[i:i + 1], labels[i:i + 1], mask[i:i + 1], eps, steps, loss)
                                      for i in todo.tolist()])
    return broken


def _misled(model: nn.Module, x0: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, eps: float, steps: int,
            loss: str) -> torch.Tensor:
    """Per image: misclassified after one run of torchattacks' APGD with ``loss`` through ``LocalizingWrapper``."""
    import torchattacks

    wrapper = LocalizingWrapper(model, x0, mask).eval()
    z = torchattacks.APGD(wrapper, eps=eps, steps=max(steps, 1), loss=loss)(x0, labels)
    with torch.no_grad():
        return model(wrapper.localized(z)).argmax(1) != labels


def third_party_check(config: TrainConfig, *, progress: bool = True) -> pd.DataFrame:
    """Is our robust accuracy an overestimate? On the first ``third_party_n`` test images, torchattacks'
    APGD-CE and APGD-DLR (``apgd_steps`` each, through ``LocalizingWrapper``) attack every image our
    localized AutoAttack left correct (``torchattacks_broken``); rows of ``THIRD_PARTY_COLUMNS`` per attacked
    cell, ``flag`` where the worst case over both lies more than one image in 100 below ours. Cached per model.
    The models of the profile's ``seeds`` are checked; the central models' extra ``central_seeds`` (same
    attacks, other training seeds) are not: their table is empty."""
    profile = config.settings
    if config.seed not in profile.seeds:
        return pd.DataFrame(columns=THIRD_PARTY_COLUMNS)
    images, labels, _ = first_test_images(config.dataset, profile.n_test, profile.image_cap)
    cache = evaluation_cache(config, progress=False)
    n = min(profile.third_party_n, len(images))
    if n == 0:
        return pd.DataFrame(columns=THIRD_PARTY_COLUMNS)
    checked = cache.setdefault("third_party", {})
    model, rows = None, []
    for attack in tqdm(ATTACK_KINDS[config.dataset], desc=f"torchattacks on {config.eval_key}", disable=not progress):
        ours = cache["cells"][attack]["correct"][:n]
        entry = f"{attack} on {n} images"
        if entry not in checked:
            model = model or load_trained(config)
            dev = next(model.parameters()).device
            index = ours.nonzero().squeeze(1)
            x0, y = fast_layout(images[index], dev), labels[index].to(dev)
            mask = (epsilon_matrix(x0, attack, profile.eps) > 0).float()
            broken = torch.zeros(n, dtype=torch.bool)
            broken[index] = torchattacks_broken(model, x0, y, mask, profile.eps, profile.apgd_steps).cpu()
            checked[entry] = broken
            save_cell_cache(cache_path(config), cache)
        worst = ours & ~checked[entry]
        difference = 100 * (int(ours.sum()) - int(worst.sum())) / n
        rows.append({"dataset": config.dataset, "reading": config.reading, "model": config.name, "seed": config.seed, "attack": attack, "n": n,
                     "ours": 100 * float(ours.float().mean()), "worst case with torchattacks": 100 * float(worst.float().mean()),
                     "difference (points)": difference, "broken only by torchattacks": int(checked[entry].sum()),
                     "flag": difference > 1.0})
    return pd.DataFrame(rows, columns=THIRD_PARTY_COLUMNS)


def third_party_checks(dataset: str, profile_name: str, *, progress: bool = False) -> pd.DataFrame:
    """``third_party_check`` of every evaluated model of ``dataset`` (cached: computed only where missing), written to
    ``reports/<profile>/tables/third_party_<dataset>.csv``."""
    table = pd.concat([third_party_check(c, progress=progress) for c in evaluated_models(dataset, profile_name)],
                      ignore_index=True)
    table.to_csv(tables_dir(profile_name) / f"third_party_{dataset}.csv", index=False)
    return table
