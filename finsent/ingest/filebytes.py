"""An input file's bytes before any parser: it exists, it is within the size limit, it is not blank, and
which format it is in (by its first bytes and its name).

Free of pandas and numpy, so that a JSON Lines file can be read in a child process before they are
imported (`finsent.ingest.prefetch`).
"""

from __future__ import annotations

import re
from pathlib import Path

from finsent.contract.errors import InputError
from finsent.contract.texts import Text

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other MS Office binaries)
# Nothing but blanks, NULs and byte-order marks; stops at the first other byte (no copy of the file).
_BLANK = re.compile(rb"[ \t\r\n\x00\xef\xbb\xbf\xff\xfe]*\Z")


def load_bytes(source: Path | bytes, name: str | None, max_mb: int) -> tuple[bytes, str]:
    """The bytes of a path or an upload, and the label shown to the user."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "upload"
    else:
        path, label = checked_path(source, name, max_mb)
        data = path.read_bytes()
    return checked_bytes(data, label, max_mb), label


def checked_path(source: Path | str, name: str | None, max_mb: int) -> tuple[Path, str]:
    """The path of a file that exists and is within the size limit, and its label."""
    path = Path(source).expanduser()
    label = name or path.name
    if not path.is_file():
        raise InputError(
            Text(f"{path} does not exist or is not a file.", f"{path} 파일이 없거나 파일이 아닙니다."),
            hint=Text("Check the path.", "경로를 확인하세요."),
        )
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        _raise_too_large(label, size, max_mb)
    return path, label


def checked_bytes(data: bytes, label: str, max_mb: int) -> bytes:
    """`data`, unless it is over the size limit or blank."""
    if len(data) > max_mb * 1024 * 1024:
        _raise_too_large(label, len(data), max_mb)
    if _BLANK.match(data):
        raise InputError(
            Text(f"{label} is empty.", f"{label} 파일이 비어 있습니다."),
            hint=Text(
                "Choose a file with a header row and at least one labelled row.",
                "머리글 행과 라벨이 있는 행이 하나 이상 있는 파일을 선택하세요.",
            ),
        )
    return data


def _raise_too_large(label: str, size: int, max_mb: int) -> None:
    mb = size / (1024 * 1024)
    raise InputError(
        Text(
            f"{label} is {mb:,.1f} MB, more than the limit of {max_mb} MB.",
            f"{label} 파일 크기({mb:,.1f} MB)가 한도 {max_mb} MB를 넘습니다.",
        ),
        hint=Text(
            "Split the file, or raise the limit with FINSENT_MAX_INPUT_MB.",
            "파일을 나누거나 FINSENT_MAX_INPUT_MB 로 한도를 높이세요.",
        ),
    )


def input_format(data: bytes, label: str) -> str:
    """ "xlsx", "jsonl", "tsv" or "csv", from the first bytes (`data` may be just those) and the name."""
    lower = label.lower()
    if data.startswith(OLE_MAGIC) or lower.endswith(".xls"):
        raise InputError(
            Text(
                f"{label} is an old Excel (.xls) or other Office binary file, which finsent cannot read.",
                f"{label} 은(는) 예전 엑셀(.xls) 형식이라 읽을 수 없습니다.",
            ),
            hint=Text(
                "Open it in Excel and save it as .xlsx or CSV UTF-8.",
                "엑셀에서 열어 .xlsx 또는 CSV UTF-8 로 저장하세요.",
            ),
        )
    if data.startswith(XLSX_MAGIC) or lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith((".tsv", ".tab")):
        return "tsv"
    return "csv"
