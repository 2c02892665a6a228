"""What one input file may hold, so that a small hostile file cannot take gigabytes or minutes.

Every reader (CSV/TSV, JSONL, XLSX) checks the same limits, as early as it can: the XLSX readers from the
zip directory before parsing and again while streaming (a directory can lie), the text readers before
pandas or json see a line. Each limit is a setting with a default a real user never meets; going over one
is an `OverLimitError` that names the limit, the value found and the setting that raises it.
"""

from __future__ import annotations

from dataclasses import dataclass

from finsent.contract.errors import InputError
from finsent.contract.texts import Text
from finsent.settings import Settings


@dataclass(frozen=True)
class InputLimits:
    """The limits of one read. Build with `InputLimits.from_settings(settings)`; the defaults are the
    settings' defaults (finsent.settings.Settings documents each one)."""

    #: size of the file as stored, MB (uploads and CLI inputs)
    max_input_mb: int = Settings.max_input_mb
    #: an XLSX file's parts once decompressed, MB in total
    max_unzipped_mb: int = Settings.max_unzipped_mb
    #: data rows (the header not counted)
    max_rows: int = Settings.max_rows
    max_columns: int = Settings.max_columns
    #: characters in one cell (the 10,000-character texts of real news pass with room to spare)
    max_cell_chars: int = Settings.max_cell_chars
    #: bytes of one physical line of a CSV/TSV/JSONL file, KB
    max_line_kb: int = Settings.max_line_kb

    @classmethod
    def from_settings(cls, settings: Settings) -> InputLimits:
        return cls(
            max_input_mb=settings.max_input_mb,
            max_unzipped_mb=settings.max_unzipped_mb,
            max_rows=settings.max_rows,
            max_columns=settings.max_columns,
            max_cell_chars=settings.max_cell_chars,
            max_line_kb=settings.max_line_kb,
        )

    @property
    def max_unzipped_bytes(self) -> int:
        return self.max_unzipped_mb * 1024 * 1024

    @property
    def max_line_bytes(self) -> int:
        return self.max_line_kb * 1024


class OverLimitError(InputError):
    """An input goes over one of `InputLimits`."""

    code = "over_limit"


#: limit -> (what is counted in English, Korean name and unit, setting)
_LIMITS: dict[str, tuple[str, str, str, str]] = {
    "max_input_mb": ("MB", "파일 크기", "MB", "FINSENT_MAX_INPUT_MB"),
    "max_unzipped_mb": ("MB once decompressed", "압축을 푼 크기", "MB", "FINSENT_MAX_UNZIPPED_MB"),
    "max_rows": ("rows", "행 수", "행", "FINSENT_MAX_ROWS"),
    "max_columns": ("columns", "열 수", "열", "FINSENT_MAX_COLUMNS"),
    "max_cell_chars": ("characters in one cell", "셀 하나의 글자 수", "자", "FINSENT_MAX_CELL_CHARS"),
    "max_line_kb": ("KB on one line", "한 줄의 크기", "KB", "FINSENT_MAX_LINE_KB"),
}


def over_limit(
    label: str,
    limit: str,
    found: int,
    allowed: int,
    *,
    at_least: bool = False,
    where: str = "",
    where_ko: str = "",
) -> OverLimitError:
    """The error for `label` (the file name shown) going over `limit` (a field of InputLimits): which limit,
    the value found (`at_least` when the reader stopped counting early), where (e.g. "row 12, column
    text"), and the setting that raises it.
    """
    unit, name_ko, unit_ko, setting = _LIMITS[limit]
    shown, shown_ko = (
        (f"at least {found:,}", f"{found:,}{unit_ko} 이상")
        if at_least
        else (f"{found:,}", f"{found:,}{unit_ko}")
    )
    at, at_ko = (f" ({where})" if where else ""), (f", {where_ko or where}" if where else "")
    return OverLimitError(
        Text(
            f"{label}: {shown} {unit}{at}, over the limit of {allowed:,}.",
            f"{label}: {name_ko}가 한도({allowed:,}{unit_ko})를 넘습니다(찾은 값: {shown_ko}{at_ko}).",
        ),
        hint=Text(
            f"Split or shorten the file, or raise the limit with the setting {setting} (e.g. {setting}={allowed * 2}).",
            f"파일을 나누거나 줄이세요. 또는 설정 {setting} 로 한도를 높이세요(예: {setting}={allowed * 2}).",
        ),
        dashboard_hint=Text(
            f"Split or shorten the file and upload it again (the limit is the setting {setting}).",
            f"파일을 나누거나 줄여서 다시 올리세요(한도는 설정 {setting} 입니다).",
        ),
    )
