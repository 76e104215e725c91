"""The pieces that make reports travel, on small made-up inputs: the landing page, portable paths,
the choice of progress bar, the browser's discovery. (The real reports are checked in test_reports.py.)"""

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from lat_utils import data, paths, progress
from lat_utils.config import get_profile
from lat_utils.paths import PROJECT_ROOT, shown
from lat_utils.report import browser, portable, site


@pytest.fixture
def report_folders(tmp_path):
    reports, figures = tmp_path / "reports" / "smoke", tmp_path / "figures" / "smoke"
    tables = reports / "tables"
    tables.mkdir(parents=True)
    figures.mkdir(parents=True)
    (figures / "fig2_loss_mnist.png").write_bytes(b"png")  # the only headline figure made
    pd.DataFrame({
        "claim": ["a <b>bold</b> claim", "another", "a third"],
        "paper (%)": [99.0, 4.35, float("nan")],
        "ours (%)": [91.5, -3.0, "mnist: none"],
        "ours low": [88.0, -9.0, float("nan")],  # a column the page does not know of
        "verdict": ["not supported", "inconclusive", "not supported"],
    }).to_csv(tables / "claims.csv", index=False)
    (reports / "timings.csv").write_text("notebook,seconds\n01_imagenet_attack.ipynb,30.0\n"
                                         "02_train_mnist-natural-seed0.ipynb,20.0\n"
                                         "02_train_mnist-standard-per_step-seed0.ipynb,25.0\nTOTAL,80.0\n")
    (reports / site.RUN_RECORD).write_text(json.dumps({"device": "CPU: Test CPU, 2 cores", "finished": "2026-01-02",
                                                       "attack_precision": "fp32", "seconds": 80.0, "jobs": 2}))
    for name in ("01_imagenet_attack", "02_train_mnist-natural-seed0"):
        (reports / f"{name}.ipynb").write_text("{}")   # an executed notebook: its page is built from it
    return reports, figures, tables


def test_landing_page_shows_what_exists(report_folders):
    reports, figures, tables = report_folders
    page = site.render_index("smoke", reports, figures, tables)
    assert "CPU: Test CPU, 2 cores" in page and "2026-01-02" in page
    assert "45 s" in page  # stage 02: 20 s + 25 s
    # figures: linked relative to the page; a figure not made is left out, not shown broken
    assert "src='../../figures/smoke/fig2_loss_mnist.png'" in page
    assert "fig1_mnist_attacks.png" not in page
    # claims: escaped, every column shown (also unknown ones), one count per verdict
    assert "a &lt;b&gt;bold&lt;/b&gt; claim" in page and "<b>bold</b>" not in page
    assert "<th>ours low</th>" in page
    assert "<strong>not supported</strong>: 2" in page and "<strong>inconclusive</strong>: 1" in page
    # every executed notebook's page is linked
    assert "href='01_imagenet_attack.html'" in page and "href='02_train_mnist-natural-seed0.html'" in page
    for deviation in get_profile("smoke").deviations:
        assert site._e(deviation) in page


def test_landing_page_gives_the_time_of_every_invocation_of_a_resumed_run(report_folders):
    reports, figures, tables = report_folders
    record = json.loads((reports / site.RUN_RECORD).read_text())
    # a record without its invocations is not this version's: its time is not taken on trust
    assert "<th>wall time</th><td>not recorded</td>" in site.render_index("smoke", reports, figures, tables)
    (reports / site.RUN_RECORD).write_text(json.dumps({**record, "invocations": [80.0]}))
    assert "1.3 min in all<" in site.render_index("smoke", reports, figures, tables)
    (reports / site.RUN_RECORD).write_text(json.dumps({**record, "seconds": 600.0, "invocations": [120.0, 480.0]}))
    page = site.render_index("smoke", reports, figures, tables)
    assert "10.0 min in all, over 2 invocations (2.0 + 8.0 min)" in page
    assert "[120.0, 480.0]" not in page  # not repeated as a raw list


def test_landing_page_without_any_run(tmp_path):
    reports, figures = tmp_path / "r", tmp_path / "f"
    reports.mkdir()
    figures.mkdir()
    page = site.render_index("smoke", reports, figures, reports / "tables")
    assert "not recorded" in page and "No claims table yet" in page and "No figure has been made yet" in page


def test_portable_notebook_has_no_project_or_home_path():
    root = str(PROJECT_ROOT)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"input_path": f"{root}/notebooks/02_train.ipynb",
                                      "output_path": f"{root}/reports/quick/02_train_x.ipynb"}
    cell = nbformat.v4.new_code_cell("print(path)")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"checkpoint {root}/runs/quick/x.pt\n"),
        nbformat.v4.new_output("display_data", data={"text/markdown": f"cache in {Path.home()}/.cache/torch",
                                                     "text/plain": f"folder {root}"}),
        nbformat.v4.new_output("stream", name="stdout", text=f"{root}-other/file stays\n"),
    ]
    notebook.cells.append(cell)
    portable.make_portable(notebook)
    assert notebook.metadata.papermill == {"input_path": "notebooks/02_train.ipynb",
                                           "output_path": "reports/quick/02_train_x.ipynb"}
    assert cell.outputs[0].text == "checkpoint runs/quick/x.pt\n"
    assert cell.outputs[1].data["text/markdown"] == "cache in ~/.cache/torch"
    assert cell.outputs[1].data["text/plain"] == "folder ."
    assert cell.outputs[2].text == f"{root}-other/file stays\n"  # another folder, not the project's


