import dataclasses

import numpy as np
import pandas as pd
import pytest

from lat_utils.config import get_profile
from lat_utils.spec.paper import ATTACK_KINDS, MODEL_KINDS
from lat_utils.study.claims import CLAIMS, claims_by_network, claims_table, paper_figure2
from lat_utils.study.stats import LESS
from lat_utils.study.verdicts import VERDICTS, Claim, trains_as_paper, verdict

from .helpers import claims_of, synthetic_results

MNIST_LOSSES = {"natural": {"natural": 0.04, "standard": 5.0, "background": 4.0, "exact": 3.0, "broad": 3.5},
                "standard": 0.01, "background": 0.02, "exact": 0.02, "broad": 0.02}


def test_relative_claims_follow_the_papers_definition():
    # natural 1.0 everywhere; standard 0.005 on attacks but 3 natural; LAT models 0.001 on attacks, 0.9 natural
    attacks = {a: 0.005 for a in ATTACK_KINDS["mnist"]}
    lat = {"natural": 0.9, **{a: 0.001 for a in ATTACK_KINDS["mnist"]}}
    losses = {"natural": 1.0, "standard": {"natural": 3.0, **attacks}, "background": lat, "exact": lat, "broad": lat}
    table = claims_of({"mnist": synthetic_results("mnist", losses)})
    more = table.loc["MNIST standard model: 39.9% more natural loss than the natural model"]
    assert more["ours (%)"] == pytest.approx(200.0) and more.verdict == "direction only" and "above the margin" in more.reason
    # the share of the paper's effect is read on the log of the loss ratio: 3x the loss is ln 3 / ln 1.399 of 39.9% more
    assert more["share of paper"] == pytest.approx(np.log(3.0) / np.log(1.399))
    less = table.loc["MNIST background model: over 99% less adversarial loss than the natural model"]
    assert less["ours (%)"] == pytest.approx(99.9) and less.verdict == "supported"
    broad = table.loc["MNIST broad model: at least 65.3% less adversarial loss than the standard model (all 4 attacks)"]
    assert broad["ours (%)"] == pytest.approx(80.0) and broad.verdict == "supported"
    assert table.loc["natural MNIST model: natural accuracy 99.19%"].verdict == "not comparable"
    assert table.loc["natural MNIST model: natural accuracy 99.19%"]["ours (%)"] == pytest.approx(90.0)
    cifar = table.loc["natural CIFAR-10 model: natural accuracy 95.17%"]
    assert cifar.verdict == "not comparable" and "not run" in cifar.reason
    only_lat = table.loc["MNIST: only the LAT models beat the natural model on all inputs (lower loss in every column)"]
    assert only_lat.verdict == "supported"
    assert set(table["interval covers"].dropna()) == {"test images only (one seed)"}


def test_a_claim_that_fails_is_not_supported():
    losses = {m: 1.0 for m in MODEL_KINDS["mnist"]}
    losses["background"] = 2.0  # worse than natural everywhere
    table = claims_of({"mnist": synthetic_results("mnist", losses, noise=0.1)})
    assert table.loc["MNIST background model: 4.35% less natural loss than the natural model"].verdict == "not supported"
    assert table.loc["MNIST background model: over 99% less adversarial loss than the natural model"].verdict == \
        "not supported"


def test_a_difference_within_the_noise_is_inconclusive():
    losses = {m: 1.0 for m in MODEL_KINDS["mnist"]}
    losses["background"] = 0.98  # 2% less loss, but per-image losses scatter by 50%
    row = claims_of({"mnist": synthetic_results("mnist", losses, noise=0.5)}).loc[
        "MNIST background model: 4.35% less natural loss than the natural model"]
    assert row["low (%)"] < 0 < row["high (%)"]
    assert row.verdict == "inconclusive"


