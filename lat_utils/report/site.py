"""The landing page of a profile's report: ``reports/<profile>/index.html``.

One page a reader opens first, from the file system (no server): what was run (profile, device,
date, wall times, the profile's deviations from the paper), the headline figures, the claims
summary, and a link to every executed notebook. The pipeline writes it at the end of every run,
after :func:`record_run` has saved the run's facts to ``reports/<profile>/run.json``;
``python -m lat_utils.report.site PROFILE`` rebuilds it from the reports already there.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from ..attacks import resolve_precision
from ..config import get_profile
from ..devices import device, device_name
from ..paths import figures_dir, reports_dir, shown, tables_dir, write_atomically
from ..spec.settings import Profile
from .header import profile_deviations

INDEX = "index.html"
RUN_RECORD = "run.json"

# the headline figures, in reading order: file name in figures/<profile>/ and caption
HEADLINE_FIGURES = (
    ("fig1_mnist_attacks.png", "Figure 1 (short version): one standard and three localized PGD attacks on MNIST"),
    ("fig2_loss_mnist.png", "Figure 2: every model under every attack, MNIST (mean cross-entropy)"),
    ("fig2_loss_cifar10.png", "Figure 2: every model under every attack, CIFAR-10"),
    ("accuracy_mnist.png", "Robust accuracy under the localized AutoAttack, MNIST, with PGD's overestimate"),
    ("claims_forest.png", "The claims: ours with 95% intervals beside the paper's numbers"),
    ("curves_mnist.png", "Learning curves, MNIST: natural and robust loss and accuracy at each milestone of training"),
    ("eps_sweep.png", "The eps sweep: the share of its accuracy each natural model keeps, against eps, beside the "
                      "paper's CIFAR-10 share"),
    ("claims_budgets.png", "The claims across training budgets: every profile that has run, and its milestones"),
    ("figure1_imagenet_localized_attack.png", "ImageNet Figure 1: the attack leaves the detected box untouched"),
)

# what each executed notebook holds, by the start of its file name
NOTEBOOK_ROLES = (
    ("01_imagenet_attack", "the localized attack on an ImageNet classifier: Figure 1, Tables 1 and 2"),
    ("02_train_", "training of one model (or one group trained together) and its evaluation under every attack"),
    ("03_evaluate_", "every model under every attack: Figure 2, robust accuracy (localized AutoAttack), "
                     "PGD's overestimate, a cross-check with torchattacks"),
    ("04_cifar10_eps", "which eps the paper's CIFAR-10 numbers fit: the eps sweep, and the CIFAR-10 claims under "
                       "each reading of its eps"),
    ("05_figures_and_claims", "Figure 1, Figure 2 beside the paper's, the claims table with intervals"),
    ("06_budgets", "the claims across training budgets: stable, toward the paper's numbers, or away from them"),
    ("07_explorer", "any finished model under any mask and eps: the default view here, widgets in JupyterLab"),
)


def record_run(profile: str, seconds: float, **settings: object) -> dict:
    """Save what this run was (profile, device, date, total wall time, ``settings``) to ``run.json``."""
    record = {
        "profile": profile,
        "finished": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        "seconds": round(seconds, 1),
        "device": device_name(),
        "attack_precision": resolve_precision(get_profile(profile).attack_precision, device()),
        "versions": f"Python {platform.python_version()}, torch {torch.__version__}",
        **settings,
    }
    path = reports_dir(profile) / RUN_RECORD
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"))
    return record


def write_index(profile: str) -> Path:
    """Write ``reports/<profile>/index.html`` from what ``reports/`` and ``figures/`` hold; its path."""
    path = reports_dir(profile) / INDEX
    page = render_index(profile, reports_dir(profile), figures_dir(profile), tables_dir(profile))
    write_atomically(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


def render_index(profile: str, reports: Path, figures: Path, tables: Path) -> str:
    """The landing page as HTML; every link is relative to ``reports`` (where the page lives)."""
    settings = get_profile(profile)
    record = _read_json(reports / RUN_RECORD)
    timings = _read_timings(reports / "timings.csv")
    sections = [
        f"<h1>Localized Adversarial Training: the <code>{_e(profile)}</code> report</h1>",
        "<p>A reproduction of Rothberg et al., <em>Localized Adversarial Training for Increased Accuracy and "
        "Robustness in Image Classification</em> (AdvML'19). This page summarizes one run of the study; the "
        "executed notebooks below hold every number with the code that produced it.</p>",
        _run_section(settings, record, timings),
        _figures_section(figures, reports),
        _claims_section(tables / "claims.csv"),
        _notebooks_section(reports, timings),
    ]
    return _PAGE.format(title=f"LAT reproduction: {_e(profile)} report", body="\n".join(sections))


def _run_section(settings: Profile, record: dict, timings: dict[str, float]) -> str:
    precision = record.get("attack_precision", "")
    total = record.get("seconds")
    facts = [
        ("profile", f"<code>{_e(settings.name)}</code>: {_e(settings.description)}"),
        ("device", _e(record.get("device", "not recorded"))),
        ("finished", _e(record.get("finished", "not recorded"))),
        ("wall time", _wall_time(total, record.get("invocations"))),
        ("attack arithmetic", _e(precision or "not recorded")),
    ]
    facts += [(key, _e(str(value))) for key, value in record.items()
              if key not in {"profile", "device", "finished", "seconds", "invocations", "attack_precision"}]
    rows = "".join(f"<tr><th>{key}</th><td>{value}</td></tr>" for key, value in facts)
    stages = _stage_times(timings)
    stage_rows = "".join(f"<tr><td>{_e(stage)}</td><td class='num'>{seconds:.0f} s</td>"
                         f"<td class='num'>{count}</td></tr>" for stage, (seconds, count) in stages.items())
    deviations = profile_deviations(settings, precision) if precision else list(settings.deviations)
    return (
        "<h2>What was run</h2>"
        f"<table class='facts'>{rows}</table>"
        "<h3>Wall time per stage</h3>"
        + (f"<table><tr><th>stage</th><th>notebook time (sum)</th><th>notebooks</th></tr>{stage_rows}</table>"
           "<p class='note'>The sum of the stage's notebooks' wall times over every invocation of the run; "
           "notebooks of one stage may run at the same time (<code>--jobs</code>), so a stage can take less than "
           "its sum. A notebook killed half-way is not in this table; its time is in the total.</p>"
           if stages else "<p>No timings recorded (<code>timings.csv</code> is missing).</p>")
        + "<h3>Deviations from the paper in this profile</h3>"
        + ("<ul>" + "".join(f"<li>{_e(d)}</li>" for d in deviations) + "</ul>" if deviations else "<p>None.</p>")
    )


def _wall_time(seconds: float | None, invocations: list[float] | None) -> str:
    """The run's wall time in words: over several invocations when it was interrupted and resumed."""
    if seconds is None or invocations is None:
        return "not recorded"
    minutes = float(seconds) / 60
    if len(invocations) < 2:
        return f"{minutes:.1f} min in all"
    parts = " + ".join(f"{s / 60:.1f}" for s in invocations)
    return (f"{minutes:.1f} min in all, over {len(invocations)} invocations ({parts} min): the run "
            "was interrupted and resumed, and no finished work was redone")


