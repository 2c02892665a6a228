"""Evaluate page: confusion matrix, per-class scores, misclassified examples, two models side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from finsent.service import charts
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import label_names, t
from finsent.ui.job_view import CURVES, curve_chart, final_metrics, show_per_class, summary_metrics
from finsent.ui.markdown import plain

METRIC_NAMES = ("precision", "recall", "f1")


@dataclass(frozen=True)
class Subject:
    """What can be evaluated: a finished training job's model, or a model added without training."""

    key: str
    label: str  # the model's name
    backend_label: str
    backend: str
    model_id: str
    job_id: str | None
    dataset_id: str | None


def subject_key(backend: str, model_id: str) -> str:
    return f"{backend}|{model_id}"


def _subjects() -> list[Subject]:
    """Every model finsent can evaluate, trained here or added, by its name (newest first)."""
    service = state.get_service()
    return [
        Subject(
            subject_key(m.backend, m.id),
            m.title,
            state.backend_label(m.backend),
            m.backend,
            m.id,
            m.job_id,
            service.model_dataset_id(m.backend, m.id),
        )
        for m in service.models()
    ]


def _stored_evaluation(subject: Subject) -> Any | None:
    service = state.get_service()
    if subject.job_id:
        return service.evaluation(subject.job_id)
    found = service.evaluations(subject.backend, subject.model_id)
    return found[0] if found else None


def _evaluation_dataset(subject: Subject, key: str) -> str | None:
    """The dataset to evaluate on: the job's or the model's own, else one the user picks."""
    if subject.dataset_id:
        return subject.dataset_id
    datasets = sorted(state.get_service().datasets(), key=lambda d: d.created_at, reverse=True)
    if not datasets:
        st.caption(t("eval.no_dataset"))
        return None
    by_id = {d.id: d for d in datasets}
    return str(
        st.selectbox(
            t("eval.dataset"), list(by_id), format_func=lambda i: f"{by_id[i].name} · {i}", key=f"{key}_ds"
        )
    )


def _evaluation_for(subject: Subject, allow_run: bool, key: str) -> Any | None:
    evaluation = _stored_evaluation(subject)
    if evaluation is None:
        st.info(t("eval.none_yet"))
        dataset_id = _evaluation_dataset(subject, key) if allow_run else None
        if dataset_id and st.button(t("eval.run"), key=key):
            with st.spinner(t("eval.running")):
                evaluation = state.get_service().evaluate(
                    subject.backend, subject.model_id, dataset_id, api_key=state.api_key(subject.backend)
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
    show_per_class(evaluation)


def _misclassified(evaluation: Any) -> None:
    frame = state.get_service().misclassified(evaluation.id)
    if frame.empty:
        st.success(t("eval.no_mistakes"))
        return
    labels = sorted(set(frame["label"].astype(str)) | set(frame["predicted"].astype(str)))
    names = label_names(labels)
    a, b, c, d = st.columns([2, 2, 1, 2])
    true = a.multiselect(
        t("eval.true_label"), labels, default=labels, format_func=lambda v: names.get(v, v), key="eval_f_true"
    )
    predicted = b.multiselect(
        t("eval.predicted_label"),
        labels,
        default=labels,
        format_func=lambda v: names.get(v, v),
        key="eval_f_pred",
    )
    low = c.slider(t("eval.min_confidence"), 0.0, 1.0, 0.0, 0.05, key="eval_f_conf")
    needle = d.text_input(t("eval.search"), key="eval_f_text")
    mask = frame["label"].astype(str).isin(true) & frame["predicted"].astype(str).isin(predicted)
    mask &= frame["confidence"].fillna(0) >= low
    if needle:
        mask &= frame["text"].astype(str).str.contains(needle, case=False, regex=False)
    shown = frame.loc[mask].copy()
    st.caption(t("eval.mistakes_caption", shown=f"{len(shown):,}", total=f"{len(frame):,}"))
    for column in ("label", "predicted"):  # label values in the page's language, as in the filters
        shown[column] = shown[column].astype(str).map(lambda v: names.get(v, v))
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


def _compare(subjects: list[Subject], first: Subject) -> None:
    """Two models side by side: their scores in one row, then one row per curve (two charts per row, which
    stays readable at 1280 px; four charts in a row did not)."""
    others = [x for x in subjects if x.key != first.key]
    if not others:
        st.caption(t("eval.compare_none"))
        return
    by_key = {x.key: x for x in others}
    second_key = st.selectbox(
        t("eval.compare_with"),
        list(by_key),
        format_func=lambda k: f"{by_key[k].label} · {by_key[k].backend_label}",
        key="eval_cmp",
    )
    pair = (first, by_key[second_key])
    service = state.get_service()
    for col, subject in zip(st.columns(2), pair, strict=True):
        with col, reported_errors():
            st.markdown(f"**{plain(subject.label)}**")
            st.caption(plain(subject.backend_label))
            evaluation = _stored_evaluation(subject)
            if evaluation is None:
                st.caption(t("eval.none_yet"))
            else:
                final_metrics(evaluation)
    histories = [service.job_metrics(s.job_id) if s.job_id else None for s in pair]
    for metric in CURVES:
        st.markdown(f"**{t(f'chart.{metric}_curve')}**")
        for col, subject, history in zip(st.columns(2), pair, histories, strict=True):
            with col, reported_errors():
                if history is None or history.empty:
                    st.caption(t("monitor.no_metrics"))
                else:
                    curve_chart(history, metric, key=f"eval_cmp_{metric}_{subject.key}")


def main() -> None:
    st.title(t("eval.title"))
    with reported_errors():
        subjects = _subjects()
        if not subjects:
            st.info(t("eval.no_models"))
            st.page_link(
                state.page_file("train"), label=t("monitor.go_train"), icon=":material/model_training:"
            )
            return
        by_key = {x.key: x for x in subjects}
        # The sidebar's model is the one selection of the session: this page evaluates it.
        backend, model = state.current_backend(), state.current_model()
        subject = by_key.get(subject_key(backend or "", model or ""))
        if subject is None:
            st.info(t("eval.pick_in_sidebar"))
            return
        # The name on a line of its own: bold around a name that ends in ")" broke inside a sentence.
        st.markdown(t("eval.showing"))
        st.subheader(plain(subject.label), anchor=False)
        st.caption(t("eval.showing_backend", backend=plain(subject.backend_label)))
        evaluation = _evaluation_for(subject, allow_run=True, key="eval_run")
        if evaluation is None:
            return
        summary_metrics(evaluation)
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
            _compare(subjects, subject)


main()
