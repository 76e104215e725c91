"""The reports as a reader meets them: no machine paths, no warning blocks, a landing page that a real
browser (headless Chromium) shows with every image loaded.

These tests look at the reports of the session's study (the ``session_study`` fixture: the paper profile's
dry run, shared with ``test_notebooks.py``), so the study runs once per session.
"""

import json
import os
from pathlib import Path

import pytest

from lat_utils import runner
from lat_utils.paths import PROJECT_ROOT, reports_dir
from lat_utils.report import browser, site

pytestmark = pytest.mark.notebooks

# set by .ci/run once it has installed Chromium: there, a missing browser is a failure, not a skip
REQUIRE_BROWSER_ENV = "LAT_REQUIRE_BROWSER"


def executed_reports(profile: str) -> list[Path]:
    """Every executed notebook of the study's plan, as .ipynb and .html, and the landing page."""
    reports = reports_dir(profile)
    names = [e.output for stage in runner.plan(profile, together=True) for e in stage]
    return ([reports / n for n in names] + [(reports / n).with_suffix(".html") for n in names]
            + [reports / site.INDEX])


def test_reports_hold_no_path_of_the_machine(session_study):
    assert session_study.exit_code == 0
    machine_paths = [str(PROJECT_ROOT), str(Path.home()) + "/", "/tmp/"]
    for path in executed_reports(session_study.profile):
        text = path.read_text(encoding="utf-8")
        found = [p for p in machine_paths if p in text]
        assert not found, f"{path.name} shows {found}"


def test_papermill_records_relative_paths(session_study):
    profile = session_study.profile
    notebook = json.loads((reports_dir(profile) / "05_figures_and_claims.ipynb").read_text())
    recorded = notebook["metadata"]["papermill"]
    assert recorded["input_path"] == "notebooks/05_figures_and_claims.ipynb"
    assert recorded["output_path"] == f"reports/{profile}/05_figures_and_claims.ipynb"


def test_executed_notebooks_show_no_stderr_or_error(session_study):
    for path in executed_reports(session_study.profile):
        if path.suffix != ".ipynb":
            continue
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", f"{path.name}: {output.get('ename')}"
                assert output.get("name") != "stderr", f"{path.name} writes to stderr: {output['text'][:300]!r}"


def test_progress_bars_are_plain_text_in_reports(session_study):
    text = (reports_dir(session_study.profile) / "03_evaluate_mnist.ipynb").read_text()
    assert "evaluating mnist-natural-seed0: 100%" in text  # the bar's final state, as ordinary output
    assert "application/vnd.jupyter.widget-view+json" not in text
    assert "IProgress" not in text


def test_landing_page_links_every_notebook_and_figure(session_study):
    profile = session_study.profile
    page = (reports_dir(profile) / site.INDEX).read_text()
    for stage in runner.plan(profile, together=True):
        for execution in stage:
            assert f"href='{Path(execution.output).with_suffix('.html').name}'" in page
    for name, _ in site.HEADLINE_FIGURES[:3]:  # the MNIST and CIFAR-10 figures; the ImageNet one too below
        assert f"src='../../figures/{profile}/{name}'" in page
    assert "figure1_imagenet_localized_attack.png" in page
    assert "Deviations from the paper" in page and "Claims" in page


@pytest.fixture(scope="module")
def chromium():
    executable = browser.find_chromium()
    if executable is None:
        if os.environ.get(REQUIRE_BROWSER_ENV):
            pytest.fail(f"{REQUIRE_BROWSER_ENV} is set but no Chromium was found")
        pytest.skip("no Chromium installed (Debian: apt-get install chromium; .ci/run installs it): "
                    "the reports are not checked in a browser")
    with browser.Chromium(executable) as instance:
        yield instance


@pytest.mark.parametrize("page", [site.INDEX, "03_evaluate_mnist.html"])
def test_report_pages_in_a_real_browser(session_study, chromium, page):
    report = browser.inspect_page(reports_dir(session_study.profile) / page, chromium)
    assert report.ready_state == "complete" and report.text_length > 500, report
    assert report.images, f"{page} shows no image"
    assert not report.broken_images, f"{page}: images that did not load: {report.broken_images}"
    assert not report.alarms, f"{page} shows error or warning blocks: {report.alarms}"
    if page == site.INDEX:
        assert len(report.images) == len(site.HEADLINE_FIGURES)
        assert session_study.profile in report.title
