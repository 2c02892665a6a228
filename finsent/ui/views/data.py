"""Data page: load a table (upload, bundled sample, downloaded corpus), map columns, check, prepare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from finsent.service import DEFAULT_LABELS, KOREAN_NAMES, LabelSet, charts
from finsent.ui import state
from finsent.ui.errors import reported_errors, show_error
from finsent.ui.i18n import current_lang, label_names, t
from finsent.ui.markdown import plain
from finsent.ui.prepared_view import render_prepared
from finsent.ui.report_view import render_report
from finsent.ui.sheets import sheet_picker

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx", "jsonl", "json"]
SOURCES = ("sample", "upload", "corpus")


def _sample_path() -> Path:
    return state.get_service().files.sample_path()


def _load_from_path(path: Path, sheet: str | None) -> Any:
    return state.load_path(str(path), path.stat().st_mtime, sheet, state.get_settings().max_input_mb)


def _corpus_source() -> Path | None:
    """The downloaded corpus, or a download button, its licence and the offline message."""
    target = state.get_settings().corpus_path
    st.caption(t("data.corpus_licence"))
    if target.is_file():
        return target
    st.info(t("data.corpus_missing"))
    if st.button(t("data.corpus_download"), icon=":material/download:", key="data_fetch_corpus"):
        with st.spinner(t("data.corpus_downloading")):
            try:
                state.get_service().files.fetch_corpus()
            except Exception as exc:
                show_error(exc)
                st.caption(t("data.corpus_offline"))
                return None
        st.rerun()
    return None


def _label_field_default(lang: str) -> str:
    return ",".join(KOREAN_NAMES[x] if lang == "ko" else x for x in DEFAULT_LABELS)


def _default_label_field() -> None:
    """The label set in the page's language (긍정,부정,중립 / positive,negative,neutral). A switch of
    language turns the other language's default into this one's; a set the user typed stays as typed."""
    current = st.session_state.get("data_labels")
    if current is None or current in {_label_field_default(x) for x in ("ko", "en")}:
        st.session_state["data_labels"] = _label_field_default(current_lang())


def label_ids(field: str) -> list[str]:
    """The label field's entries as label ids: the Korean names of the default labels (긍정 ...) are the
    labels themselves, so a Korean label set prepares exactly the files an English one does."""
    by_korean = {KOREAN_NAMES[x]: x for x in DEFAULT_LABELS}
    return [by_korean.get(part.strip(), part.strip()) for part in field.split(",")]


def _choose_source() -> tuple[Any, str] | None:
    """(table read once, its file name) for the chosen input, or None while there is none."""
    source = st.radio(
        t("data.source"),
        SOURCES,
        format_func=lambda s: t(f"data.source_{s}"),
        horizontal=True,
        key="data_source",
    )
    sheet = st.session_state.get("data_sheet")
    if source == "upload":
        upload = st.file_uploader(
            t("data.upload"),
            type=UPLOAD_TYPES,
            key="data_upload",
            help=t("data.upload_help", mb=state.get_settings().max_input_mb),
            max_upload_size=state.get_settings().max_input_mb,
        )
        if upload is None:
            st.info(t("data.upload_prompt"))
            return None
        data = upload.getvalue()
        table = state.load_table(upload.file_id, upload.name, sheet, data, state.get_settings().max_input_mb)
        return table, upload.name
    path = _sample_path() if source == "sample" else _corpus_source()
    if path is None:
        return None
    return _load_from_path(path, sheet), path.name


def _describe(table: Any) -> None:
    facts = [t("data.rows", rows=f"{len(table.frame):,}"), t("data.format", format=table.file_format.upper())]
    if table.encoding:
        facts.append(t("data.encoding", encoding=table.encoding))
    if table.sheet:
        facts.append(t("data.sheet_used", sheet=plain(table.sheet)))
    st.caption(" · ".join(facts))
    with st.expander(t("data.preview"), expanded=False):
        st.dataframe(table.frame.head(200), width="stretch")


def _mapping_and_options(table: Any) -> Any | None:
    """Column pickers defaulting to guess_columns, and the preparation options; PrepareOptions or None."""
    from finsent.service import PrepareOptions

    columns = [str(c) for c in table.frame.columns]
    guess = state.get_service().files.guess_columns(table.frame)
    tag = table.sha256[:10]
    left, right = st.columns(2)
    text_col = left.selectbox(
        t("data.text_column"),
        columns,
        index=columns.index(guess.text) if guess.text in columns else 0,
        key=f"data_text_col_{tag}",
    )
    label_col = right.selectbox(
        t("data.label_column"),
        columns,
        index=columns.index(guess.label) if guess.label in columns else min(1, len(columns) - 1),
        key=f"data_label_col_{tag}",
    )
    with st.expander(t("data.options"), expanded=False):
        a, b, c = st.columns(3)
        _default_label_field()
        labels_text = a.text_input(t("data.labels"), help=t("data.labels_help"), key="data_labels")
        fraction = b.slider(t("data.valid_fraction"), 0.05, 0.5, 0.2, 0.05, key="data_valid_fraction")
        seed = c.number_input(
            t("data.seed"), min_value=0, max_value=2**31 - 1, value=42, step=1, key="data_seed"
        )
        lowercase = st.checkbox(
            t("data.lowercase"), value=False, help=t("data.lowercase_help"), key="data_lower"
        )
    if text_col == label_col:
        st.error(t("data.same_columns"))
        return None
    try:
        labels = LabelSet.from_names(label_ids(labels_text))
    except ValueError:
        st.error(t("data.labels_invalid"))
        return None
    return PrepareOptions(
        text_column=text_col,
        label_column=label_col,
        labels=labels,
        valid_fraction=float(fraction),
        seed=int(seed),
        lowercase=bool(lowercase),
    )


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def _check(sha: str, sheet: str | None, options_key: str, _table: Any, _options: Any) -> Any:
    """The report for (input, options); cached so reruns and page switches do not check again."""
    return state.get_service().files.check_table(_table, _options)


def _label_chart(table: Any, options: Any) -> None:
    raw = table.frame[options.label_column]
    normalised = raw.map(lambda v: options.labels.normalise(v) or "unknown")
    counts = charts.count_labels(normalised, order=list(options.labels.names))
    names = label_names([*options.labels.names, "unknown"])
    st.altair_chart(
        charts.label_distribution(
            counts,
            label_title=t("chart.label"),
            count_title=t("chart.count"),
            order=list(options.labels.names),
            names=names,
        ),
        width="stretch",
    )


def _prepare(table: Any, name: str, options: Any) -> None:
    with st.spinner(t("data.preparing")):
        record, report = state.get_service().prepare_table(table, options, name)
    st.session_state["dataset_id"] = record.id
    st.session_state["data_prepared_id"] = record.id
    st.session_state["data_prepared_report"] = report
    st.toast(t("data.prepared_toast", rows=f"{record.rows:,}"), icon=":material/check_circle:")


def main() -> None:
    st.title(t("data.title"))
    st.caption(t("data.intro"))
    with reported_errors():
        chosen = _choose_source()
        if chosen is None:
            return
        table, name = chosen
        sheet_picker(table, "data_sheet")
        _describe(table)
        st.subheader(t("data.mapping"))
        options = _mapping_and_options(table)
        if options is None:
            return
        report = _check(table.sha256, table.sheet, repr(options), table, options)
        left, right = st.columns([3, 2])
        with left:
            st.subheader(t("data.report"))
            render_report(report, table.frame)
        with right:
            st.subheader(t("data.distribution"))
            _label_chart(table, options)
        disabled = bool(getattr(report, "has_errors", False))
        if disabled:
            st.error(t("data.fix_errors_first"))
        if st.button(t("data.prepare"), type="primary", disabled=disabled, key="data_prepare_btn"):
            _prepare(table, name, options)
    prepared = st.session_state.get("data_prepared_id")
    if prepared:
        with reported_errors():
            render_prepared(state.get_service().dataset(prepared))


main()
