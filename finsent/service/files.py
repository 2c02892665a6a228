"""The service's files: reading an input once, checking it, preparing it, exporting results, the corpus.

The Data page, the Classify page and the CLI all come through here (`service.files`), so an upload is read
and checked once, with the limits of the settings, and no page decodes what the core wrote.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsent.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from finsent.contract.backend import Backend
    from finsent.contract.dataset import PreparedDataset
    from finsent.ingest.columns import ColumnGuess
    from finsent.ingest.prefetch import JsonlPrefetch
    from finsent.ingest.reading import LoadedTable
    from finsent.prep.pipeline import PrepareOptions
    from finsent.prep.report import Report
    from finsent.store.records import BulkResults

#: export kinds for people (the dashboard's downloads): (file suffix, mime type)
EXPORT_KINDS: Mapping[str, str] = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def declared_token_limit(backends: Iterable[Backend]) -> tuple[int, str] | None:
    """The smallest per-example token limit the backends declare, with its base model (None: none does)."""
    limits = []
    for backend in backends:
        try:
            limit = backend.example_token_limit()
        except Exception:  # a backend's own bug must not block preparing data for every backend
            continue
        if limit:
            limits.append(limit)
    return min(limits) if limits else None


class DataFiles:
    def __init__(self, settings: Settings, backend_limit: Callable[[], tuple[int, str] | None]) -> None:
        self.settings = settings
        self._backend_limit = backend_limit

    @classmethod
    def standalone(cls, settings: Settings | None = None) -> DataFiles:
        """Files without the rest of the service (no database): `finsent prepare` stays quick. The token
        limit comes from the registered backends' classes, built without a key, and only when the checks
        ask for it (a text long enough to reach a limit): loading the plugins costs about 0.2 s."""
        settings = settings or Settings.from_env()

        def limit() -> tuple[int, str] | None:
            from finsent.contract.backend import BackendContext
            from finsent.plugins import load_backends

            registry = load_backends(settings)
            context = BackendContext(settings=settings)
            built = []
            for backend_class in registry.backends.values():
                try:
                    built.append(backend_class(context))
                except Exception:  # the service reports broken backends; preparing goes on without them
                    continue
            return declared_token_limit(built)

        return cls(settings, limit)

    def with_backend_limit(self, options: PrepareOptions | None) -> PrepareOptions:
        """`options` with the backends' smallest per-example token limit for the over_token_limit check
        (the pipeline names no backend; the backends say what their limits are), asked for when the
        check needs it."""
        from finsent.prep.pipeline import PrepareOptions

        options = options or PrepareOptions()
        if options.token_limit or options.backend_limit:
            return options
        return dataclasses.replace(options, backend_limit=self._backend_limit)

    # -- reading ------------------------------------------------------------------------------
    def read_table(
        self,
        source: Path | bytes,
        name: str | None = None,
        sheet: str | None = None,
        prefetch: JsonlPrefetch | None = None,
    ) -> LoadedTable:
        """A CSV/TSV/XLSX/JSONL file (a path or uploaded bytes) as a table of strings, within the limits.
        `prefetch`: what `start_reading(source)` gave, if anything."""
        from finsent.ingest.limits import InputLimits
        from finsent.ingest.reading import read_table

        limits = InputLimits.from_settings(self.settings)
        return read_table(source, name, sheet=sheet, limits=limits, prefetch=prefetch)

    def start_reading(self, path: Path) -> contextlib.AbstractContextManager[JsonlPrefetch | None]:
        """Start reading a JSON Lines file in a child process, before pandas is imported (a command's
        first step; see finsent.ingest.prefetch): a context manager giving what to hand to `read_table`
        (None for other files), which stops a child whose result was not taken."""
        from finsent.ingest.limits import InputLimits
        from finsent.ingest.prefetch import start_jsonl_prefetch

        prefetch = start_jsonl_prefetch(Path(path).expanduser(), InputLimits.from_settings(self.settings))
        return prefetch if prefetch is not None else contextlib.nullcontext()

    def guess_columns(self, frame: pd.DataFrame) -> ColumnGuess:
        """Which column holds the text, and which the label (None where it cannot tell), from the header
        and the cells: for pickers that show the guess and let the user change it."""
        from finsent.ingest.columns import guess_columns

        return guess_columns(frame, look_at_cells=True)

    # -- checking and preparing ---------------------------------------------------------------
    def check_table(self, table: LoadedTable, options: PrepareOptions | None = None) -> Report:
        """Every check and the split, nothing written (what preparing would keep, drop and warn about)."""
        from finsent.prep.pipeline import check_table

        return check_table(table, self.with_backend_limit(options))

    def prepare_folder(
        self,
        table: LoadedTable,
        options: PrepareOptions | None,
        out_dir: Path | str,
        prefetch: JsonlPrefetch | None = None,
    ) -> tuple[PreparedDataset, Report]:
        """Check, clean, split and write `table` into `out_dir`; PreparationError when findings block it.
        `prefetch`: the child that read `table` (from `start_reading`), which then lays out part of the
        training files."""
        from finsent.prep.pipeline import prepare_dataset

        return prepare_dataset(table, self.with_backend_limit(options), out_dir, helper=prefetch)

    # -- exports ------------------------------------------------------------------------------
    def export_bytes(self, frame: pd.DataFrame, kind: str) -> bytes:
        """A results table as a file for people: "csv" (UTF-8 with BOM, formulas neutralised) or "xlsx"."""
        from finsent.output.export import table_bytes

        return table_bytes(frame, kind)

    def results_table(self, results: BulkResults, korean_labels: bool = False) -> pd.DataFrame:
        """The results as exported: label ids (positive...) or, with `korean_labels`, 긍정/부정/중립."""
        if not korean_labels:
            return results.frame
        from finsent.contract.labels import korean_name

        frame = results.frame.copy()
        column = results.label_column
        frame[column] = frame[column].map(lambda v: korean_name(v) if isinstance(v, str) and v else v)
        return frame

    def export_results(
        self, results: BulkResults, kind: str, korean_labels: bool = False, formula_guard: bool = True
    ) -> bytes:
        """A bulk run's results as a file for people ("csv", "xlsx"): see `export_bytes`."""
        from finsent.output.export import table_bytes

        return table_bytes(self.results_table(results, korean_labels), kind, formula_guard)

    def write_results(
        self, path: Path | str, results: BulkResults, korean_labels: bool = False, formula_guard: bool = True
    ) -> Path:
        from finsent.output.export import write_table

        return write_table(path, self.results_table(results, korean_labels), formula_guard)

    def write_table_parts(
        self, path: Path | str, parts: Iterable[pd.DataFrame], formula_guard: bool = True
    ) -> Path:
        from finsent.output.export import write_table_parts

        return write_table_parts(path, parts, formula_guard)

    def check_output_name(self, path: Path | str) -> str:
        """The export format of `path` by its suffix; InputError for one finsent cannot write."""
        from finsent.output.export import table_format

        return table_format(path)

    def write_table(self, path: Path | str, frame: pd.DataFrame) -> Path:
        """Write `frame` atomically in the format of `path`'s suffix."""
        from finsent.output.export import write_table

        return write_table(path, frame)

    def write_text(self, path: Path | str, text: str) -> Path:
        from finsent.support.atomic import atomic_write_text

        return atomic_write_text(path, text)

    def report_text(self, directory: Path | str, lang: str) -> str | None:
        """A prepared dataset's report.txt in `lang`, rendered from its report.json (the file on disk is the
        CLI's, in English); None when the folder has no report.json."""
        import json

        from finsent.prep.report import Report

        path = Path(directory) / "report.json"
        if not path.is_file():
            return None
        return Report.from_dict(json.loads(path.read_text(encoding="utf-8"))).to_text(lang)

    @property
    def xlsx_max_rows(self) -> int:
        from finsent.output.export import XLSX_MAX_ROWS

        return XLSX_MAX_ROWS

    # -- the corpus and the bundled sample ----------------------------------------------------
    def sample_path(self) -> Path:
        from finsent.ingest.corpus import sample_path

        return Path(sample_path())

    def corpus_status(self) -> dict[str, Any]:
        from finsent.ingest.corpus import corpus_status

        return corpus_status(self.settings.corpus_path)

    def fetch_corpus(self, dest: Path | None = None, url: str | None = None, timeout: float = 30) -> Path:
        """Download the Korean Finance PhraseBank (default: into FINSENT_HOME), checked against its sha256."""
        from finsent.ingest.corpus import CORPUS_URL, fetch_corpus

        return fetch_corpus(dest or self.settings.corpus_path, url=url or CORPUS_URL, timeout=timeout)