def _figures_section(figures: Path, reports: Path) -> str:
    found = [(name, caption) for name, caption in HEADLINE_FIGURES if (figures / name).exists()]
    if not found:
        return "<h2>Headline figures</h2><p>No figure has been made yet.</p>"
    link = Path(os.path.relpath(figures, reports)).as_posix()
    items = "".join(f"<figure><a href='{_e(link)}/{_e(name)}'><img src='{_e(link)}/{_e(name)}' alt='{_e(caption)}'>"
                    f"</a><figcaption>{_e(caption)}</figcaption></figure>" for name, caption in found)
    return (f"<h2>Headline figures</h2><p class='note'>Click a figure for its full size.</p>"
            f"<div class='figures'>{items}</div>")


def _claims_section(path: Path) -> str:
    if not path.exists():
        return "<h2>Claims</h2><p>No claims table yet (<code>05_figures_and_claims</code> has not run).</p>"
    claims = pd.read_csv(path)
    not_run = claims.get("reason", pd.Series("", index=claims.index)).astype(str).str.endswith("was not run")
    counts = claims.loc[~not_run, "verdict"].value_counts() if "verdict" in claims else pd.Series(dtype=int)
    summary = ", ".join(f"<strong>{_e(str(verdict))}</strong>: {count}" for verdict, count in counts.items())
    if not_run.any():   # a profile that runs one dataset: the other's claims are not its verdicts
        summary += f"; and {int(not_run.sum())} about a dataset this profile does not run"
    header = "".join(f"<th>{_e(str(column))}</th>" for column in claims.columns)
    body = "".join("<tr>" + "".join(f"<td{_cell_class(column, value)}>{_e(_cell(value))}</td>"
                                    for column, value in row.items()) + "</tr>"
                   for _, row in claims.iterrows())
    return (f"<h2>Claims</h2><p>{len(claims)} claims of the paper, checked one by one: {summary}. "
            "The full reasoning is in <a href='05_figures_and_claims.html'>05_figures_and_claims</a> and "
            "<code>tables/claims.csv</code>.</p>"
            f"<div class='wide'><table class='claims'><tr>{header}</tr>{body}</table></div>")


