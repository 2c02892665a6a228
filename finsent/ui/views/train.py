"""Train page: a prepared dataset, the selected backend's options form, the cost and a confirmation, start."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.forms import options_inputs
from finsent.ui.i18n import t
from finsent.ui.markdown import plain


def _dataset_label(record: Any) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created_at))
    return f"{record.name} · {record.rows:,} · {when} · {record.id}"


def _pick_dataset() -> str | None:
    datasets = sorted(state.get_service().datasets(), key=lambda d: d.created_at, reverse=True)
    if not datasets:
        st.info(t("train.no_dataset"))
        st.page_link(state.page_file("data"), label=t("train.go_data"), icon=":material/table_view:")
        return None
    ids = [d.id for d in datasets]
    by_id = {d.id: d for d in datasets}
    wanted = st.session_state.get("dataset_id")
    if st.session_state.get("train_dataset") not in ids or (
        wanted in ids and wanted != st.session_state["train_dataset"]
    ):
        st.session_state["train_dataset"] = wanted if wanted in ids else ids[0]
    chosen = st.selectbox(
        t("train.dataset"), ids, format_func=lambda i: _dataset_label(by_id[i]), key="train_dataset"
    )
    st.session_state["dataset_id"] = chosen
    return str(chosen)


def _cost_confirmation(dataset_id: str, base_model: str, epochs: int | None) -> bool:
    """The estimated cost of a paid job and the user's confirmation; True when it may start."""
    from finsent.costs import estimate_training_cost
    from finsent.dataset import PreparedDataset

    record = state.get_service().dataset(dataset_id)
    estimate = estimate_training_cost(PreparedDataset.open(record.directory), base_model, int(epochs or 3))
    tokens, usd, exact = int(estimate.total_tokens), float(estimate.usd), bool(estimate.exact)
    st.warning(
        t(
            "train.cost",
            tokens=f"{tokens:,}",
            usd=f"{usd:.2f}",
            how=t("cost.exact_yes" if exact else "cost.exact_no"),
        ),
        icon=":material/payments:",
    )
    return bool(st.checkbox(t("train.confirm_paid", usd=f"{usd:.2f}"), key="train_confirm"))


def _base_models(backend: Any) -> list[Any]:
    return [m for m in backend.base_models() if getattr(m, "can_train", True)]


def main() -> None:
    st.title(t("train.title"))
    st.caption(t("train.intro"))
    with reported_errors():
        dataset_id = _pick_dataset()
        if dataset_id is None:
            return
        name = state.current_backend()
        service = state.get_service()
        info = next((b for b in service.backends(api_keys=state.api_keys()) if b.name == name), None)
        if info is None or name is None:
            st.info(t("train.no_backend"))
            return
        if not info.available:
            st.warning(t("train.backend_unavailable", backend=info.label, reason=info.reason or "-"))
            return
        backend = service.backend(name, api_key=state.api_key(name))
        models = _base_models(backend)
        st.subheader(t("train.options", backend=plain(info.label)))
        if not models:
            st.warning(t("train.no_base_models"))
            return
        ids = [m.id for m in models]
        base_model = st.selectbox(
            t("train.base_model"),
            ids,
            format_func=lambda i: next((m.label or m.id for m in models if m.id == i), i),
            key=f"train_base_{name}",
            help=t("train.base_model_help"),
        )
        values = options_inputs(type(backend).Options, key_prefix=f"train_{name}_")
        options = type(backend).Options(**{**values, "base_model": base_model})
        allowed = True
        if info.needs_key:
            allowed = _cost_confirmation(
                dataset_id, base_model, values.get("epochs") or values.get("n_epochs")
            )
        if st.button(t("train.start"), type="primary", disabled=not allowed, key="train_start"):
            with st.spinner(t("train.starting")):
                job = service.start_training(
                    name, dataset_id, options.model_dump(mode="json"), api_key=state.api_key(name)
                )
            st.session_state["job_id"] = job.id
            state.go_to("monitor")


main()
