"""Every text of ours in Korean and English. `t(key, **kw)` picks the session's language.

The language comes, in order, from the sidebar switch (session state), `?lang=en|ko` in the URL, and
Settings.language (FINSENT_LANG, Korean out of the box). The catalogues live in messages_ko / messages_en
(one dict each); tests check both have the same keys and that no page asks for a missing one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from finsent.service import Text
from finsent.ui.messages_en import MESSAGES as EN
from finsent.ui.messages_ko import MESSAGES as KO

if TYPE_CHECKING:
    from finsent.service import BulkStatus, JobStatus

LANGUAGES: tuple[str, ...] = ("ko", "en")
LANGUAGE_NAMES: Mapping[str, str] = {"ko": "한국어", "en": "English"}
CATALOGUES: Mapping[str, Mapping[str, str]] = {"ko": KO, "en": EN}


def normalise_lang(value: object, default: str = "ko") -> str:
    text = str(value or "").strip().lower()[:2]
    return text if text in LANGUAGES else default


#: language of the latest script run in this process: used only where no script run is active (AppTest
#: calls widgets' format_func from the test thread). A server's sessions always have their own context.
_last_lang = "ko"


def current_lang() -> str:
    """The session's language; outside a script run, the latest run's ("ko" before any)."""
    global _last_lang
    try:
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        if get_script_run_ctx(suppress_warning=True) is None:
            return _last_lang
        _last_lang = normalise_lang(st.session_state.get("lang"), "ko")
        return _last_lang
    except Exception:  # streamlit internals moved: fall back to the default language
        return "ko"


def translate(key: str, lang: str, **kw: object) -> str:
    """The text for `key` in `lang`, formatted with `kw`. A missing key shows itself, never crashes."""
    catalogue = CATALOGUES.get(lang, KO)
    text = catalogue.get(key) or EN.get(key) or key
    if kw:
        try:
            return text.format(**kw)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def t(key: str, **kw: object) -> str:
    return translate(key, current_lang(), **kw)


def has(key: str) -> bool:
    return key in CATALOGUES[current_lang()]


def backend_text(info: object) -> tuple[str, str, str | None]:
    """(label, description, unavailability reason) of a backend in the session's language: the plugin's
    Korean where it wrote one (its texts are `Text`s), else its English."""
    lang = current_lang()
    label = Text.of(getattr(info, "label", "") or getattr(info, "name", ""))
    description = Text.of(getattr(info, "description", "") or "")
    reason = getattr(info, "reason", None)
    return label.get(lang), description.get(lang), Text.of(reason).get(lang) if reason else None


def base_model_text(backend: str, info: object, model_id: str) -> str:
    """A base model's name for the picker, as its backend gives it in the page's language, else its id:
    the catalogue names no backend's models."""
    return Text.of(getattr(info, "label", "") or model_id).get(current_lang()) or model_id


def label_name(label: str) -> str:
    """A label's display name ("positive" -> "긍정"); labels outside the catalogue show as they are."""
    key = f"label.{label}"
    return t(key) if key in KO else label


def label_names(labels: Iterable[str]) -> dict[str, str]:
    return {label: label_name(label) for label in labels}


def status_name(status: JobStatus | BulkStatus) -> str:
    key = f"status.{status.value}"
    return t(key) if key in KO else status.value


def duration_text(seconds: float) -> str:
    """A duration people read at a glance: "12초", "3분 5초", "1시간 4분" (or the English forms)."""
    value = max(float(seconds), 0.0)
    if value < 10:  # a small file takes a fraction of a second: "0초" would read as "nothing happened"
        return t("time.seconds", s=f"{value:.1f}".removesuffix(".0"))
    total = round(value)
    if total < 60:
        return t("time.seconds", s=total)
    if total < 3600:
        return t("time.minutes", m=total // 60, s=total % 60)
    return t("time.hours", h=total // 3600, m=total % 3600 // 60)


def moment_text(stamp: float) -> str:
    """A stored time (seconds since the epoch) as the server's local date and minute: "2025-03-04 09:15"."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))
