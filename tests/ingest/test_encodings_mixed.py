"""Files that mix two encodings (UTF-8 and CP949, or a UTF-8 byte-order mark before CP949 text) are told
as such, naming the line, in both languages; files in one encoding still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from finsent.contract.errors import InputError
from finsent.ingest.reading import read_table

HEADER = "text,label\n"
UTF8_ROWS = "".join(f"삼성전자 주가 상승 {i},positive\n" for i in range(15))
CP949_ROWS = "".join(f"현대차 실적 부진 {i},negative\n" for i in range(10))


def _mixed(path: Path, content: bytes) -> InputError:
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_table(path)
    en, ko = info.value.text("en"), info.value.text("ko")
    assert "mixes two encodings" in en and "CSV UTF-8" in en
    assert "두 인코딩이 섞여" in ko and "CSV UTF-8" in ko
    assert "binary" not in en
    return info.value


def test_utf8_then_cp949_names_the_line(tmp_path: Path) -> None:
    err = _mixed(tmp_path / "m.csv", (HEADER + UTF8_ROWS).encode() + CP949_ROWS.encode("cp949"))
    assert "line 17 changes from UTF-8 to CP949" in err.text("en") and "17번째 줄" in err.text("ko")


def test_cp949_then_utf8_names_the_line(tmp_path: Path) -> None:
    err = _mixed(tmp_path / "m.csv", (HEADER + CP949_ROWS).encode("cp949") + UTF8_ROWS.encode())
    assert "line 12 changes from CP949 to UTF-8" in err.text("en")


def test_a_large_utf8_file_with_cp949_at_the_end(tmp_path: Path) -> None:
    # the fast path parses UTF-8 bytes directly; the CP949 line far on must still be named
    content = (HEADER + UTF8_ROWS * 2_000).encode() + CP949_ROWS.encode("cp949")
    err = _mixed(tmp_path / "big.csv", content)
    assert "line 30,002 changes from UTF-8 to CP949" in err.text("en")


def test_a_stray_utf8_bom_before_cp949_text(tmp_path: Path) -> None:
    err = _mixed(tmp_path / "bom.csv", b"\xef\xbb\xbf" + (HEADER + CP949_ROWS).encode("cp949"))
    assert "starts with a UTF-8 byte-order mark, but its text is CP949" in err.text("en")
    assert "BOM" in err.text("ko") and "CP949" in err.text("ko")


def test_bom_then_utf8_then_cp949(tmp_path: Path) -> None:
    content = b"\xef\xbb\xbf" + (HEADER + UTF8_ROWS).encode() + CP949_ROWS.encode("cp949")
    err = _mixed(tmp_path / "bom2.csv", content)
    assert "line 17 changes from UTF-8 to CP949" in err.text("en")


def test_jsonl_mixing_encodings(tmp_path: Path) -> None:
    lines = '{"text": "삼성전자", "label": "positive"}\n' * 3
    err = _mixed(tmp_path / "m.jsonl", lines.encode() + '{"text": "현대차"}\n'.encode("cp949"))
    assert "line 4 changes from UTF-8 to CP949" in err.text("en")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_one_encoding_still_reads(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "one.csv"
    path.write_bytes((HEADER + CP949_ROWS).encode(encoding))
    table = read_table(path)
    assert table.rows == 10 and table.frame.loc[0, "text"] == "현대차 실적 부진 0"


def test_ascii_start_then_cp949_is_cp949_not_a_mix(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_bytes((HEADER + "plain text,positive\n" * 100).encode() + CP949_ROWS.encode("cp949"))
    assert read_table(path).encoding in ("cp949", "euc-kr")


def test_binary_data_is_still_binary(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputError, match="binary"):
        read_table(path)
