"""Tests of lat_utils.imagenet: fast, on the CPU, offline (the data mirror and the PyPI classifier)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from lat_utils import imagenet
from lat_utils.config import get_profile
from lat_utils.data import DataNotFoundError, offline_mirror
from lat_utils.spec.paper import IMAGENET_EPS

MIRROR = offline_mirror()
needs_photos = pytest.mark.skipif(not (MIRROR / imagenet.PAPER_SUBDIR).is_dir(),
                                  reason=f"offline data mirror not found at {MIRROR}")


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> None:
    """No download attempts: the offline classifier and detector, whatever the network does."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAT_OFFLINE", "1")
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))  # an empty hub cache
        yield


@pytest.fixture(scope="module")
def classifier(offline) -> imagenet.Classifier:
    return imagenet.load_classifier()


@pytest.fixture(scope="module")
def detector(offline) -> imagenet.Detector:
    return imagenet.load_detector()


@pytest.fixture(scope="module")
def photos() -> list[imagenet.Photo]:
    return imagenet.paper_photos()


@pytest.fixture(scope="module")
def images(photos, classifier) -> torch.Tensor:
    return imagenet.load_images(photos, classifier)


# --- classes and photos ---------------------------------------------------------------------------

def test_class_index_is_position_in_sorted_wnids() -> None:
    classes = imagenet.imagenet_classes()
    assert len(classes) == 1000
    assert imagenet.class_index("n01440764") == 0  # tench
    assert imagenet.class_names()[imagenet.class_index("n01484850")] == "great white shark"
    with pytest.raises(ValueError, match="not one of the 1000"):
        imagenet.class_index("n00000000")


@needs_photos
def test_paper_photos_in_paper_order(photos) -> None:
    assert [p.name for p in photos] == list(imagenet.PAPER_CLASSES)
    for photo in photos:
        assert photo.path.name.startswith(photo.wnid)
        assert imagenet.imagenet_classes()[photo.label][0] == photo.wnid


@needs_photos
def test_extra_photos() -> None:
    extra = imagenet.extra_photos()
    assert len(extra) == 100 and len({p.label for p in extra}) == 100
    assert imagenet.extra_photos(3) == extra[:3]


# --- classifier -----------------------------------------------------------------------------------

