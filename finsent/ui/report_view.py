"""The validation report on the Data page: findings by severity, the offending rows one click away."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from finsent.ui.i18n import current_lang, has, t
from finsent.ui.markdown import plain

SEVERITY_ORDER: tuple[str, ...] = ("error", "warning", "info")
SEVERITY_ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}
MAX_ROWS_SHOWN = 500


def _severity(finding: Any) -> str:
    return str(finding.severity).lower()  # "error" | "warning" | "info" (the checks catalogue's)


def _text(finding: Any, field: str) -> str:
    """A finding's message/remedy: the dashboard's own wording when the catalogue has one for its id (the
    core's remedies name CLI flags such as --labels; the page names its controls), else as written."""
    fid = getattr(finding, "id", "")
    applied = ".applied" if field == "remedy" and getattr(finding, "applied", False) else ""
    for key in (f"finding.{fid}.{field}{applied}", f"finding.{fid}.{field}"):
        if has(key):
            controls = {"lowercase": t("data.lowercase"), "labels": t("data.labels")}
            return t(key, count=getattr(finding, "count", ""), **controls)
    localised = getattr(finding, f"{field}_ko", None)
    if current_lang() == "ko" and localised:
        return str(localised)
    return str(getattr(finding, field, "") or "")


def offending_rows(frame: pd.DataFrame, rows: Sequence[int]) -> pd.DataFrame:
    """The rows a finding names (1-based data row numbers), indexed by that number."""
    wanted = [int(r) for r in rows if 1 <= int(r) <= len(frame)][:MAX_ROWS_SHOWN]
    shown = frame.iloc[[r - 1 for r in wanted]].copy()
    shown.index = pd.Index(wanted, name=t("data.row_number"))
    return shown


def render_report(report: Any, frame: pd.DataFrame | None) -> None:
    findings = list(getattr(report, "findings", []) or [])
    counts = {sev: sum(1 for f in findings if _severity(f) == sev) for sev in SEVERITY_ORDER}
    cols = st.columns(3)
    for col, sev in zip(cols, SEVERITY_ORDER, strict=True):
        col.metric(t(f"severity.{sev}"), counts[sev])
    if not findings:
        st.success(t("data.report_clean"))
        return
    ordered = sorted(
        findings, key=lambda f: SEVERITY_ORDER.index(_severity(f)) if _severity(f) in SEVERITY_ORDER else 3
    )
    for finding in ordered:
        sev = _severity(finding)
        count = getattr(finding, "count", 0)
        message = plain(_text(finding, "message"))
        remedy = plain(_text(finding, "remedy"))
        applied = getattr(finding, "applied", False)
        body = f"**{t(f'severity.{sev}') if sev in SEVERITY_ORDER else sev}** · {message}"
        if remedy:
            body += (
                "\n\n" + (t("data.remedy_applied") if applied else t("data.remedy_offered")) + " " + remedy
            )
        box = {"error": st.error, "warning": st.warning}.get(sev, st.info)
        box(body, icon=SEVERITY_ICONS.get(sev, ":material/info:"))
        rows = list(getattr(finding, "rows", []) or [])
        if rows and frame is not None:
            with st.expander(
                t("data.show_rows", shown=min(len(rows), MAX_ROWS_SHOWN), count=count or len(rows))
            ):
                st.dataframe(offending_rows(frame, rows), width="stretch")
