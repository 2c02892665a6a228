"""Bulk classification on the Classify page: upload, run with live progress, results, charts, downloads.

A run lives in the service's store, not in the browser: the page only remembers which run it shows, so a
page switch or a reload finds it again in `service.bulk_runs()`.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from finsent import charts
from finsent.backend import BATCH_DONE_STATUSES
from finsent.bulk_batch import CANCELLED_BATCH
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import duration_text, label_names, moment_text, status_name, t
from finsent.ui.markdown import plain

BULK_TYPES = ["csv", "tsv", "txt", "xlsx", "jsonl"]
ACTIVE = ("queued", "running")
TABLE_ROWS_SHOWN = 2000
_SCORE = re.compile(r"^(predicted_)*score_")


def predicted_columns(frame: pd.DataFrame) -> tuple[str, str, list[str]]:
    """(label column, confidence column, score columns): the service appends them after the input's own."""
    columns = [str(c) for c in frame.columns]
    k = 0
    while k < len(columns) and _SCORE.match(columns[len(columns) - 1 - k]):
        k += 1
    if len(columns) < k + 2:
        return "label", "confidence", []
    return columns[-(k + 2)], columns[-(k + 1)], columns[len(columns) - k :]


@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def _results(run_id: str, rows_done: int, status: str) -> pd.DataFrame:
    """Results so far; (rows_done, status) in the key: new rows invalidate the cached copy."""
    return state.get_service().bulk_results(run_id)


def _upload_and_start(backend: str, model: str) -> None:
    upload = st.file_uploader(
        t("bulk.upload"),
        type=BULK_TYPES,
        key="cls_bulk_upload",
        help=t("bulk.upload_help", mb=state.get_settings().max_input_mb),
        max_upload_size=state.get_settings().max_input_mb,
    )
    if upload is None:
        return
    from finsent.reading import guess_columns

    table = state.load_table(
        upload.file_id, upload.name, None, upload.getvalue(), state.get_settings().max_input_mb
    )
    columns = [str(c) for c in table.frame.columns]
    guess = guess_columns(table.frame).text
    text_col = st.selectbox(
        t("bulk.text_column"),
        columns,
        index=columns.index(guess) if guess in columns else 0,
        key=f"cls_bulk_col_{table.sha256[:10]}",
    )
    rows = len(table.frame)
    st.markdown(t("bulk.row_count", rows=f"{rows:,}", name=plain(upload.name)))
    info = next(
        (b for b in state.get_service().backends(api_keys=state.api_keys()) if b.name == backend), None
    )
    confirmed = True
    if info is not None and info.needs_key:
        _paid_estimate(upload.file_id, table.frame[text_col], backend, model)
        confirmed = st.checkbox(t("bulk.confirm_paid"), key="cls_bulk_confirm")
    batch_api = False
    if info is not None and "batch" in info.capabilities:
        batch_api = st.checkbox(t("bulk.batch_api"), key="cls_bulk_batch_api", help=t("bulk.batch_api_help"))
    if st.button(t("bulk.start"), type="primary", disabled=not confirmed, key="cls_bulk_start"):
        run = state.get_service().start_bulk_run(
            backend, model, table.frame, text_col, upload.name, api_key=state.api_key(backend),
            batch_api=batch_api,
        )  # fmt: skip
        st.session_state["bulk_run_id"] = run.id
        st.rerun()


def _paid_estimate(file_id: str, texts: pd.Series, backend: str, model: str) -> None:
    """Input tokens (and cost where the price list knows the model's base) before a paid run starts."""
    from finsent import costs

    tokens = state.input_tokens(file_id, str(texts.name), texts)
    record = next((m for m in state.get_service().models(backend) if m.id == model), None)
    try:
        price = float(costs.base_model(record.base_model)["input_per_1m"]) if record else None
    except Exception:  # a base model missing from the price list: show the tokens only
        price = None
    if price is None:
        st.info(t("bulk.cost_tokens_only", tokens=f"{tokens:,}"))
    else:
        st.info(t("bulk.cost", tokens=f"{tokens:,}", usd=f"{tokens / 1_000_000 * price:.4f}"))


def _run_label(run: Any) -> str:
    # Only what a run keeps for good plus its status: the rows done change every second, but the picker is
    # drawn by the page, not by the progress fragment, so a count in it would always be behind.
    return t(
        "bulk.run_label",
        when=moment_text(run.created_at),
        name=run.source_name,
        rows=f"{run.rows_total:,}",
        status=status_name(run.status),
    )


