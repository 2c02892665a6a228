"""Monitor page: every job of every backend, newest first; the selected one live; attach a job by id."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import moment_text, t
from finsent.ui.job_view import live_job, render_job, status_colour, status_text
from finsent.ui.rename import rename_control
from finsent.ui.storage_panel import render_storage_panel


def _jobs_table(jobs: list[Any]) -> pd.DataFrame:
    labels = {name: state.backend_label(name) for name in {j.backend for j in jobs}}
    return pd.DataFrame(
        [
            {
                t("monitor.col_name"): j.title,
                t("monitor.col_status"): status_text(j.status),
                t("monitor.col_backend"): labels[j.backend],
                t("monitor.col_base_model"): j.base_model,
                t("monitor.col_created"): moment_text(j.created_at),
                t("monitor.col_model"): j.fine_tuned_model or "",
                t("monitor.col_id"): j.id,
            }
            for j in jobs
        ]
    )


def _styled(frame: pd.DataFrame, jobs: list[Any]) -> Any:
    """The status column in its badge colour: a table cannot hold badges, and emoji marks need a colour
    emoji font that many office PCs lack (they show as empty boxes)."""
    colours = [f"color: {status_colour(j.status)}; font-weight: 600" for j in jobs]
    return frame.style.apply(lambda _column: colours, subset=[t("monitor.col_status")])


def _attach() -> None:
    service = state.get_service()
    infos = [b for b in service.backends(api_keys=state.api_keys()) if "attach" in _capabilities(b)]
    with st.expander(t("monitor.attach"), icon=":material/link:"):
        if not infos:
            st.caption(t("monitor.attach_none"))
            return
        with st.form("mon_attach_form"):
            names = [b.name for b in infos]
            backend = st.selectbox(t("monitor.attach_backend"), names, key="mon_attach_backend")
            external = st.text_input(
                t("monitor.attach_id"), key="mon_attach_id", help=t("monitor.attach_help")
            )
            submitted = st.form_submit_button(t("monitor.attach_submit"))
        if submitted:
            if not external.strip():
                st.warning(t("monitor.attach_empty"))
                return
            with reported_errors():
                job = service.attach_job(backend, external.strip(), api_key=state.api_key(backend))
                st.session_state["job_id"] = job.id
                st.rerun()


def _storage() -> None:
    """Where the space goes and the button that frees what is no longer needed (`finsent gc`)."""
    with st.expander(t("storage.title"), icon=":material/storage:"):
        render_storage_panel(state.get_service(), t)


def _capabilities(info: Any) -> set[str]:
    return set(info.capabilities)  # BackendInfo lists capability values


def _picked() -> None:
    st.session_state["job_id"] = st.session_state["mon_pick"]


def main() -> None:
    st.title(t("monitor.title"))
    with reported_errors():
        _attach()
        _jobs()
    with reported_errors():
        _storage()  # below the jobs: housekeeping, not what the page is for


def _jobs() -> None:
    """The job table, the job picked and its panel (live while it runs)."""
    service = state.get_service()
    service.keep_jobs_fresh()  # a background poller: this list reads the store only
    jobs = service.jobs(refresh=False)
    if not jobs:
        st.info(t("monitor.no_jobs"))
        st.page_link(state.page_file("train"), label=t("monitor.go_train"), icon=":material/model_training:")
        return
    st.dataframe(
        _styled(_jobs_table(jobs), jobs),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(jobs), 260),
    )
    ids = [j.id for j in jobs]
    by_id = {j.id: j for j in jobs}
    state.follow("mon_pick", st.session_state.get("job_id"), ids)
    state.refresh_label("mon_pick")  # the job's status (in its label) may have changed
    pick, rename = st.columns([3, 1], vertical_alignment="bottom")
    job_id = pick.selectbox(
        t("monitor.pick"),
        ids,
        format_func=lambda i: f"{by_id[i].title} · {status_text(by_id[i].status)}",
        key="mon_pick",
        on_change=_picked,
    )
    state.remember_choice("mon_pick", "job_id", job_id)
    job = by_id[job_id]
    with rename:
        rename_control("mon_rename_job", job.title, lambda name: state.get_service().rename_job(job.id, name))
    st.divider()
    if job.status.is_terminal and not service.evaluation_pending(job.id):
        render_job(job)
    else:  # running, or evaluating after it succeeded: the panel follows until both are done
        live_job(job_id, job.backend, job.status)


main()
