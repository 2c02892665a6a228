"""Altair chart builders for the dashboard. They take AGGREGATED data only (counts, bins, per-step metrics).

Nothing here imports streamlit. Axis titles and series names come in from the caller, already translated.
Every chart colours labels through `label_colours`, so positive/negative/neutral look the same everywhere.
The `count_labels` and `confidence_bins` helpers aggregate in pandas, so 100,000 predictions become a
handful of rows before Altair sees them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import altair as alt
import pandas as pd

# Fixed colours for the labels finsent knows; anything else takes the next colour of EXTRA_COLOURS.
KNOWN_COLOURS: Mapping[str, str] = {
    "positive": "#2e7d32",  # green
    "negative": "#c62828",  # red
    "neutral": "#78909c",  # blue grey
    "unknown": "#bdbdbd",  # light grey: the model answered something outside the label set
}
EXTRA_COLOURS: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
)
SERIES_COLOURS: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf")
# Dash patterns of the curve series in the same order: train solid, validation dashed.
SERIES_DASHES: tuple[tuple[int, ...], ...] = ((1, 0), (6, 4), (2, 2), (8, 2, 2, 2))
# Precision, recall and F1 each in their own colour (not shades of the label colour: those read as one).
METRIC_COLOURS: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
CONFIDENCE_BINS = 20


def label_colours(labels: Iterable[str]) -> dict[str, str]:
    """One colour per label, stable: known labels keep theirs; extra labels get further colours in order."""
    colours: dict[str, str] = {}
    extra = 0
    for label in labels:
        if label in colours:
            continue
        if label in KNOWN_COLOURS:
            colours[label] = KNOWN_COLOURS[label]
        else:
            colours[label] = EXTRA_COLOURS[extra % len(EXTRA_COLOURS)]
            extra += 1
    return colours


def _display(labels: Iterable[str], names: Mapping[str, str] | None) -> list[str]:
    """Labels as shown (their display names where `names` has one)."""
    return [(names or {}).get(label, label) for label in labels]


def _colour_scale(labels: Sequence[str], names: Mapping[str, str] | None) -> alt.Scale:
    colours = label_colours(labels)
    return alt.Scale(domain=_display(labels, names), range=[colours[label] for label in labels])


def _ordered_labels(found: Iterable[str], order: Sequence[str] | None) -> list[str]:
    """Labels in the label set's order first, then any others (e.g. unknown) in the order found."""
    found_list = list(dict.fromkeys(str(v) for v in found))
    first = list(dict.fromkeys(order or ()))
    return first + [label for label in found_list if label not in first]


# -- aggregation (pandas) ---------------------------------------------------------------------------


