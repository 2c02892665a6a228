"""The one place where exceptions become messages on the page.

A FinsentError carries a message written for the user, shown in their language. Anything else is a bug:
it is logged with its traceback on the server and the page shows a generic translated message, never the
traceback. Streamlit's own control flow (st.rerun, st.switch_page, st.stop) derives from BaseException and
passes through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from pydantic import ValidationError

from finsent.service import FinsentError
from finsent.ui.i18n import current_lang, t
from finsent.ui.markdown import plain

log = logging.getLogger("finsent.ui")


def error_text(exc: BaseException, lang: str | None = None) -> str:
    """What the page says about `exc` in `lang`."""
    lang = lang or current_lang()
    if isinstance(exc, FinsentError):
        return exc.text(lang, dashboard=True)
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())) or '-'}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        return t("error.invalid_options", problems=problems)
    return t("error.unexpected")


def show_error(exc: BaseException) -> None:
    if not isinstance(exc, FinsentError | ValidationError):
        log.exception("unexpected error in the dashboard", exc_info=exc)
    st.error(plain(error_text(exc)), icon=":material/error:")


@contextmanager
def reported_errors() -> Iterator[None]:
    """`with reported_errors(): ...` shows any error raised inside as st.error and carries on below."""
    try:
        yield
    except Exception as exc:  # deliberately broad: no traceback may reach the page
        show_error(exc)
