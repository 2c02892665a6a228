"""A prepared dataset on the Data page: train/valid label counts, token and cost estimate, file downloads."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from finsent.service import charts
from finsent.ui import state
from finsent.ui.errors import reported_errors
from finsent.ui.i18n import current_lang, label_names, t
from finsent.ui.markdown import plain

MIME = {".csv": "text/csv", ".jsonl": "application/jsonl", ".json": "application/json", ".txt": "text/plain"}


def zip_directory(directory: Path) -> bytes:
    """Every file of a prepared directory in one zip (deterministic order)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            archive.write(path, arcname=path.name)
    return buffer.getvalue()


UTF8_BOM = b"\xef\xbb\xbf"


def _reader(path: Path) -> Callable[[], bytes]:
    """The file as a person downloads it, read on click (not on every rerun). A CSV gets a UTF-8 byte order
    mark, without which Korean Excel shows the Korean as mojibake; the zip keeps the exact files (their
    hashes are in manifest.json), for finsent and other programs."""
    if path.suffix.lower() != ".csv":
        return path.read_bytes
    return lambda: UTF8_BOM + path.read_bytes().removeprefix(UTF8_BOM)


def _report_reader(directory: Path, lang: str) -> Callable[[], bytes] | None:
    """report.txt in the page's language, rendered on click from report.json."""
    if not (directory / "report.json").is_file():
        return None
    files = state.get_service().files

    def read() -> bytes:
        return (files.report_text(directory, lang) or "").encode("utf-8")

    return read


def _split_chart(record: Any) -> None:
    counts = (record.manifest or {}).get("counts") or {}
    splits = {split: dict(counts.get(split) or {}) for split in ("train", "valid") if split in counts}
    if not splits:
        return
    labels = list(((record.manifest or {}).get("labels") or {}).get("names") or [])
    st.altair_chart(
        charts.split_distribution(
            splits,
            label_title=t("chart.label"),
            count_title=t("chart.count"),
            split_title=t("chart.split"),
            split_names={"train": t("split.train"), "valid": t("split.valid")},
            order=labels,
            names=label_names(labels),
        ),
        width="stretch",
    )


def cost_rows(estimates: Sequence[Any]) -> pd.DataFrame:
    """Training tokens and estimated cost per priced (paid) base model, in the page's language."""
    return pd.DataFrame(
        [
            {
                t("cost.model"): e.base_model,
                t("cost.tokens"): int(e.total_tokens),
                t("cost.usd"): round(float(e.usd or 0.0), 4),
                t("cost.exact"): t("cost.exact_yes") if e.exact else t("cost.exact_no"),
            }
            for e in estimates
        ]
    )


def _costs(record: Any) -> None:
    epochs = st.number_input(t("cost.epochs"), 1, 50, 3, key="data_cost_epochs")
    estimates = state.training_estimates(record.id, state.dataset_stamp(record.id), int(epochs))
    table = cost_rows(estimates)
    if table.empty:
        st.caption(t("cost.none"))
        return
    config = {
        t("cost.model"): st.column_config.TextColumn(width="medium"),
        t("cost.tokens"): st.column_config.NumberColumn(format="localized", width="small"),
        t("cost.usd"): st.column_config.NumberColumn(format="$%.4f", width="small"),
        t("cost.exact"): st.column_config.TextColumn(width="small"),
    }
    st.dataframe(table, hide_index=True, width="stretch", column_config=config)
    st.caption(t("cost.note", date=estimates[0].prices_as_of))


def _downloads(record: Any) -> None:
    directory = Path(record.directory)
    files = sorted(p for p in directory.iterdir() if p.is_file())
    st.download_button(
        t("data.download_all"),
        data=lambda: zip_directory(directory),
        file_name=f"{record.id}.zip",
        mime="application/zip",
        on_click="ignore",
        icon=":material/folder_zip:",
        key="data_dl_zip",
    )
    cols = st.columns(3)
    for i, path in enumerate(files):
        data: Any = _reader(path)
        if path.name == "report.txt":  # in the page's language, not the CLI's English
            data = _report_reader(directory, current_lang()) or data
        cols[i % 3].download_button(
            path.name,
            data=data,
            file_name=path.name,
            mime=MIME.get(path.suffix, "application/octet-stream"),
            on_click="ignore",
            key=f"data_dl_{path.name}",
            help=t("data.download_csv_help") if path.suffix.lower() == ".csv" else None,
        )


def render_prepared(record: Any) -> None:
    st.divider()
    st.subheader(t("data.prepared_title", name=plain(record.name)))
    st.caption(
        t("data.prepared_caption", id=record.id, rows=f"{record.rows:,}", directory=plain(record.directory))
    )
    left, right = st.columns(2)  # the cost table needs half the width: model ids are long
    with left:
        st.markdown(f"**{t('data.split_distribution')}**")
        _split_chart(record)
    with right:
        st.markdown(f"**{t('data.cost_title')}**")
        with reported_errors():
            _costs(record)
    st.markdown(f"**{t('data.downloads')}**")
    _downloads(record)
    st.page_link(state.page_file("train"), label=t("data.go_train"), icon=":material/arrow_forward:")
