"""The storage panel: where the space under FINSENT_HOME goes, and one button that frees what finsent no
longer needs (what `finsent gc --yes` frees; see finsent/service/housekeeping.py for what that is).

The button frees exactly the items the user saw listed (bound to the click when the list was drawn), and
the service checks each again before freeing it, so a run resumed meanwhile in another tab is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from finsent.service import FinsentError, StorageKind, size_text
from finsent.ui.errors import error_text
from finsent.ui.i18n import moment_text

if TYPE_CHECKING:
    from finsent.service import FinsentService, StorageItem

log = logging.getLogger("finsent.ui")

#: page-only session key: what the last click freed (shown once, on the run after it)
RESULT_KEY = "storage_result"


def _free(service: FinsentService, items: Sequence[StorageItem]) -> None:
    """on_click of the button: free the listed items; the result waits in the session for the next run."""
    try:
        freed = service.housekeeping.collect(items)
    except Exception as exc:  # shown on the page like every error: a message, never a traceback
        if not isinstance(exc, FinsentError):
            log.exception("freeing space failed", exc_info=exc)
        st.session_state[RESULT_KEY] = {"error": error_text(exc)}
        return
    st.session_state[RESULT_KEY] = {"size": freed.size, "count": len(freed.freed), "kept": len(freed.kept)}


def _last_result(t: Callable[..., str]) -> None:
    result = st.session_state.pop(RESULT_KEY, None)
    if not result:
        return
    if "error" in result:
        st.error(result["error"], icon=":material/error:")
        return
    st.success(t("storage.freed", size=size_text(result["size"]), count=result["count"]))
    if result["kept"]:
        st.info(t("storage.kept", count=result["kept"]))


def _items_table(items: Sequence[StorageItem], t: Callable[..., str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("storage.col_kind"): [t(f"storage.kind_{item.kind.value}") for item in items],
            t("storage.col_name"): [item.title for item in items],
            t("storage.col_status"): [
                t(f"status.{item.status.value}") if item.status else "" for item in items
            ],
            t("storage.col_changed"): [moment_text(item.stamp) for item in items],
            t("storage.col_size"): [size_text(item.size) for item in items],
        }
    )


def render_storage_panel(service: FinsentService, t: Callable[..., str]) -> None:
    """Usage by part, the items that can be freed and the button that frees them (the caller gives the
    title: the Monitor page shows it as an expander)."""
    usage = service.housekeeping.usage()
    st.caption(t("storage.total", size=size_text(usage.total)))
    parts = pd.DataFrame(
        {
            t("storage.col_part"): [t(f"storage.part_{part.value}") for part in usage.parts],
            t("storage.col_size"): [size_text(size) for size in usage.parts.values()],
        }
    )
    st.dataframe(parts, hide_index=True)
    _last_result(t)
    if not usage.freeable:
        st.caption(t("storage.nothing"))
        return
    st.markdown(t("storage.freeable", count=len(usage.freeable), size=size_text(usage.freeable_size)))
    st.dataframe(_items_table(usage.freeable, t), hide_index=True, width="stretch")
    st.caption(t("storage.explain"))
    if any(item.kind == StorageKind.BULK_RUN for item in usage.freeable):
        st.warning(t("storage.bulk_note"), icon=":material/warning:")
    st.button(
        t("storage.free", size=size_text(usage.freeable_size)),
        key="storage_free",
        type="primary",
        icon=":material/delete_sweep:",
        on_click=_free,
        args=(service, usage.freeable),
    )
