"""The sheet picker of a workbook, shared by the Data page and bulk classification.

A workbook opens on the first sheet that has a text column (the service looks: workbooks often start with
a cover sheet); the picker shows which one that is, says so when it skipped the first, and reads another
sheet on request.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from finsent.ui.i18n import t
from finsent.ui.markdown import plain


def chosen_sheet(key: str) -> str | None:
    """The sheet the user picked for this input (None: let the service choose)."""
    value = st.session_state.get(key)
    return str(value) if value else None


def sheet_picker(table: Any, key: str) -> None:
    """Draw the picker for `table` when its workbook has several sheets; a new pick reruns the page with
    the table read from that sheet (`chosen_sheet(key)`)."""
    sheets = list(getattr(table, "sheets", ()) or ())
    if table.file_format != "xlsx" or len(sheets) < 2:
        return
    current = table.sheet if table.sheet in sheets else sheets[0]
    choice = st.selectbox(t("data.sheet"), sheets, index=sheets.index(current), key=f"{key}_pick")
    if choice != current:
        st.session_state[key] = choice
        st.rerun()
    if chosen_sheet(key) is None and current != sheets[0]:
        st.caption(t("data.sheet_skipped", first=plain(sheets[0]), sheet=plain(current)))
