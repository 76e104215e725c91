"""Where each training notebook of a run spends its time: training, evaluation, the rest.

    python bench/notebook_shares.py reports/quick                 # a table, one row per training notebook
    python bench/notebook_shares.py reports/quick --json bench/results/NAME.json

Reads the cell timings papermill writes into every executed notebook (``metadata.papermill.duration``) and
sorts each code cell of a ``02_train_*`` notebook by what it calls: the training (``trained_models``), the
evaluation (``evaluate_model``: the localized AutoAttack on every mask; ``third_party_check``: torchattacks'
cross-check; ``evaluate_milestones``: the learning curves), and the rest (imports, the step shown in the open,
plots). The notebook's whole time is the run's ``timings.csv`` (kernel start included) where it has the
notebook, else the sum of its cells. Nothing is run: it reads a finished run, so its figures are that run's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

PHASES = {"training": ("trained_models(",),
          "evaluation": ("evaluate_model(", "third_party_check(", "evaluate_milestones(")}


def phase_of(source: str) -> str:
    """The phase a code cell belongs to, by the first call of ``PHASES`` it makes; "other" if none."""
    for phase, calls in PHASES.items():
        if any(call in source for call in calls):
            return phase
    return "other"


def notebook_phases(path: Path, total: float | None = None) -> dict:
    """Seconds per phase of one executed notebook, its total and the evaluation's share of it."""
    cells = json.loads(path.read_text())["cells"]
    seconds = {"training": 0.0, "evaluation": 0.0, "other": 0.0}
    for cell in cells:
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell["cell_type"] == "code" and duration is not None:
            seconds[phase_of("".join(cell["source"]))] += duration
    cell_total = sum(seconds.values())
    total = cell_total if total is None else total
    seconds["other"] += total - cell_total          # kernel start and papermill's own time
    return {"notebook": path.name, **{k: round(v, 1) for k, v in seconds.items()}, "total": round(total, 1),
            "evaluation share": round(seconds["evaluation"] / total, 3)}


def run_phases(report: Path) -> pd.DataFrame:
    """``notebook_phases`` of every training notebook in a report folder (rows), with the run's timings."""
    timings = report / "timings.csv"
    totals = dict(pd.read_csv(timings).itertuples(index=False)) if timings.exists() else {}
    rows = [notebook_phases(path, totals.get(path.name)) for path in sorted(report.glob("02_train_*.ipynb"))]
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a report folder of an executed run, e.g. reports/quick")
    parser.add_argument("--json", type=Path, help="also save the table and the run's record here")
    args = parser.parse_args()
    table = run_phases(args.report)
    if table.empty:
        raise SystemExit(f"{args.report} holds no executed training notebook (02_train_*.ipynb)")
    print(table.to_string(index=False))
    if args.json:
        run = args.report / "run.json"
        record = json.loads(run.read_text()) if run.exists() else {}
        args.json.write_text(json.dumps({"report": args.report.name, "run": record,
                                         "notebooks": table.to_dict("records")}, indent=1) + "\n")


if __name__ == "__main__":
    main()
