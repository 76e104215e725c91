"""Tables 1 and 2 under each box rule, beside the paper's: per photo and rule, one summary line per rule,
and in words what the kept box explains and what remains."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .attack import PaperRun
from .boxes import BEST_DETECTION, OBJECTS_BOX, PAPERS_BOX_SIZE
from .tables import paper_table

PAPER_ROW = "paper (Inception v3)"   # the summary's row of the paper's own numbers


def box_rules_table(runs: Mapping[str, PaperRun]) -> pd.DataFrame:
    """Per photo and rule: the kept box (COCO label, % of the image), the classifier on the box alone and
    Table 2 (% altered, top-1/5/10, confidence in the correct class after the attack) beside the paper's."""
    paper = paper_table(2).iloc[:-1].set_index("Correct Class")
    frames = []
    for rule, run in runs.items():
        ours = run.table2().iloc[:-1]
        blackout = run.blackout_table().iloc[:-1]
        names = list(ours["Correct Class"])
        size = run.images.shape[-1] * run.images.shape[-2]
        columns = {
            "Correct Class": names, "box rule": rule,
            "kept box (COCO label)": [d.label for d in run.detections],
            "box % of image": [100.0 * d.area / size for d in run.detections],
            "box-only confidence (ours)": list(blackout["Confidence in Correct Class"]),
        }
        for column, short in (("Percent of Pixels Altered", "% altered"), ("Correct Guess?", "top-1"),
                              ("In Top 5?", "top-5"), ("In Top 10?", "top-10"),
                              ("Confidence in Correct Class", "confidence")):
            columns[f"{short} (ours)"] = list(ours[column])
            columns[f"{short} (paper)"] = list(paper[column].reindex(names))
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)


def _summary_row(rule: str, before: pd.DataFrame, after: pd.DataFrame, *, box_only: int | None,
                 box_percent: float, box_confidence: float | None) -> dict:
    """One line of ``box_rules_summary`` from a Table 1 and a Table 2 (without their average rows)."""
    return {
        "box rule": rule, "photos": len(after),
        "correct top-1 before the attack": int(before["Correct Guess?"].sum()),
        "still correct top-1 after the attack": int(after["Correct Guess?"].sum()),
        "in top-5 after the attack": int(after["In Top 5?"].sum()),
        "in top-10 after the attack": int(after["In Top 10?"].sum()),
        "correct top-1 on the box alone": box_only,
        "mean box % of image": box_percent,
        "mean % altered": float(after["Percent of Pixels Altered"].mean()),
        "mean box-only confidence": box_confidence,
        "mean confidence after the attack": float(after["Confidence in Correct Class"].mean()),
    }


def box_rules_summary(runs: Mapping[str, PaperRun]) -> pd.DataFrame:
    """One line per rule, and one of the paper's numbers: how many photos are correct top-1 before and
    after the attack (the paper: 8 and 0 of 9), in the top 5 / top 10 after it, correct on the box alone,
    and the means of the box share, the pixels altered and the confidence in the correct class."""
    rows = []
    for rule, run in runs.items():
        before, after, blackout = run.table1().iloc[:-1], run.table2().iloc[:-1], run.blackout_table().iloc[:-1]
        size = run.images.shape[-1] * run.images.shape[-2]
        rows.append(_summary_row(
            rule, before, after, box_only=int(blackout["Correct Guess?"].sum()),
            box_percent=sum(100.0 * d.area / size for d in run.detections) / len(run.detections),
            box_confidence=float(blackout["Confidence in Correct Class"].mean())))
    natural, attacked = paper_table(1).iloc[:-1], paper_table(2).iloc[:-1]
    rows.append(_summary_row(  # the paper's box share is implied by its % altered, not printed
        PAPER_ROW, natural, attacked, box_only=None,
        box_percent=100.0 - float(attacked["Percent of Pixels Altered"].mean()), box_confidence=None))
    counts = [column for column in rows[0] if column.startswith(("correct", "still", "in top"))]
    return pd.DataFrame(rows).astype({column: "Int64" for column in counts})  # the paper's row: no box-only count


def _count(summary: pd.DataFrame, rule: str, column: str = "still correct top-1 after the attack") -> int:
    """A count of ``box_rules_summary`` (indexed by rule) as an int."""
    return int(summary.loc[rule, column])


def _still_correct(table: pd.DataFrame, rule: str) -> list[str]:
    part = table[(table["box rule"] == rule) & (table["top-1 (ours)"] == 1)]
    return list(part["Correct Class"])


