"""Settings read from the environment. All data finsent writes goes under FINSENT_HOME."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _positive_env(name: str, default: int) -> int:
    """A whole number above 0; anything else gives the default (a limit of 0 would refuse every file)."""
    value = _int_env(name, default)
    return value if value > 0 else default


def _seconds_env(name: str, default: float) -> float:
    """A positive, finite number of seconds; anything else gives the default."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if 0 < value < float("inf") else default


@dataclass(frozen=True)
class Settings:
    """Where finsent keeps its data and the limits it applies. Build with `Settings.from_env()`."""

    home: Path
    default_backend: str = "local"
    #: largest input file accepted, in megabytes (uploads and CLI inputs)
    max_input_mb: int = 200
    #: default UI language: "ko" or "en"
    language: str = "ko"
    plugins_dir: Path | None = None
    #: comma-separated plugin names to load (None: all)
    load_plugins: tuple[str, ...] | None = None
    #: seconds a third-party plugin may take to import before it is reported and skipped
    plugin_import_timeout: float = 10.0
    #: what one input file may hold (see finsent.ingest.limits; defaults a real user never meets)
    max_unzipped_mb: int = 1024
    max_rows: int = 1_000_000
    max_columns: int = 1_000
    max_cell_chars: int = 100_000
    max_line_kb: int = 4_096

    @classmethod
    def from_env(cls, home: Path | str | None = None) -> Settings:
        root = Path(home or os.environ.get("FINSENT_HOME") or Path.home() / ".finsent").expanduser()
        plugins_dir = os.environ.get("FINSENT_PLUGINS_DIR")
        load = os.environ.get("FINSENT_LOAD_PLUGINS")
        lang = os.environ.get("FINSENT_LANG", "").strip().lower()
        return cls(
            home=root,
            default_backend=os.environ.get("FINSENT_DEFAULT_BACKEND", "local") or "local",
            max_input_mb=_int_env("FINSENT_MAX_INPUT_MB", 200),
            language=lang if lang in ("ko", "en") else "ko",
            plugins_dir=Path(plugins_dir).expanduser() if plugins_dir else None,
            load_plugins=tuple(p.strip() for p in load.split(",") if p.strip()) if load is not None else None,
            plugin_import_timeout=_seconds_env("FINSENT_PLUGIN_IMPORT_TIMEOUT", 10.0),
            max_unzipped_mb=_positive_env("FINSENT_MAX_UNZIPPED_MB", 1024),
            max_rows=_positive_env("FINSENT_MAX_ROWS", 1_000_000),
            max_columns=_positive_env("FINSENT_MAX_COLUMNS", 1_000),
            max_cell_chars=_positive_env("FINSENT_MAX_CELL_CHARS", 100_000),
            max_line_kb=_positive_env("FINSENT_MAX_LINE_KB", 4_096),
        )

    # Folders under home; created on first use by whoever writes there.
    @property
    def db_path(self) -> Path:
        return self.home / "finsent.db"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def bulk_dir(self) -> Path:
        return self.home / "bulk"

    @property
    def corpus_path(self) -> Path:
        return self.home / "corpus" / "finance_data.csv"