def count_labels(values: pd.Series | Iterable[str], order: Sequence[str] | None = None) -> pd.DataFrame:
    """Predictions or labels -> columns label, count (one row per label; labels in `order` always present)."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    counts = series.astype(str).value_counts()
    labels = _ordered_labels(counts.index, order)
    return pd.DataFrame({"label": labels, "count": [int(counts.get(label, 0)) for label in labels]})


def confidence_bins(
    confidence: pd.Series | Iterable[float],
    labels: pd.Series | Iterable[str] | None = None,
    bins: int = CONFIDENCE_BINS,
) -> pd.DataFrame:
    """Confidences -> columns start, end, label, count: at most bins x labels rows, however many inputs."""
    conf = pd.to_numeric(pd.Series(list(confidence) if not isinstance(confidence, pd.Series) else confidence))
    frame = pd.DataFrame({"confidence": conf.to_numpy(dtype=float)})
    frame["label"] = (
        pd.Series(list(labels) if not isinstance(labels, pd.Series) else labels).astype(str).to_numpy()
        if labels is not None
        else ""
    )
    frame = frame.dropna(subset=["confidence"])
    edges = [i / bins for i in range(bins + 1)]
    frame["bin"] = pd.cut(frame["confidence"].clip(0.0, 1.0), bins=edges, include_lowest=True, labels=False)
    grouped = frame.groupby(["bin", "label"], observed=True).size().reset_index(name="count")
    grouped["start"] = grouped["bin"].astype(float) / bins
    grouped["end"] = grouped["start"] + 1.0 / bins
    return grouped[["start", "end", "label", "count"]].reset_index(drop=True)


def curve_frame(metrics: pd.DataFrame, metric: str, series_names: Mapping[str, str]) -> pd.DataFrame:
    """Per-step metrics (train_<metric>, valid_<metric>) -> long columns step, series, value."""
    columns = {f"{split}_{metric}": name for split, name in series_names.items()}
    present = [c for c in columns if c in metrics.columns]
    if metrics.empty or not present:
        return pd.DataFrame({"step": pd.Series(dtype=int), "series": [], "value": pd.Series(dtype=float)})
    long = metrics[["step", *present]].melt(id_vars="step", var_name="series", value_name="value")
    long = long.dropna(subset=["value"])
    long["series"] = long["series"].map(columns)
    return long.reset_index(drop=True)


# -- charts -----------------------------------------------------------------------------------------


def label_distribution(
    counts: pd.DataFrame,
    *,
    label_title: str,
    count_title: str,
    order: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> alt.Chart:
    """Labels or predicted labels (`count_labels` output: columns label, count) as bars, share in the tooltip."""
    labels = _ordered_labels(counts["label"], order)
    total = max(int(counts["count"].sum()), 1)
    data = counts.assign(name=_display(counts["label"], names), share=(counts["count"] / total).round(4))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("name:N", title=label_title, sort=_display(labels, names), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("count:Q", title=count_title),
            color=alt.Color("name:N", scale=_colour_scale(labels, names), legend=None),
            tooltip=[
                alt.Tooltip("name:N", title=label_title),
                alt.Tooltip("count:Q", title=count_title),
                alt.Tooltip("share:Q", format=".1%", title="%"),
            ],
        )
    )


def split_distribution(
    counts: Mapping[str, Mapping[str, int]],
    *,
    label_title: str,
    count_title: str,
    split_title: str,
    split_names: Mapping[str, str],
    order: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> alt.Chart:
    """Label counts per split ({"train": {...}, "valid": {...}}) as grouped bars, one group per label."""
    rows = [
        {"split": split_names.get(split, split), "label": label, "count": int(n)}
        for split, per_label in counts.items()
        for label, n in per_label.items()
    ]
    data = pd.DataFrame(rows, columns=["split", "label", "count"])
    labels = _ordered_labels(data["label"], order)
    data["name"] = _display(data["label"], names)
    share = data["count"] / data.groupby("split")["count"].transform("sum").where(lambda s: s > 0, 1)
    data["share"] = share.round(4)
    splits = [split_names.get(s, s) for s in counts]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("name:N", title=label_title, sort=_display(labels, names), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("split:N", sort=splits),
            y=alt.Y("count:Q", title=count_title),
            color=alt.Color("name:N", scale=_colour_scale(labels, names), legend=None),
            opacity=alt.Opacity(
                "split:N", sort=splits, scale=alt.Scale(range=[1.0, 0.55]), title=split_title
            ),
            tooltip=[
                alt.Tooltip("split:N", title=split_title),
                alt.Tooltip("name:N", title=label_title),
                alt.Tooltip("count:Q", title=count_title),
                alt.Tooltip("share:Q", format=".1%", title="%"),
            ],
        )
    )


def metric_curve(
    metrics: pd.DataFrame,
    metric: str,
    *,
    step_title: str,
    value_title: str,
    series_title: str,
    series_names: Mapping[str, str],
) -> alt.Chart:
    """Train/valid curve of `metric` ("accuracy" or "loss") from per-step metrics.

    The series differ in colour AND dash (train solid, validation dashed), so they stay apart in print and
    for readers who do not tell the colours apart; steps are whole numbers, so the axis never shows 2.5.
    The legend sits below the plot: two of these fit side by side at 1280 px without squeezing it."""
    data = curve_frame(metrics, metric, series_names)
    y_scale = alt.Scale(domain=[0, 1]) if metric == "accuracy" else alt.Scale(zero=True)
    names = list(series_names.values())
    legend = alt.Legend(orient="bottom", title=None)
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title=step_title, axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=value_title, scale=y_scale),
            color=alt.Color(
                "series:N",
                title=series_title,
                scale=alt.Scale(domain=names, range=list(SERIES_COLOURS[: len(names)])),
                legend=legend,
            ),
            strokeDash=alt.StrokeDash(
                "series:N",
                title=series_title,
                scale=alt.Scale(domain=names, range=[list(d) for d in SERIES_DASHES[: len(names)]]),
                legend=legend,
            ),
            tooltip=[
                alt.Tooltip("step:Q", title=step_title),
                alt.Tooltip("series:N", title=series_title),
                alt.Tooltip("value:Q", title=value_title, format=".4f"),
            ],
        )
    )


def confusion_heatmap(
    labels: Sequence[str],
    confusion: Sequence[Sequence[int]],
    *,
    true_title: str,
    predicted_title: str,
    count_title: str,
    names: Mapping[str, str] | None = None,
    unknown_name: str = "unknown",
) -> alt.LayerChart:
    """Rows true labels, columns predicted; an extra last column counts "unknown" answers and is drawn only
    when it holds something. Each cell shows its count and its share of the row (the recall of that label
    on the diagonal)."""
    has_unknown = any(len(r) > len(labels) and any(int(v) for v in r[len(labels) :]) for r in confusion)
    rows = []
    for i, true in enumerate(labels):
        row = confusion[i] if i < len(confusion) else ()
        for j, n in enumerate(row):
            if j >= len(labels) and not has_unknown:
                continue
            predicted = labels[j] if j < len(labels) else unknown_name
            rows.append({"true": true, "predicted": predicted, "count": int(n)})
    data = pd.DataFrame(rows, columns=["true", "predicted", "count"])
    total = data.groupby("true")["count"].transform("sum").where(lambda s: s > 0, 1)
    data["share"] = (data["count"] / total).round(4)
    data["true"] = _display(data["true"], names)
    data["predicted"] = _display(data["predicted"], names)
    order = _display(labels, names)
    predicted_order = order + ([unknown_name] if has_unknown else [])
    data["cell"] = (
        data["count"].map("{:,}".format) + "\n" + (data["share"] * 100).round(0).astype(int).astype(str) + "%"
    )
    base = alt.Chart(data).encode(
        x=alt.X("predicted:N", title=predicted_title, sort=predicted_order, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("true:N", title=true_title, sort=order),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", title=count_title, scale=alt.Scale(scheme="blues")),
        tooltip=[
            alt.Tooltip("true:N", title=true_title),
            alt.Tooltip("predicted:N", title=predicted_title),
            alt.Tooltip("count:Q", title=count_title),
            alt.Tooltip("share:Q", format=".1%", title="%"),
        ],
    )
    threshold = float(data["count"].max() or 0) / 2
    text = base.mark_text(fontSize=13, lineBreak="\n").encode(
        text="cell:N",
        color=alt.condition(alt.datum.count > threshold, alt.value("white"), alt.value("black")),
    )
    return alt.LayerChart(layer=[cells, text])


def per_class_bars(
    per_class: Mapping[str, Mapping[str, float]],
    *,
    label_title: str,
    score_title: str,
    metric_title: str,
    metric_names: Mapping[str, str],
    names: Mapping[str, str] | None = None,
) -> alt.Chart:
    """Precision/recall/F1 per label as grouped bars: the label on the axis, each metric its own colour,
    named in a legend below the chart."""
    rows = [
        {"label": label, "metric": metric_names.get(metric, metric), "score": float(scores.get(metric, 0.0))}
        for label, scores in per_class.items()
        for metric in metric_names
    ]
    data = pd.DataFrame(rows, columns=["label", "metric", "score"])
    labels = list(per_class)
    data["name"] = _display(data["label"], names)
    metrics = list(metric_names.values())
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("name:N", title=label_title, sort=_display(labels, names), axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("metric:N", sort=metrics),
            y=alt.Y("score:Q", title=score_title, scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "metric:N",
                title=metric_title,
                sort=metrics,
                scale=alt.Scale(domain=metrics, range=list(METRIC_COLOURS[: len(metrics)])),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("name:N", title=label_title),
                alt.Tooltip("metric:N", title=metric_title),
                alt.Tooltip("score:Q", title=score_title, format=".3f"),
            ],
        )
    )


def confidence_histogram(
    bins: pd.DataFrame,
    *,
    confidence_title: str,
    count_title: str,
    label_title: str,
    order: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> alt.Chart:
    """Stacked histogram from `confidence_bins` output (columns start, end, label, count)."""
    labels = _ordered_labels(bins["label"], order)
    data = bins.assign(
        name=_display(bins["label"], names),
        range=[f"{a:.2f}–{b:.2f}" for a, b in zip(bins["start"], bins["end"], strict=True)],
    )
    return (
        alt.Chart(data)
        .mark_bar(binSpacing=1)
        .encode(
            x=alt.X("start:Q", bin="binned", title=confidence_title, scale=alt.Scale(domain=[0, 1])),
            x2="end:Q",
            y=alt.Y("sum(count):Q", title=count_title, stack="zero"),
            color=alt.Color("name:N", title=label_title, scale=_colour_scale(labels, names)),
            tooltip=[
                alt.Tooltip("name:N", title=label_title),
                alt.Tooltip("range:N", title=confidence_title),
                alt.Tooltip("sum(count):Q", title=count_title),
            ],
        )
    )


def score_bars(
    scores: Mapping[str, float],
    *,
    label_title: str,
    score_title: str,
    order: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> alt.Chart:
    """One horizontal confidence bar per label, for a single classified text."""
    labels = _ordered_labels(scores, order)
    shown = _display(labels, names)
    data = pd.DataFrame(
        {"label": labels, "name": shown, "score": [float(scores.get(label, 0.0)) for label in labels]}
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("name:N", title=label_title, sort=shown),
            x=alt.X("score:Q", title=score_title, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color("name:N", scale=_colour_scale(labels, names), legend=None),
            tooltip=[
                alt.Tooltip("name:N", title=label_title),
                alt.Tooltip("score:Q", title=score_title, format=".1%"),
            ],
        )
    )
