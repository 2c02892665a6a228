"""Charts people read (issue 9): metrics apart by colour, train/valid apart by colour and dash, whole steps."""

from __future__ import annotations

from typing import Any

import pandas as pd

from finsent.output import charts


def _spec(chart: Any) -> dict[str, Any]:
    return chart.to_dict()  # type: ignore[no-any-return]


def test_per_class_bars_give_each_metric_its_own_colour_named_in_a_legend_below() -> None:
    per_class = {
        label: {"precision": 0.8, "recall": 0.7, "f1": 0.75} for label in ("positive", "negative", "neutral")
    }
    spec = _spec(
        charts.per_class_bars(
            per_class,
            label_title="Label",
            score_title="Score",
            metric_title="Metric",
            metric_names={"precision": "Precision", "recall": "Recall", "f1": "F1"},
        )
    )
    colour = spec["encoding"]["color"]
    assert colour["field"] == "metric"
    assert colour["scale"]["domain"] == ["Precision", "Recall", "F1"]
    assert len(set(colour["scale"]["range"])) == 3  # three distinct colours
    assert colour["legend"]["orient"] == "bottom" and colour["title"] == "Metric"
    assert "opacity" not in spec["encoding"]  # shades of one colour were unreadable


def test_curve_series_differ_in_colour_and_dash_and_steps_are_whole_numbers() -> None:
    metrics = pd.DataFrame(
        {"step": [1, 2, 3], "train_accuracy": [0.5, 0.6, 0.7], "valid_accuracy": [0.4, None, 0.65]}
    )
    spec = _spec(
        charts.metric_curve(
            metrics,
            "accuracy",
            step_title="Step",
            value_title="Accuracy",
            series_title="Series",
            series_names={"train": "Train", "valid": "Validation"},
        )
    )
    enc = spec["encoding"]
    assert enc["color"]["scale"]["domain"] == enc["strokeDash"]["scale"]["domain"] == ["Train", "Validation"]
    dashes = enc["strokeDash"]["scale"]["range"]
    assert dashes[0] != dashes[1]
    assert len(set(enc["color"]["scale"]["range"])) == 2
    assert enc["x"]["axis"]["tickMinStep"] == 1 and enc["x"]["axis"]["format"] == "d"
    assert enc["color"]["legend"]["orient"] == "bottom"
