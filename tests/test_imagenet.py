"""Tests of lat_utils.imagenet: fast, on the CPU, offline (the data mirror and the PyPI classifier)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from lat_utils import imagenet
from lat_utils.config import IMAGENET_EPS, get_profile
from lat_utils.data import DataNotFoundError, offline_mirror

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


@needs_photos
def test_no_detection_falls_back_to_the_central_box(images) -> None:
    silent = imagenet.Detector(lambda image: None, "nothing")
    weak = imagenet.Detector(lambda image: ((0.0, 0.0, 0.5, 0.5), 0.01, "cat"), "weak")
    for detector in (silent, weak):
        (d,) = imagenet.detect_boxes(detector, images[:1])
        assert d.fallback and d.box == imagenet.default_box(*images.shape[-2:])


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


@needs_photos
def test_paper_run_tables_and_comparison(classifier, detector) -> None:
    smoke = get_profile("smoke")
    run = imagenet.run_paper_attack(smoke, classifier, detector)
    for table in (run.table1(), run.table2()):
        assert list(table.columns) == list(imagenet.TABLE_COLUMNS) and len(table) == 10
        assert list(table["Correct Class"][:9]) == list(imagenet.PAPER_CLASSES)
    assert (run.table1()["Percent of Pixels Altered"] == 0).all()
    compared = imagenet.compare_with_paper(run.table2(), 2)
    assert {"confidence (ours)", "confidence (paper)", "% altered (paper)"} <= set(compared.columns)
    assert compared.iloc[-1]["confidence (paper)"] == pytest.approx(0.000169, abs=1e-6)
    assert run.classifier in run.setup() and run.detector in run.setup()


@needs_photos
def test_extension_summary(classifier, detector, photos) -> None:
    summary = imagenet.attack_summary(classifier, detector, {"two": photos[:2]}, [1 / 255, 4 / 255], steps=1)
    assert len(summary) == 2 and list(summary["eps (x/255)"]) == [1.0, 4.0]
    assert summary["adversarial top-1 %"].between(0, 100).all()
    assert imagenet.run_extension(get_profile("smoke"), classifier, detector) is None


@needs_photos
def test_a_finished_attack_is_read_back_not_redone(classifier, detector, monkeypatch, tmp_path) -> None:
    """A rerun of 01_imagenet_attack (after a kill, or to rebuild the report) attacks nothing again."""
    monkeypatch.setenv("LAT_OUTPUT_ROOT", str(tmp_path))
    smoke = get_profile("smoke")
    first = imagenet.run_paper_attack(smoke, classifier, detector)
    assert list(imagenet.attack_cache(smoke).glob("attack-*.pt"))

    def no_attack(*args, **kwargs):
        raise AssertionError("a finished attack was computed again")

    monkeypatch.setattr(imagenet.attack, "localized_attack", no_attack)
    again = imagenet.run_paper_attack(smoke, classifier, detector)
    assert torch.equal(again.adversarial, first.adversarial) and again.attack_seconds == first.attack_seconds
    with pytest.raises(AssertionError, match="computed again"):  # other settings are another attack
        imagenet.run_paper_attack(smoke, classifier, detector, eps=1 / 255)


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