def test_seeds_widen_the_interval():
    losses = {m: 1.0 for m in MODEL_KINDS["cifar10"]}
    losses["standard"] = 2.0
    one = claims_of({"cifar10": synthetic_results("cifar10", losses)}, "paper")
    three = claims_of({"cifar10": synthetic_results("cifar10", losses, seeds=(0, 1, 2))}, "paper")
    claim = "CIFAR-10 standard model: 88.9% more natural loss than the natural model"
    assert three.loc[claim].seeds == 3 and three.loc[claim]["interval covers"] == "test images and 3 seeds"
    assert one.loc[claim]["high (%)"] - one.loc[claim]["low (%)"] < 1e-9  # constant per-image losses: no sampling noise
    assert three.loc[claim]["high (%)"] - three.loc[claim]["low (%)"] > 0
    assert "JPEG" in three.loc[claim].reason


def test_claims_on_collapsed_models_are_not_comparable():
    losses = {m: 1.0 for m in MODEL_KINDS["cifar10"]}
    claims = claims_of({"cifar10": synthetic_results("cifar10", losses, collapsed=("standard",))})
    standard = claims[claims.index.str.startswith("CIFAR-10 standard")]
    assert (standard.verdict == "not comparable").all()
    assert standard.reason.str.contains("every seed of standard collapsed").all()
    background = claims.loc["CIFAR-10 background model: 1.63% less natural loss than the natural model"]
    assert background.verdict != "not comparable"


def test_a_claim_is_judged_on_the_seeds_that_learned_with_the_count_beside_it():
    """One of three seeds of the standard model collapsed (one class for most inputs), and a background model of one
    seed has a third of the natural model's accuracy: each is left out of its claims, which are judged on the other
    seeds and say how many were left out."""
    from lat_utils.study.collapse import collapsed_seeds

    table, per_image = synthetic_results("mnist", MNIST_LOSSES, seeds=(0, 1, 2), n=300, noise=0.05)
    table.loc[(table["model"] == "standard") & (table["seed"] == 1), "collapsed"] = True
    weak = (table["model"] == "background") & (table["seed"] == 2) & (table["attack"] == "natural")
    table.loc[weak, "accuracy"] = 0.27    # the natural model's: 0.9
    assert collapsed_seeds(table) == {("standard", 1, "stated"), ("background", 2, "stated")}
    claims = claims_table({"mnist": table}, {"mnist": per_image}, get_profile("quick")).set_index("claim")
    standard = claims.loc["MNIST standard model: at least 99% less adversarial loss than the natural model"]
    assert standard.seeds == 2 and "1 of 3 seeds of the standard model collapsed (left out)" in standard.reason
    assert standard.verdict != "not comparable"
    background = claims.loc["MNIST background model: 4.35% less natural loss than the natural model"]
    assert background.seeds == 2 and "1 of 3 seeds of the background model collapsed" in background.reason


@pytest.mark.parametrize("kind, low, high, expected", [
    ("direction", -1.0, 3.0, "inconclusive"),         # the direction is not resolved
    ("direction", -9.0, -1.0, "not supported"),
    ("direction", 3.6, 5.0, "supported"),             # shares [0.82, 1.15] of the paper's 4.35%: inside [0.75, 1.25]
    ("direction", 1.0, 9.0, "inconclusive"),          # [0.23, 2.1]: contains the paper's 4.35%, but too wide
    ("direction", 8.0, 9.0, "direction only"),        # [1.9, 2.1]: above the margin
    ("direction", 0.5, 1.5, "direction only"),        # [0.11, 0.34]: below it
    ("at_least", 97.5, 99.5, "supported"),            # [0.80, 1.15]: within the margin of 'at least 99%'
    ("at_least", 99.0, 99.99, "supported"),           # past it, in the claim's direction
    ("at_least", 96.0, 99.5, "inconclusive"),         # [0.70, 1.15]: reaches below the margin
    ("at_least", 80.0, 89.0, "direction only"),       # [0.35, 0.48]: 9 to 20 times the loss the paper leaves
    ("at_least", 13.2, 100.0, "inconclusive"),        # the deviations base's once-'supported' [13.2, 100.4]
    ("at_least", -5.0, 5.0, "inconclusive"),
    ("value", 50.0, 70.0, "not comparable"),
    ("value", 80.0, 90.0, "not comparable"),
])
def test_verdict_rules(kind, low, high, expected):
    paper = {"at_least": 99.0, "value": 62.3}.get(kind, 4.35)
    claim = Claim("a claim", "full paper", "mnist", paper, kind, lambda cell: 0.0, ("natural",), scale=LESS)
    label, reason = verdict(claim, low, high, (low + high) / 2, get_profile("quick"))
    assert label == expected and label in VERDICTS and reason


