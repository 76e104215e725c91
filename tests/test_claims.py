import pandas as pd
import pytest

from lat_utils.claims import CLAIMS, claims_table, paper_figure2
from lat_utils.config import ATTACK_KINDS, MODEL_KINDS, get_profile


def _table(dataset, losses, accuracy=0.9, seeds=(0,)):
    """A tidy evaluation table: ``losses`` maps model -> loss on every input, or model -> {attack: loss}."""
    rows = []
    for seed in seeds:
        for model in MODEL_KINDS[dataset]:
            for attack in ("natural", *ATTACK_KINDS[dataset]):
                loss = losses[model][attack] if isinstance(losses[model], dict) else losses[model]
                rows.append({"dataset": dataset, "model": model, "seed": seed, "attack": attack, "loss": loss + seed,
                             "accuracy": accuracy, "n": 100, "steps": 20, "restarts": 1, "collapsed": False,
                             "exact_data": dataset == "mnist"})
    return pd.DataFrame(rows)


def test_relative_claims_follow_the_papers_definition():
    # natural 1.0 everywhere; standard 0.005 on attacks but 1.5 natural; LAT models 0.001 on attacks, 0.9 natural
    attacks = {a: 0.005 for a in ATTACK_KINDS["mnist"]}
    lat = {"natural": 0.9, **{a: 0.001 for a in ATTACK_KINDS["mnist"]}}
    losses = {"natural": 1.0, "standard": {"natural": 1.5, **attacks}, "background": lat, "exact": lat, "broad": lat}
    table = claims_table({"mnist": _table("mnist", losses)}, get_profile("quick")).set_index("claim")
    more = table.loc["MNIST standard model: 39.9% more natural loss than the natural model"]
    assert more["ours (%)"] == "50.00" and more.verdict == "supported"
    less = table.loc["MNIST background model: over 99% less adversarial loss than the natural model"]
    assert less["ours (%)"] == "99.90" and less.verdict == "supported"
    broad = table.loc["MNIST broad model: at least 65.3% less adversarial loss than the standard model (all 4 attacks)"]
    assert broad["ours (%)"] == "80.00" and broad.verdict == "supported"
    absolute = table.loc["natural MNIST model: natural accuracy 99.19%"]
    assert absolute.verdict == "not comparable", "absolute numbers need the paper profile"
    cifar = table.loc["natural CIFAR-10 model: natural accuracy 95.17%"]
    assert cifar.verdict == "not comparable" and "not run" in cifar.reason
    only_lat = table.loc["only the LAT models beat the natural model on all inputs (lower loss in every column)"]
    assert only_lat.verdict == "supported"


def test_a_claim_that_fails_is_not_supported():
    losses = {m: 1.0 for m in MODEL_KINDS["mnist"]}
    losses["background"] = 2.0  # worse than natural everywhere
    table = claims_table({"mnist": _table("mnist", losses)}, get_profile("quick")).set_index("claim")
    assert table.loc["MNIST background model: 4.35% less natural loss than the natural model"].verdict == "not supported"
    assert table.loc["MNIST background model: over 99% less adversarial loss than the natural model"].verdict == \
        "not supported"


def test_seeds_give_mean_and_std():
    losses = {m: 1.0 for m in MODEL_KINDS["cifar10"]}
    table = claims_table({"cifar10": _table("cifar10", losses, seeds=(0, 1))}, get_profile("paper")).set_index("claim")
    row = table.loc["natural CIFAR-10 model: natural accuracy 95.17%"]
    assert row.seeds == 2 and "±" in row["ours (%)"]
    assert "JPEG" in row.reason


def test_every_claim_of_paper_md_is_listed():
    assert len(CLAIMS) == 18
    assert paper_figure2().loc["background", "natural (x1000)"] == pytest.approx(39.6)


def test_collapsed_models_are_named_in_the_reason():
    table = _table("cifar10", {m: 1.0 for m in MODEL_KINDS["cifar10"]})
    table.loc[table.model == "standard", "collapsed"] = True
    claims = claims_table({"cifar10": table}, get_profile("quick"))
    assert claims[claims.claim.str.startswith("CIFAR-10")].reason.str.contains("collapsed CIFAR-10 models .*: standard").all()
