"""The cost estimate: counts that follow the code, and ./run_all.sh --estimate printing them in seconds."""

import subprocess
import sys
import time

import pytest

from lat_utils.config import PROFILES, get_profile
from lat_utils.runner import estimate
from lat_utils.runner.estimate import FORWARD
from lat_utils.study.sweep import CIFAR10_BLOCKS


def test_training_counts_follow_the_code():
    # an adversarial step: PGD's passes (its last iterate: no scoring forward) and the update
    smoke = get_profile("smoke")  # 10 steps, batch 50, PGD-2; MNIST: 1 natural + 3 adversarial models
    per_step = smoke.batch_size * smoke.train_steps
    assert estimate.training_image_steps(smoke, "mnist") == pytest.approx(per_step * (1 + 3 * (2 + 1)))
    assert estimate.training_image_steps(smoke, "cifar10") == pytest.approx(per_step * (1 + 2 * (2 + 1)))
    paper = get_profile("paper")  # CIFAR-10: 1 natural model + 2 adversarial ones at each of 3 readings of the eps
    per_step = paper.batch_size * paper.train_steps * len(paper.seeds)
    assert estimate.training_image_steps(paper, "cifar10", "paper_cnn") == pytest.approx(per_step * (1 + 2 * 3 * (100 + 1)))


def test_each_network_is_counted_apart():
    paper = get_profile("paper")   # CIFAR-10 on the paper's CNN and on airbench
    for count in (estimate.training_image_steps, estimate.evaluation_image_steps, estimate.sweep_image_steps):
        parts = [count(paper, "cifar10", network) for network in paper.cifar10_networks]
        assert all(parts) and count(paper, "cifar10") == pytest.approx(sum(parts)), count.__name__
    # the airbench profile: its recipe's 480 steps of 1,024 images; the natural model and two adversarial ones
    # trained against PGD-1 (one forward-backward pass for the attack, one for the update)
    airbench = get_profile("airbench")
    assert estimate.training_image_steps(airbench, "cifar10") == pytest.approx(480 * 1024 * (1 + 2 * (1 + 1)))
    assert estimate.training_image_steps(airbench, "cifar10", "paper_cnn") == 0


def test_evaluation_counts_follow_the_code():
    smoke = get_profile("smoke")  # 50 attacked images of 200; AutoAttack: PGD-3, APGD 4 steps, 2 targets, Square 20 queries
    apgd = 4 + 1 + FORWARD
    autoattack = (3 + 2 * FORWARD) + 2 * apgd + 2 * apgd + 20 * FORWARD  # APGD-CE, -DLR; APGD-T x 2 targets
    models = 3                                     # CIFAR-10: 3 models at the raw-pixels reading
    cross = models * (2 * 200 * FORWARD + 50 * 2 * autoattack)   # natural and the collapse check on 200; 2 attacks
    check = models * 2 * 10 * 2 * (4 + 1)              # torchattacks APGD-CE and -DLR on the first 10 images
    curves = models * 2 * (2 * 200 * FORWARD + 20 * 2 * (3 + 2 * FORWARD))  # 2 milestones: natural on 200, 2 PGD-3 on 20
    assert estimate.evaluation_image_steps(smoke, "cifar10") == pytest.approx(cross + check + curves)
    paper = get_profile("paper")
    assert estimate.evaluation_image_steps(paper, "mnist") > 50 * estimate.evaluation_image_steps(
        get_profile("paper-dry-run"), "mnist"), "the full test set must count 10,000 images"


def test_imagenet_counts_reuse_the_paper_run():
    # sweep 2/255 and 8/255 (2/255 reused), 10 extra photos, PGD-100; three box rules on the paper's nine
    # photos, two on the extension
    long = get_profile("long")
    attacks = 9 * 3 + ((9 + 10) * 2 - 9) * 2
    assert estimate.imagenet_image_steps(long) == pytest.approx(attacks * (100 + 3 * FORWARD))
    assert estimate.imagenet_image_steps(get_profile("quick")) == pytest.approx(9 * 3 * (100 + 3 * FORWARD))
    assert estimate.imagenet_image_steps(get_profile("smoke")) == pytest.approx(9 * 3 * (2 + 3 * FORWARD))


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_is_counted(name):
    profile = get_profile(name)
    for dataset in ("mnist", "cifar10"):
        runs = dataset in profile.datasets
        assert (estimate.training_image_steps(profile, dataset) > 0) == runs
        assert (estimate.evaluation_image_steps(profile, dataset) > 0) == runs
        assert (estimate.sweep_image_steps(profile, dataset) > 0) == ("cifar10" in profile.datasets)
    assert estimate.imagenet_image_steps(profile) > 0


def test_sweep_counts_follow_the_code():
    smoke = get_profile("smoke")  # sweep: 20 images, PGD-2, APGD-CE and APGD-DLR of 2 steps, at 10 eps
    per_eps = (2 + 2 * FORWARD) + 2 * (2 + 1 + FORWARD)
    cifar_series = 1 + len(CIFAR10_BLOCKS)   # the standard mask, the background mask with each block
    assert estimate.sweep_image_steps(smoke, "cifar10") == pytest.approx(cifar_series * 20 * (FORWARD + 10 * per_eps))
    assert estimate.sweep_image_steps(smoke, "mnist") == pytest.approx(1 * 20 * (FORWARD + 10 * per_eps))


def test_estimate_prints_every_stage_in_seconds_without_training(tmp_path):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "lat_utils.runner", "--profile", "paper", "--estimate"],
                            capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "LAT_OUTPUT_ROOT": str(tmp_path)})
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    for stage in ("01 ImageNet attack", "02 training mnist", "02 training cifar10", "03 evaluation mnist",
                  "03 evaluation cifar10", "04 eps sweep mnist", "04 eps sweep cifar10", "02 training cifar10 (airbench)",
                  "03 evaluation cifar10 (airbench)", "total"):
        assert stage in result.stdout
    assert "calibration" in result.stdout and " h" in result.stdout  # the paper profile takes hours here
    assert not (tmp_path / "runs").exists(), "an estimate must not train"
    # a few seconds of calibration per network (four here: ImageNet's, MNIST's, and CIFAR-10's two) and counting:
    # minutes at most, even beside the rest of the suite on 2 cores
    assert seconds < 180
