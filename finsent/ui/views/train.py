"""Train page: a prepared dataset, the selected backend's options form, the cost and a confirmation, start."""

from __future__ import annotations

from typing import Any

import streamlit as st

from finsent.service import SHOT_MODES, parse_label_map
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.forms import options_inputs
from finsent.ui.i18n import backend_text, base_model_text, current_lang, moment_text, t
from finsent.ui.markdown import plain


def _dataset_label(record: Any) -> str:
    return f"{record.name} · {record.rows:,} · {moment_text(record.created_at)} · {record.id}"


def _pick_dataset() -> str | None:
    datasets = sorted(state.get_service().datasets(), key=lambda d: d.created_at, reverse=True)
    if not datasets:
        st.info(t("train.no_dataset"))
        st.page_link(state.page_file("data"), label=t("train.go_data"), icon=":material/table_view:")
        return None
    ids = [d.id for d in datasets]
    by_id = {d.id: d for d in datasets}
    state.follow("train_dataset", st.session_state.get("dataset_id"), ids)
    chosen = st.selectbox(
        t("train.dataset"), ids, format_func=lambda i: _dataset_label(by_id[i]), key="train_dataset"
    )
    state.remember_choice("train_dataset", "dataset_id", chosen)
    return str(chosen)


def _cost_confirmation(backend: str, dataset_id: str, base_model: str, epochs: object) -> bool:
    """The estimated cost of a paid job and the user's confirmation; True when it may start (at once for
    a backend that says the job costs nothing)."""
    # "auto" (the provider picks) or nothing: estimate with 3 epochs, the usual choice for small sets
    n_epochs = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else 3
    stamp = state.dataset_stamp(dataset_id)
    estimate = state.training_estimate(backend, dataset_id, stamp, base_model, n_epochs)
    if estimate is None:
        return True
    tokens, usd, exact = int(estimate.total_tokens), float(estimate.usd or 0.0), bool(estimate.exact)
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


def _training_section(service: Any, name: str, info: Any, dataset_id: str) -> None:
    backend = service.backend(name, api_key=state.api_key(name))
    models = _base_models(backend)
    st.subheader(t("train.options", backend=plain(backend_text(info)[0])))
    if not models:
        st.warning(t("train.no_base_models"))
        return
    ids = [m.id for m in models]
    base_model = st.selectbox(
        t("train.base_model"),
        ids,
        format_func=lambda i: base_model_text(name, next((m for m in models if m.id == i), None), i),
        key=f"train_base_{name}",
        help=t("train.base_model_help"),
    )
    values = options_inputs(type(backend).Options, key_prefix=f"train_{name}_")
    options = type(backend).Options(**{**values, "base_model": base_model})
    allowed = _cost_confirmation(name, dataset_id, base_model, values.get("epochs") or values.get("n_epochs"))
    if st.button(t("train.start"), type="primary", disabled=not allowed, key="train_start"):
        with st.spinner(t("train.starting")):
            job = service.start_training(
                name, dataset_id, options.model_dump(mode="json"), api_key=state.api_key(name)
            )
        st.session_state["job_id"] = job.id
        state.go_to("monitor")


def _shots_section(service: Any, name: str, info: Any, dataset_id: str) -> None:
    """For a backend that classifies untrained (Capability.SHOTS): record a model in zero/few-shot mode."""
    st.divider()
    st.subheader(t("train.shots_title"))
    st.caption(t("train.shots_intro"))
    added = st.session_state.pop("train_shot_added", None)
    if added:
        st.success(t("train.shots_added", model=added))
    chat_models = [m.id for m in info.base_models if getattr(m, "kind", "") == "chat"]
    a, b, c = st.columns([3, 2, 2])
    model_id = a.text_input(
        t("train.shots_model"),
        value=chat_models[-1] if chat_models else "",
        key=f"train_shot_model_{name}",
        help=t("train.shots_model_help"),
    )
    mode = b.radio(
        t("train.shots_mode"),
        SHOT_MODES,
        format_func=lambda m: t(f"train.shots_{m}"),
        key=f"train_shot_mode_{name}",
    )
    per_label = c.number_input(
        t("train.shots_per_label"),
        min_value=1,
        max_value=20,
        value=2,
        step=1,
        key=f"train_shot_per_label_{name}",
        disabled=mode != "few_shot",
    )
    st.caption(t("train.shots_dataset", dataset=plain(service.dataset(dataset_id).name)))
    if st.button(t("train.shots_add"), key=f"train_shot_add_{name}", disabled=not str(model_id).strip()):
        record = service.add_shot_model(
            name,
            str(model_id),
            str(mode),
            dataset_id=dataset_id,
            per_label=int(per_label),
            api_key=state.api_key(name),
        )
        state.request_widget_value("model_id", record.id)
        st.session_state["train_shot_added"] = record.id
        st.rerun()


def _ready_section(service: Any, name: str, info: Any) -> None:
    """For a backend that can use a ready classifier as it is (Capability.READY): record one, its labels
    mapped onto ours; it classifies and is evaluated with no training (`finsent add-model --label-map`)."""
    st.divider()
    st.subheader(t("train.ready_title"))
    st.caption(t("train.ready_intro"))
    added = st.session_state.pop("train_ready_added", None)
    if added:
        st.success(t("train.shots_added", model=plain(added)))
    ready = [m.id for m in info.base_models if "ready" in getattr(m, "description", "").lower()]
    a, b = st.columns([3, 3])
    source = a.text_input(
        t("train.ready_model"),
        value=ready[0] if ready else "",
        key=f"train_ready_model_{name}",
        help=t("train.ready_model_help"),
    )
    mapping = b.text_input(
        t("train.ready_label_map"),
        key=f"train_ready_map_{name}",
        placeholder="LABEL_0=negative,LABEL_1=neutral,LABEL_2=positive",
        help=t("train.ready_label_map_help"),
    )
    if st.button(t("train.shots_add"), key=f"train_ready_add_{name}", disabled=not str(source).strip()):
        with st.spinner(t("train.ready_loading")):
            record = service.add_ready_model(
                name, str(source), parse_label_map(str(mapping)) or None, api_key=state.api_key(name)
            )
        state.request_widget_value("model_id", record.id)
        st.session_state["train_ready_added"] = record.title
        st.rerun()


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
            label, _, reason = backend_text(info)
            st.warning(t("train.backend_unavailable", backend=label, reason=reason or "-"))
            return
        # The backend writes its own notice (e.g. a provider ending new fine-tuning jobs): only it knows it.
        notice = service.training_notice(name)
        if notice is not None:
            st.warning(plain(notice.get(current_lang())), icon=":material/event_busy:")
        if "train" in info.capabilities:
            _training_section(service, name, info, dataset_id)
    if "shots" in info.capabilities:
        with reported_errors():
            _shots_section(service, name, info, dataset_id)
    if "ready" in info.capabilities:
        with reported_errors():
            _ready_section(service, name, info)


main()