def _notebooks_section(reports: Path, timings: dict[str, float]) -> str:
    pages = sorted(p.with_suffix(".html") for p in reports.glob("*.ipynb"))   # built by python -m lat_utils.report.pages
    if not pages:
        return "<h2>Executed notebooks</h2><p>None yet.</p>"
    rows = []
    for page in pages:
        role = next((what for prefix, what in NOTEBOOK_ROLES if page.stem.startswith(prefix)), "")
        seconds = timings.get(page.stem + ".ipynb")
        rows.append(f"<tr><td><a href='{_e(page.name)}'>{_e(page.stem)}</a></td><td>{_e(role)}</td>"
                    f"<td class='num'>{'' if seconds is None else f'{seconds:.0f} s'}</td></tr>")
    return ("<h2>Executed notebooks</h2><p>Each notebook as it ran, with its outputs "
            "(the <code>.ipynb</code> beside each page opens in JupyterLab; in a fresh clone, "
            "<code>python -m lat_utils.report.pages</code> builds the pages first, in under a minute).</p>"
            f"<table><tr><th>notebook</th><th>what it holds</th><th>wall time</th></tr>{''.join(rows)}</table>")


def _stage_times(timings: dict[str, float]) -> dict[str, tuple[float, int]]:
    """Notebook wall times summed per stage (the file name's leading number): ``{stage: (seconds, count)}``."""
    stages: dict[str, tuple[float, int]] = {}
    for notebook, seconds in timings.items():
        if notebook == "TOTAL":
            continue
        stage = next((f"{prefix.rstrip('_')}" for prefix, _ in NOTEBOOK_ROLES if notebook.startswith(prefix)),
                     notebook.removesuffix(".ipynb"))
        total, count = stages.get(stage, (0.0, 0))
        stages[stage] = (total + seconds, count + 1)
    return stages


def _read_timings(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    table = pd.read_csv(path)
    return dict(zip(table["notebook"], table["seconds"].astype(float)))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "—" if pd.isna(value) else f"{value:g}"
    return str(value)


def _cell_class(column: str, value: object) -> str:
    if column == "verdict":
        return f" class='verdict {_e(str(value).replace(' ', '-'))}'"
    return " class='num'" if isinstance(value, (int, float)) else ""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }}
h1 {{ font-size: 1.7rem; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }}
table {{ border-collapse: collapse; margin: .5rem 0; font-size: .92rem; }}
th, td {{ border: 1px solid #ddd; padding: .3rem .55rem; text-align: left; vertical-align: top; }}
th {{ background: #f5f5f7; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.facts th {{ width: 11rem; }}
.wide {{ overflow-x: auto; }}
.note {{ color: #555; font-size: .88rem; }}
.figures {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(24rem, 1fr)); gap: 1rem 1.5rem; }}
figure {{ margin: 0; }} figure img {{ display: block; max-width: 100%; max-height: 30rem; margin: auto;
                                      border: 1px solid #eee; }}
figcaption {{ color: #444; font-size: .92rem; }}
table.claims td:first-child {{ min-width: 16rem; }}
td.verdict {{ white-space: nowrap; font-weight: 600; }}
td.supported {{ color: #176f2c; }} td.not-supported {{ color: #a4251b; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rebuild reports/PROFILE/index.html from the reports already there.")
    parser.add_argument("profile", help="the profile whose landing page to rebuild, e.g. quick")
    args = parser.parse_args(argv)
    get_profile(args.profile)
    print(f"wrote {shown(write_index(args.profile))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