def test_the_share_of_the_papers_effect_reads_a_reduction_as_the_loss_ratio_it_stands_for():
    """98.4% less loss is most of the paper's 99% (a loss 62 times smaller against 100), 1.3% almost none of 95.7%."""
    at_least = Claim("a claim", "full paper", "mnist", 99.0, "at_least", lambda cell: 0.0, ("natural",), scale=LESS)
    assert at_least.share(98.4)[0] == pytest.approx(np.log(1 / 0.016) / np.log(100))
    assert 0.85 < at_least.share(98.4)[0] < 0.95
    direction = Claim("a claim", "full paper", "cifar10", 95.7, "direction", lambda cell: 0.0, ("natural",), scale=LESS)
    assert direction.share(1.3)[0] < 0.01
    assert np.isnan(Claim("a", "full paper", "mnist", 99.19, "absolute", lambda cell: 0.0, ("natural",)).share(99.0)[0])


@pytest.mark.parametrize("low, high, expected", [(50.0, 70.0, "inconclusive"), (60.0, 65.0, "supported"),
                                                  (80.0, 90.0, "not supported")])
def test_a_share_of_a_natural_model_is_judged_only_where_it_trains_as_the_paper(low, high, expected):
    """The share of its accuracy the natural CIFAR-10 model keeps is a number about a natural model: judged in the
    paper profile only; elsewhere not comparable, with the eps sweep named as where the share is measured."""
    claim = Claim("a share", "full paper", "cifar10", 62.3, "value", lambda cell: 0.0, ("natural",), margin=5.0)
    label, _ = verdict(claim, low, high, (low + high) / 2, get_profile("paper"))
    assert label == expected
    label, reason = verdict(claim, low, high, (low + high) / 2, get_profile("quick"))
    assert label == "not comparable" and "eps sweep" in reason


def test_every_claim_of_paper_md_is_listed():
    assert len(CLAIMS) == 21   # 18 sentences, and the other reading of the short version's abstract (3)
    assert paper_figure2().loc["background", "natural (x1000)"] == pytest.approx(39.6)


