"""finsent dashboard: `streamlit run streamlit_app.py` (or `make run`).

Page config, language, the shared sidebar, then `st.navigation` over the page modules in
finsent/ui/views/ (not `pages/`, which would trigger Streamlit's legacy auto-discovery).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import normalise_lang, t
from finsent.ui.sidebar import render_sidebar

VIEWS = Path(__file__).resolve().parent / "finsent" / "ui" / "views"
#: url path -> (page module, title key, icon); the order is the menu's
PAGES: tuple[tuple[str, str, str], ...] = (
    ("data", "nav.data", ":material/table_view:"),
    ("train", "nav.train", ":material/model_training:"),
    ("monitor", "nav.monitor", ":material/monitoring:"),
    ("evaluate", "nav.evaluate", ":material/fact_check:"),
    ("classify", "nav.classify", ":material/label:"),
)

os.umask(0o077)  # what finsent writes is its user's alone: see finsent/support/private.py
st.set_page_config(page_title="finsent", page_icon=":material/insights:", layout="wide")

settings = state.get_settings()
state.init_session(normalise_lang(st.query_params.get("lang"), settings.language))

render_sidebar()

pages = {
    name: st.Page(VIEWS / f"{name}.py", title=t(title), icon=icon, url_path=name)
    for name, title, icon in PAGES
}
# The default page is served at "/" only (its own url_path is ignored), so every real page gets a URL
# (/data opens the Data page) and "/" is a hidden page that moves on to the Data page.
start = st.Page(lambda: st.switch_page(pages["data"]), title=t("nav.data"), url_path="start", default=True,
                visibility="hidden")  # fmt: skip
page = st.navigation([start, *pages.values()])
with reported_errors():
    page.run()