def test_shown_paths_are_relative_to_the_project():
    assert shown(PROJECT_ROOT / "runs" / "quick") == "runs/quick"
    assert shown(PROJECT_ROOT.parent / "shared" / "data") == "../shared/data"


def test_a_mirror_behind_a_symbolic_link_is_shown_by_the_link(tmp_path, monkeypatch):
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere" / "data").mkdir(parents=True)
    (tmp_path / "shared").symlink_to(tmp_path / "elsewhere")  # ../shared is a link, as on some machines
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.setattr(data, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    assert shown(data.offline_mirror()) == "../shared/data"
    assert shown(tmp_path / "project" / "runs") == "runs"


def test_progress_bars_are_text_on_stdout_when_asked(monkeypatch, capsys):
    from tqdm.std import tqdm as text_tqdm

    monkeypatch.setenv(progress.ENV, progress.TEXT)
    bar = progress.tqdm(range(3), desc="counting")
    assert type(bar) is text_tqdm
    assert list(bar) == [0, 1, 2]
    written = capsys.readouterr()
    assert "counting: 100%" in written.out and "3/3" in written.out and written.err == ""
    monkeypatch.delenv(progress.ENV)
    from tqdm.auto import tqdm as auto_tqdm

    assert isinstance(progress.tqdm(range(3), disable=True), auto_tqdm)


def test_chromium_is_found_where_asked(monkeypatch, tmp_path):
    fake = tmp_path / "my-chromium"
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(fake))
    assert browser.find_chromium() == str(fake)
    monkeypatch.delenv(browser.CHROMIUM_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert browser.find_chromium() is None
    with pytest.raises(browser.BrowserError, match="no Chromium found"):
        browser.Chromium()


def test_claims_of_a_dataset_the_profile_does_not_run_are_counted_apart(report_folders):
    """The deviations profile runs MNIST only: its CIFAR-10 claims ('cifar10 was not run') are not its verdicts."""
    reports, figures, tables = report_folders
    pd.DataFrame({"claim": ["a", "b", "c"], "verdict": ["not comparable"] * 3,
                  "reason": ["needs the paper's training", "cifar10 was not run", "cifar10 was not run"]}).to_csv(
        tables / "claims.csv", index=False)
    page = site.render_index("smoke", reports, figures, tables)
    assert "<strong>not comparable</strong>: 1; and 2 about a dataset this profile does not run" in page


def test_the_pages_are_built_from_the_executed_notebooks_where_missing_or_older(run_folder):
    """``python -m lat_utils.report.pages`` renders each executed notebook's HTML page, only where it is missing or
    older than its notebook; its images already compact (a palette of at most 256 colours)."""
    import base64
    import io
    import os

    import matplotlib.pyplot as plt
    from PIL import Image

    from lat_utils import images
    from lat_utils.paths import reports_dir
    from lat_utils.report import pages
    from lat_utils.report.portable import make_file_portable

    folder = reports_dir("smoke")
    fig, ax = plt.subplots()
    ax.plot(range(10), [x * x for x in range(10)])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    plt.close(fig)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode(buffer.getvalue()).decode()})])])
    nbformat.write(notebook, folder / "03_evaluate_mnist.ipynb")
    (folder / site.INDEX).write_text("<html></html>")
    make_file_portable(folder / "03_evaluate_mnist.ipynb")   # as a run leaves it
    png = base64.b64decode(nbformat.read(folder / "03_evaluate_mnist.ipynb", as_version=4).cells[0].outputs[0].data["image/png"])
    assert len(png) < len(buffer.getvalue()) and Image.open(io.BytesIO(png)).mode == "P"
    assert Image.open(io.BytesIO(png)).size == Image.open(io.BytesIO(buffer.getvalue())).size
    assert images.compact_png(png) == png   # compact already: kept as it is
    built = pages.build_pages(workers=1)
    assert built == [folder / "03_evaluate_mnist.html"] and "<html" in built[0].read_text()
    assert pages.build_pages(workers=1) == []   # up to date: nothing rebuilt
    os.utime(folder / "03_evaluate_mnist.ipynb", (built[0].stat().st_mtime + 10,) * 2)
    assert pages.build_pages(["smoke"], workers=1) == built
    with pytest.raises(FileNotFoundError, match="no report folder 'nothing'"):
        pages.build_pages(["nothing"])