def box_rules_findings(runs: Mapping[str, PaperRun]) -> str:
    """Markdown, computed from ``box_rules_summary`` and ``box_rules_table``: per rule how many photos the
    attack leaves correct, what changing the box explains, and what remains."""
    summary = box_rules_summary(runs).set_index("box rule")
    table = box_rules_table(runs)
    paper = summary.loc[PAPER_ROW]
    lines = []
    for rule in runs:
        lines.append(
            f"- **{rule}**: {_count(summary, rule)} of {_count(summary, rule, 'photos')} photos still correct "
            f"top-1 after the attack (paper: {_count(summary, PAPER_ROW)} of {_count(summary, PAPER_ROW, 'photos')}); "
            f"kept box {summary.loc[rule, 'mean box % of image']:.1f}% of the image on average (paper, implied by its "
            f"% altered: {paper['mean box % of image']:.1f}%), {summary.loc[rule, 'mean % altered']:.1f}% of the "
            f"pixels altered (paper: {paper['mean % altered']:.1f}%), mean confidence in the correct class "
            f"{summary.loc[rule, 'mean confidence after the attack']:.3g} (paper: "
            f"{paper['mean confidence after the attack']:.3g}).")
    classifier = next(iter(runs.values())).classifier
    if BEST_DETECTION in runs and OBJECTS_BOX in runs:
        best, obj = runs[BEST_DETECTION], runs[OBJECTS_BOX]
        changed = sum(a.box != b.box for a, b in zip(best.detections, obj.detections))
        lines.append(
            f"\n**What the box explains.** The object's box differs from the best detection on {changed} of "
            f"{len(obj.detections)} photos; on the box alone it keeps a mean confidence of "
            f"{summary.loc[OBJECTS_BOX, 'mean box-only confidence']:.3f} in the correct class against "
            f"{summary.loc[BEST_DETECTION, 'mean box-only confidence']:.3f} for the best detection (by "
            f"construction never less on any photo: the reason Table 2 and Figure 1 use it). Keeping the "
            f"object's box instead of the best detection changes the photos still correct after the attack from "
            f"{_count(summary, BEST_DETECTION)} to {_count(summary, OBJECTS_BOX)}.")
    if PAPERS_BOX_SIZE in runs:
        survivors = _still_correct(table, PAPERS_BOX_SIZE)
        if OBJECTS_BOX in runs:
            before = _count(summary, OBJECTS_BOX)
            effect = (f"the size of the box accounts for {before - len(survivors)} of the {before}"
                      if len(survivors) < before else
                      "the size of the box changes nothing in top-1" if len(survivors) == before else
                      f"{len(survivors) - before} more survive, so the size of the box does not explain them")
            lines.append(
                f"With boxes of the paper's size around the object's box (mean "
                f"{summary.loc[PAPERS_BOX_SIZE, 'mean box % of image']:.1f}% of the image against "
                f"{summary.loc[OBJECTS_BOX, 'mean box % of image']:.1f}%), {len(survivors)} photos stay correct "
                f"instead of {before}: {effect}.")
        if survivors:
            lines.append(
                f"\n**What remains.** {len(survivors)} photos ({', '.join(survivors)}) stay correct top-1 even with "
                f"a box of the size the paper's numbers imply; the box does not explain them. What still differs "
                f"from the paper is outside the box: {_outside_the_box(classifier)}.")
        else:
            confidence = summary.loc[PAPERS_BOX_SIZE, "mean confidence after the attack"]
            lines.append(
                f"\n**What remains.** With a box of the size the paper's numbers imply, no photo stays correct "
                f"top-1, as in the paper: the kept box explains the gap in top-1. The mean confidence in the "
                f"correct class after the attack, {confidence:.3g} against the paper's "
                f"{paper['mean confidence after the attack']:.3g}, still depends on what differs outside the box: "
                f"{_outside_the_box(classifier)}.")
    return "\n".join(lines)


def _outside_the_box(classifier: str) -> str:
    """What differs from the paper apart from the box: the classifier and the photos."""
    model = ("torchvision's Inception v3 weights instead of the paper's TensorFlow model" if
             classifier.startswith("Inception v3") else
             f"{classifier.split(' (')[0]} instead of the paper's Inception v3, which cannot be had offline")
    return f"the classifier ({model}) and the photos (public samples of the same classes, not the paper's own)"
