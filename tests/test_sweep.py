"""The eps sweep (lat_utils.study.sweep): monotone, within budget, resumable, and its crossings read right."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lat_utils import config
from lat_utils.masks import epsilon_matrix
from lat_utils.paths import runs_dir, tables_dir
from lat_utils.report.sweep_figures import crossing_by_block, eps_sweep_figure
from lat_utils.sealed import load_sealed, save_sealed
from lat_utils.spec.paper import PAPER_CIFAR10_KEPT as PAPER_KEPT
from lat_utils.study import sweep
from lat_utils.study.sweep import (
    SWEEP_COLUMNS,
    SWEEP_EPS,
    Series,
    SweepSettings,
    eps_name,
    eps_sweep,
    kept_crossings,
    sweep_cells,
    sweep_rows,
)
from lat_utils.study.training import TrainConfig, train_model

EPS = (0.01, 0.03, 0.06, 0.1, 0.2)
SETTINGS = SweepSettings(eps_values=EPS, pgd_steps=3, apgd_steps=3)


@pytest.fixture(scope="module")
def linear_model(mnist_test) -> nn.Module:
    """A linear classifier of MNIST trained in under a second (about 85-90% accurate): easy to attack."""
    images, labels = mnist_test
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        index = torch.randint(1000, len(images), (128,), generator=generator)
        loss = F.cross_entropy(model(images[index]), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def sample(mnist_test) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = mnist_test
    return images[:80], labels[:80]


def _sweep(model, sample, **kwargs) -> dict:
    settings = dataclasses.replace(SETTINGS, keep_examples=kwargs.pop("keep_examples", False))
    return sweep_cells(model, *sample, Series("background", 6, seed=1), settings, **kwargs)


def test_kept_is_non_increasing_and_only_robust_images_are_attacked(linear_model, sample, monkeypatch):
    attacked = []
    attack = sweep.localized_autoattack

    def recording(model, x, y, eps_matrix, *args, **kwargs):
        attacked.append(len(x))
        with torch.no_grad():
            assert (model(x).argmax(1) == y).all(), "a naturally misclassified image was attacked"
        return attack(model, x, y, eps_matrix, *args, **kwargs)

    monkeypatch.setattr(sweep, "localized_autoattack", recording)
    cells = _sweep(linear_model, sample)
    rows = sweep_rows(cells, SETTINGS, dataset="mnist", attack="background", center=6)
    assert list(rows.columns) == SWEEP_COLUMNS and len(rows) == len(EPS)
    assert (np.diff(rows["kept"]) <= 0).all() and (np.diff(rows["accuracy"]) <= 0).all()
    assert rows["kept"].iloc[0] > rows["kept"].iloc[-1], "the sweep should break some images"
    assert (rows["kept_low"] <= rows["kept"]).all() and (rows["kept"] <= rows["kept_high"]).all()
    # each eps attacks exactly the images robust at the previous one (the first: the naturally correct)
    robust = [int(cells["natural"]["correct"].sum())] + [int(cells[eps_name(e)]["correct"].sum()) for e in EPS]
    assert attacked == [r for r in robust[:-1] if r]
    for earlier, later in itertools.pairwise(EPS):
        assert not (cells[eps_name(later)]["correct"] & ~cells[eps_name(earlier)]["correct"]).any()


def test_perturbations_stay_within_the_eps_matrix(linear_model, sample):
    images, labels = sample
    cells = _sweep(linear_model, sample, keep_examples=True)
    previous = cells["natural"]["correct"]
    for eps in EPS:
        cell = cells[eps_name(eps)]
        budget = epsilon_matrix(images, "background", eps, center=6)
        delta = (cell["adversarial"] - images).abs()
        assert (delta <= budget + 1e-6).all()
        assert torch.equal(cell["adversarial"][budget == 0], images[budget == 0])
        assert cell["adversarial"].min() >= 0 and cell["adversarial"].max() <= 1
        newly_broken = previous & ~cell["correct"]
        with torch.no_grad():  # what breaks an image at this eps is misclassified and inside this eps's box
            assert (linear_model(cell["adversarial"][newly_broken]).argmax(1) != labels[newly_broken]).all()
        assert torch.isnan(cell["loss"][~previous]).all() and not torch.isnan(cell["loss"][previous]).any()
        previous = cell["correct"]


class Interrupted(Exception):
    pass


def test_an_interrupted_sweep_resumes_to_the_uninterrupted_result(linear_model, sample):
    whole = _sweep(linear_model, sample)
    saved = {}

    def interrupt_after_two_eps(cells):
        saved.update({name: dict(cell) for name, cell in cells.items()})
        if len(cells) == 3:  # natural and two eps
            raise Interrupted

    with pytest.raises(Interrupted):
        _sweep(linear_model, sample, on_cell=interrupt_after_two_eps)
    assert len(saved) == 3
    resumed = _sweep(linear_model, sample, cells=saved)
    assert list(resumed) == list(whole)
    for name in whole:
        assert torch.equal(resumed[name]["correct"], whole[name]["correct"]), name
        torch.testing.assert_close(resumed[name]["loss"], whole[name]["loss"], equal_nan=True, rtol=0, atol=0)


def test_eps_must_increase(linear_model, sample):
    with pytest.raises(ValueError, match="increasing"):
        sweep_cells(linear_model, *sample, Series("background"), dataclasses.replace(SETTINGS, eps_values=(0.1, 0.05)))


def _synthetic(eps_255, kept, attack="background", center=6, below=5.0, above=5.0) -> pd.DataFrame:
    kept = np.asarray(kept, dtype=float)
    return pd.DataFrame({"dataset": "cifar10", "model": "natural", "network": "paper_cnn", "attack": attack, "center": center,
                         "eps": np.asarray(eps_255) / 255, "eps_255": eps_255, "n": 500, "natural_accuracy": 50.0,
                         "kept": kept, "kept_low": kept - below, "kept_high": kept + above})


def test_kept_crossings_interpolate_in_log_eps_and_say_when_out_of_range():
    table = pd.concat([
        _synthetic([1, 2, 4, 8], [90, 80, 50, 20]),                        # crosses between 2 and 4
        _synthetic([1, 2, 4, 8], [99, 95, 90, 80], attack="standard"),      # never falls to the target
        _synthetic([1, 2, 4, 8], [60, 50, 40, 30], center=16),              # below it from the start
    ], ignore_index=True)
    crossings = kept_crossings(table).set_index(["attack", "center"])
    row = crossings.loc[("background", 6)]
    t = (80 - PAPER_KEPT) / (80 - 50)
    assert row["eps_255"] == pytest.approx(2 * 2 ** t)
    assert row["eps"] == pytest.approx(2 * 2 ** t / 255)
    t_low, t_high = (75 - PAPER_KEPT) / 30, (85 - PAPER_KEPT) / 30   # kept_low crosses first, kept_high last
    assert row["eps_low_255"] == pytest.approx(2 * 2 ** t_low)
    assert row["eps_high_255"] == pytest.approx(2 * 2 ** t_high)
    assert row["eps_low_255"] < row["eps_255"] < row["eps_high_255"] and row["note"] == ""
    above = crossings.loc[("standard", 6)]
    assert math.isnan(above["eps"]) and math.isnan(above["eps_high"]) and "stays above" in above["note"]
    below = crossings.loc[("background", 16)]
    assert math.isnan(below["eps"]) and math.isnan(below["eps_low"]) and "already" in below["note"]
    # a crossing exactly at a sweep point, and an interval that reaches out of range on one side only
    edge = kept_crossings(_synthetic([1, 2, 4], [80, PAPER_KEPT, 40], below=20)).iloc[0]
    assert edge["eps_255"] == pytest.approx(2) and math.isnan(edge["eps_low"]) and edge["eps_high_255"] > 2
    assert "kept_low" in edge["note"] and "kept_high" not in edge["note"]


def test_default_eps_cover_the_three_readings():
    assert len(SWEEP_EPS) >= 8 and list(SWEEP_EPS) == sorted(set(SWEEP_EPS))
    assert any(math.isclose(e, 0.3 / 255) for e in SWEEP_EPS)
    assert any(math.isclose(e, 8 / 255) for e in SWEEP_EPS)
    assert math.isclose(SWEEP_EPS[-1], 0.3)
    assert PAPER_KEPT == pytest.approx(62.27, abs=0.01)


def test_eps_sweep_writes_its_table_caches_and_resumes(monkeypatch, capsys, tmp_path):
    profile = dataclasses.replace(config.PROFILES["smoke"], name="sweep-test", sweep_n=40, sweep_pgd_steps=2,
                                  sweep_apgd_steps=2)
    monkeypatch.setitem(config.PROFILES, "sweep-test", profile)
    monkeypatch.setattr(sweep, "SWEEP_EPS", (0.3 / 255, 8 / 255, 0.1, 0.3))
    train_model(TrainConfig("mnist", "natural", profile="sweep-test"), progress=False)
    table = eps_sweep("sweep-test", progress=False)
    assert "no natural cifar10 model" in capsys.readouterr().out  # CIFAR-10 series skipped, MNIST swept
    assert list(table.columns) == SWEEP_COLUMNS
    assert list(table["eps"]) == list(sweep.SWEEP_EPS) and set(table["attack"]) == {"exact"}
    assert (table["n"] == 40).all() and (table["pgd_steps"] == 2).all() and (table["model"] == "natural").all()
    written = pd.read_csv(tables_dir("sweep-test") / "eps_sweep.csv")
    pd.testing.assert_frame_equal(written, table, check_dtype=False)

    cache_path = runs_dir("sweep-test") / "sweep" / "mnist-exact-center6.pt"
    cache = load_sealed(cache_path)
    cache["cells"] = {name: cache["cells"][name] for name in list(cache["cells"])[:3]}   # natural and two eps
    save_sealed(cache_path, cache)
    monkeypatch.setattr(sweep, "load_trained", _counting(sweep.load_trained, calls := []))
    pd.testing.assert_frame_equal(eps_sweep("sweep-test", progress=False), table)
    assert len(calls) == 1 and len(load_sealed(cache_path)["cells"]) == 5
    pd.testing.assert_frame_equal(eps_sweep("sweep-test", progress=False), table)
    assert len(calls) == 1, "a complete cache loads no model"

    cache_path.write_bytes(cache_path.read_bytes()[:-10])  # damaged: rebuilt, with a message, to the same table
    pd.testing.assert_frame_equal(eps_sweep("sweep-test", progress=False), table)
    assert "Rebuilding" in capsys.readouterr().out

    figure = eps_sweep_figure(table, kept_crossings(table), tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 0 and len(figure.axes) == 1


def _counting(function, calls: list):
    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)
    return counted


def test_each_reading_is_tested_at_its_eps():
    cifar = _synthetic([0.3, 2, 8, 76.5], [95, 62, 20, 0])
    mnist = _synthetic([0.3, 8, 76.5], [100, 100, 0.0], attack="exact", below=0.0, above=0.7).assign(dataset="mnist")
    consistency = sweep.reading_consistency(pd.concat([cifar, mnist], ignore_index=True))
    verdicts = dict(zip(consistency["dataset"] + " " + consistency["reading"], consistency["consistent"]))
    assert verdicts == {"cifar10 as stated (0.3)": "keeps less than the paper's",
                        "cifar10 raw pixels (0.3/255)": "keeps more than the paper's",
                        "cifar10 the field's usual (8/255)": "keeps less than the paper's",
                        "mnist as stated (0.3)": "consistent"}   # 0% [0, 0.7] contains the paper's 0.08%
    assert (consistency.loc[consistency["dataset"] == "cifar10", "paper kept"] == PAPER_KEPT).all()


def test_the_crossing_is_drawn_against_the_blocks_size(tmp_path):
    """The background attack is swept with every block of CIFAR10_BLOCKS (at least 4, from 6x6 to 20x20 or more); the
    figure draws one line per profile and network, a point per block with its interval, and marks MNIST's share."""
    from lat_utils.report.sweep_figures import MNIST_SHARE_SIDE
    from lat_utils.study.sweep import CIFAR10_BLOCKS, SWEEP_SERIES

    assert len(CIFAR10_BLOCKS) >= 4 and min(CIFAR10_BLOCKS) == 6 and max(CIFAR10_BLOCKS) >= 20
    assert {("cifar10", "background", block) for block in CIFAR10_BLOCKS} <= set(SWEEP_SERIES)
    table = pd.concat([_synthetic([1, 2, 4, 8], [90 - block, 80 - block, 50, 20], center=block)
                       for block in CIFAR10_BLOCKS], ignore_index=True)
    crossings = kept_crossings(table).assign(profile="quick")
    figure = crossing_by_block(crossings, tmp_path / "by_block.png")
    (line,) = figure.axes[0].get_lines()[:1]
    assert list(line.get_xdata()) == sorted(CIFAR10_BLOCKS) and (tmp_path / "by_block.png").stat().st_size > 0
    assert 6 < MNIST_SHARE_SIDE < 7   # 6x6 of 28x28 is 4.6% of MNIST; the same share of 32x32 is a 6.9 block