def test_normalized_wrapper_takes_unit_interval_images() -> None:
    seen = {}

    class Probe(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen["x"] = x
            return x.flatten(1)

    wrapper = imagenet.Normalized(Probe(), [127 / 255] * 3, [128 / 255] * 3)
    x = torch.rand(2, 3, 4, 4)
    wrapper(x)
    torch.testing.assert_close(seen["x"], (x * 255 - 127) / 128)


@needs_photos
def test_classifier_on_unit_images(classifier, images) -> None:
    assert images.shape == (9, 3, classifier.input_size, classifier.input_size)
    assert images.min() >= 0 and images.max() <= 1
    assert not any(p.requires_grad for p in classifier.model.parameters())
    probs = imagenet.predict(classifier, images[:2])
    assert probs.shape == (2, 1000)
    torch.testing.assert_close(probs.sum(1), torch.ones(2))
    assert classifier.name  # every table states it


# --- boxes ----------------------------------------------------------------------------------------

def test_pixel_boxes_are_clipped_and_cover_the_detection() -> None:
    assert imagenet.to_pixel_box((-0.1, 0.25, 1.2, 0.5), 100, 200) == (0, 25, 200, 50)
    assert imagenet.to_pixel_box((0.101, 0.2, 0.3, 0.299), 100, 100) == (10, 20, 30, 30)
    assert imagenet.default_box(224, 224) == (56, 56, 168, 168)


@needs_photos
def test_detected_boxes_are_valid(detector, images) -> None:
    detections = imagenet.detect_boxes(detector, images)
    h, w = images.shape[-2:]
    assert len(detections) == len(images)
    for d in detections:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert all(isinstance(v, int) for v in d.box)
    assert detector.name


def test_no_detection_falls_back_to_the_central_box() -> None:
    images = torch.rand(1, 3, 40, 48)
    silent = imagenet.Detector(lambda image: [], "nothing")
    weak = imagenet.Detector(lambda image: [((0.0, 0.0, 0.5, 0.5), 0.01, "cat")], "weak")
    for detector in (silent, weak):
        (d,) = imagenet.detect_boxes(detector, images)
        assert d.fallback and d.box == imagenet.default_box(40, 48)
        assert imagenet.detect_candidates(detector, images) == [[]]


def test_every_detection_above_the_threshold_is_returned() -> None:
    raw = [((0.0, 0.0, 0.5, 0.5), 0.2, "cat"), ((0.1, 0.1, 0.9, 0.9), 0.9, "dog"),
           ((0.5, 0.5, 1.0, 1.0), 0.5, "person"), ((0.0, 0.0, 1.0, 1.0), imagenet.MIN_DETECTION_SCORE, "kite")]
    detector = imagenet.Detector(lambda image: list(raw), "fake")
    found = imagenet.detect_candidates(detector, torch.rand(2, 3, 20, 20))
    assert len(found) == 2 and found[0] == found[1]
    assert [(d.label, d.score) for d in found[0]] == [("dog", 0.9), ("person", 0.5),
                                                     ("kite", imagenet.MIN_DETECTION_SCORE)]
    assert [d.box for d in found[0]] == [(2, 2, 18, 18), (10, 10, 20, 20), (0, 0, 20, 20)]
    assert not any(d.fallback for d in found[0])
    assert [d.label for d in imagenet.detect_candidates(detector, torch.rand(1, 3, 20, 20), 0.6)[0]] == ["dog"]
    assert imagenet.detect_boxes(detector, torch.rand(1, 3, 20, 20))[0] == found[0][0]  # the best detection


# --- the attack -----------------------------------------------------------------------------------

@needs_photos
def test_attack_keeps_the_box_and_stays_in_eps(classifier, detector, photos, images) -> None:
    x, y = images[:2], imagenet.labels_of(photos[:2])
    boxes = [d.box for d in imagenet.detect_boxes(detector, x)]
    adv = imagenet.localized_attack(classifier, x, y, boxes, eps=IMAGENET_EPS, steps=2)
    assert adv.shape == x.shape and adv.min() >= 0 and adv.max() <= 1
    assert (adv - x).abs().max() <= IMAGENET_EPS + 1e-6
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        assert torch.equal(adv[i, :, y0:y1, x0:x1], x[i, :, y0:y1, x0:x1])
    altered = imagenet.percent_altered(x, adv)
    outside = torch.tensor([100.0 * (1 - (x1 - x0) * (y1 - y0) / (x.shape[-1] * x.shape[-2]))
                            for x0, y0, x1, y1 in boxes])
    assert (altered <= outside + 1e-4).all() and (altered > 0).any()


def _tiny_classifier() -> imagenet.Classifier:
    """A stand-in with 1,000 outputs: the input contract, not the network, is under test."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(48, 1000)).eval()
    return imagenet.Classifier(model=model, name="tiny", input_size=32, resize_size=32)


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x.index_fill(3, torch.tensor([0]), float("nan")), y), "images must be finite"),
    (lambda x, y: (x, torch.tensor([3, 1000])), r"labels must be class indices in \[0, 1000\)"),
    (lambda x, y: (x, torch.tensor([3, -1])), "labels must be class indices >= 0"),
    (lambda x, y: (x.double(), y), "float32 or bfloat16"),
])
def test_the_imagenet_attack_keeps_the_family_contract(change, message) -> None:
    x, y = change(torch.rand(2, 3, 32, 32), torch.tensor([3, 7]))
    with pytest.raises((ValueError, TypeError), match=message):
        imagenet.localized_attack(_tiny_classifier(), x, y, [(4, 4, 20, 20)] * 2, steps=2)


def test_percent_altered_counts_pixel_positions() -> None:
    x = torch.zeros(1, 3, 4, 5)
    y = x.clone()
    y[0, 2, 0, 0] = 0.1  # one channel of one pixel
    y[0, :, 3, 4] = 0.2  # all channels of another
    assert imagenet.percent_altered(x, y).item() == pytest.approx(100 * 2 / 20)


def test_black_outside_keeps_only_the_box() -> None:
    x = torch.rand(1, 3, 6, 6) * 0.5 + 0.5
    out = imagenet.black_outside(x, [(1, 2, 4, 5)])
    assert torch.equal(out[0, :, 2:5, 1:4], x[0, :, 2:5, 1:4])
    assert out.sum() == pytest.approx(x[0, :, 2:5, 1:4].sum().item())


# --- box rules ------------------------------------------------------------------------------------

class _RegionEvidence(torch.nn.Module):
    """A fake classifier: the logit of ``label`` is 50 x the mean of the region ``(x0, y0, x1, y1)``; every
    other logit is 0. Black out the region and the evidence for ``label`` is gone."""

    def __init__(self, label: int, region: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.label, self.region = label, region
        self.scale = torch.nn.Parameter(torch.tensor(50.0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0, y0, x1, y1 = self.region
        logits = torch.zeros(len(x), 1000, dtype=x.dtype)
        return logits.index_put((torch.arange(len(x)), torch.full((len(x),), self.label)),
                                self.scale * x[:, :, y0:y1, x0:x1].mean((1, 2, 3)))


PAPER_LABELS = [imagenet.class_names().index(name) for name in ("triceratops", "hammer", "kite")]
EVIDENCE = (2, 2, 10, 10)                                  # the region the fake classifier looks at
NEAR, FAR = (0.0, 0.0, 0.375, 0.375), (0.5, 0.5, 1.0, 1.0)  # pixel boxes (0, 0, 12, 12) and (16, 16, 32, 32)


def _evidence_setup() -> tuple[imagenet.Classifier, imagenet.Detector, torch.Tensor, torch.Tensor]:
    """Three 32x32 photos labelled with paper classes; the detector's best box lies away from the evidence,
    a weaker one holds it; the third photo has no candidate at all."""
    def backend(image: torch.Tensor) -> list[imagenet.RawDetection]:
        if image.mean() > 0.45:  # the third photo: nothing above the threshold
            return [(FAR, 0.1, "cat")]
        return [(FAR, 0.9, "person"), (NEAR, 0.4, "bird")]

    label = PAPER_LABELS[0]
    classifier = imagenet.Classifier(_RegionEvidence(label, EVIDENCE).eval(), "evidence", 32, 32)
    images = torch.full((3, 3, 32, 32), 0.2)
    images[:, :, 2:10, 2:10] = 0.9
    images[2] = 0.6
    return classifier, imagenet.Detector(backend, "fake"), images, torch.tensor([label, label, PAPER_LABELS[2]])


def test_the_objects_box_rule_keeps_the_box_that_holds_the_class_evidence() -> None:
    classifier, detector, images, labels = _evidence_setup()
    candidates = imagenet.find_candidates(detector, classifier, images, labels)
    assert [[d.box for d in found] for found in candidates.detections[:2]] == [[(16, 16, 32, 32), (0, 0, 12, 12)]] * 2
    near, far = candidates.box_only_confidence[0][1], candidates.box_only_confidence[0][0]
    assert near > 0.9 and far < 0.01
    best = imagenet.kept_boxes(imagenet.BEST_DETECTION, candidates)
    obj = imagenet.kept_boxes(imagenet.OBJECTS_BOX, candidates)
    assert [d.label for d in best[:2]] == ["person"] * 2 and [d.label for d in obj[:2]] == ["bird"] * 2
    assert obj[0].box == (0, 0, 12, 12)
    central = imagenet.default_box(32, 32)
    assert best[2].fallback and obj[2].fallback and best[2].box == obj[2].box == central  # no candidate: as today
    table = imagenet.candidates_table(candidates)
    assert list(table["kept by"]) == ["best detection", "object's box"] * 2 + ["best detection, object's box"]


@pytest.mark.parametrize("around, percent, height, width", [
    ((40, 50, 120, 130), 64.4, 224, 224),    # fits: centred, the aspect ratio of the box
    ((0, 0, 30, 60), 50.0, 224, 224),        # in a corner: moved inside, not shrunk
    ((200, 10, 224, 30), 84.5, 224, 224),    # at the edge, large
    ((0, 100, 224, 120), 50.0, 224, 224),    # wider than the image at that area: full width, taller
    ((60, 0, 70, 100), 90.0, 100, 160),      # taller than the image: full height, wider
    ((10, 10, 20, 20), 24.0, 224, 224),      # the kite: 24% of the image
])
def test_the_paper_size_box_has_the_stated_area_inside_the_image(around, percent, height, width) -> None:
    x0, y0, x1, y1 = imagenet.paper_size_box(around, percent, height, width)
    w, h = x1 - x0, y1 - y0
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert abs(w * h - percent / 100 * height * width) <= (w + h) / 2 + 1  # integer rounding of both sides
    ratio = (around[2] - around[0]) / (around[3] - around[1])
    if w < width and h < height:  # not clipped: the object's aspect ratio and, away from the edges, its centre
        assert w / h == pytest.approx(ratio, rel=0.1)
    centre = ((around[0] + around[2]) / 2, (around[1] + around[3]) / 2)
    if w / 2 <= centre[0] <= width - w / 2 and h / 2 <= centre[1] <= height - h / 2:
        assert abs((x0 + x1) / 2 - centre[0]) <= 1 and abs((y0 + y1) / 2 - centre[1]) <= 1


def test_the_paper_size_rule_follows_the_papers_table_and_only_its_photos() -> None:
    classifier, detector, images, labels = _evidence_setup()
    candidates = imagenet.find_candidates(detector, classifier, images, labels)
    kept = imagenet.kept_boxes(imagenet.PAPERS_BOX_SIZE, candidates)
    shares = imagenet.paper_box_percent()
    assert shares["triceratops"] == pytest.approx(100 - 35.6) and shares["kite"] == pytest.approx(100 - 76.0)
    for d, name in zip(kept, ["triceratops", "triceratops", "kite"]):
        assert abs(d.area - shares[name] / 100 * 32 * 32) <= 32 + 1
        assert "paper's" in d.label
    assert imagenet.rule_applies(imagenet.PAPERS_BOX_SIZE, ["kite", "hen"])
    assert not imagenet.rule_applies(imagenet.PAPERS_BOX_SIZE, ["kite", "tench"])
    other = imagenet.find_candidates(detector, classifier, images[:1], torch.tensor([0]))  # tench: no paper photo
    with pytest.raises(ValueError, match="not applicable"):
        imagenet.kept_boxes(imagenet.PAPERS_BOX_SIZE, other)
    with pytest.raises(ValueError, match="unknown box rule"):
        imagenet.kept_boxes("largest box", other)
    for rule in imagenet.BOX_RULES:  # each rule documented, with its deviation from the paper
        assert imagenet.RULES[rule].__doc__ and imagenet.BOX_RULE_DEVIATIONS[rule]
        assert rule in imagenet.rules_markdown()


def test_no_pixel_inside_the_kept_box_changes_under_any_rule() -> None:
    classifier, detector, images, labels = _evidence_setup()
    candidates = imagenet.find_candidates(detector, classifier, images, labels)
    boxes = {rule: [d.box for d in imagenet.kept_boxes(rule, candidates)] for rule in imagenet.BOX_RULES}
    eps = 8 / 255
    attacked, _ = imagenet.attack_per_rule(None, classifier, images, labels, boxes, eps=eps, steps=3, seed=0)
    assert list(attacked) == list(imagenet.BOX_RULES)
    for rule, adv in attacked.items():
        assert adv.shape == images.shape and (adv - images).abs().max() <= eps + 1e-6
        for i, (x0, y0, x1, y1) in enumerate(boxes[rule]):
            assert torch.equal(adv[i, :, y0:y1, x0:x1], images[i, :, y0:y1, x0:x1]), (rule, i)
            outside = torch.ones(32, 32, dtype=torch.bool)
            outside[y0:y1, x0:x1] = False
            assert (adv[i] != images[i])[:, outside].any(), (rule, i)  # the background was attacked
    # a photo whose box two rules share is attacked once: the same adversarial photo under both
    assert torch.equal(attacked[imagenet.BEST_DETECTION][2], attacked[imagenet.OBJECTS_BOX][2])


def test_two_boxes_are_two_cache_entries(tmp_path) -> None:
    classifier, x, y = _tiny_classifier(), torch.rand(1, 3, 32, 32), torch.tensor([3])
    first, _ = imagenet.cached_localized_attack(tmp_path, classifier, x, y, [(4, 4, 20, 20)], eps=0.1, steps=1,
                                                seed=0)
    imagenet.cached_localized_attack(tmp_path, classifier, x, y, [(8, 8, 24, 24)], eps=0.1, steps=1, seed=0)
    assert len(list(tmp_path.glob("attack-*.pt"))) == 2
    again, _ = imagenet.cached_localized_attack(tmp_path, classifier, x, y, [(4, 4, 20, 20)], eps=0.1, steps=1,
                                                seed=0)
    assert len(list(tmp_path.glob("attack-*.pt"))) == 2 and torch.equal(again, first)


def test_the_candidates_figure_has_a_panel_per_photo() -> None:
    import matplotlib

    matplotlib.use("Agg")
    classifier, detector, images, labels = _evidence_setup()
    fig = imagenet.candidates_figure(imagenet.find_candidates(detector, classifier, images, labels), images)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and len(shown[0].patches) == 2 and len(shown[2].patches) == 1


# --- tables ---------------------------------------------------------------------------------------

def test_results_table_columns_and_average() -> None:
    labels = torch.arange(9)
    probs = torch.full((9, 1000), 1e-4)
    probs[torch.arange(9), labels] = 0.9
    probs[0, 0], probs[0, 500] = 0.01, 0.9  # the first photo: wrong, its class second
    table = imagenet.results_table(probs, labels, torch.full((9,), 40.0))
    assert list(table.columns) == list(imagenet.TABLE_COLUMNS)
    assert len(table) == 10 and table.iloc[-1]["Correct Class"] == "Average"
    assert table.iloc[0]["Correct Guess?"] == 0 and table.iloc[0]["In Top 10?"] == 1
    assert table.iloc[1]["Correct Guess?"] == 1
    assert table.iloc[-1]["Correct Guess?"] == pytest.approx(8 / 9)
    assert table.iloc[-1]["Percent of Pixels Altered"] == pytest.approx(40.0)


def test_paper_tables_match_the_printed_averages() -> None:
    one, two = imagenet.paper_table(1), imagenet.paper_table(2)
    assert one.iloc[-1]["Confidence in Correct Class"] == pytest.approx(0.710243, abs=1e-6)
    assert one.iloc[-1]["Correct Guess?"] == pytest.approx(0.888889, abs=1e-6)
    assert two.iloc[-1]["Percent of Pixels Altered"] == pytest.approx(49.07778, abs=1e-4)
    assert two.iloc[-1]["Confidence in Correct Class"] == pytest.approx(0.000169, abs=1e-6)
    assert list(one["Correct Class"][:9]) == list(imagenet.PAPER_CLASSES)


def _three_boxes(image: torch.Tensor) -> list[imagenet.RawDetection]:
    """A stand-in detector: three candidates (the best one large) and one detection below the threshold."""
    return [((0.0, 0.0, 1.0, 0.6), 0.8, "person"), ((0.25, 0.25, 0.75, 0.75), 0.5, "bird"),
            ((0.6, 0.6, 1.0, 1.0), 0.35, "cat"), ((0.0, 0.0, 0.2, 0.2), 0.1, "kite")]


THREE_BOXES = imagenet.Detector(_three_boxes, "three boxes")


@pytest.fixture(scope="module")
def tiny_runs() -> dict[str, imagenet.PaperRun]:
    """The nine paper photos under every box rule, fast: the stand-in classifier (32x32) and detector."""
    return imagenet.run_paper_attacks(get_profile("smoke"), _tiny_classifier(), THREE_BOXES)


@needs_photos
def test_paper_run_tables_and_comparison(classifier, detector) -> None:
    smoke = get_profile("smoke")
    run = imagenet.run_paper_attack(smoke, classifier, detector)
    assert run.rule == imagenet.HEADLINE_RULE
    for table in (run.table1(), run.table2()):
        assert list(table.columns) == list(imagenet.TABLE_COLUMNS) and len(table) == 10
        assert list(table["Correct Class"][:9]) == list(imagenet.PAPER_CLASSES)
    assert (run.table1()["Percent of Pixels Altered"] == 0).all()
    compared = imagenet.compare_with_paper(run.table2(), 2)
    assert {"confidence (ours)", "confidence (paper)", "% altered (paper)"} <= set(compared.columns)
    assert compared.iloc[-1]["confidence (paper)"] == pytest.approx(0.000169, abs=1e-6)
    assert run.classifier in run.setup() and run.detector in run.setup() and run.rule in run.setup()
    assert (run.box_check()["largest change inside the box (/255)"] == 0).all()


@needs_photos
def test_every_rule_keeps_its_box_on_the_paper_photos(tiny_runs) -> None:
    assert list(tiny_runs) == list(imagenet.BOX_RULES)
    for rule, run in tiny_runs.items():
        assert run.rule == rule and (run.boxes_table()["box rule"] == rule).all()
        check = run.box_check()
        assert (check["largest change inside the box (/255)"] == 0).all(), rule
        assert (check["largest change outside (/255)"] <= run.eps * 255 + 1e-3).all(), rule
    run = tiny_runs[imagenet.OBJECTS_BOX]
    for found, confidence, kept in zip(run.candidates.detections, run.candidates.box_only_confidence, run.detections):
        assert len(found) == 3 and confidence[found.index(kept)] == max(confidence)  # the most evidence


@needs_photos
def test_box_rule_tables_beside_the_paper(tiny_runs) -> None:
    table = imagenet.box_rules_table(tiny_runs)
    assert len(table) == 9 * len(imagenet.BOX_RULES)
    assert {"kept box (COCO label)", "box % of image", "top-5 (ours)", "top-10 (paper)", "confidence (paper)"} \
        <= set(table.columns)
    assert (table["top-1 (paper)"] == 0).all()
    summary = imagenet.box_rules_summary(tiny_runs).set_index("box rule")
    assert list(summary.index) == [*imagenet.BOX_RULES, imagenet.PAPER_ROW]
    assert summary.loc[imagenet.PAPER_ROW, "still correct top-1 after the attack"] == 0
    for rule, run in tiny_runs.items():
        assert summary.loc[rule, "still correct top-1 after the attack"] == run.table2()["Correct Guess?"][:9].sum()
    findings = imagenet.box_rules_findings(tiny_runs)
    for rule in imagenet.BOX_RULES:  # the words are computed from the tables
        count = summary.loc[rule, "still correct top-1 after the attack"]
        assert f"**{rule}**: {count} of 9 photos still correct" in findings
    assert "What remains" in findings and "tiny instead of the paper's Inception v3" in findings


@needs_photos
def test_the_extension_reuses_the_paper_runs_per_rule(tiny_runs, photos, monkeypatch) -> None:
    def no_attack(*args, **kwargs):
        raise AssertionError("a finished attack was computed again")

    monkeypatch.setattr(imagenet.attack, "localized_attack", no_attack)
    run = tiny_runs[imagenet.HEADLINE_RULE]
    summary = imagenet.attack_summary(_tiny_classifier(), THREE_BOXES, {"paper (9)": photos}, [run.eps],
                                      steps=run.steps, reuse=tiny_runs)
    assert list(summary["box rule"]) == list(imagenet.EXTENSION_RULES)
    with pytest.raises(ValueError, match="not applicable"):
        imagenet.attack_summary(_tiny_classifier(), THREE_BOXES, {"extra": imagenet.extra_photos(1)}, [run.eps],
                                steps=run.steps, rules=imagenet.BOX_RULES)


@needs_photos
def test_a_finished_attack_is_read_back_not_redone(monkeypatch, tmp_path) -> None:
    """A rerun of 01_imagenet_attack (after a kill, or to rebuild the report) attacks nothing again."""
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    smoke, classifier = get_profile("smoke"), _tiny_classifier()
    first = imagenet.run_paper_attacks(smoke, classifier, THREE_BOXES)
    assert list(imagenet.attack_cache(smoke).glob("attack-*.pt"))

    def no_attack(*args, **kwargs):
        raise AssertionError("a finished attack was computed again")

    monkeypatch.setattr(imagenet.attack, "localized_attack", no_attack)
    again = imagenet.run_paper_attacks(smoke, classifier, THREE_BOXES)
    for rule in imagenet.BOX_RULES:
        assert torch.equal(again[rule].adversarial, first[rule].adversarial)
        assert again[rule].attack_seconds == first[rule].attack_seconds
    with pytest.raises(AssertionError, match="computed again"):  # other settings are another attack
        imagenet.run_paper_attack(smoke, classifier, THREE_BOXES, eps=1 / 255)


# --- missing data -----------------------------------------------------------------------------------

def test_missing_photos_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="LAT_DATA_DIR"):
        imagenet.paper_photos(mirror=tmp_path)
    (tmp_path / imagenet.PAPER_SUBDIR).mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="triceratops"):
        imagenet.paper_photos(mirror=tmp_path)
    with pytest.raises(DataNotFoundError, match="LAT_DATA_DIR"):
        imagenet.extra_photos(mirror=tmp_path)


@needs_photos
def test_one_missing_paper_photo_is_named(tmp_path: Path) -> None:
    target = tmp_path / imagenet.PAPER_SUBDIR
    shutil.copytree(MIRROR / imagenet.PAPER_SUBDIR, target)
    next(target.glob("*_kite.JPEG")).unlink()
    with pytest.raises(DataNotFoundError, match="'kite'"):
        imagenet.paper_photos(mirror=tmp_path)


def test_missing_detector_raises_a_clear_error(offline, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="ssd_mobilenet_v1_coco_quant.tflite"):
        imagenet.load_detector(mirror=tmp_path)


# --- the online paths, with stand-in weights (their real weights need the network) -----------------

def _fresh_state_dict(url: str) -> dict[str, torch.Tensor]:
    from torchvision.models import inception_v3
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    if "inception" in url:
        return inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    return ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91).state_dict()


def test_inception_v3_is_preferred_when_its_weights_load(monkeypatch) -> None:
    monkeypatch.setattr(imagenet.classifier, "_torchvision_state_dict", _fresh_state_dict)
    classifier = imagenet.load_classifier()
    assert classifier.name.startswith("Inception v3") and classifier.input_size == 299
    assert imagenet.predict(classifier, torch.rand(1, 3, 299, 299)).shape == (1, 1000)


def test_torchvision_ssdlite_is_preferred_when_its_weights_load(monkeypatch) -> None:
    monkeypatch.setattr(imagenet.detector, "_torchvision_state_dict", _fresh_state_dict)
    detector = imagenet.load_detector()
    assert detector.name.startswith("SSDlite")
    (d,) = imagenet.detect_boxes(detector, torch.rand(1, 3, 224, 224))
    x0, y0, x1, y1 = d.box
    assert 0 <= x0 <= x1 <= 224 and 0 <= y0 <= y1 <= 224
