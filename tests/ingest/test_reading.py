"""Reading what users bring: real files in every encoding and format, and every kind of bad input."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import openpyxl
import pytest

from finsent.contract.errors import InputError
from finsent.ingest.reading import guess_columns, list_sheets, read_table, resolve_columns

ROWS = [
    ("한빛전자 영업이익 42% 증가", "positive"),
    ("대성건설, 직원 300명 감원", "negative"),
    ("Nordic Steel 정기 주주총회 3월 개최", "neutral"),
]


def _csv_text(delimiter: str = ",", header: tuple[str, str] = ("kor_sentence", "labels")) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(ROWS)
    return out.getvalue()


def _assert_rows(table) -> None:  # type: ignore[no-untyped-def]
    assert list(table.frame.columns) == ["kor_sentence", "labels"]
    assert table.frame.values.tolist() == [list(r) for r in ROWS]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp949", "euc-kr"),  # these texts stay inside EUC-KR
        ("euc-kr", "euc-kr"),
        ("utf-16", "utf-16-le"),
        ("utf-16-be-bom", "utf-16-be"),
    ],
)
def test_korean_csv_in_every_office_encoding(tmp_path: Path, encoding: str, expected: str) -> None:
    path = tmp_path / "news.csv"
    if encoding == "utf-16-be-bom":
        path.write_bytes(b"\xfe\xff" + _csv_text().encode("utf-16-be"))
    else:
        path.write_bytes(_csv_text().encode(encoding))
    table = read_table(path)
    _assert_rows(table)
    assert table.encoding == expected
    assert table.file_format == "csv"
    assert len(table.sha256) == 64


def test_cp949_only_characters_are_reported_as_cp949(tmp_path: Path) -> None:
    # "똠" is in CP949 (Microsoft's extension) but not in EUC-KR.
    path = tmp_path / "excel.csv"
    path.write_bytes("문장,라벨\n똠양꿍 식품 매출 증가,긍정\n".encode("cp949"))
    table = read_table(path)
    assert table.encoding == "cp949"
    assert table.frame.iloc[0, 0] == "똠양꿍 식품 매출 증가"


@pytest.mark.parametrize(("delimiter", "name"), [("\t", "tsv"), (";", "csv"), ("|", "csv")])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str, name: str) -> None:
    path = tmp_path / "news.txt"
    path.write_text(_csv_text(delimiter), encoding="utf-8")
    table = read_table(path)
    _assert_rows(table)
    assert table.delimiter == delimiter
    assert table.file_format == name


def test_tsv_with_commas_in_text(tmp_path: Path) -> None:
    path = tmp_path / "news.tsv"
    path.write_text("text\tlabel\n매출, 이익 모두 증가\tpositive\n손실, 감원\tnegative\n", encoding="utf-8")
    table = read_table(path)
    assert table.delimiter == "\t"
    assert table.frame["text"].tolist() == ["매출, 이익 모두 증가", "손실, 감원"]


def test_quoted_commas_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        'kor_sentence,labels\n"매출, 이익\n증가",positive\n"손실 ""확대""",negative\n', encoding="utf-8"
    )
    table = read_table(path)
    assert table.frame["kor_sentence"].tolist() == ["매출, 이익\n증가", '손실 "확대"']


def test_formula_like_and_na_like_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        "text,label,extra\n=SUM(A1),positive,NA\n+82 성장,negative,null\n-3% 하락,negative,\n@user 공시,neutral,nan\n",
        encoding="utf-8",
    )
    frame = read_table(path).frame
    assert frame["text"].tolist() == ["=SUM(A1)", "+82 성장", "-3% 하락", "@user 공시"]
    assert frame["extra"].tolist() == ["NA", "null", "", "nan"]
    assert not frame.isna().any().any()


def test_bytes_upload_uses_name_for_format(tmp_path: Path) -> None:
    table = read_table(_csv_text("\t").encode("utf-8"), "upload.tsv")
    assert table.source_name == "upload.tsv"
    assert table.delimiter == "\t"
    _assert_rows(table)


def _workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "요약"
    first.append(["메모"])
    first.append(["이 시트에는 데이터가 없습니다"])
    data = book.create_sheet("2024")
    data.append(["문장", "감성", None])
    for text, label in ROWS:
        data.append([text, label])
    data.append([12345, 1.0])
    cell = data.cell(row=6, column=1, value="=SUM(A1)")
    cell.data_type = "s"  # typed as text in Excel ('=SUM(A1))
    data.cell(row=6, column=2, value="neutral")
    data.append([None, None])  # trailing empty row
    book.create_sheet("empty")
    book.save(path)


