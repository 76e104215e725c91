import dataclasses

import pytest

from lat_utils import config
from lat_utils.config import PROFILES, get_profile


def test_paper_profile_uses_the_paper_settings():
    paper = get_profile("paper")
    assert (paper.train_steps, paper.batch_size, paper.learning_rate) == (100_000, 50, 1e-4)
    assert (paper.train_pgd_steps, paper.eval_pgd_steps, paper.eps) == (100, 100, 0.3)
    assert paper.n_test is None and paper.eps_warmup_fraction == 0 and len(paper.seeds) >= 2


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_states_its_deviations(name):
    profile = get_profile(name)
    assert profile.deviations, "every profile must say how it departs from the paper (even if only step size)"
    if profile.train_steps != config.TRAIN_STEPS:
        assert any("training steps" in d for d in profile.deviations)
    if profile.eps_warmup_fraction:
        assert any("ramps" in d for d in profile.deviations)


def test_attack_precision_is_checked():
    with pytest.raises(ValueError, match="unknown attack_precision 'fp16'"):
        dataclasses.replace(get_profile("smoke"), attack_precision="fp16")


def test_unknown_profile():
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        get_profile("fast")
