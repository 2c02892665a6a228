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

from finsent.service import BATCH_DONE_STATUSES, CANCELLED_BATCH, BulkRequest, BulkResults, BulkStatus, charts
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import current_lang, duration_text, label_names, moment_text, status_name, t
from finsent.ui.markdown import plain
from finsent.ui.rename import rename_control
from finsent.ui.sheets import chosen_sheet, sheet_picker

BULK_TYPES = ["csv", "tsv", "txt", "xlsx", "jsonl"]
TABLE_ROWS_SHOWN = 2000
RESULTS_SECONDS = 1.0


@st.cache_data(ttl=600, max_entries=4, show_spinner=False)
def _results(run_id: str, rows_done: int, status: str) -> BulkResults:
    """Results so far; (rows_done, status) in the key: new rows invalidate the cached copy."""
    return state.get_service().bulk_results(run_id)


def _model_titles() -> dict[tuple[str, str], str]:
    return {(m.backend, m.id): m.title for m in state.get_service().models()}


def _upload_and_start(backend: str, model: str) -> Any | None:
    """The upload form; returns the run that already has this input, as read for the form (or None)."""
    upload = st.file_uploader(
        t("bulk.upload"),
        type=BULK_TYPES,
        key="cls_bulk_upload",
        help=t("bulk.upload_help", mb=state.get_settings().max_input_mb),
        max_upload_size=state.get_settings().max_input_mb,
    )
    if upload is None:
        return None
    sheet_key = f"cls_bulk_sheet_{upload.file_id}"
    table = state.load_table(
        upload.file_id,
        upload.name,
        chosen_sheet(sheet_key),
        upload.getvalue(),
        state.get_settings().max_input_mb,
    )
    sheet_picker(table, sheet_key)
    with st.expander(t("data.preview"), expanded=False):
        st.dataframe(table.frame.head(50), width="stretch")
    columns = [str(c) for c in table.frame.columns]
    guess = state.get_service().files.guess_columns(table.frame).text
    text_col = st.selectbox(
        t("bulk.text_column"),
        columns,
        index=columns.index(guess) if guess in columns else 0,
        key=f"cls_bulk_col_{table.sha256[:10]}_{table.sheet or ''}",
    )
    rows = len(table.frame)
    st.markdown(t("bulk.row_count", rows=f"{rows:,}", name=plain(upload.name)))
    info = next(
        (b for b in state.get_service().backends(api_keys=state.api_keys()) if b.name == backend), None
    )
    confirmed = True
    if _paid_estimate(upload.file_id, table.frame[text_col], backend, model):
        confirmed = st.checkbox(t("bulk.confirm_paid"), key="cls_bulk_confirm")
    batch_api = False
    if info is not None and "batch" in info.capabilities:
        batch_api = st.checkbox(t("bulk.batch_api"), key="cls_bulk_batch_api", help=t("bulk.batch_api_help"))
    # One run per input: the run that already has these texts with this model is shown or resumed.
    request = BulkRequest(
        backend,
        model,
        table.frame,
        text_col,
        upload.name,
        api_key=state.api_key(backend),
        batch_api=batch_api,
    )
    existing = state.get_service().bulk_run_for_input(request)
    active = existing is not None and existing.status.is_active
    if existing is not None:
        st.info(t("bulk.same_input_active" if active else "bulk.same_input_done", name=plain(existing.title)))
    if st.button(t("bulk.start"), type="primary", disabled=not confirmed or active, key="cls_bulk_start"):
        run = state.get_service().start_bulk_run(request)
        st.session_state["bulk_run_id"] = run.id
        st.rerun()
    if existing is not None and active and st.button(t("bulk.show_run"), key="cls_bulk_show_same"):
        st.session_state["bulk_run_id"] = existing.id
        st.rerun()
    return existing


def _paid_estimate(file_id: str, texts: pd.Series, backend: str, model: str) -> bool:
    """Input tokens (and cost where the backend knows the model's price) before a paid run starts; False
    for a backend that says classifying costs nothing."""
    estimate = state.input_cost(file_id, str(texts.name), backend, model, texts)
    if estimate is None:
        return False
    tokens = f"{estimate.total_tokens:,}"
    if estimate.usd is None:
        st.info(t("bulk.cost_tokens_only", tokens=tokens))
    else:
        st.info(t("bulk.cost", tokens=tokens, usd=f"{estimate.usd:.4f}"))
    return True


def _run_label(run: Any, models: dict[tuple[str, str], str]) -> str:
    # Only what a run keeps for good plus its status: the rows done change every second, but the picker is
    # drawn by the page, not by the progress fragment, so a count in it would always be behind.
    # a renamed run still shows its input file
    name = run.title if run.title.startswith(run.source_name) else f"{run.title} · {run.source_name}"
    return t(
        "bulk.run_label",
        name=name,
        model=models.get((run.backend, run.model_id), run.model_id),
        when=moment_text(run.created_at),
        rows=f"{run.rows_total:,}",
        status=status_name(run.status),
    )