def _progress(run_id: str) -> None:
    """Live progress of a running run; refreshes itself, not the page, and reruns the page when it ends."""

    @st.fragment(run_every=1.0)
    def panel() -> None:
        run = state.get_service().bulk_run(run_id)
        total = max(run.rows_total, 1)
        done = run.rows_done / total
        if run.batch_api and run.rows_done == 0 and run.batch_total:
            done = run.batch_done / run.batch_total
        st.progress(min(done, 1.0), text=_progress_text(run))
        if st.button(t("bulk.cancel"), icon=":material/stop_circle:", key="cls_bulk_cancel"):
            state.get_service().cancel_bulk_run(run_id)
            st.rerun(scope="app")
        if _batch_cancellable(run):
            _cancel_batch(run, "live")
        ended = st.session_state.setdefault("bulk_runs_seen_ended", [])
        if run.status not in ACTIVE and run_id not in ended:
            # Once, the whole page: the picker's status, the results, the charts and the downloads follow.
            ended.append(run_id)
            st.rerun(scope="app")

    panel()


def _batch_cancellable(run: Any) -> bool:
    return bool(
        getattr(run, "batch_api", False) and run.batch_id and run.batch_status not in BATCH_DONE_STATUSES
    )


def _cancel_batch(run: Any, where: str) -> None:
    """Cancel the provider batch, behind a confirmation: it cannot be undone and a new batch is billed again."""
    with st.popover(t("bulk.cancel_batch"), icon=":material/cancel:"):
        st.markdown(t("bulk.cancel_batch_explain", batch=run.batch_id))
        if st.button(t("bulk.cancel_batch_confirm"), type="primary", key=f"cls_bulk_cancel_batch_{where}"):
            with reported_errors():
                state.get_service().cancel_bulk_batch(run.id, api_key=state.api_key(run.backend))
                st.rerun(scope="app")


def _progress_text(run: Any) -> str:
    if getattr(run, "batch_api", False) and run.rows_done == 0 and run.status in ACTIVE:
        return t(
            "bulk.batch_progress",
            batch=run.batch_id or "–",
            status=run.batch_status or t("bulk.batch_submitting"),
            done=f"{run.batch_done:,}",
            total=f"{run.batch_total:,}",
        )
    rate = f"{run.rate:,.0f}" if run.rate else "–"
    done, total = f"{run.rows_done:,}", f"{run.rows_total:,}"
    if run.status not in ACTIVE:
        elapsed = duration_text(max(float(run.updated_at) - float(run.created_at), 0.0))
        return t(
            "bulk.progress_done",
            status=status_name(run.status),
            done=done,
            total=total,
            elapsed=elapsed,
            rate=rate,
        )
    eta = duration_text(run.eta_seconds) if run.eta_seconds is not None else t("bulk.eta_unknown")
    return t("bulk.progress", done=done, total=total, rate=rate, eta=eta)


def _filters(frame: pd.DataFrame, label_col: str, conf_col: str, order: list[str]) -> pd.DataFrame:
    present = set(frame[label_col].dropna().astype(str))
    # the charts' order (positive, negative, neutral), then any other label the model gave
    labels = [x for x in order if x in present] + sorted(present - set(order))
    a, b, c = st.columns([2, 1, 2])
    chosen = a.multiselect(
        t("bulk.filter_labels"), labels, default=labels, format_func=lambda v: label_names([v])[v]
    )
    low = b.slider(t("bulk.filter_confidence"), 0.0, 1.0, 0.0, 0.05, key="cls_bulk_minconf")
    needle = c.text_input(t("bulk.filter_text"), key="cls_bulk_search")
    mask = frame[label_col].astype(str).isin(chosen) & (frame[conf_col].fillna(0) >= low)
    if needle:
        mask &= (
            frame.astype(str).apply(lambda col: col.str.contains(needle, case=False, regex=False)).any(axis=1)
        )
    return frame.loc[mask]


def _charts(frame: pd.DataFrame, label_col: str, conf_col: str, order: list[str]) -> None:
    names = label_names([*order, *frame[label_col].astype(str).unique()])
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('bulk.distribution')}**")
        counts = charts.count_labels(frame[label_col], order=order)
        st.altair_chart(
            charts.label_distribution(
                counts, label_title=t("chart.label"), count_title=t("chart.count"), order=order, names=names
            ),
            width="stretch",
        )
    with right:
        st.markdown(f"**{t('bulk.histogram')}**")
        bins = charts.confidence_bins(frame[conf_col], frame[label_col])
        st.altair_chart(
            charts.confidence_histogram(
                bins,
                confidence_title=t("chart.confidence"),
                count_title=t("chart.count"),
                label_title=t("chart.label"),
                order=order,
                names=names,
            ),
            width="stretch",
        )


