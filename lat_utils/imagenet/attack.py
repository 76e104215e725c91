"""The localized attack on the photos: masked PGD outside each photo's box, the paper's experiment under
each box rule (``run_paper_attacks``), and the extension beyond it (more photos, more budgets)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from ..attacks import PGD, masked_pgd
from ..masks import Box, epsilon_matrix
from ..paths import runs_dir
from ..progress import WallClock
from ..sealed import DamagedFileError, load_sealed, save_sealed
from ..spec.budgets import pgd_step
from ..spec.paper import IMAGENET_EPS
from ..spec.settings import Profile
from .boxes import (
    BOX_RULES,
    EXTENSION_RULES,
    HEADLINE_RULE,
    Candidates,
    black_outside,
    find_candidates,
    kept_boxes,
)
from .classifier import Classifier, labels_of, load_images, predict
from .detector import Detection, Detector
from .photos import Photo, extra_photos, paper_photos
from .tables import PAPER_CLASSIFIER, results_table

PROJECTION = "per_step"     # Section 3 sets eps to 0 inside the box during the attack
SEED = 0                    # the random start of every run's attack, so that a run reuses another's of the same photos


def localized_attack(
    classifier: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    boxes: Sequence[Box],
    *,
    eps: float = IMAGENET_EPS,
    steps: int,
    seed: int = SEED,
    batch_size: int = 16,
) -> torch.Tensor:
    """Masked PGD (Madry et al.'s step for ``eps``) that leaves every pixel inside each image's box unchanged;
    adversarial images on the CPU."""
    dev = next(classifier.model.parameters()).device
    eps_matrix = epsilon_matrix(images, "bbox", eps, box=list(boxes))
    step = pgd_step(eps, steps)
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        chunks = [
            masked_pgd(classifier.model, x.to(dev), y.to(dev), e.to(dev),
                       PGD(steps=steps, step_size=step, random_start=True, projection=PROJECTION)).cpu()
            for x, y, e in zip(images.split(batch_size), labels.split(batch_size), eps_matrix.split(batch_size))
        ]
    return torch.cat(chunks)


def attack_cache(profile: Profile) -> Path:
    """``runs/<profile>/imagenet/``: the finished localized attacks of a profile, so a rerun redoes none."""
    return runs_dir(profile.name) / "imagenet"


def cached_localized_attack(
    cache: Path | None,
    classifier: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    boxes: Sequence[Box],
    *,
    eps: float,
    steps: int,
    seed: int,
) -> tuple[torch.Tensor, float]:
    """``localized_attack`` and the seconds it took, read back from ``cache`` when the same attack (same
    classifier weights, images, labels, boxes and settings) has finished there before; ``cache=None``
    always attacks. The seconds are those of the run that computed it."""
    path = None
    if cache is not None:
        path = cache / f"attack-{_attack_key(classifier, images, labels, boxes, eps, steps, seed)}.pt"
        if path.exists():
            try:
                stored = load_sealed(path)
                adversarial = stored.get("adversarial")
                if not isinstance(adversarial, torch.Tensor) or adversarial.shape != images.shape:
                    raise DamagedFileError(path, f"holds no adversarial images of shape {tuple(images.shape)}")
                return adversarial, float(stored["seconds"])
            except DamagedFileError as error:
                print(f"Attacking again: {error}")
    clock = WallClock()
    adversarial = localized_attack(classifier, images, labels, boxes, eps=eps, steps=steps, seed=seed)
    seconds = clock.seconds()
    if path is not None:
        save_sealed(path, {"adversarial": adversarial, "seconds": seconds})
    return adversarial, seconds


def attack_per_rule(
    cache: Path | None,
    classifier: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    boxes: Mapping[str, Sequence[Box]],
    *,
    eps: float,
    steps: int,
    seed: int,
) -> tuple[dict[str, torch.Tensor], float]:
    """The localized attack under several box rules at once (``boxes``: per rule, one box per image): every
    distinct (image, box) pair is attacked once, all in one batch through ``cached_localized_attack`` (an
    image whose box two rules share gets the same adversarial image under both). Per rule the adversarial
    images, and the seconds of the one attack."""
    pairs: dict[tuple[int, Box], int] = {}
    for rule_boxes in boxes.values():
        for i, box in enumerate(rule_boxes):
            pairs.setdefault((i, tuple(box)), len(pairs))
    if not pairs:
        return {rule: images[:0] for rule in boxes}, 0.0
    index = [i for i, _ in pairs]
    adversarial, seconds = cached_localized_attack(cache, classifier, images[index], labels[index],
                                                   [box for _, box in pairs], eps=eps, steps=steps, seed=seed)
    return {rule: adversarial[[pairs[(i, tuple(box))] for i, box in enumerate(rule_boxes)]]
            for rule, rule_boxes in boxes.items()}, seconds


def _attack_key(classifier: Classifier, images: torch.Tensor, labels: torch.Tensor, boxes: Sequence[Box],
                eps: float, steps: int, seed: int) -> str:
    """A digest of everything the attack's result depends on."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"classifier": classifier.name, "boxes": [list(b) for b in boxes], "eps": eps,
                              "steps": steps, "step_size": pgd_step(eps, steps), "seed": seed,
                              "projection": PROJECTION}).encode())
    for tensor in (*classifier.model.state_dict().values(), images, labels):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:20]