def test_cifar10_claims_are_judged_once_per_reading():
    """Two readings of the CIFAR-10 eps: every CIFAR-10 claim twice, each on its own reading's models; the share
    of accuracy the natural model keeps is a value claim, judged (in the paper profile) by whether 62.3% is inside."""
    parts = []
    for reading, adversarial in (("raw", 0.9), ("stated", 2.0)):
        losses = {"natural": 1.0, "standard": {"natural": 1.5, "standard": 0.5, "background": 0.5},
                  "background": {"natural": 0.98, "standard": adversarial, "background": adversarial}}
        table, images = synthetic_results("cifar10", losses, n=2000)   # enough images to judge within 5 points
        keep = 0.623 if reading == "raw" else 0.05  # the natural model keeps 62.3% of its accuracy, or almost nothing
        natural_background = (images.model == "natural") & (images.attack == "background")
        images.loc[natural_background, "correct"] = images.loc[natural_background, "image"] < 0.9 * keep * 2000
        parts.append((table.assign(reading=reading), images.assign(reading=reading)))
    table = pd.concat([p[0] for p in parts], ignore_index=True)
    images = pd.concat([p[1] for p in parts], ignore_index=True)
    claims = claims_table({"cifar10": table}, {"cifar10": images}, get_profile("paper"))
    cifar = claims[claims["claim"].str.contains("CIFAR-10") & (claims["reading"] != "")]
    assert sorted(cifar["reading"].unique()) == ["as stated (0.3)", "raw pixels (0.3/255)"]
    assert cifar.groupby("claim").size().eq(2).all()
    kept = cifar[cifar["claim"].str.startswith("natural CIFAR-10 model keeps")].set_index("reading")
    assert kept.loc["raw pixels (0.3/255)", "verdict"] == "supported"
    assert kept.loc["as stated (0.3)", "verdict"] == "not supported"
    adversarial = cifar[cifar["claim"].str.startswith("CIFAR-10 background model: 15.98%")].set_index("reading")
    assert adversarial.loc["raw pixels (0.3/255)", "ours (%)"] == pytest.approx(10.0)
    assert adversarial.loc["as stated (0.3)", "verdict"] == "not supported"
    only_lat = claims[claims["claim"].str.startswith("CIFAR-10: only the LAT")]
    assert len(only_lat) == 2


