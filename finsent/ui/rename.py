"""The "rename" control beside a picker: models, jobs and bulk runs carry a human name the user can change."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from finsent.ui.errors import reported_errors
from finsent.ui.i18n import t


def rename_control(key: str, current: str, save: Callable[[str], object]) -> None:
    """A small popover with the name field; `save(new_name)` stores it (the service checks it)."""
    with st.popover(t("rename.button"), icon=":material/edit:", help=t("rename.help")):
        with st.form(f"{key}_form", border=False):
            new_name = st.text_input(t("rename.field"), value=current, key=f"{key}_field", max_chars=120)
            submitted = st.form_submit_button(t("rename.save"), type="primary")
        if submitted:
            with reported_errors():
                save(new_name)
                st.rerun()
