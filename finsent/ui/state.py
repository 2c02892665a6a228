"""Session state, the cached service and cached data. Nothing heavy runs at import time.

Global keys are initialised once with `setdefault` in `init_session`; page-only keys carry the page's prefix
(data_, train_, mon_, eval_, cls_). The service is one `st.cache_resource` shared by every browser session,
so nothing per-user (API keys above all) ever goes into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from finsent.service import Settings

if TYPE_CHECKING:
    from finsent.service import CostEstimate, FinsentService, LoadedTable

#: global session keys and their first values
GLOBAL_DEFAULTS: Mapping[str, Any] = {
    "backend": None,  # the sidebar's backend picker (widget key)
    "model_id": None,  # the sidebar's model picker (widget key)
    "api_keys": {},  # backend name -> key typed in this session; never written anywhere
    "dataset_id": None,  # the dataset the Train page starts from (last one prepared)
    "job_id": None,  # the job the Monitor page follows
    "bulk_run_id": None,  # the bulk run the Classify page shows
}
#: set by pages to change a sidebar widget's value on the next run (a widget's key cannot be set after it is drawn)
PENDING_PREFIX = "pending_"


def init_session(default_lang: str) -> None:
    for key, value in GLOBAL_DEFAULTS.items():
        st.session_state.setdefault(key, dict(value) if isinstance(value, dict) else value)
    st.session_state.setdefault("lang", default_lang)


def request_widget_value(key: str, value: Any) -> None:
    """Ask the sidebar to set widget `key` to `value` before it draws it on the next run."""
    st.session_state[PENDING_PREFIX + key] = value


def apply_pending(key: str) -> None:
    pending = PENDING_PREFIX + key
    if pending in st.session_state:
        st.session_state[key] = st.session_state.pop(pending)


FOLLOWED_PREFIX = "followed_"


def follow(picker: str, wanted: Any, options: Sequence[Any]) -> None:
    """Point picker `picker` at `wanted` (e.g. the dataset just prepared, the job just started) once, when
    `wanted` is new; otherwise keep the user's choice while it is still an option, else take the first.

    Only a *change* of `wanted` moves the picker: re-applying the same `wanted` on every run would undo
    the user's pick on the rerun after it (a job then trained on a dataset nobody picked).
    """
    current = st.session_state.get(picker)
    seen = FOLLOWED_PREFIX + picker
    # A page switch drops the widget's own state: the session's `wanted` is then the user's last pick.
    if wanted in options and (wanted != st.session_state.get(seen) or current not in options):
        st.session_state[seen] = wanted
        st.session_state[picker] = wanted
    elif current not in options:
        st.session_state[picker] = options[0]


def remember_choice(picker: str, key: str, value: Any) -> None:
    """After picker `picker` was drawn: its value becomes the session's `key` (the other pages follow it),
    marked as already followed so that `follow` does not take it for a new request."""
    st.session_state[key] = value
    st.session_state[FOLLOWED_PREFIX + picker] = value


def refresh_label(key: str) -> None:
    """Re-send picker `key`'s value so the browser shows its option label as formatted on this run.

    Streamlit's frontend keeps the label text it was last sent for the selected option: a label that
    changes while the option stays selected (a run's status, the language) would otherwise stay stale.
    Writing the value back marks it as set by the script, which makes Streamlit send it again.
    """
    if st.session_state.get(key) is not None:
        st.session_state[key] = st.session_state[key]


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    return Settings.from_env()


@st.cache_resource(show_spinner=False)
def get_service() -> FinsentService:
    """One service per server process: it is thread-safe and keeps no per-user state."""
    from finsent.service import FinsentService  # imported on first use: keeps the app's import light

    return FinsentService(get_settings())


def current_backend() -> str | None:
    value = st.session_state.get("backend")
    return str(value) if value else None


def current_model() -> str | None:
    value = st.session_state.get("model_id")
    return str(value) if value else None


def model_title(backend: str, model_id: str) -> str:
    """A model's name as every page shows it (its id when finsent does not know it)."""
    record = next((m for m in get_service().models(backend) if m.id == model_id), None)
    return record.title if record else model_id


def api_key(backend: str | None) -> str | None:
    """The key typed in the sidebar for `backend` this session, if any (configured keys come from env)."""
    if not backend:
        return None
    keys = st.session_state.get("api_keys") or {}
    return keys.get(backend) or None


def api_keys() -> dict[str, str]:
    return {name: key for name, key in (st.session_state.get("api_keys") or {}).items() if key}


def backend_label(name: str) -> str:
    """A backend's display name in the session's language ("모의 (오프라인 데모)"); its id if unknown."""
    from finsent.ui.i18n import backend_text

    for info in get_service().backends(api_keys=api_keys()):
        if info.name == name:
            return backend_text(info)[0] or name
    return name


# -- cached data ------------------------------------------------------------------------------------


@st.cache_data(ttl=3600, max_entries=6, show_spinner=False)
def load_table(file_id: str, name: str, sheet: str | None, _data: bytes, max_mb: int) -> LoadedTable:
    """Read an upload once per (file, sheet); `file_id` stands for the bytes so they are not hashed on reruns
    (`max_mb` is in the key: a changed limit reads again)."""
    return get_service().files.read_table(_data, name, sheet=sheet)


@st.cache_data(ttl=3600, max_entries=4, show_spinner=False)
def load_path(path: str, mtime: float, sheet: str | None, max_mb: int) -> LoadedTable:
    """Read a file on disk (bundled sample, downloaded corpus); `mtime` invalidates the entry on change."""
    return get_service().files.read_table(Path(path), Path(path).name, sheet=sheet)


def dataset_stamp(dataset_id: str) -> float:
    """When a prepared dataset last changed (its manifest is written last): part of the cost caches' keys."""
    from finsent.service import MANIFEST

    return (Path(get_service().dataset(dataset_id).directory) / MANIFEST).stat().st_mtime


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def training_estimates(dataset_id: str, stamp: float, epochs: int) -> list[CostEstimate]:
    """Training cost with every priced base model of every backend: counting a large set takes seconds."""
    return get_service().training_cost_estimates(dataset_id, epochs)


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def training_estimate(
    backend: str, dataset_id: str, stamp: float, base_model: str, epochs: int
) -> CostEstimate | None:
    return get_service().training_cost(backend, dataset_id, base_model, epochs)


@st.cache_data(ttl=3600, max_entries=8, show_spinner=False)
def input_cost(
    file_id: str, column: str, backend: str, model: str, _texts: Iterable[object]
) -> CostEstimate | None:
    """Input tokens (and price) of an upload's text column with a model, as its backend counts them;
    (file_id, column) stands for the texts: they are not hashed."""
    return get_service().input_cost(backend, model, [str(text) for text in _texts])


# -- navigation -------------------------------------------------------------------------------------

VIEWS_DIR = Path(__file__).resolve().parent / "views"


def page_file(name: str) -> str:
    """The page module for `name` ("data", "train", ...), as st.switch_page and st.page_link want it."""
    return str(VIEWS_DIR / f"{name}.py")


def go_to(name: str) -> None:
    st.switch_page(page_file(name))
