"""One training job on the Monitor page: status, progress, curves, events, final metrics, cancel.

`render_job` draws the panel; `live_job` wraps it in a fragment that polls the backend every few seconds
(only that panel reruns, not the page) and reruns the page once the job has ended.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from finsent.service import JobStatus, charts
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import current_lang, has, label_names, status_name, t
from finsent.ui.markdown import plain

POLL_SECONDS = 2.0
STATUS_BADGES = {
    "validating_files": ("blue", ":material/fact_check:"),
    "queued": ("gray", ":material/schedule:"),
    "running": ("blue", ":material/autorenew:"),
    "paused": ("orange", ":material/pause:"),
    "succeeded": ("green", ":material/check_circle:"),
    "failed": ("red", ":material/error:"),
    "cancelled": ("gray", ":material/cancel:"),
    "interrupted": ("orange", ":material/warning:"),
}
#: text colour of a status in tables (st.dataframe draws on a canvas: no badges, and emoji need a colour emoji
#: font many office PCs and servers lack, where they show as empty boxes)
STATUS_COLOURS = {
    "succeeded": "#2e7d32",
    "failed": "#c62828",
    "interrupted": "#ef6c00",
    "paused": "#ef6c00",
    "running": "#1565c0",
    "validating_files": "#1565c0",
    "queued": "#616161",
    "cancelled": "#616161",
}


def status_badge(status: JobStatus) -> None:
    colour, icon = STATUS_BADGES.get(status.value, ("gray", ":material/help:"))
    st.badge(status_name(status), color=colour, icon=icon)  # type: ignore[arg-type]


def status_text(status: JobStatus) -> str:
    """A status as plain words ("완료"): it goes into tables and pickers, which cannot show badges."""
    return status_name(status)


def status_colour(status: JobStatus) -> str:
    return STATUS_COLOURS.get(status.value, "#616161")


CURVES = ("accuracy", "loss")


def curve_chart(metrics: pd.DataFrame, metric: str, key: str) -> None:
    """One train/validation curve of `metric`."""
    st.altair_chart(
        charts.metric_curve(
            metrics,
            metric,
            step_title=t("chart.step"),
            value_title=t(f"chart.{metric}"),
            series_title=t("chart.series"),
            series_names={"train": t("split.train"), "valid": t("split.valid")},
        ),
        width="stretch",
        key=key,
    )


def curve_charts(metrics: pd.DataFrame, key: str) -> None:
    """Accuracy and loss curves (train and validation) side by side."""
    if metrics is None or metrics.empty:
        st.caption(t("monitor.no_metrics"))
        return
    for col, metric in zip(st.columns(2), CURVES, strict=True):
        with col:
            st.markdown(f"**{t(f'chart.{metric}_curve')}**")
            curve_chart(metrics, metric, key=f"{key}_{metric}")


def summary_metrics(evaluation: Any) -> None:
    """Accuracy, macro-F1 and the number of examples, side by side."""
    a, b, c = st.columns(3)
    a.metric(t("eval.accuracy"), f"{evaluation.accuracy:.1%}")
    b.metric(t("eval.macro_f1"), f"{evaluation.macro_f1:.3f}")
    c.metric(t("eval.examples"), f"{evaluation.n:,}")


def final_metrics(evaluation: Any) -> None:
    summary_metrics(evaluation)
    show_per_class(evaluation)


def show_per_class(evaluation: Any) -> None:
    """Per-class precision, recall, F1 (always three decimals: "1" beside "0.667" reads as a glitch)."""
    fixed = st.column_config.NumberColumn(format="%.3f")
    config = {t("eval.precision"): fixed, t("eval.recall"): fixed, t("eval.f1"): fixed}
    st.dataframe(per_class_table(evaluation), width="stretch", column_config=config)


def per_class_table(evaluation: Any) -> pd.DataFrame:
    names = label_names(evaluation.per_class)
    rows = {
        names[label]: {
            t("eval.precision"): round(float(s.get("precision", 0.0)), 3),
            t("eval.recall"): round(float(s.get("recall", 0.0)), 3),
            t("eval.f1"): round(float(s.get("f1", 0.0)), 3),
            t("eval.support"): int(s.get("support", 0)),
        }
        for label, s in evaluation.per_class.items()
    }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = t("chart.label")
    return frame


def events_table(events: list[Any]) -> pd.DataFrame:
    rows = [
        {
            t("monitor.event_time"): time.strftime("%H:%M:%S", time.localtime(e.created_at)),
            t("monitor.event_level"): t(f"severity.{e.level}") if has(f"severity.{e.level}") else e.level,
            t("monitor.event_message"): e.text.get(current_lang()),
        }
        for e in reversed(events)
    ]
    return pd.DataFrame(rows)


def _use_model(job: Any) -> None:
    state.request_widget_value("backend", job.backend)
    state.request_widget_value("model_id", job.fine_tuned_model)


def render_job(job: Any) -> None:
    service = state.get_service()
    head, actions = st.columns([3, 1])
    with head:
        st.markdown(f"#### {plain(job.title)}")
        status_badge(job.status)
        st.caption(
            t(
                "monitor.job_caption",
                id=plain(job.id),
                backend=plain(state.backend_label(job.backend)),
                model=plain(job.base_model),
                external=plain(job.external_id or "–"),
            )
        )
    with actions:
        if not job.status.is_terminal and st.button(
            t("monitor.cancel"), icon=":material/stop_circle:", key=f"mon_cancel_{job.id}"
        ):
            with reported_errors():
                service.cancel_job(job.id, api_key=state.api_key(job.backend))
                st.rerun()
        if service.can_resume(job) and st.button(
            t("monitor.resume"),
            icon=":material/play_circle:",
            key=f"mon_resume_{job.id}",
            help=t("monitor.resume_help"),
        ):
            with reported_errors():
                service.resume_interrupted_job(job.id, api_key=state.api_key(job.backend))
                st.rerun()
        if job.status is JobStatus.SUCCEEDED and job.fine_tuned_model:
            st.button(t("monitor.use_model"), on_click=_use_model, args=(job,), key=f"mon_use_{job.id}")
    if job.progress is not None:
        st.progress(
            min(max(float(job.progress), 0.0), 1.0), text=t("monitor.progress", pct=f"{job.progress:.0%}")
        )
    if job.error_text:
        st.error(t("monitor.job_error", error=plain(job.error_text.get(current_lang()))))
    if job.fine_tuned_model:
        st.success(t("monitor.model_ready", model=plain(job.title), id=plain(job.fine_tuned_model)))
        selected = (state.current_backend(), state.current_model())
        if selected != (job.backend, job.fine_tuned_model):
            # The sidebar names the session's model; this panel shows another one's curves and metrics.
            st.info(t("monitor.not_selected_model"), icon=":material/swap_horiz:")
    curve_charts(service.job_metrics(job.id), key=f"mon_curve_{job.id}")
    evaluation = service.evaluation(job.id)
    if evaluation is not None:
        st.markdown(f"**{t('monitor.final_metrics')}**")
        final_metrics(evaluation)
    with st.expander(t("monitor.events"), expanded=not job.status.is_terminal):
        events = service.job_events(job.id)
        if events:
            st.dataframe(events_table(events), hide_index=True, width="stretch", height=240)
        else:
            st.caption(t("monitor.no_events"))


def live_job(job_id: str, backend: str, drawn_status: JobStatus) -> None:
    """The selected job, refreshed from its backend every POLL_SECONDS while it runs. `drawn_status` is
    the status the page's job table shows: when the job moves on, the whole page reruns, so the table,
    the picker and this panel never show two statuses at once."""

    @st.fragment(run_every=POLL_SECONDS)
    def panel() -> None:
        with reported_errors():
            service = state.get_service()
            job = service.refresh_job(job_id, api_key=state.api_key(backend))
            if job.status is not drawn_status:
                st.rerun()  # the whole page; a job that has ended is then drawn without polling
            if job.status.is_terminal and not service.evaluation_pending(job.id):
                st.rerun()  # its evaluation has just ended: drawn once more, without polling
            render_job(job)
            if service.evaluation_pending(job.id):
                st.caption(t("monitor.evaluating"))

    panel()
