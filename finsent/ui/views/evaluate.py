"""Evaluate page: confusion matrix, per-class scores, misclassified examples, two models side by side."""

from __future__ import annotations

from typing import Any

import streamlit as st

from finsent import charts
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import label_names, t
from finsent.ui.job_view import curve_charts, per_class_table
from finsent.ui.markdown import plain

METRIC_NAMES = ("precision", "recall", "f1")


def _job_label(job: Any) -> str:
    return f"{job.id} · {job.backend} · {job.fine_tuned_model or '–'}"


def _evaluation_for(job: Any, allow_run: bool, key: str) -> Any | None:
    service = state.get_service()
    evaluation = service.evaluation(job.id)
    if evaluation is None:
        st.info(t("eval.none_yet"))
        if allow_run and job.dataset_id and st.button(t("eval.run"), key=key):
            with st.spinner(t("eval.running")):
                evaluation = service.evaluate(
                    job.backend, job.fine_tuned_model, job.dataset_id, api_key=state.api_key(job.backend)
                )
    return evaluation


def _confusion(evaluation: Any) -> None:
    labels = list(evaluation.labels)
    st.altair_chart(
        charts.confusion_heatmap(
            labels,
            evaluation.confusion,
            true_title=t("eval.true_label"),
            predicted_title=t("eval.predicted_label"),
            count_title=t("chart.count"),
            names=label_names(labels),
            unknown_name=t("label.unknown"),
        ).properties(height=80 * max(len(labels), 2)),
        width="stretch",
    )


def _per_class(evaluation: Any) -> None:
    st.altair_chart(
        charts.per_class_bars(
            evaluation.per_class,
            label_title=t("chart.label"),
            score_title=t("eval.score"),
            metric_title=t("eval.metric"),
            metric_names={m: t(f"eval.{m}") for m in METRIC_NAMES},
            names=label_names(evaluation.per_class),
        ),
        width="stretch",
    )
    st.dataframe(per_class_table(evaluation), width="stretch")


def _misclassified(evaluation: Any) -> None:
    frame = state.get_service().misclassified(evaluation.id)
    if frame.empty:
        st.success(t("eval.no_mistakes"))
        return
    labels = sorted(set(frame["label"].astype(str)) | set(frame["predicted"].astype(str)))
    names = label_names(labels)
    a, b, c, d = st.columns([2, 2, 1, 2])
    true = a.multiselect(
        t("eval.true_label"), labels, default=labels, format_func=names.get, key="eval_f_true"
    )
    predicted = b.multiselect(
        t("eval.predicted_label"), labels, default=labels, format_func=names.get, key="eval_f_pred"
    )
    low = c.slider(t("eval.min_confidence"), 0.0, 1.0, 0.0, 0.05, key="eval_f_conf")
    needle = d.text_input(t("eval.search"), key="eval_f_text")
    mask = frame["label"].astype(str).isin(true) & frame["predicted"].astype(str).isin(predicted)
    mask &= frame["confidence"].fillna(0) >= low
    if needle:
        mask &= frame["text"].astype(str).str.contains(needle, case=False, regex=False)
    shown = frame.loc[mask]
    st.caption(t("eval.mistakes_caption", shown=f"{len(shown):,}", total=f"{len(frame):,}"))
    st.dataframe(
        shown.rename(
            columns={
                "row": t("data.row_number"),
                "text": t("eval.text"),
                "label": t("eval.true_label"),
                "predicted": t("eval.predicted_label"),
                "confidence": t("chart.confidence"),
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _summary(evaluation: Any) -> None:
    a, b, c = st.columns(3)
    a.metric(t("eval.accuracy"), f"{evaluation.accuracy:.1%}")
    b.metric(t("eval.macro_f1"), f"{evaluation.macro_f1:.3f}")
    c.metric(t("eval.examples"), f"{evaluation.n:,}")


def _compare(jobs: list[Any], first: Any) -> None:
    others = [j for j in jobs if j.id != first.id]
    if not others:
        st.caption(t("eval.compare_none"))
        return
    ids = [j.id for j in others]
    by_id = {j.id: j for j in others}
    second_id = st.selectbox(
        t("eval.compare_with"), ids, format_func=lambda i: _job_label(by_id[i]), key="eval_cmp"
    )
    service = state.get_service()
    columns = st.columns(2)
    for col, job in zip(columns, (first, by_id[second_id]), strict=True):
        with col, reported_errors():
            st.markdown(f"**{plain(_job_label(job))}**")
            evaluation = service.evaluation(job.id)
            if evaluation is None:
                st.caption(t("eval.none_yet"))
            else:
                _summary(evaluation)
                st.dataframe(per_class_table(evaluation), width="stretch")
            curve_charts(service.job_metrics(job.id), key=f"eval_cmp_curve_{job.id}")


def main() -> None:
    st.title(t("eval.title"))
    with reported_errors():
        jobs = [
            j for j in state.get_service().jobs() if str(getattr(j.status, "value", j.status)) == "succeeded"
        ]
        jobs = [j for j in jobs if j.fine_tuned_model]
        if not jobs:
            st.info(t("eval.no_jobs"))
            st.page_link(
                state.page_file("train"), label=t("monitor.go_train"), icon=":material/model_training:"
            )
            return
        ids = [j.id for j in jobs]
        by_id = {j.id: j for j in jobs}
        wanted = st.session_state.get("job_id")
        if st.session_state.get("eval_pick") not in ids:
            st.session_state["eval_pick"] = wanted if wanted in ids else ids[0]
        job = by_id[
            st.selectbox(t("eval.pick"), ids, format_func=lambda i: _job_label(by_id[i]), key="eval_pick")
        ]
        evaluation = _evaluation_for(job, allow_run=True, key="eval_run")
        if evaluation is None:
            return
        _summary(evaluation)
        tabs = st.tabs(
            [t("eval.tab_confusion"), t("eval.tab_per_class"), t("eval.tab_mistakes"), t("eval.tab_compare")]
        )
        with tabs[0], reported_errors():
            _confusion(evaluation)
        with tabs[1], reported_errors():
            _per_class(evaluation)
        with tabs[2], reported_errors():
            _misclassified(evaluation)
        with tabs[3], reported_errors():
            _compare(jobs, job)


main()