def test_xlsx_with_several_sheets(tmp_path: Path) -> None:
    path = tmp_path / "news.xlsx"
    _workbook(path)
    assert list_sheets(path) == ["요약", "2024", "empty"]
    first = read_table(path)
    assert first.sheet == "2024"  # "이 시트에는 데이터가 없습니다": the data sheet opens, not the note
    assert first.sheets == ("요약", "2024", "empty")
    table = read_table(path, sheet="2024")
    assert table.file_format == "xlsx"
    assert list(table.frame.columns) == ["문장", "감성"]
    assert table.frame.values.tolist()[:3] == [list(r) for r in ROWS]
    assert table.frame.values.tolist()[3] == ["12345", "1"]
    assert table.frame.values.tolist()[4] == ["=SUM(A1)", "neutral"]
    assert guess_columns(table.frame).text == "문장"


def test_xlsx_formula_without_cached_value_keeps_formula_text(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["text", "label"])
    sheet.append(["=1+1", "positive"])  # a real formula that Excel never computed
    book.save(path)
    assert read_table(path).frame.iloc[0, 0] == "=1+1"


def test_xlsx_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = tmp_path / "news.xlsx"
    _workbook(path)
    with pytest.raises(InputError, match="Sheets: 요약, 2024, empty"):
        read_table(path, sheet="2025")
    with pytest.raises(InputError, match="empty"):
        read_table(path, sheet="empty")


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    lines = [
        json.dumps({"prompt": t + " ->", "completion": " " + lab}, ensure_ascii=False) for t, lab in ROWS
    ]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    table = read_table(path)
    assert table.file_format == "jsonl"
    assert table.frame["prompt"].tolist()[0] == ROWS[0][0] + " ->"
    assert guess_columns(table.frame).text == "prompt"
    assert guess_columns(table.frame).label == "completion"


def test_jsonl_with_one_broken_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    good = json.dumps({"text": "매출 증가", "label": "positive"}, ensure_ascii=False)
    path.write_text(
        "\n".join([good, good, '{"text": "손실", "label": negative}', good]) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="line 3 ") as info:
        read_table(path)
    assert "3번째 줄" in info.value.text("ko")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty") as info:
        read_table(path)
    assert "비어" in info.value.text("ko")
    path.write_bytes(b"\xef\xbb\xbf\n\n  \n")
    with pytest.raises(InputError, match="empty"):
        read_table(path)


def test_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.csv"
    path.write_text("text,label\n" + "가나다라마바사,positive\n" * 60_000, encoding="utf-8")  # ~1.7 MB
    with pytest.raises(InputError, match="limit of 1 MB"):
        read_table(path, max_mb=1)
    monkeypatch.setenv("FINSENT_MAX_INPUT_MB", "1")
    with pytest.raises(InputError, match="FINSENT_MAX_INPUT_MB"):
        read_table(path)
    assert read_table(path, max_mb=5).rows == 60_000


# Files that cannot be read as a table: each is a clear InputError in both languages, never a traceback.
UNREADABLE = {
    "broken-xlsx": ("broken.xlsx", b"PK\x03\x04" + os.urandom(200), "Excel workbook"),
    "legacy-xls": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"\.xlsx"),
    "jsonl-non-object-line": ("d.jsonl", b'{"text": "a", "label": "positive"}\n[1, 2]\n', "line 2"),
    "header-only": ("header.csv", b"kor_sentence,labels\n", "no data rows"),
    "binary-garbage": ("garbage.csv", bytes(range(256)) * 40 + os.urandom(4000), "binary"),
    "ragged-rows": (
        "ragged.csv",
        "text,label\n매출 증가,positive\n손실,negative,extra,more\n".encode(),
        "comma-separated",
    ),
}