def _live(run_id: str) -> None:
    """A running run: progress, charts and table refresh together from one read of the results, in a
    fragment (not the page); the page reruns once when the run ends."""

    @st.fragment(run_every=RESULTS_SECONDS)
    def panel() -> None:
        run = state.get_service().bulk_run(run_id)
        results = _results(run.id, run.rows_done, run.status)
        total = max(run.rows_total, 1)
        done = results.rows_done / total
        if run.batch_api and results.rows_done == 0 and run.batch_total:
            done = run.batch_done / run.batch_total
        st.progress(min(done, 1.0), text=_progress_text(run, results.rows_done))
        if st.button(t("bulk.cancel"), icon=":material/stop_circle:", key="cls_bulk_cancel"):
            state.get_service().cancel_bulk_run(run_id)
            st.rerun(scope="app")
        if _batch_cancellable(run):
            _cancel_batch(run, "live")
        ended = st.session_state.setdefault("bulk_runs_seen_ended", [])
        if not run.status.is_active and run_id not in ended:
            # Once, the whole page: the picker's status, the results, the charts and the downloads follow.
            ended.append(run_id)
            st.rerun(scope="app")
        _results_view(results)

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


def _progress_text(run: Any, rows_done: int) -> str:
    """The progress line; `rows_done` comes from the same read as the results shown with it."""
    if getattr(run, "batch_api", False) and rows_done == 0 and run.status.is_active:
        return t(
            "bulk.batch_progress",
            batch=run.batch_id or "–",
            status=run.batch_status or t("bulk.batch_submitting"),
            done=f"{run.batch_done:,}",
            total=f"{run.batch_total:,}",
        )
    rate = f"{run.rate:,.0f}" if run.rate else "–"
    done, total = f"{rows_done:,}", f"{run.rows_total:,}"
    if not run.status.is_active:
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
    chosen = a.multiselect(t("bulk.filter_labels"), labels, default=labels, format_func=_label_option)
    low = b.slider(t("bulk.filter_confidence"), 0.0, 1.0, 0.0, 0.05, key="cls_bulk_minconf")
    needle = c.text_input(t("bulk.filter_text"), key="cls_bulk_search")
    mask = frame[label_col].astype(str).isin(chosen) & (frame[conf_col].fillna(0) >= low)
    if needle:
        mask &= (
            frame.astype(str).apply(lambda col: col.str.contains(needle, case=False, regex=False)).any(axis=1)
        )
    return frame.loc[mask]


def _label_option(value: str) -> str:
    return t("bulk.blank_label") if value == "" else label_names([value])[value]


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


def download_name(run: Any, model_title: str, results: BulkResults, kind: str) -> str:
    """ "news.<model name>.csv"; a partial run says so and how many rows it holds: a file that leaves the
    dashboard still tells where its labels came from and whether it is whole."""
    stem = _file_part(run.source_name.rsplit(".", 1)[0]) or "finsent"
    name = f"{stem}.{_file_part(model_title)}"
    if results.partial:
        name += f".partial-{results.rows_done}-of-{results.rows_total}-rows"
    return f"{name}.{kind}"


def _file_part(text: str) -> str:
    # \w keeps Hangul; everything else that file systems or browsers mangle becomes "_"
    return re.sub(r"[^\w.-]+", "_", text).strip("._")[:80]


def _downloads(run: Any, results: BulkResults) -> None:
    files = state.get_service().files
    frame = results.frame
    model_title = _model_titles().get((run.backend, run.model_id), run.model_id)
    if results.partial:
        st.caption(t("bulk.download_partial", done=f"{results.rows_done:,}", total=f"{results.rows_total:,}"))
    korean = (
        st.radio(
            t("bulk.label_names"),
            ("id", "ko"),
            format_func=lambda v: t(f"bulk.label_names_{v}"),
            horizontal=True,
            key="cls_bulk_label_names",
            index=1 if current_lang() == "ko" else 0,
        )
        == "ko"
    )
    for column, (kind, mime) in zip(st.columns(len(EXPORTS)), EXPORTS, strict=True):
        if kind == "xlsx" and len(frame) > files.xlsx_max_rows:
            column.caption(t("bulk.xlsx_too_big"))
            continue
        column.download_button(
            t(f"bulk.download_{kind}"),
            data=partial(files.export_results, results, kind, korean),  # built on click, not every rerun
            file_name=download_name(run, model_title, results, kind),
            mime=mime,
            on_click="ignore",
            icon=":material/download:",
            key=f"cls_bulk_dl_{kind}",
            help=t(f"bulk.download_{kind}_help"),
        )


