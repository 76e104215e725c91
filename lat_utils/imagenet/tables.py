"""Tables 1 and 2: our results in the paper's format, the paper's own numbers, and the two side by side."""

from __future__ import annotations

import pandas as pd
import torch

from .photos import class_names

TABLE_COLUMNS = ("Correct Class", "Percent of Pixels Altered", "Correct Guess?", "In Top 5?",
                 "In Top 10?", "Classifier Guess", "Confidence in Correct Class")

# --- The paper's reported numbers (Tables 1 and 2), only ever shown beside ours as comparison ---------
# (correct class, percent of pixels altered, correct guess?, in top 5?, in top 10?, guess, confidence)
PAPER_TABLE1 = (
    ("triceratops", 0.0, 1, 1, 1, "triceratops", 0.980953),
    ("tarantula", 0.0, 1, 1, 1, "tarantula", 0.957682),
    ("snail", 0.0, 1, 1, 1, "snail", 0.880702),
    ("bassoon", 0.0, 1, 1, 1, "bassoon", 0.748791),
    ("hammer", 0.0, 1, 1, 1, "hammer", 0.925929),
    ("iPod", 0.0, 1, 1, 1, "iPod", 0.982066),
    ("great white shark", 0.0, 1, 1, 1, "great white", 0.53433),
    ("hen", 0.0, 1, 1, 1, "hen", 0.380655),
    ("kite", 0.0, 0, 0, 0, "umbrella", 0.00108),
)
PAPER_TABLE2 = (
    ("triceratops", 35.6, 0, 0, 0, "coral reef", 0.000377),
    ("tarantula", 61.0, 0, 0, 0, "wolf spider", 4.44e-08),
    ("snail", 70.7, 0, 0, 0, "bakery", 2.42e-06),
    ("bassoon", 28.3, 0, 0, 0, "electric fan", 0.000657),
    ("hammer", 15.5, 0, 0, 0, "hand blower", 0.000389),
    ("iPod", 70.3, 0, 0, 0, "paper towel", 1.10e-07),
    ("great white shark", 48.0, 0, 0, 0, "parachute", 1.10e-07),
    ("hen", 36.3, 0, 0, 0, "potter's wheel", 9.68e-05),
    ("kite", 76.0, 0, 0, 0, "brain coral", 6.02e-11),
)
PAPER_CLASSIFIER = "Inception v3 (TensorFlow/Keras, 299x299 input; the paper's photos are 300x300)"


def results_table(probs: torch.Tensor, labels: torch.Tensor, altered: torch.Tensor) -> pd.DataFrame:
    """The paper's table: one row per photo plus an Average row."""
    names = class_names()
    top10 = probs.topk(10, dim=1).indices
    rows = {
        "Correct Class": [names[int(y)] for y in labels],
        "Percent of Pixels Altered": altered.tolist(),
        "Correct Guess?": (top10[:, 0] == labels).int().tolist(),
        "In Top 5?": (top10[:, :5] == labels[:, None]).any(1).int().tolist(),
        "In Top 10?": (top10 == labels[:, None]).any(1).int().tolist(),
        "Classifier Guess": [names[int(i)] for i in top10[:, 0]],
        "Confidence in Correct Class": probs.gather(1, labels[:, None])[:, 0].tolist(),
    }
    return _with_average(pd.DataFrame(rows, columns=list(TABLE_COLUMNS)))


def _with_average(table: pd.DataFrame) -> pd.DataFrame:
    numeric = table.select_dtypes("number").mean()
    average = {"Correct Class": "Average", "Classifier Guess": "", **numeric.to_dict()}
    return pd.concat([table, pd.DataFrame([average])], ignore_index=True)[list(TABLE_COLUMNS)]


def paper_table(number: int) -> pd.DataFrame:
    """The paper's Table 1 (natural) or 2 (localized adversarial), with its Average row."""
    rows = {1: PAPER_TABLE1, 2: PAPER_TABLE2}.get(number)
    if rows is None:
        raise ValueError(f"the paper has Tables 1 and 2, not {number!r}")
    return _with_average(pd.DataFrame(list(rows), columns=list(TABLE_COLUMNS)))


def compare_with_paper(ours: pd.DataFrame, number: int) -> pd.DataFrame:
    """Our table beside the paper's, row by row (the paper's numbers are its Inception v3 results)."""
    paper = paper_table(number).set_index("Correct Class")
    ours = ours.set_index("Correct Class")
    shown = {"Percent of Pixels Altered": "% altered", "Correct Guess?": "top-1", "In Top 10?": "top-10",
             "Classifier Guess": "guess", "Confidence in Correct Class": "confidence"}
    columns = {}
    for column, short in shown.items():
        columns[f"{short} (ours)"] = ours[column]
        columns[f"{short} (paper)"] = paper[column].reindex(ours.index)
    return pd.DataFrame(columns).reset_index()
