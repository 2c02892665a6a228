"""Chart builders: aggregated data only, bounded rows, stable label colours, titles passed through."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finsent.output import charts

LABELS = ["positive", "negative", "neutral"]


def _spec(chart: object) -> dict:
    return chart.to_dict()  # type: ignore[attr-defined]


def _data_rows(chart: object) -> int:
    """Rows of inline data the chart ships to the browser (all datasets together)."""
    spec = _spec(chart)
    return sum(len(rows) for rows in spec.get("datasets", {}).values())


def _predictions(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"label": rng.choice([*LABELS, "unknown"], n), "confidence": rng.random(n).round(6)})


def test_label_colours_are_fixed_for_known_labels_and_stable_for_extra_ones() -> None:
    a = charts.label_colours(["neutral", "positive", "negative"])
    b = charts.label_colours(["positive", "negative", "neutral", "mixed", "other"])
    for label in LABELS:
        assert a[label] == b[label] == charts.KNOWN_COLOURS[label]
    assert b["mixed"] == charts.EXTRA_COLOURS[0] and b["other"] == charts.EXTRA_COLOURS[1]
    assert len(set(b.values())) == len(b)


def test_count_labels_keeps_the_label_set_order_and_zero_counts() -> None:
    counts = charts.count_labels(pd.Series(["neutral", "neutral", "positive", "unknown"]), order=LABELS)
    assert counts["label"].tolist() == [*LABELS, "unknown"]
    assert counts["count"].tolist() == [1, 0, 2, 1]


@pytest.mark.parametrize("n", [100, 100_000])
def test_confidence_histogram_has_bounded_rows_however_many_predictions(n: int) -> None:
    frame = _predictions(n)
    bins = charts.confidence_bins(frame["confidence"], frame["label"])
    assert len(bins) <= charts.CONFIDENCE_BINS * 4
    assert int(bins["count"].sum()) == n  # nothing lost in binning
    chart = charts.confidence_histogram(
        bins, confidence_title="Confidence", count_title="Count", label_title="Label", order=LABELS
    )
    assert _data_rows(chart) <= charts.CONFIDENCE_BINS * 4
    assert len(json.dumps(_spec(chart))) < 20_000


def test_confidence_bins_put_edges_in_the_first_and_last_bin() -> None:
    bins = charts.confidence_bins(pd.Series([0.0, 1.0, 0.999, 0.5]), pd.Series(["a", "a", "a", "b"]), bins=10)
    assert bins.loc[np.isclose(bins["start"], 0.0), "count"].sum() == 1
    assert bins.loc[np.isclose(bins["start"], 0.9), "count"].sum() == 2


def test_confidence_bins_of_100k_predictions_are_one_row_per_bin_and_label() -> None:
    frame = pd.DataFrame({"label": ["positive", "negative"] * 50_000, "confidence": [0.1, 0.9] * 50_000})
    bins = charts.confidence_bins(frame["confidence"], frame["label"])
    assert len(bins) == 2 and bins["count"].tolist() == [50_000, 50_000]


def test_label_distribution_from_100k_predictions_ships_one_row_per_label() -> None:
    frame = _predictions(100_000, seed=1)
    counts = charts.count_labels(frame["label"], order=LABELS)
    chart = charts.label_distribution(counts, label_title="Label", count_title="Count", order=LABELS)
    assert _data_rows(chart) == 4


def test_label_distribution_uses_display_names_titles_and_fixed_colours() -> None:
    counts = charts.count_labels(["positive", "negative", "neutral", "positive"], order=LABELS)
    names = {"positive": "긍정", "negative": "부정", "neutral": "중립"}
    spec = _spec(
        charts.label_distribution(counts, label_title="라벨", count_title="개수", order=LABELS, names=names)
    )
    enc = spec["encoding"]
    assert enc["x"]["title"] == "라벨" and enc["y"]["title"] == "개수"
    assert enc["color"]["scale"]["domain"] == ["긍정", "부정", "중립"]
    assert enc["color"]["scale"]["range"] == [charts.KNOWN_COLOURS[x] for x in LABELS]
    assert [t.get("title") for t in enc["tooltip"]] == ["라벨", "개수", "%"]


def test_split_distribution_shows_both_splits_side_by_side() -> None:
    chart = charts.split_distribution(
        {
            "train": {"positive": 8, "negative": 4, "neutral": 12},
            "valid": {"positive": 2, "negative": 1, "neutral": 3},
        },
        label_title="Label",
        count_title="Count",
        split_title="Split",
        split_names={"train": "train", "valid": "validation"},
        order=LABELS,
    )
    spec = _spec(chart)
    assert spec["encoding"]["xOffset"]["field"] == "split"
    rows = next(iter(spec["datasets"].values()))
    assert {r["split"] for r in rows} == {"train", "validation"}
    assert sum(r["count"] for r in rows) == 30


def test_metric_curves_have_train_and_valid_series_and_skip_missing_points() -> None:
    metrics = pd.DataFrame(
        {
            "step": [1, 2, 3, 4],
            "epoch": [1.0, 1.0, 2.0, 2.0],
            "train_loss": [1.1, 0.8, 0.6, 0.5],
            "train_accuracy": [0.4, 0.6, 0.7, 0.8],
            "valid_loss": [None, 0.9, None, 0.7],
            "valid_accuracy": [None, 0.55, None, 0.72],
        }
    )
    long = charts.curve_frame(metrics, "accuracy", {"train": "학습", "valid": "검증"})
    assert len(long) == 6 and set(long["series"]) == {"학습", "검증"}
    chart = charts.metric_curve(
        metrics,
        "loss",
        step_title="Step",
        value_title="Loss",
        series_title="Set",
        series_names={"train": "T", "valid": "V"},
    )
    spec = _spec(chart)
    assert spec["encoding"]["x"]["title"] == "Step" and spec["encoding"]["y"]["title"] == "Loss"
    assert _data_rows(chart) == 6


def test_metric_curve_of_an_empty_history_is_an_empty_chart() -> None:
    chart = charts.metric_curve(
        pd.DataFrame(),
        "accuracy",
        step_title="s",
        value_title="v",
        series_title="x",
        series_names={"train": "T"},
    )
    assert _data_rows(chart) == 0


def test_confusion_heatmap_counts_cells_including_unknown_column() -> None:
    confusion = [[5, 1, 0, 1], [0, 4, 1, 0], [1, 1, 9, 0]]
    chart = charts.confusion_heatmap(
        LABELS,
        confusion,
        true_title="True",
        predicted_title="Predicted",
        count_title="Count",
        unknown_name="?",
    )
    spec = _spec(chart)
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 12 and sum(r["count"] for r in rows) == 23
    assert any(r["predicted"] == "?" and r["count"] == 1 for r in rows)
    assert spec["layer"][0]["encoding"]["y"]["title"] == "True"


def test_per_class_bars_and_score_bars() -> None:
    per_class = {label: {"precision": 0.8, "recall": 0.7, "f1": 0.75, "support": 10} for label in LABELS}
    chart = charts.per_class_bars(
        per_class,
        label_title="Label",
        score_title="Score",
        metric_title="Metric",
        metric_names={"precision": "P", "recall": "R", "f1": "F1"},
    )
    assert _data_rows(chart) == 9
    bars = charts.score_bars(
        {"positive": 0.7, "negative": 0.2, "neutral": 0.1}, label_title="L", score_title="S"
    )
    spec = _spec(bars)
    assert spec["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert spec["encoding"]["color"]["scale"]["range"][0] == charts.KNOWN_COLOURS["positive"]


def test_confusion_cells_show_counts_and_row_shares_and_unknown_only_when_it_holds_something() -> None:
    from finsent.output import charts as c

    labels = ["positive", "negative"]
    plain = c.confusion_heatmap(
        labels, [[3, 1, 0], [0, 4, 0]], true_title="t", predicted_title="p", count_title="n"
    ).to_dict()
    values = plain["datasets"][next(iter(plain["datasets"]))]
    assert {v["predicted"] for v in values} == {"positive", "negative"}  # no empty "unknown" column
    assert (
        next(v["cell"] for v in values if v["true"] == "positive" and v["predicted"] == "positive")
        == "3\n75%"
    )
    with_unknown = c.confusion_heatmap(
        labels, [[3, 0, 1], [0, 4, 0]], true_title="t", predicted_title="p", count_title="n"
    ).to_dict()
    values = with_unknown["datasets"][next(iter(with_unknown["datasets"]))]
    assert "unknown" in {v["predicted"] for v in values}
