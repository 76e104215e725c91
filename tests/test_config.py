import dataclasses

import pytest

from lat_utils import config
from lat_utils.config import PROFILES, get_profile
from lat_utils.spec import paper, settings


def test_paper_profile_uses_the_paper_settings():
    paper = get_profile("paper")
    assert (paper.train_steps, paper.batch_size, paper.learning_rate) == (100_000, 50, 1e-4)
    assert (paper.train_pgd_steps, paper.eval_pgd_steps, paper.eps) == (100, 100, 0.3)
    assert paper.n_test is None and paper.eps_warmup_fraction == 0 and len(paper.seeds) >= 2


# Settings that say which run a profile is, not how it computes
IDENTITY = ("name", "description", "deviations", "dry_run")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_prints_exactly_its_difference_from_the_paper(name):
    """Each setting in which a profile differs from the paper's is named in one of its printed departures, with its
    value and the paper's; no departure names a setting it keeps."""
    profile = get_profile(name)
    differing = {f.name for f in dataclasses.fields(profile)
                 if f.name not in IDENTITY and getattr(profile, f.name) != getattr(config.PAPER, f.name)}
    printed = {}
    for line in profile.deviations:
        for key, label in settings.LABELS.items():
            shown = f"{label} {settings.shown(key, getattr(profile, key))} instead of " \
                    f"{settings.shown(key, getattr(config.PAPER, key))}"
            if shown in line:
                printed[key] = line
    assert set(printed) == differing, (sorted(set(printed) ^ differing))
    assert profile.deviations[-1] == config.NO_FAB   # what holds for every profile closes the list


def test_a_change_must_change_something_and_name_known_settings():
    with pytest.raises(ValueError, match="the paper's own value"):
        config.PAPER.changed("x", "x", settings.change("no-op", train_steps=paper.TRAIN_STEPS))
    with pytest.raises(ValueError, match="unknown settings \\['train_stepz'\\]"):
        settings.change("typo", train_stepz=5)


def test_a_departure_line_reads_the_setting_the_values_and_the_reason():
    line = settings.departure(settings.change("because", train_steps=500, seeds=(0,)), config.PAPER)
    assert line == "training steps 500 instead of 100,000; seeds 0 instead of 0, 1, 2: because"


def test_the_step_size_rule_is_written_once():
    """Madry et al.'s 2.5 eps / steps lives in ``spec.budgets.pgd_step`` alone."""
    from lat_utils.paths import PROJECT_ROOT

    sources = [*PROJECT_ROOT.glob("lat_utils/**/*.py"), *PROJECT_ROOT.glob("notebooks/*.ipynb"),
               *PROJECT_ROOT.glob("bench/*.py")]
    holding = sorted(str(p.relative_to(PROJECT_ROOT)) for p in sources if "2.5 *" in p.read_text())
    assert holding == ["lat_utils/spec/budgets.py"]


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
    counts = [f.name for f in dataclasses.fields(base) if type(getattr(base, f.name)) is int and f.name != "image_cap"]
    assert "train_steps" in counts and "eval_pgd_steps" in counts
    for field in counts:
        assert getattr(dry, field) <= settings.DRY_RUN_LIMITS.get(field, settings.DRY_RUN_COUNT), field
    assert dry.batch_size == min(base.batch_size, settings.DRY_RUN_BATCH)   # the paper CNN's 50 stay 50
    # what decides the code path is kept: several seeds (training together), full-test-set indexing, schedules,
    # an ImageNet sweep (its first values: it still reuses the paper's eps), the arithmetic
    assert (dry.n_test is None) == (base.n_test is None)
    for field in settings.DRY_RUN_CUT:  # several stay several
        assert getattr(dry, field) == getattr(base, field)[:settings.DRY_RUN_COUNT], field
        assert min(len(getattr(base, field)), 2) == min(len(getattr(dry, field)), 2), field
    # every model in the first seed; the central models in two where the profile has several
    assert dry.seeds == base.seeds[:1]
    base_seeds, dry_seeds = {*base.seeds, *base.central_seeds}, {*dry.seeds, *dry.central_seeds}
    assert dry_seeds <= base_seeds and len(dry_seeds) == min(len(base_seeds), 2)
    for field in ("lr_schedule", "eps", "attack_precision",
                  "background_projections", "eps_warmup_fraction"):
        assert getattr(dry, field) == getattr(base, field), field
    assert dry.image_cap == settings.DRY_RUN_IMAGES


def test_a_new_count_field_is_shrunk_without_being_listed(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Extended(settings.Profile):
        future_queries: int = 5000

    extended = Extended(**{**dataclasses.asdict(get_profile("paper"))})
    assert settings.dry_run(extended).future_queries == settings.DRY_RUN_COUNT


def test_a_dry_run_of_a_dry_run_or_of_an_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="already a dry run"):
        settings.dry_run(get_profile("paper-dry-run"))
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
    assert all(len(seeds[m]) >= 3 for m in paper.CENTRAL_MODELS["mnist"]), seeds
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


def test_every_setting_has_words_in_a_departure_line():
    named = {f.name for f in dataclasses.fields(settings.Profile)} - set(IDENTITY)
    assert named == set(settings.LABELS)