def percent_altered(original: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
    """Per image: percent of pixel positions (H x W) where any channel differs."""
    return (original != changed).any(dim=1).float().mean(dim=(1, 2)) * 100.0


# --- one run of the paper's experiment ----------------------------------------------------------

@dataclass
class PaperRun:
    """Everything the notebook shows for the nine paper photos under one box rule (``detections``: the box
    each photo keeps untouched under ``rule``, chosen among ``candidates``)."""

    classifier: str
    detector: str
    eps: float
    steps: int
    step_size: float
    photos: list[Photo]
    images: torch.Tensor
    labels: torch.Tensor
    rule: str
    candidates: Candidates
    detections: list[Detection]
    adversarial: torch.Tensor
    natural_probs: torch.Tensor
    blackout_probs: torch.Tensor
    adversarial_probs: torch.Tensor
    attack_seconds: float
    seed: int = SEED
    notes: list[str] = field(default_factory=list)

    @property
    def boxes(self) -> list[Box]:
        return [d.box for d in self.detections]

    def table1(self) -> pd.DataFrame:
        """Table 1: the classifier on the unaltered photos."""
        return results_table(self.natural_probs, self.labels, percent_altered(self.images, self.images))

    def table2(self) -> pd.DataFrame:
        """Table 2: the classifier on the localized adversarial photos."""
        return results_table(self.adversarial_probs, self.labels, percent_altered(self.images, self.adversarial))

    def blackout_table(self) -> pd.DataFrame:
        """Beyond the paper: the classifier on the box alone (everything outside it black)."""
        blacked = black_outside(self.images, self.boxes)
        return results_table(self.blackout_probs, self.labels, percent_altered(self.images, blacked))

    def boxes_table(self) -> pd.DataFrame:
        """The kept box of each photo: where it is, its share of the image, its detection."""
        size = self.images.shape[-1] * self.images.shape[-2]
        return pd.DataFrame({
            "Correct Class": [p.name for p in self.photos],
            "box rule": self.rule,
            "box (x0, y0, x1, y1)": [d.box for d in self.detections],
            "box % of image": [100.0 * d.area / size for d in self.detections],
            "detector label": [d.label for d in self.detections],
            "score": [d.score for d in self.detections],
            "fallback box": [d.fallback for d in self.detections],
        })

    def box_check(self) -> pd.DataFrame:
        """Per photo, from the adversarial images themselves: the share of pixels the epsilon matrix fixes,
        the largest change inside the kept box (0 when the attack respects it) and outside (at most eps)."""
        eps_matrix = epsilon_matrix(self.images, "bbox", self.eps, box=self.boxes)
        change = (self.adversarial - self.images).abs()
        return pd.DataFrame({
            "photo": [photo.name for photo in self.photos],
            "box rule": self.rule,
            "fixed pixels (%)": (100 * (eps_matrix == 0).float().mean((1, 2, 3))).numpy(),
            "largest change inside the box (/255)":
                (255 * change.masked_fill(eps_matrix > 0, 0).amax((1, 2, 3))).numpy(),
            "largest change outside (/255)": (255 * change.amax((1, 2, 3))).numpy(),
        })

    def setup(self) -> str:
        """Markdown: which classifier, detector, box rule and attack produced the tables."""
        fallbacks = sum(d.fallback for d in self.detections)
        n_candidates = sum(len(found) for found in self.candidates.detections)
        lines = [
            (f"- classifier: **{self.classifier}**, input {self.images.shape[-1]}x{self.images.shape[-2]} "
             f"(the paper: {PAPER_CLASSIFIER})"),
            (f"- detector (candidate boxes): **{self.detector}**; {n_candidates} detections with score >= "
             f"{self.candidates.min_score} over the {len(self.photos)} photos"),
            f"- box rule: **{self.rule}**; {fallbacks} of {len(self.detections)} photos fell back to the central box",
            (f"- attack: masked PGD outside the box, eps = {self.eps * 255:g}/255, {self.steps} steps, "
             f"step {self.step_size * 255:.4g}/255 (2.5*eps/steps), random start, projection {PROJECTION}; "
             f"{self.attack_seconds:.0f} s (every box rule of the run together)"),
        ]
        return "\n".join(lines + [f"- {note}" for note in self.notes])


def imagenet_deviations(classifier: str, detector: str) -> list[str]:
    """How this run's ImageNet setup departs from the paper's Section 3."""
    out = ["photos: public sample photos of the same nine classes, not the paper's own photos"]
    if not classifier.startswith("Inception v3"):
        out.append(f"classifier: {classifier} instead of Inception v3 (no Inception v3 weights could be loaded)")
    else:
        out.append("classifier: torchvision's Inception v3 weights, not the TensorFlow model the paper used")
    out.append(f"boxes: {detector}; the paper says only 'MobileNet' and not how its box was chosen; the box "
               "rules and the minimum detection score are ours (see the box rules)")
    out.append("PGD step size 2.5*eps/steps with a random start and sign gradients is ours (the paper gives none)")
    out.append("the attack space is the classifier's resized, centre-cropped input; adversarial photos stay "
               "floating point (not rounded to 8 bits)")
    return out


def run_paper_attacks(
    profile: Profile,
    classifier: Classifier,
    detector: Detector,
    *,
    rules: Sequence[str] = BOX_RULES,
    eps: float = IMAGENET_EPS,
    seed: int = SEED,
    mirror: Path | None = None,
) -> dict[str, PaperRun]:
    """Detect, classify and attack the nine paper photos under each box rule with the profile's number of
    PGD steps (``attack_per_rule``; an attack that finished in an earlier run of the profile is read back
    from ``attack_cache(profile)``). One run per rule, in the order of ``rules``."""
    photos = paper_photos(mirror)
    images, labels = load_images(photos, classifier), labels_of(photos)
    candidates = find_candidates(detector, classifier, images, labels)
    kept = {rule: kept_boxes(rule, candidates) for rule in rules}
    attacked, seconds = attack_per_rule(attack_cache(profile), classifier, images, labels,
                                        {rule: [d.box for d in found] for rule, found in kept.items()},
                                        eps=eps, steps=profile.imagenet_steps, seed=seed)
    natural = predict(classifier, images)
    notes = [n for n in (classifier.note, detector.note) if n]
    return {rule: PaperRun(
        classifier=classifier.name, detector=detector.name, eps=eps, steps=profile.imagenet_steps,
        step_size=pgd_step(eps, profile.imagenet_steps), photos=photos, images=images, labels=labels,
        rule=rule, candidates=candidates, detections=kept[rule], adversarial=attacked[rule], natural_probs=natural,
        blackout_probs=predict(classifier, black_outside(images, [d.box for d in kept[rule]])),
        adversarial_probs=predict(classifier, attacked[rule]), attack_seconds=seconds, seed=seed, notes=notes,
    ) for rule in rules}


def run_paper_attack(profile: Profile, classifier: Classifier, detector: Detector, *, rule: str = HEADLINE_RULE,
                     eps: float = IMAGENET_EPS, seed: int = SEED, mirror: Path | None = None) -> PaperRun:
    """``run_paper_attacks`` under one box rule (the notebook's headline rule unless told)."""
    return run_paper_attacks(profile, classifier, detector, rules=(rule,), eps=eps, seed=seed, mirror=mirror)[rule]


# --- beyond the paper: more photos, more budgets ------------------------------------------------

def _summary_row(set_name: str, rule: str, eps: float, labels: torch.Tensor, natural: torch.Tensor,
                 adversarial: torch.Tensor, altered: torch.Tensor, box_percent: float) -> dict:
    nat_ok = natural.argmax(1) == labels
    adv_ok = adversarial.argmax(1) == labels
    adv_top5 = (adversarial.topk(5, dim=1).indices == labels[:, None]).any(1)
    return {
        "photos": set_name, "box rule": rule, "n": len(labels), "eps (x/255)": round(eps * 255, 3),
        "natural top-1 %": 100.0 * nat_ok.float().mean().item(),
        "adversarial top-1 %": 100.0 * adv_ok.float().mean().item(),
        "adversarial top-5 %": 100.0 * adv_top5.float().mean().item(),
        "attack success % (of naturally correct)":
            100.0 * (nat_ok & ~adv_ok).sum().item() / max(nat_ok.sum().item(), 1),
        "mean natural confidence": natural.gather(1, labels[:, None]).mean().item(),
        "mean adversarial confidence": adversarial.gather(1, labels[:, None]).mean().item(),
        "mean % pixels altered": altered.mean().item(),
        "mean box % of image": box_percent,
    }


def _box_percent(images: torch.Tensor, boxes: Sequence[Box]) -> float:
    """The mean share (%) of the image inside the boxes."""
    return 100.0 * float((epsilon_matrix(images[:, :1], "bbox", 1.0, box=list(boxes)) == 0).float().mean())


def attack_summary(
    classifier: Classifier,
    detector: Detector,
    sets: dict[str, Sequence[Photo]],
    eps_values: Sequence[float],
    *,
    steps: int,
    rules: Sequence[str] = EXTENSION_RULES,
    reuse: Mapping[str, PaperRun] | None = None,
    cache: Path | None = None,
) -> pd.DataFrame:
    """Success rate and mean correct-class confidence of the localized attack (random start of ``SEED``, as the
    paper runs'), per photo set, box rule (``box rule`` column) and eps.

    ``reuse``: finished runs (``run_paper_attacks``); one of the same photos, boxes, eps and steps is not
    attacked a second time; nor is an attack found in ``cache`` (see ``cached_localized_attack``). A rule
    that is not defined for a set's photos (the paper's box size beyond the nine paper photos) raises.
    """
    rows = []
    for set_name, photos in sets.items():
        images, labels = load_images(photos, classifier), labels_of(photos)
        candidates = find_candidates(detector, classifier, images, labels)
        boxes = {rule: [d.box for d in kept_boxes(rule, candidates)] for rule in rules}
        natural = predict(classifier, images)
        for eps in eps_values:
            done = {rule: run.adversarial for rule in rules for run in (reuse or {}).values()
                    if _same_attack(run, photos, boxes[rule], eps, steps, SEED)}
            todo = {rule: rule_boxes for rule, rule_boxes in boxes.items() if rule not in done}
            attacked, _ = attack_per_rule(cache, classifier, images, labels, todo, eps=eps, steps=steps, seed=SEED)
            for rule in rules:
                adv = done[rule] if rule in done else attacked[rule]
                rows.append(_summary_row(set_name, rule, eps, labels, natural, predict(classifier, adv),
                                         percent_altered(images, adv), _box_percent(images, boxes[rule])))
    return pd.DataFrame(rows)


def _same_attack(run: PaperRun | None, photos: Sequence[Photo], boxes: Sequence[Box], eps: float, steps: int,
                 seed: int) -> bool:
    return (run is not None and list(run.photos) == list(photos) and run.boxes == list(boxes)
            and math.isclose(run.eps, eps) and run.steps == steps and run.seed == seed)


def run_extension(profile: Profile, classifier: Classifier, detector: Detector, *,
                  reuse: Mapping[str, PaperRun] | None = None, mirror: Path | None = None) -> pd.DataFrame | None:
    """The profile's extension under the best-detection and object's-box rules (``EXTENSION_RULES``; the
    paper's box size is not defined beyond the paper's nine photos): the extra photos and/or the eps
    sweep; None when the profile asks for neither.

    With a sweep, the nine paper photos and the extra photos are attacked at every eps of the sweep;
    without one, the extra photos at the paper's eps (2/255). ``reuse``: the paper runs, not redone.
    """
    if profile.imagenet_extra == 0 and not profile.imagenet_eps_sweep:
        return None
    sets: dict[str, Sequence[Photo]] = {}
    if profile.imagenet_eps_sweep:
        sets["paper (9)"] = paper_photos(mirror)
    if profile.imagenet_extra:
        sets[f"extra ({profile.imagenet_extra})"] = extra_photos(profile.imagenet_extra, mirror)
    eps_values = profile.imagenet_eps_sweep or (IMAGENET_EPS,)
    return attack_summary(classifier, detector, sets, eps_values, steps=profile.imagenet_steps, reuse=reuse,
                          cache=attack_cache(profile))
