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


# --- dry runs: a profile's code path with its counts shrunk ---

@pytest.mark.parametrize("name", sorted(PROFILES))
def test_dry_run_shrinks_every_count_and_keeps_the_code_path(name):
    base, dry = get_profile(name), get_profile(name + "-dry-run")
    assert dry.name == name + "-dry-run" and dry.dry_run and not base.dry_run
    assert dry.description.startswith("DRY RUN") and dry.deviations[0].startswith("DRY RUN")
    counts = [f.name for f in dataclasses.fields(base) if type(getattr(base, f.name)) is int]
    assert "train_steps" in counts and "eval_pgd_steps" in counts
    for field in counts:
        assert getattr(dry, field) <= config.DRY_RUN_LIMITS.get(field, config.DRY_RUN_COUNT), field
    assert dry.batch_size == min(base.batch_size, config.DRY_RUN_BATCH)   # the paper CNN's 50 stay 50
    # what decides the code path is kept: several seeds (training together), full-test-set indexing, schedules,
    # an ImageNet sweep (its first values: it still reuses the paper's eps), the arithmetic
    assert (dry.n_test is None) == (base.n_test is None)
    for field in config.DRY_RUN_CUT:  # several stay several
        assert getattr(dry, field) == getattr(base, field)[:config.DRY_RUN_COUNT], field
        assert min(len(getattr(base, field)), 2) == min(len(getattr(dry, field)), 2), field
    # every model in the first seed; the central models in two where the profile has several
    assert dry.seeds == base.seeds[:1]
    base_seeds, dry_seeds = {*base.seeds, *base.central_seeds}, {*dry.seeds, *dry.central_seeds}
    assert dry_seeds <= base_seeds and len(dry_seeds) == min(len(base_seeds), 2)
    for field in ("lr_schedule", "eps", "attack_precision",
                  "background_projections", "eps_warmup_fraction"):
        assert getattr(dry, field) == getattr(base, field), field
    assert dry.image_cap == config.DRY_RUN_IMAGES


def test_a_new_count_field_is_shrunk_without_being_listed(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Extended(config.Profile):
        future_queries: int = 5000

    extended = Extended(**{**dataclasses.asdict(get_profile("paper"))})
    assert config.dry_run(extended).future_queries == config.DRY_RUN_COUNT


def test_a_dry_run_of_a_dry_run_or_of_an_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="already a dry run"):
        config.dry_run(get_profile("paper-dry-run"))
    with pytest.raises(ValueError, match="unknown profile 'huge-dry-run'"):
        get_profile("huge-dry-run")


def test_the_report_header_says_dry_run():
    from lat_utils.report import run_header

    header = run_header(get_profile("paper-dry-run"), "Training")
    assert header.startswith("# DRY RUN") and "## Training (DRY RUN)" in header
    assert "DRY RUN" not in run_header(get_profile("paper"), "Training")


def test_long_profile_has_what_its_verdicts_need():
    from lat_utils.study.checkpoints import milestone_steps
    from lat_utils.study.plan import study_models

    long = get_profile("long")
    assert long.n_test >= 1000 and long.apgd_steps and long.square_queries, "1,000 images under the AutoAttack"
    assert long.n_test > long.curve_n and long.n_test >= 5 * get_profile("quick").n_test
    seeds = {}
    for c in study_models("mnist", "long"):
        seeds.setdefault(c.name, set()).add(c.seed)
    assert all(len(seeds[m]) >= 3 for m in config.CENTRAL_MODELS["mnist"]), seeds
    assert len(milestone_steps(long)) >= 6 and milestone_steps(long)[-1] == long.train_steps and long.curve_n
    assert long.lr_schedule == "constant", "milestones are models trained that long, not points of a decay"


@pytest.mark.parametrize("chosen, said", [("bf16", True), ("fp32", False)])
def test_the_header_says_when_the_weight_pass_computes_in_bf16(monkeypatch, chosen, said):
    """A profile whose weight pass is "auto" lists a bf16 weight pass among its deviations exactly where "auto"
    resolves to bf16 (here decided by $LAT_AUTO_PRECISION); a float32 one is never mentioned."""
    from lat_utils.report.header import profile_deviations

    monkeypatch.setenv("LAT_AUTO_PRECISION", chosen)
    auto = dataclasses.replace(get_profile("quick"), weight_precision="auto")
    assert any("weight pass" in d for d in profile_deviations(auto, chosen)) == said
    assert not any("weight pass" in d for d in profile_deviations(get_profile("quick"), chosen))
