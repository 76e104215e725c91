"""The cost estimate: counts that follow the code, and ./run_all.sh --estimate printing them in seconds."""

import subprocess
import sys
import time

import pytest

from lat_utils.config import PROFILES, get_profile
from lat_utils.runner import estimate
from lat_utils.runner.estimate import FORWARD


def test_training_counts_follow_the_code():
    smoke = get_profile("smoke")  # 10 steps, batch 50, PGD-2; MNIST: 1 natural + 5 adversarial models
    per_step = smoke.batch_size * smoke.train_steps
    assert estimate.training_image_steps(smoke, "mnist") == pytest.approx(per_step * (1 + 5 * (2 + FORWARD + 1)))
    assert estimate.training_image_steps(smoke, "cifar10") == pytest.approx(per_step * (1 + 2 * (2 + FORWARD + 1)))


def test_evaluation_counts_follow_the_code():
    smoke = get_profile("smoke")  # 50 images; AutoAttack: PGD-3, APGD 4 steps, 2 targets, Square 20 queries
    apgd = 4 + 1 + FORWARD
    autoattack = (3 + 2 * FORWARD) + 2 * apgd + 2 * apgd + 20 * FORWARD  # APGD-CE, -DLR; APGD-T x 2 targets
    cross = 3 * 50 * (FORWARD + 2 * autoattack)    # CIFAR-10: 3 models, 2 attacks
    check = 3 * 2 * 10 * 2 * (4 + 1)               # torchattacks APGD-CE and -DLR on the first 10 images
    curves = 3 * 2 * 20 * (2 * FORWARD + 2 * (3 + 2 * FORWARD))  # 2 milestones, 20 images: natural, 2 PGD-3 attacks
    assert estimate.evaluation_image_steps(smoke, "cifar10") == pytest.approx(cross + check + curves)
    paper = get_profile("paper")
    assert estimate.evaluation_image_steps(paper, "mnist") > 50 * estimate.evaluation_image_steps(
        get_profile("paper-dry-run"), "mnist"), "the full test set must count 10,000 images"


def test_imagenet_counts_reuse_the_paper_run():
    # sweep 2/255 and 8/255 (2/255 reused), 10 extra photos, PGD-100; three box rules on the paper's nine
    # photos, two on the extension
    quick = get_profile("quick")
    attacks = 9 * 3 + ((9 + 10) * 2 - 9) * 2
    assert estimate.imagenet_image_steps(quick) == pytest.approx(attacks * (100 + 3 * FORWARD))
    assert estimate.imagenet_image_steps(get_profile("smoke")) == pytest.approx(9 * 3 * (2 + 3 * FORWARD))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_is_counted(name):
    profile = get_profile(name)
    for dataset in ("mnist", "cifar10"):
        assert estimate.training_image_steps(profile, dataset) > 0
        assert estimate.evaluation_image_steps(profile, dataset) > 0
    assert estimate.imagenet_image_steps(profile) > 0


def test_estimate_prints_every_stage_in_seconds_without_training(tmp_path):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "lat_utils.runner", "--profile", "paper", "--estimate"],
                            capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "LAT_OUTPUT_ROOT": str(tmp_path)})
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    for stage in ("01 ImageNet attack", "02 training mnist", "02 training cifar10", "03 evaluation mnist",
                  "03 evaluation cifar10", "total"):
        assert stage in result.stdout
    assert "calibration" in result.stdout and " h" in result.stdout  # the paper profile takes hours here
    assert not (tmp_path / "runs").exists(), "an estimate must not train"
    assert seconds < 120
