import numpy as np
import pandas as pd
import pytest

from lat_utils.config import ATTACK_KINDS, MODEL_KINDS, get_profile
from lat_utils.study.claims import CLAIMS, VERDICTS, Claim, claims_table, paper_figure2, verdict


def _results(dataset, losses, seeds=(0,), n=200, noise=0.0, collapsed=()):
    """An evaluation table and its per-image results: ``losses`` maps model -> loss on every input, or
    model -> {attack: loss}; per-image losses scatter around it by ``noise`` (relative)."""
    rng = np.random.default_rng(0)
    rows, images = [], []
    for seed in seeds:
        for model in MODEL_KINDS[dataset]:
            for attack in ("natural", *ATTACK_KINDS[dataset]):
                loss = losses[model][attack] if isinstance(losses[model], dict) else losses[model]
                loss = loss * (1 + 0.1 * seed) if model == "standard" else loss  # training variance
                per_image = loss * (1 + noise * rng.standard_normal(n)).clip(min=0.01)
                rows.append({"dataset": dataset, "model": model, "seed": seed, "attack": attack,
                             "loss": per_image.mean(), "accuracy": 0.9, "n": n, "collapsed": model in collapsed,
                             "exact_data": dataset == "mnist"})
                images.append(pd.DataFrame({"model": model, "seed": seed, "attack": attack, "image": np.arange(n),
                                            "loss": per_image, "correct": np.arange(n) % 10 != 0,
                                            "pgd_loss": per_image, "pgd_correct": True, "broken_by": ""}))
    return pd.DataFrame(rows), pd.concat(images, ignore_index=True)


def _claims(results, profile="quick"):
    tables = {d: r[0] for d, r in results.items()}
    per_image = {d: r[1] for d, r in results.items()}
    return claims_table(tables, per_image, get_profile(profile)).set_index("claim")


def test_relative_claims_follow_the_papers_definition():
    # natural 1.0 everywhere; standard 0.005 on attacks but 1.5 natural; LAT models 0.001 on attacks, 0.9 natural
    attacks = {a: 0.005 for a in ATTACK_KINDS["mnist"]}
    lat = {"natural": 0.9, **{a: 0.001 for a in ATTACK_KINDS["mnist"]}}
    losses = {"natural": 1.0, "standard": {"natural": 1.5, **attacks}, "background": lat, "exact": lat, "broad": lat}
    table = _claims({"mnist": _results("mnist", losses)})
    more = table.loc["MNIST standard model: 39.9% more natural loss than the natural model"]
    assert more["ours (%)"] == pytest.approx(50.0) and more.verdict == "direction only" and "1.3x" in more.reason
    less = table.loc["MNIST background model: over 99% less adversarial loss than the natural model"]
    assert less["ours (%)"] == pytest.approx(99.9) and less.verdict == "supported"
    broad = table.loc["MNIST broad model: at least 65.3% less adversarial loss than the standard model (all 4 attacks)"]
    assert broad["ours (%)"] == pytest.approx(80.0) and broad.verdict == "supported"
    assert table.loc["natural MNIST model: natural accuracy 99.19%"].verdict == "not comparable"
    assert table.loc["natural MNIST model: natural accuracy 99.19%"]["ours (%)"] == pytest.approx(90.0)
    cifar = table.loc["natural CIFAR-10 model: natural accuracy 95.17%"]
    assert cifar.verdict == "not comparable" and "not run" in cifar.reason
    only_lat = table.loc["only the LAT models beat the natural model on all inputs (lower loss in every column)"]
    assert only_lat.verdict == "supported"
    assert set(table["interval covers"].dropna()) == {"test images only (one seed)"}


def test_a_claim_that_fails_is_not_supported():
    losses = {m: 1.0 for m in MODEL_KINDS["mnist"]}
    losses["background"] = 2.0  # worse than natural everywhere
    table = _claims({"mnist": _results("mnist", losses, noise=0.1)})
    assert table.loc["MNIST background model: 4.35% less natural loss than the natural model"].verdict == "not supported"
    assert table.loc["MNIST background model: over 99% less adversarial loss than the natural model"].verdict == \
        "not supported"


def test_a_difference_within_the_noise_is_inconclusive():
    losses = {m: 1.0 for m in MODEL_KINDS["mnist"]}
    losses["background"] = 0.98  # 2% less loss, but per-image losses scatter by 50%
    row = _claims({"mnist": _results("mnist", losses, noise=0.5)}).loc[
        "MNIST background model: 4.35% less natural loss than the natural model"]
    assert row["low (%)"] < 0 < row["high (%)"]
    assert row.verdict == "inconclusive"


def test_seeds_widen_the_interval():
    losses = {m: 1.0 for m in MODEL_KINDS["cifar10"]}
    losses["standard"] = 2.0
    one = _claims({"cifar10": _results("cifar10", losses)}, "paper")
    three = _claims({"cifar10": _results("cifar10", losses, seeds=(0, 1, 2))}, "paper")
    claim = "CIFAR-10 standard model: 88.9% more natural loss than the natural model"
    assert three.loc[claim].seeds == 3 and three.loc[claim]["interval covers"] == "test images and 3 seeds"
    assert one.loc[claim]["high (%)"] - one.loc[claim]["low (%)"] < 1e-9  # constant per-image losses: no sampling noise
    assert three.loc[claim]["high (%)"] - three.loc[claim]["low (%)"] > 0
    assert "JPEG" in three.loc[claim].reason


def test_claims_on_collapsed_models_are_not_comparable():
    losses = {m: 1.0 for m in MODEL_KINDS["cifar10"]}
    claims = _claims({"cifar10": _results("cifar10", losses, collapsed=("standard",))})
    standard = claims[claims.index.str.startswith("CIFAR-10 standard")]
    assert (standard.verdict == "not comparable").all()
    assert standard.reason.str.contains("collapsed CIFAR-10 models .*: standard").all()
    background = claims.loc["CIFAR-10 background model: 1.63% less natural loss than the natural model"]
    assert background.verdict != "not comparable"


@pytest.mark.parametrize("kind, low, high, expected", [
    ("direction", -1.0, 3.0, "inconclusive"),
    ("direction", -9.0, -1.0, "not supported"),
    ("direction", 1.0, 9.0, "supported"),
    ("direction", 6.0, 9.0, "direction only"),
    ("at_least", 98.0, 99.5, "inconclusive"),
    ("at_least", 99.0, 99.5, "supported"),
    ("at_least", 80.0, 90.0, "direction only"),
    ("at_least", -5.0, 5.0, "inconclusive"),
])
def test_verdict_rules(kind, low, high, expected):
    paper = 99.0 if kind == "at_least" else 4.35
    claim = Claim("a claim", "full paper", "mnist", paper, kind, lambda cell: 0.0, ("natural",))
    label, reason = verdict(claim, low, high, (low + high) / 2, get_profile("quick"))
    assert label == expected and label in VERDICTS and reason


def test_every_claim_of_paper_md_is_listed():
    assert len(CLAIMS) == 18
    assert paper_figure2().loc["background", "natural (x1000)"] == pytest.approx(39.6)