def test_the_kept_share_of_a_model_with_no_accuracy_is_zero_without_a_warning():
    import warnings

    from lat_utils.study.claims import _kept

    accuracy = {("natural", "natural"): np.array([0.0, 0.5]), ("natural", "background"): np.array([0.0, 0.25])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a division by zero would warn (and write to a notebook's stderr)
        kept = _kept("natural", "background")(lambda model, attack: accuracy[(model, attack)])
    assert list(kept) == [0.0, 50.0]


def test_an_absolute_claim_is_comparable_where_the_model_trains_as_the_paper_says():
    claim = Claim("natural accuracy 99.19%", "full paper", "mnist", 99.19, "absolute", lambda cell: 0.0, ("natural",))
    label, reason = verdict(claim, 99.0, 99.4, 99.2, get_profile("quick"))
    quick_steps = get_profile("quick").train_steps
    assert label == "not comparable" and "100,000 steps" in reason and f"'quick' profile trains {quick_steps:,} steps" in reason
    assert verdict(claim, 99.0, 99.4, 99.2, get_profile("paper"))[0] == "supported"
    assert verdict(claim, 98.3, 98.9, 98.6, get_profile("paper"))[0] == "supported"   # within 1 point of 99.19%
    assert verdict(claim, 97.0, 98.0, 97.5, get_profile("paper"))[0] == "not supported"
    assert verdict(claim, 97.5, 99.5, 98.5, get_profile("paper"))[0] == "inconclusive"  # reaches past the margin
    assert verdict(claim, 99.0, 99.4, 99.2, get_profile("paper-dry-run"))[0] == "not comparable"
    as_paper = dataclasses.replace(get_profile("quick"), train_steps=100_000, learning_rate=1e-4, lr_schedule="constant")
    assert verdict(claim, 99.0, 99.4, 99.2, as_paper)[0] == "supported"
    assert not trains_as_paper(dataclasses.replace(as_paper, batch_size=128))
    assert not trains_as_paper(dataclasses.replace(as_paper, optimizer="airbench_sgd"))
    assert not trains_as_paper(get_profile("paper").with_network("airbench"))


def test_an_accuracys_interval_over_seeds_stays_within_0_and_100():
    from lat_utils.study.stats import DIFFERENCE, PERCENT, combine_seeds, wilson_with_seeds

    rng = np.random.default_rng(0)
    points, samples = np.array([99.9, 98.0, 99.95]), 99.3 + rng.normal(0, 0.5, 2000)
    mean, low, high = combine_seeds(points, samples, DIFFERENCE)
    assert high > 100, "the unclipped interval of these seeds leaves [0, 100]"
    clipped = combine_seeds(points, samples, PERCENT)
    assert clipped == (mean, low, 100.0)
    assert combine_seeds(100 - points, 100 - samples, PERCENT)[1] == 0.0
    # a loss reduction over seeds is combined on the log of its loss ratio: below 100% without clipping
    reduction = combine_seeds(points, samples, LESS)
    assert reduction[1] < reduction[0] < reduction[2] < 100
    # an accuracy of one seed has the Wilson interval, of several the Wilson interval widened by their spread
    assert wilson_with_seeds(np.array([100.0]), 200)[1] == pytest.approx(98.12, abs=0.01)
    several = wilson_with_seeds(points, 1000)
    assert 0 <= several[1] < several[0] < several[2] <= 100 and several[2] - several[1] > 1


def test_the_cifar10_claims_are_judged_once_per_network():
    """Two CIFAR-10 networks in one table: the claims on each use only its own models, and the airbench network's
    rows are judged exactly as the paper CNN's would be if its models had the paper CNN's names."""
    paper_losses = {"natural": 1.0, "standard": {"natural": 1.5, "standard": 0.5, "background": 0.5},
                    "background": {"natural": 0.98, "standard": 0.9, "background": 0.9}}
    airbench_losses = {"natural": 1.0, "standard": {"natural": 0.9, "standard": 0.5, "background": 0.5},
                       "background": {"natural": 1.2, "standard": 1.1, "background": 1.1}}
    paper_table, paper_images = synthetic_results("cifar10", paper_losses, n=300)
    net_table, net_images = synthetic_results("cifar10", airbench_losses, n=300)
    on_net = {m: f"{m} on airbench" for m in ("natural", "standard", "background")}
    table = pd.concat([paper_table, net_table.replace({"model": on_net}).assign(network="airbench")], ignore_index=True)
    images = pd.concat([paper_images, net_images.replace({"model": on_net}).assign(network="airbench")],
                       ignore_index=True)
    profile = dataclasses.replace(get_profile("paper"), cifar10_networks=("paper_cnn", "airbench"))
    both = claims_by_network({"cifar10": table}, {"cifar10": images}, profile)
    assert list(both["network"].unique()) == ["paper_cnn", "airbench"]
    for network, (t, i) in (("paper_cnn", (paper_table, paper_images)), ("airbench", (net_table, net_images))):
        alone = claims_table({"cifar10": t}, {"cifar10": i}, profile, network)
        if network == "airbench":   # the MNIST claims: on the paper's CNN only
            alone = alone[alone["claim"].str.contains("CIFAR-10")].reset_index(drop=True)
        mine = both[both["network"] == network].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone)
    more = both[both["claim"].str.startswith("CIFAR-10 standard model: 88.9% more natural loss")].set_index("network")
    assert more.loc["paper_cnn", "verdict"] != "not supported" and more.loc["airbench", "verdict"] == "not supported"
    # the paper profile trains its CNN as the paper does, airbench's network by airbench's recipe: an absolute number
    # is set beside the paper's on the first only, and the reason names the recipe that was run
    accuracy = both[both["claim"].str.contains("natural accuracy 95.17%")].set_index("network")
    assert accuracy.loc["paper_cnn", "verdict"] != "not comparable"
    assert accuracy.loc["airbench", "verdict"] == "not comparable"
    assert "SGD with Nesterov momentum" in accuracy.loc["airbench", "reason"]
    assert "two-convolution" in accuracy.loc["paper_cnn", "reason"]
    assert "two-convolution" not in accuracy.loc["airbench", "reason"]


def test_the_ratio_claims_are_judged_against_another_profiles_natural_model(run_folder):
    """A natural model trained longer has more adversarial loss: judged against it, 'at least 99% less adversarial
    loss' moves toward the paper; the rows say which natural model each is judged against, and a natural model
    attacked with another budget, or on fewer images, is refused."""
    from lat_utils.paths import tables_dir
    from lat_utils.study.synthesis import claims_against_natural, with_natural_of

    short = {"natural": {"natural": 0.04, "standard": 5.0, "background": 4.0, "exact": 3.0, "broad": 3.5},
             "standard": 0.05, "background": 0.05, "exact": 0.05, "broad": 0.05}
    long = {**short, "natural": {"natural": 0.03, "standard": 60.0, "background": 50.0, "exact": 40.0, "broad": 45.0}}
    for profile, losses, n in (("quick", short, 200), ("paper-natural", long, 1000)):
        table, per_image = synthetic_results("mnist", losses, seeds=(0, 1), n=n, noise=0.1)
        table.assign(pgd_steps=20, apgd_steps=50, apgd_targets=3, square_queries=300).to_csv(
            tables_dir(profile) / "eval_mnist.csv", index=False)
        per_image.to_csv(tables_dir(profile) / "per_image_mnist.csv.gz", index=False)
    judged = claims_against_natural("quick", "paper-natural")
    claim = "MNIST standard model: at least 99% less adversarial loss than the natural model"
    rows = judged[judged["claim"] == claim].set_index("natural model")
    assert list(rows.index) == ["quick's own (500 steps)", "paper-natural's (100,000 steps, Adam 0.0001 constant)"]
    assert rows["ours (%)"].iloc[0] < 99.0 < 99.8 < rows["ours (%)"].iloc[1]
    assert rows["share of paper"].iloc[1] > rows["share of paper"].iloc[0]
    assert not judged["claim"].str.contains("accuracy").any()   # the absolute claims are the natural profile's own
    table = pd.read_csv(tables_dir("quick") / "eval_mnist.csv")
    images = pd.read_csv(tables_dir("quick") / "per_image_mnist.csv.gz")
    with pytest.raises(ValueError, match="budgets differ"):
        with_natural_of(table, images, table.assign(pgd_steps=100), images)
    with pytest.raises(ValueError, match="evaluated on 100 test images under the background attack, not 200"):
        with_natural_of(table, images, table.assign(n=100), images)
    # natural inputs measured on fewer images by the other (a run from before the whole test set): the images both have
    fewer = images[(images["attack"] != "natural") | (images["image"] < 150)]
    _, joined = with_natural_of(table, images, table.assign(n=table["n"].where(table["attack"] != "natural", 150)), fewer)
    natural = joined[(joined["model"] == "natural") & (joined["attack"] == "natural")]
    assert natural.groupby("seed")["image"].max().eq(149).all()


def test_a_claim_its_data_cannot_resolve_says_it_is_underpowered():
    """4.35% less natural loss, on data whose interval spans -60% to +40%: the smallest effect they could detect is
    many times the paper's, and the verdict's reason leads with *underpowered*; a narrow interval is not."""
    claim = Claim("4.35% less", "full paper", "mnist", 4.35, "direction", lambda cell: 0.0, ("natural",), scale=LESS)
    label, reason = verdict(claim, -60.0, 40.0, -10.0, get_profile("quick"))
    assert label == "inconclusive" and reason.startswith("underpowered: these data detect an effect only from")
    assert claim.detectable(-60.0, 40.0) > 10
    assert claim.detectable(3.0, 5.0) < 1
    assert not verdict(claim, -1.0, 5.0, 2.0, get_profile("quick"))[1].startswith("underpowered")


def test_claims_where_every_model_collapsed_are_not_comparable():
    """A dry run's models barely train: where every seed of every model collapsed, each claim says so."""
    losses = {m: 1.0 for m in MODEL_KINDS["mnist"]}
    claims = claims_of({"mnist": synthetic_results("mnist", losses, collapsed=tuple(MODEL_KINDS["mnist"]))})
    mnist = claims[claims.index.str.contains("MNIST") & (claims["reason"] != "mnist was not run")]
    assert (mnist["verdict"] == "not comparable").all()
    # the natural model collapsed in one seed, the standard model in the other: they share no seed that learned
    table, per_image = synthetic_results("mnist", losses, seeds=(0, 1))
    table.loc[(table["model"] == "natural") & (table["seed"] == 0), "collapsed"] = True
    table.loc[(table["model"] != "natural") & (table["seed"] == 1), "collapsed"] = True
    claims = claims_table({"mnist": table}, {"mnist": per_image}, get_profile("quick")).set_index("claim")
    assert claims.loc["MNIST standard model: at least 99% less adversarial loss than the natural model", "verdict"] \
        == "not comparable"


def test_natural_inputs_on_the_whole_test_set_narrow_the_natural_claims_and_pair_with_fewer_attacked_images():
    """The evaluation measures natural inputs on the whole test set and the attacks on the first n_test images: a
    natural-loss claim and the natural accuracy rest on all the natural images (a narrower interval than on the
    attacked ones alone), an attack claim on the attacked images, and a model whose natural inputs were measured on
    fewer images is compared on the images both have."""
    losses = {**MNIST_LOSSES, "background": 0.0385}
    table, per_image = synthetic_results("mnist", losses, n=2000, noise=0.5)
    attacked = per_image[(per_image["attack"] == "natural") | (per_image["image"] < 200)]
    short = per_image[per_image["image"] < 200]
    natural_claim = "MNIST background model: 4.35% less natural loss than the natural model"
    attack_claim = "MNIST background model: over 99% less adversarial loss than the natural model"
    whole, first = claims_of({"mnist": (table, attacked)}), claims_of({"mnist": (table, short)})
    width = {name: t.loc[natural_claim, "high (%)"] - t.loc[natural_claim, "low (%)"] for name, t in
             (("whole", whole), ("first", first))}
    assert width["whole"] < 0.5 * width["first"]
    assert whole.loc[attack_claim, "ours (%)"] == pytest.approx(first.loc[attack_claim, "ours (%)"])
    accuracy = "natural MNIST model: natural accuracy 99.19%"
    assert (whole.loc[accuracy, "high (%)"] - whole.loc[accuracy, "low (%)"]
            < 0.5 * (first.loc[accuracy, "high (%)"] - first.loc[accuracy, "low (%)"]))
    # the natural model's natural inputs on 200 images only: every model's natural cell is read on those 200
    mixed = attacked[~((attacked["model"] == "natural") & (attacked["attack"] == "natural") & (attacked["image"] >= 200))]
    assert claims_of({"mnist": (table, mixed)}).loc[natural_claim, "ours (%)"] == pytest.approx(
        first.loc[natural_claim, "ours (%)"])


def test_the_detectable_effect_is_the_stated_test_and_power():
    from statistics import NormalDist

    from lat_utils.study import verdicts

    assert verdicts.Z_CONFIDENCE == pytest.approx(NormalDist().inv_cdf(1 - (1 - verdicts.CONFIDENCE) / 2), abs=1e-6)
    assert verdicts.Z_POWER == pytest.approx(NormalDist().inv_cdf(verdicts.POWER), abs=1e-6)


def test_the_share_a_model_keeps_is_read_image_by_image_on_the_attacked_images():
    """A share of a model's natural accuracy kept under an attack (the 'value' claim) pairs each attacked image with
    its own natural result: natural inputs scored on more images do not change it."""
    losses = {m: 1.0 for m in MODEL_KINDS["cifar10"]}
    table, per_image = synthetic_results("cifar10", losses, n=1000, noise=0.3)
    attacked_only = per_image[(per_image["attack"] == "natural") | (per_image["image"] < 200)]
    first = per_image[per_image["image"] < 200]
    kept = "natural CIFAR-10 model keeps 62.3% of its accuracy under the background attack (59.26% of 95.17%)"
    whole, short = claims_of({"cifar10": (table, attacked_only)}), claims_of({"cifar10": (table, first)})
    for column in ("ours (%)", "low (%)", "high (%)"):
        assert whole.loc[kept, column] == pytest.approx(short.loc[kept, column])