#: the exports of a run's results: (format, mime type); XLSX only up to Excel's row limit
EXPORTS: tuple[tuple[str, str], ...] = (
    ("csv", "text/csv"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
)


def _downloads(run: Any, frame: pd.DataFrame) -> None:
    from finsent.export import XLSX_MAX_ROWS, to_csv_bytes, to_xlsx_bytes

    builders = {"csv": to_csv_bytes, "xlsx": to_xlsx_bytes}
    stem = re.sub(r"[^\w.-]+", "_", run.source_name.rsplit(".", 1)[0]) or "finsent"
    for column, (kind, mime) in zip(st.columns(len(EXPORTS)), EXPORTS, strict=True):
        if kind == "xlsx" and len(frame) > XLSX_MAX_ROWS:
            column.caption(t("bulk.xlsx_too_big"))
            continue
        column.download_button(
            t(f"bulk.download_{kind}"),
            data=partial(builders[kind], frame),  # built on click, not on every rerun
            file_name=f"{stem}.finsent.{kind}",
            mime=mime,
            on_click="ignore",
            icon=":material/download:",
            key=f"cls_bulk_dl_{kind}",
        )


def _display_table(frame: pd.DataFrame, label_col: str) -> pd.DataFrame:
    """The rows shown on screen with the predicted labels in the page's language (downloads keep the ids)."""
    shown = frame.copy()
    labels = shown[label_col].astype(str)
    shown[label_col] = labels.map(label_names(labels.unique()))
    return shown


def _column_config(label_col: str, conf_col: str, score_cols: list[str]) -> dict[str, Any]:
    """Headers in the page's language for the columns we add; the user's own columns keep their names."""
    config: dict[str, Any] = {
        label_col: st.column_config.TextColumn(t("bulk.col_label")),
        conf_col: st.column_config.ProgressColumn(t("chart.confidence"), min_value=0, max_value=1),
    }
    for column in score_cols:
        label = column.split("score_", 1)[1]
        name = label_names([label])[label]
        config[column] = st.column_config.NumberColumn(t("bulk.col_score", label=name), format="%.3f")
    return config


def _results_panel(run: Any) -> None:
    if run.status in ACTIVE:
        _progress(run.id)
    else:
        st.caption(_progress_text(run))
    if run.status == "failed" and run.error:
        st.error(t("bulk.failed", error=plain(run.error)))
    elif run.status in ("cancelled", "interrupted"):
        st.warning(t("bulk.partial", status=status_name(run.status), done=f"{run.rows_done:,}"))
    if run.status in ("cancelled", "interrupted", "failed"):
        if run.batch_api and run.batch_id and run.batch_status in CANCELLED_BATCH:
            st.warning(t("bulk.batch_cancelled", batch=run.batch_id))
        elif run.batch_api and run.batch_id:
            st.caption(t("bulk.batch_kept", batch=run.batch_id))
            if _batch_cancellable(run):
                _cancel_batch(run, "stopped")
        if st.button(t("bulk.resume"), icon=":material/play_circle:", key="cls_bulk_resume"):
            state.get_service().resume_bulk_run(run.id, api_key=state.api_key(run.backend))
            st.rerun()
    frame = _results(run.id, run.rows_done, run.status)
    if frame.empty:
        st.caption(t("bulk.no_results_yet"))
        return
    label_col, conf_col, score_cols = predicted_columns(frame)
    order = [c.split("score_", 1)[1] for c in score_cols]
    _charts(frame, label_col, conf_col, order)
    shown = _filters(frame, label_col, conf_col, order)
    st.caption(
        t("bulk.table_caption", shown=f"{min(len(shown), TABLE_ROWS_SHOWN):,}", total=f"{len(shown):,}")
    )
    st.dataframe(
        _display_table(shown.head(TABLE_ROWS_SHOWN), label_col),
        width="stretch",
        hide_index=True,
        column_config=_column_config(label_col, conf_col, score_cols),
    )
    if run.status not in ACTIVE:
        _downloads(run, frame)


def _picked() -> None:
    st.session_state["bulk_run_id"] = st.session_state["cls_bulk_pick"]


def render_bulk(backend: str, model: str) -> None:
    st.caption(t("bulk.intro"))
    with reported_errors():
        _upload_and_start(backend, model)
    runs = sorted(state.get_service().bulk_runs(), key=lambda r: r.created_at, reverse=True)
    if not runs:
        return
    st.divider()
    st.subheader(t("bulk.runs"))
    ids = [r.id for r in runs]
    state.follow("cls_bulk_pick", st.session_state.get("bulk_run_id"), ids)
    state.refresh_label("cls_bulk_pick")  # its status may have changed since the browser drew it
    by_id = {r.id: r for r in runs}
    # The shown run is read again now: it may have moved on since the list was read a moment ago.
    shown = st.session_state["cls_bulk_pick"]
    by_id[shown] = state.get_service().bulk_run(shown)
    chosen = st.selectbox(
        t("bulk.pick_run"),
        ids,
        format_func=lambda i: _run_label(by_id[i]),
        key="cls_bulk_pick",
        on_change=_picked,
    )
    state.remember_choice("cls_bulk_pick", "bulk_run_id", chosen)
    with reported_errors():
        _results_panel(by_id[chosen])