def _display_table(frame: pd.DataFrame, label_col: str) -> pd.DataFrame:
    """The rows shown on screen with the predicted labels in the page's language (downloads keep the ids)."""
    shown = frame.copy()
    labels = shown[label_col].astype(str)
    shown[label_col] = labels.map(label_names(labels.unique()))
    return shown


def _column_config(results: BulkResults) -> dict[str, Any]:
    """Headers in the page's language for the columns we add; the user's own columns keep their names."""
    config: dict[str, Any] = {
        results.label_column: st.column_config.TextColumn(t("bulk.col_label")),
        results.confidence_column: st.column_config.ProgressColumn(
            t("chart.confidence"), min_value=0, max_value=1
        ),
        results.model_column: st.column_config.TextColumn(t("bulk.col_model")),
    }
    for label, column in results.score_columns.items():
        name = label_names([label])[label]
        config[column] = st.column_config.NumberColumn(t("bulk.col_score", label=name), format="%.3f")
    return config


def _results_view(results: BulkResults) -> None:
    """Charts, filters and the table of one read of the results."""
    frame = results.frame
    if frame.empty:
        st.caption(t("bulk.no_results_yet"))
        return
    label_col, conf_col, order = results.label_column, results.confidence_column, list(results.labels)
    if results.rows_blank:
        st.info(t("bulk.blank_rows", n=f"{results.rows_blank:,}"), icon=":material/check_box_outline_blank:")
    # Blank cells are not sentiment: they stay in the table and the file, and out of the charts.
    _charts(frame[frame[label_col] != ""], label_col, conf_col, order)
    shown = _filters(frame, label_col, conf_col, order)
    st.caption(
        t("bulk.table_caption", shown=f"{min(len(shown), TABLE_ROWS_SHOWN):,}", total=f"{len(shown):,}")
    )
    st.dataframe(
        _display_table(shown.head(TABLE_ROWS_SHOWN), label_col),
        width="stretch",
        hide_index=True,
        column_config=_column_config(results),
    )


def _results_panel(run: Any) -> None:
    if run.status.is_active:
        _live(run.id)
        return
    results = _results(run.id, run.rows_done, run.status)
    st.caption(_progress_text(run, results.rows_done))
    if run.status is BulkStatus.FAILED and run.error_text:
        st.error(t("bulk.failed", error=plain(run.error_text.get(current_lang()))))
    elif run.status in (BulkStatus.CANCELLED, BulkStatus.INTERRUPTED):
        # the rows kept are the rows this read holds: the same figure the download will have
        st.warning(t("bulk.partial", status=status_name(run.status), done=f"{results.rows_done:,}"))
    if run.status.is_resumable:
        if run.batch_api and run.batch_id and run.batch_status in CANCELLED_BATCH:
            st.warning(t("bulk.batch_cancelled", batch=run.batch_id))
        elif run.batch_api and run.batch_id:
            st.caption(t("bulk.batch_kept", batch=run.batch_id))
            if _batch_cancellable(run):
                _cancel_batch(run, "stopped")
        if st.button(t("bulk.resume"), icon=":material/play_circle:", key="cls_bulk_resume"):
            state.get_service().resume_bulk_run(run.id, api_key=state.api_key(run.backend))
            st.rerun()
    _results_view(results)
    if not results.frame.empty:
        _downloads(run, results)


def _picked() -> None:
    st.session_state["bulk_run_id"] = st.session_state["cls_bulk_pick"]


def render_bulk(backend: str, model: str) -> None:
    st.caption(t("bulk.intro"))
    existing = None
    with reported_errors():
        existing = _upload_and_start(backend, model)
    runs = sorted(state.get_service().bulk_runs(), key=lambda r: r.created_at, reverse=True)
    if existing is not None and existing.status.is_active:
        # The form said "running" a moment ago; a run that ended since would leave its button disabled
        # under finished results: draw the page again, once, from the new state.
        now = next((r for r in runs if r.id == existing.id), None)
        if now is not None and not now.status.is_active:
            st.rerun()
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
    models = _model_titles()
    pick, rename = st.columns([3, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        t("bulk.pick_run"),
        ids,
        format_func=lambda i: _run_label(by_id[i], models),
        key="cls_bulk_pick",
        on_change=_picked,
    )
    state.remember_choice("cls_bulk_pick", "bulk_run_id", chosen)
    run = by_id[chosen]
    with rename:
        rename_control(
            "cls_rename_run", run.title, lambda name: state.get_service().rename_bulk_run(run.id, name)
        )
    if (run.backend, run.model_id) != (backend, model):
        # The page's header names the selected model: say plainly that these results are another's.
        st.warning(
            t(
                "bulk.other_model",
                run_model=plain(models.get((run.backend, run.model_id), run.model_id)),
                model=plain(models.get((backend, model), model)),
            ),
            icon=":material/swap_horiz:",
        )
    with reported_errors():
        _results_panel(run)