@pytest.mark.parametrize(("name", "content", "match"), UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_files_are_a_clear_error(tmp_path: Path, name: str, content: bytes, match: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        read_table(path)
    assert info.value.ko


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "nope.csv")


def test_wrong_delimiter_names_the_delimiter_and_columns(tmp_path: Path) -> None:
    path = tmp_path / "colon.csv"
    path.write_text("kor_sentence:labels\n매출 증가:positive\n손실:negative\n", encoding="utf-8")
    table = read_table(path)
    with pytest.raises(InputError) as info:
        resolve_columns(table.frame, source_name=table.source_name, delimiter=table.delimiter)
    message = str(info.value)
    assert "comma" in message and "'kor_sentence:labels'" in message and "only one column" in message
    # A single column is fine where no label is needed (e.g. texts to classify).
    assert resolve_columns(table.frame, "kor_sentence:labels", need_label=False).text == "kor_sentence:labels"


def test_missing_columns_lists_the_columns_found(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("id,body,score\n1,매출 증가,0.9\n", encoding="utf-8")
    table = read_table(path)
    with pytest.raises(InputError, match=r"Columns found: 'id', 'body', 'score'"):
        resolve_columns(table.frame, source_name="cols.csv")
    with pytest.raises(InputError, match=r"no column 'sentiment'.*'id', 'body', 'score'"):
        resolve_columns(table.frame, "body", "sentiment")
    assert resolve_columns(table.frame, "BODY", " Score ") == resolve_columns(table.frame, "body", "score")


@pytest.mark.parametrize(
    ("columns", "text", "label"),
    [
        (["labels", "sentence", "kor_sentence"], "kor_sentence", "labels"),
        (["sentence", "label"], "sentence", "label"),
        (["prompt", "completion"], "prompt", "completion"),
        (["Text", " Label "], "Text", " Label "),
        (["번호", "뉴스 제목", "감성"], "뉴스 제목", "감성"),
        (["본문", "정답"], "본문", "정답"),
        (["텍스트", "레이블"], "텍스트", "레이블"),
        (["제목", "분류"], "제목", "분류"),
        (["문장", "감정"], "문장", "감정"),
        (["Kor_Sentence", "LABELS"], "Kor_Sentence", "LABELS"),
        (["headline", "sentiment"], "headline", "sentiment"),
        (["a", "b"], None, None),
    ],
)
def test_guess_columns(columns: list[str], text: str | None, label: str | None) -> None:
    import pandas as pd

    guess = guess_columns(pd.DataFrame(columns=columns))
    assert (guess.text, guess.label) == (text, label)


def test_utf8_looking_start_with_cp949_further_on(tmp_path: Path) -> None:
    # The fast path reads only the start as UTF-8; a CP949 row far into the file must still be found.
    head = "text,label\n" + "plain ascii text,positive\n" * 30_000
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode("utf-8") + "삼성전자 주가 상승,positive\n".encode("cp949"))
    table = read_table(path)
    assert table.encoding in ("cp949", "euc-kr")
    assert table.frame.iloc[-1, 0] == "삼성전자 주가 상승"
    assert table.rows == 30_001


def test_large_utf8_with_bom_and_binary_start(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "문장,라벨\n".encode() + "뉴스 문장,중립\n".encode() * 40_000)
    table = read_table(path)
    assert table.encoding == "utf-8-sig" and list(table.frame.columns) == ["문장", "라벨"]
    assert table.rows == 40_000
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"a,b\n" + bytes(range(1, 32)) * 400)
    with pytest.raises(InputError, match="binary"):
        read_table(garbage)


def test_jsonl_values_may_hold_unicode_line_separators(tmp_path: Path) -> None:
    path = tmp_path / "seps.jsonl"
    rows = [{"text": "a\u2028b\x85c\x1cd", "label": "positive"}, {"text": "둘째", "label": "neutral"}]
    path.write_text("\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n", encoding="utf-8")
    table = read_table(path)
    assert table.frame["text"].tolist() == ["a\u2028b\x85c\x1cd", "둘째"]


def test_a_workbook_opens_on_the_sheet_with_the_texts_not_its_cover(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "표지"
    book.active.append(["뉴스 모음 (3분기)"])  # a header word that names texts, and one short row
    book.active.append(["작성: 재무팀"])
    data = book.create_sheet("기사")
    data.append(["제목", "감성"])
    for i in range(20):
        data.append([f"가나전자 {i}분기 영업이익 증가", "긍정"])
    path = tmp_path / "news.xlsx"
    book.save(path)
    table = read_table(path)
    assert table.sheet == "기사" and len(table.frame) == 20 and table.sheets == ("표지", "기사")
    assert read_table(path, sheet="표지").sheet == "표지"  # the user's choice always wins
