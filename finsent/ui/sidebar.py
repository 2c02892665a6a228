"""The sidebar every page shares: language, backend (with why one is unavailable), model, API key.

A key typed here stays in this browser session's state only: it is passed per call to the service and never
written to disk, the database, logs or exports. It is shown masked as its last four characters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import streamlit as st

from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import LANGUAGE_NAMES, LANGUAGES, backend_text, moment_text, t
from finsent.ui.markdown import plain
from finsent.ui.rename import rename_control

KEY_INPUT = "sb_key_input"


def masked(key: str) -> str:
    """Only the last four characters of a key are ever shown."""
    return "••••" + key[-4:] if len(key) > 4 else "••••"


def key_configured(info: Any) -> bool:
    """A key from the environment or .streamlit/secrets.toml (whose top-level keys land in os.environ)."""
    env = getattr(info, "key_env_var", None)
    return bool(env and os.environ.get(env))


def _store_key(backend: str) -> None:
    """on_change of the key field: move the key into the session's key store and empty the field."""
    value = str(st.session_state.get(KEY_INPUT) or "").strip()
    if value:
        keys = dict(st.session_state.get("api_keys") or {})
        keys[backend] = value
        st.session_state["api_keys"] = keys
    st.session_state[KEY_INPUT] = ""


def _forget_key(backend: str) -> None:
    keys = dict(st.session_state.get("api_keys") or {})
    keys.pop(backend, None)
    st.session_state["api_keys"] = keys


def _language_switch() -> None:
    st.radio(
        t("sidebar.language"),
        list(LANGUAGES),
        key="lang",
        format_func=lambda code: LANGUAGE_NAMES[code],
        horizontal=True,
    )
    # Keep the URL in step so a reload (or a shared link) opens in the same language.
    if st.query_params.get("lang") != st.session_state["lang"]:
        st.query_params["lang"] = st.session_state["lang"]


def _backend_label(infos: Sequence[Any], name: str) -> str:
    info = next((i for i in infos if i.name == name), None)
    if info is None:
        return name
    text = backend_text(info)[0] or name
    return text if info.available else f"{text} — {t('sidebar.unavailable_short')}"


def _pick_backend(infos: Sequence[Any]) -> Any | None:
    names = [info.name for info in infos]
    if not names:
        st.warning(t("sidebar.no_backends"))
        return None
    state.apply_pending("backend")
    if st.session_state.get("backend") not in names:
        wanted = state.get_settings().default_backend
        available = [i.name for i in infos if i.available]
        st.session_state["backend"] = wanted if wanted in names else (available or names)[0]
    state.refresh_label("backend")  # its label follows the language switch
    name = st.selectbox(
        t("sidebar.backend"),
        names,
        key="backend",
        format_func=lambda n: _backend_label(infos, n),
        help=t("sidebar.backend_help"),
    )
    info = next(i for i in infos if i.name == name)
    description = backend_text(info)[1]
    if description:
        st.caption(description)
    return info


def _key_field(info: Any) -> None:
    if not getattr(info, "needs_key", False) or key_configured(info):
        return
    session_key = state.api_key(info.name)
    if session_key:
        st.caption(t("sidebar.key_in_use", masked=masked(session_key)))
        st.button(t("sidebar.forget_key"), on_click=_forget_key, args=(info.name,), key="sb_forget_key")
        return
    st.text_input(
        t("sidebar.api_key", env=info.key_env_var or "API key"),
        type="password",
        key=KEY_INPUT,
        on_change=_store_key,
        args=(info.name,),
        help=t("sidebar.api_key_help"),
        placeholder="sk-...",
    )


def _model_caption(record: Any) -> str:
    """Id, base model and date under the picker (the picker shows the model's name)."""
    when = moment_text(record.created_at)
    if not record.base_model:
        return t("sidebar.model_caption_nobase", id=record.id, when=when)
    return t("sidebar.model_caption", id=record.id, base=record.base_model, when=when)


def _pick_model(backend: str) -> None:
    """The one model selection of the session: Evaluate and Classify use it, other pages point at it."""
    service = state.get_service()
    models = sorted(service.models(backend), key=lambda m: m.created_at, reverse=True)
    by_id = {m.id: m for m in models}
    if not by_id:
        st.caption(t("sidebar.no_models"))
        return
    state.apply_pending("model_id")
    if st.session_state.get("model_id") not in by_id:
        st.session_state["model_id"] = models[0].id
    state.refresh_label("model_id")  # a renamed model keeps its id: send its new name
    chosen = st.selectbox(
        t("sidebar.model"),
        list(by_id),
        key="model_id",
        format_func=lambda i: by_id[i].title,
        help=t("sidebar.model_help"),
    )
    record = by_id[chosen]
    st.caption(plain(_model_caption(record)))
    rename_control(
        "sb_rename_model", record.title, lambda name: service.rename_model(record.backend, record.id, name)
    )


def render_sidebar() -> None:
    with st.sidebar:
        _language_switch()
        st.divider()
        with reported_errors():
            service = state.get_service()
            infos = service.backends(api_keys=state.api_keys())
            info = _pick_backend(infos)
            if info is not None:
                if not info.available and not (info.needs_key and not key_configured(info)):
                    st.warning(t("sidebar.unavailable", reason=backend_text(info)[2] or "-"))
                elif not info.available:
                    st.info(t("sidebar.needs_key", env=info.key_env_var or "API key"))
                _key_field(info)
                _pick_model(info.name)
            for problem in service.plugin_problems():
                st.warning(t("sidebar.plugin_problem", problem=problem), icon=":material/extension:")
