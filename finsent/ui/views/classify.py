"""Classify page: one text like the tutorial's form, and bulk classification of a CSV/XLSX file."""

from __future__ import annotations

import streamlit as st

from finsent.service import charts
from finsent.ui import state
from finsent.ui.bulk_view import render_bulk
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import label_name, label_names, t
from finsent.ui.markdown import plain

# Written by the team for the page (not taken from any corpus); one per sentiment.
EXAMPLE_KEYS: tuple[str, ...] = ("classify.example_1", "classify.example_2", "classify.example_3")


def _use_example(key: str) -> None:
    st.session_state["cls_text"] = t(key)


def _single(backend: str, model: str) -> None:
    st.caption(t("classify.examples"))
    cols = st.columns(len(EXAMPLE_KEYS))
    for col, key in zip(cols, EXAMPLE_KEYS, strict=True):
        col.button(t(key), key=f"cls_ex_{key}", on_click=_use_example, args=(key,), width="stretch")
    with st.form("cls_form", border=True):
        text = st.text_area(t("classify.prompt"), key="cls_text", height=110, max_chars=20000)
        submitted = st.form_submit_button(t("classify.submit"), type="primary", icon=":material/send:")
    if submitted:
        if not (text or "").strip():
            st.warning(t("classify.empty"))
        else:
            with st.spinner(t("classify.running")):
                prediction = state.get_service().classify(
                    backend, model, [text], api_key=state.api_key(backend)
                )[0]
            st.session_state["cls_last"] = {"text": text, "model": model, "prediction": prediction}
    last = st.session_state.get("cls_last")
    if last and last["model"] == model:
        _show_prediction(last["text"], last["prediction"])


def _show_prediction(text: str, prediction: object) -> None:
    label = str(getattr(prediction, "label", ""))
    confidence = float(getattr(prediction, "confidence", 0.0) or 0.0)
    scores = dict(getattr(prediction, "scores", {}) or {})
    left, right = st.columns([1, 2])
    with left:
        st.metric(t("classify.result"), label_name(label), help=t("classify.result_help"))
        st.caption(t("classify.confidence", value=f"{confidence:.1%}"))
        st.caption(t("classify.input_was") + " " + plain(text[:300]))
    with right:
        if scores:
            st.altair_chart(
                charts.score_bars(
                    scores,
                    label_title=t("chart.label"),
                    score_title=t("chart.confidence"),
                    names=label_names(scores),
                ).properties(height=60 * max(len(scores), 2)),
                width="stretch",
            )


def main() -> None:
    st.title(t("classify.title"))
    backend, model = state.current_backend(), state.current_model()
    if not backend or not model:
        st.info(t("classify.no_model"))
        st.page_link(state.page_file("train"), label=t("classify.go_train"), icon=":material/model_training:")
        return
    st.caption(
        t(
            "classify.using",
            backend=state.backend_label(backend),
            model=plain(state.model_title(backend, model)),
        )
    )
    single, bulk = st.tabs([t("classify.tab_single"), t("classify.tab_bulk")])
    with single, reported_errors():
        _single(backend, model)
    with bulk, reported_errors():
        render_bulk(backend, model)


main()
