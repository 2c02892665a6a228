"""Hostile and oversized XLSX workbooks: refused early, with bounded memory, naming the limit and its setting.

The workbooks are built here, part by part: a 400 MiB cell or a million rows compresses to a few hundred KB.
The hostile cases run in a child process that reports its peak memory and time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterable
from pathlib import Path

import openpyxl
import pytest

from finsent.contract.errors import InputError
from finsent.ingest.limits import InputLimits, OverLimitError
from finsent.ingest.spreadsheet import read_xlsx, sheet_names

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
SHARED_STRINGS_TYPE = (
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
)
SHARED_STRINGS_REL = (
    '<Relationship Id="rId2" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>'
)
CONTENT_TYPES = (
    DECLARATION + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    + SHARED_STRINGS_TYPE
    + "</Types>"
)
PACKAGE_RELS = (
    DECLARATION + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
WORKBOOK = (
    DECLARATION + f'<workbook xmlns="{MAIN}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="News" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    DECLARATION + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    + SHARED_STRINGS_REL
    + "</Relationships>"
)
SHEET_START = DECLARATION + f'<worksheet xmlns="{MAIN}"><dimension ref="A1:B3"/><sheetData>'
SHEET_END = "</sheetData></worksheet>"
#: a header and two rows, the texts from the shared strings 0..3
SMALL_SHEET = (
    SHEET_START + '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>'
    '<row r="3"><c r="A3" t="inlineStr"><is><t>삼성전자 주가 상승</t></is></c>'
    '<c r="B3" t="inlineStr"><is><t>positive</t></is></c></row>' + SHEET_END
)
SMALL_STRINGS = (
    DECLARATION + f'<sst xmlns="{MAIN}" count="4" uniqueCount="4">'
    "<si><t>text</t></si><si><t>label</t></si><si><t>환율 급등에 수출주 약세</t></si><si><t>negative</t></si>"
    "</sst>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    + "]>"
)


def write_workbook(
    path: Path,
    sheet: str | Iterable[bytes] = SMALL_SHEET,
    strings: str | Iterable[bytes] | None = SMALL_STRINGS,
    replace: dict[str, str] | None = None,
) -> Path:
    """A workbook written part by part; a part given as an iterable of bytes is streamed into the zip."""
    parts: dict[str, str | Iterable[bytes] | None] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": PACKAGE_RELS,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS,
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": strings,
        **(replace or {}),
    }
    if strings is None:  # a workbook without shared strings does not declare them
        parts["[Content_Types].xml"] = CONTENT_TYPES.replace(SHARED_STRINGS_TYPE, "")
        parts["xl/_rels/workbook.xml.rels"] = WORKBOOK_RELS.replace(SHARED_STRINGS_REL, "")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content in parts.items():
            if content is None:
                continue
            if isinstance(content, str):
                archive.writestr(name, content)
                continue
            with archive.open(name, "w") as member:
                for piece in content:
                    member.write(piece)
    return path


def rows_xml(count: int, *, text: bool = False) -> Iterable[bytes]:
    """A sheet of `count` rows of one cell each, a number or an inline text, in pieces."""
    kind, cell = (' t="inlineStr"', "<is><t>x</t></is>") if text else ("", "<v>1</v>")
    yield (DECLARATION + f'<worksheet xmlns="{MAIN}"><dimension ref="A1:A{count}"/><sheetData>').encode()
    step = 10_000
    for start in range(1, count + 1, step):
        yield "".join(
            f'<row r="{r}"><c r="A{r}"{kind}>{cell}</c></row>'
            for r in range(start, min(start + step, count + 1))
        ).encode()
    yield SHEET_END.encode()


def huge_text(chars: int) -> Iterable[bytes]:
    """Shared strings whose only text is `chars` letters."""
    yield (DECLARATION + f'<sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>').encode()
    block = b"a" * (1 << 20)
    for _ in range(chars // len(block)):
        yield block
    yield b"a" * (chars % len(block))
    yield b"</t></si></sst>"


ONE_SHARED_CELL = SHEET_START + '<row r="1"><c r="A1" t="s"><v>0</v></c></row>' + SHEET_END


def read_in_child(path: Path) -> dict[str, object]:
    """read_xlsx in a fresh interpreter: the error raised (or "ok"), seconds, peak resident memory (MB)."""
    script = textwrap.dedent(
        """
        import json, sys, time
        from finsent.contract.errors import InputError
        from finsent.ingest.spreadsheet import read_xlsx
        data = open(sys.argv[1], "rb").read()
        start = time.perf_counter()
        try:
            read_xlsx(data, "hostile.xlsx", None)
            outcome = {"error": "ok", "en": "", "ko": ""}
        except InputError as exc:
            outcome = {"error": type(exc).__name__, "en": exc.text("en"), "ko": exc.text("ko")}
        outcome["seconds"] = round(time.perf_counter() - start, 2)
        # VmHWM, not ru_maxrss: the latter keeps the parent's peak across fork and exec
        status = open("/proc/self/status").read().split("VmHWM:")[1]
        outcome["peak_mb"] = round(int(status.split()[0]) / 1024)
        print(json.dumps(outcome))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outcome: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    print(path.name, {k: v for k, v in outcome.items() if k in ("error", "seconds", "peak_mb")})
    return outcome


def refused(path: Path, limits: InputLimits | None = None) -> InputError:
    with pytest.raises(InputError) as caught:
        read_xlsx(path.read_bytes(), path.name, None, limits or InputLimits())
    return caught.value


def assert_names_setting(error: InputError, setting: str) -> None:
    assert isinstance(error, OverLimitError)
    assert setting in error.text("en") and setting in error.text("ko")
    assert "limit" in error.text("en") and "한도" in error.text("ko")


# --- the hostile workbooks of issue 12 ---------------------------------------------------------------------


def test_a_400_mib_cell_is_refused_before_openpyxl_loads_the_shared_strings(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "big-cell.xlsx", ONE_SHARED_CELL, huge_text(400 << 20))
    assert path.stat().st_size < 3_000_000
    outcome = read_in_child(path)
    assert outcome["error"] == "OverLimitError"
    assert "FINSENT_MAX_CELL_CHARS" in str(outcome["en"]) and "FINSENT_MAX_CELL_CHARS" in str(outcome["ko"])
    assert "sheet 'News', row 1, column A" in str(outcome["en"]) and "1행, A열" in str(outcome["ko"])
    assert int(str(outcome["peak_mb"])) < 1500


def test_a_zip_directory_that_understates_a_part_is_unreadable_not_a_bigger_read(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "lying.xlsx", ONE_SHARED_CELL, huge_text(64 << 20))
    data = bytearray(path.read_bytes())
    # Rewrite the sizes the local header and the central directory give for the shared strings: 1,000 bytes.
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/sharedStrings.xml")
        assert info.file_size > 64 << 20
    local = info.header_offset
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    central = data.rfind(b"PK\x01\x02", 0, data.find(b"PK\x05\x06"))
    while data[central + 46 : central + 46 + len(info.filename)] != info.filename.encode():
        central = data.rfind(b"PK\x01\x02", 0, central)
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    error = refused(path)
    assert not isinstance(error, OverLimitError)
    assert "could not be read as an Excel workbook" in error.text("en") and "읽을 수 없습니다" in error.text(
        "ko"
    )


@pytest.mark.parametrize("text", [False, True], ids=["numbers", "texts"])
def test_a_million_rows_are_refused_quickly_with_bounded_memory(tmp_path: Path, text: bool) -> None:
    path = write_workbook(tmp_path / "rows.xlsx", rows_xml(1_000_002, text=text), None)
    outcome = read_in_child(path)
    assert outcome["error"] == "OverLimitError"
    assert "FINSENT_MAX_ROWS" in str(outcome["en"]) and "FINSENT_MAX_ROWS" in str(outcome["ko"])
    assert "at least 1,000,001 rows (sheet 'News', row 1000002)" in str(outcome["en"])
    assert int(str(outcome["peak_mb"])) < 1500


def test_16384_columns_are_refused_at_the_first_row(tmp_path: Path) -> None:
    row = "".join("<c><v>1</v></c>" for _ in range(16_384))
    sheet = (f'<row r="{r}">{row}</row>'.encode() for r in range(1, 301))
    path = write_workbook(
        tmp_path / "wide.xlsx",
        [(SHEET_START.replace("A1:B3", "A1:XFD300")).encode(), *sheet, SHEET_END.encode()],
        None,
    )
    outcome = read_in_child(path)
    assert outcome["error"] == "OverLimitError"
    assert "1,001 columns (sheet 'News', row 1, column ALM)" in str(outcome["en"])
    assert "FINSENT_MAX_COLUMNS" in str(outcome["ko"]) and "ALM열" in str(outcome["ko"])
    assert int(str(outcome["peak_mb"])) < 1500


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_billion_laughs_is_refused_without_expanding(tmp_path: Path, part: str) -> None:
    original = {"xl/sharedStrings.xml": SMALL_STRINGS, "xl/worksheets/sheet1.xml": SMALL_SHEET}.get(
        part, WORKBOOK
    )
    hostile = BILLION_LAUGHS + original.split("?>\n", 1)[1].replace("<t>text</t>", "<t>&lol9;</t>")
    path = write_workbook(tmp_path / "lol.xlsx", replace={part: hostile})
    error = refused(path)
    assert not isinstance(error, OverLimitError)
    assert "XML entity definitions" in error.text("en") and part in error.text("en")
    assert "엔터티" in error.text("ko") and "save it again" in error.text("en")
    with pytest.raises(InputError, match="entity"):
        sheet_names(path.read_bytes(), path.name)


def test_an_external_entity_is_never_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    xxe = (
        f'<?xml version="1.0"?>\n<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        f'<sst xmlns="{MAIN}"><si><t>&xxe;</t></si><si><t>b</t></si><si><t>c</t></si><si><t>d</t></si></sst>'
    )
    error = refused(write_workbook(tmp_path / "xxe.xlsx", strings=xxe))
    assert "XML entity definitions" in error.text("en") and "do not read" not in error.text("en")


# --- what real workbooks carry must still read --------------------------------------------------------------


def test_a_dimension_of_the_whole_grid_with_five_data_rows_reads(tmp_path: Path) -> None:
    rows = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>기사 {r}</t></is></c>'
        f'<c r="B{r}" t="inlineStr"><is><t>neutral</t></is></c><c r="XFD{r}" s="1"/></row>'
        for r in range(2, 7)
    )
    sheet = (
        DECLARATION + f'<worksheet xmlns="{MAIN}"><dimension ref="A1:XFD1048576"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>text</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>label</t></is></c></row>'
        + rows
        + '<row r="1048576" s="1" customFormat="1"><c r="XFD1048576" s="1"/></row>'
        + SHEET_END
    )
    frame, chosen, names = read_xlsx(write_workbook(tmp_path / "grid.xlsx", sheet).read_bytes(), "g", None)
    assert (chosen, names) == ("News", ["News"])
    assert list(frame.columns) == ["text", "label"] and len(frame) == 5
    assert frame["text"].tolist() == [f"기사 {r}" for r in range(2, 7)]


def test_a_10000_character_cell_reads(tmp_path: Path) -> None:
    long_text = "코스피 지수가 외국인 매수에 힘입어 상승했다. " * 400
    long_text = long_text[:10_000]
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["text", "label"])
    sheet.append([long_text, "positive"])
    book.save(tmp_path / "long.xlsx")
    frame, _, _ = read_xlsx((tmp_path / "long.xlsx").read_bytes(), "long.xlsx", None)
    assert frame["text"].tolist() == [long_text]


def test_formulas_read_as_computed_and_headers_as_cleaned(tmp_path: Path) -> None:
    cached = (
        SHEET_START + '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        '<row r="2"><c r="A2" t="str"><f>"up"&amp;"beat"</f><v>upbeat</v></c>'
        '<c r="B2" t="s"><v>3</v></c></row>'
        '<row r="3"><c r="A3" t="str"><f>CONCAT("a","b")</f></c><c r="B3" t="s"><v>3</v></c></row>'
        + SHEET_END
    )
    frame, _, _ = read_xlsx(write_workbook(tmp_path / "f.xlsx", cached).read_bytes(), "f.xlsx", None)
    assert frame["text"].tolist() == ["upbeat", '=CONCAT("a","b")']


# --- each limit, small ---------------------------------------------------------------------------------------


def test_a_cell_just_over_a_small_limit_names_the_cell(tmp_path: Path) -> None:
    text = "삼성전자 주가 상승" + "!" * 40  # 50 characters
    path = write_workbook(tmp_path / "cells.xlsx", SMALL_SHEET.replace("삼성전자 주가 상승", text))
    frame = read_xlsx(path.read_bytes(), "ok", None, InputLimits(max_cell_chars=50))[0]
    assert frame["text"].tolist() == ["환율 급등에 수출주 약세", text]
    path = write_workbook(tmp_path / "over.xlsx", SMALL_SHEET.replace("삼성전자 주가 상승", text + "!"))
    error = refused(path, InputLimits(max_cell_chars=50))
    assert_names_setting(error, "FINSENT_MAX_CELL_CHARS")
    assert "at least 51 characters in one cell (sheet 'News', row 3, column A)" in error.text("en")
    assert "'News' 시트, 3행, A열" in error.text("ko")
    # the last text of the sheet, with no element after it
    last = SHEET_START + '<row r="1"><c t="inlineStr"><is><t>text</t></is></c></row>'
    last += '<row r="2"><c t="inlineStr"><is><t>' + "가" * 51 + "</t></is></c></row>" + SHEET_END
    error = refused(write_workbook(tmp_path / "last.xlsx", last, None), InputLimits(max_cell_chars=50))
    assert "at least 51 characters in one cell (sheet 'News', row 2, column A)" in error.text("en")


def test_a_shared_text_over_the_limit_is_found_in_its_cell(tmp_path: Path) -> None:
    error = refused(write_workbook(tmp_path / "shared.xlsx"), InputLimits(max_cell_chars=12))
    assert "row 2, column A" in error.text("en")  # 환율 급등에 수출주 약세: 13 characters
    unused = SMALL_STRINGS.replace("</sst>", f"<si><t>{'x' * 60}</t></si></sst>")
    error = refused(write_workbook(tmp_path / "unused.xlsx", strings=unused), InputLimits(max_cell_chars=50))
    assert "(shared text no. 5)" in error.text("en") and "공유 텍스트 5번" in error.text("ko")


def test_rows_over_a_small_limit_stop_at_the_first_row_over(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "rows.xlsx", rows_xml(50), None)
    assert len(read_xlsx(path.read_bytes(), "ok", None, InputLimits(max_rows=49))[0]) == 49
    error = refused(path, InputLimits(max_rows=10))
    assert_names_setting(error, "FINSENT_MAX_ROWS")
    assert "at least 11 rows (sheet 'News', row 12)" in error.text("en") and "12행" in error.text("ko")


def test_columns_over_a_small_limit(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "cols.xlsx")
    assert len(read_xlsx(path.read_bytes(), "ok", None, InputLimits(max_columns=2))[0].columns) == 2
    error = refused(path, InputLimits(max_columns=1))
    assert_names_setting(error, "FINSENT_MAX_COLUMNS")
    assert "column B" in error.text("en") and "B열" in error.text("ko")


def test_a_workbook_over_the_unzipped_limit(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "unzipped.xlsx", rows_xml(50_000), None)  # 2.6 MB of XML
    error = refused(path, InputLimits(max_unzipped_mb=1))
    assert_names_setting(error, "FINSENT_MAX_UNZIPPED_MB")
    assert "over the limit of 1" in error.text("en")


def test_a_giant_comment_or_attribute_is_refused_with_bounded_reads(tmp_path: Path) -> None:
    comment = SMALL_SHEET.replace("<sheetData>", "<!--" + "x" * (3 << 20) + "--><sheetData>")
    error = refused(write_workbook(tmp_path / "comment.xlsx", comment))
    assert "piece of XML" in error.text("en")


@pytest.mark.parametrize("case", ["junk", "cut", "no-workbook-part", "no-sheets"])
def test_malformed_workbooks_stay_unreadable(tmp_path: Path, case: str) -> None:
    data = write_workbook(tmp_path / "ok.xlsx").read_bytes()
    if case == "junk":
        data = b"PK\x03\x04" + b"\x00" * 300
    elif case == "cut":
        data = data[:-200]
    elif case == "no-workbook-part":
        types = CONTENT_TYPES.replace("sheet.main+xml", "nothing+xml")
        data = write_workbook(tmp_path / "bad.xlsx", replace={"[Content_Types].xml": types}).read_bytes()
    else:
        data = write_workbook(
            tmp_path / "bad.xlsx", replace={"xl/workbook.xml": WORKBOOK.split("<sheets>")[0] + "</workbook>"}
        ).read_bytes()
    with pytest.raises(InputError, match="could not be read as an Excel workbook"):
        read_xlsx(data, "bad.xlsx", None)


def test_a_styles_part_bigger_than_excel_writes_is_unreadable(tmp_path: Path) -> None:
    blob = [
        (DECLARATION + f'<styleSheet xmlns="{MAIN}"><cellXfs>').encode(),
        *(b"<xf/>" * (1 << 20) for _ in range(14)),  # 70 MiB of empty formats
        b"</cellXfs></styleSheet>",
    ]
    path = write_workbook(tmp_path / "styles.xlsx")
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/styles.xml", "w") as part,
    ):
        for piece in blob:
            part.write(piece)
    error = refused(path)
    assert "xl/styles.xml takes 71 MB" in error.text("en")


def test_values_read_as_excel_shows_them(tmp_path: Path) -> None:
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["text", "label", "when", "flag", "count", "ratio"])
    sheet.append(["금리 동결", "neutral", dt.datetime(2024, 3, 5, 9, 30), True, 3.0, 0.25])
    sheet.append(["=1+1", "positive", dt.date(2024, 3, 6), False, 12, None])
    book.save(tmp_path / "values.xlsx")
    frame, _, _ = read_xlsx((tmp_path / "values.xlsx").read_bytes(), "values.xlsx", None)
    assert frame.to_dict("records") == [
        {"text": "금리 동결", "label": "neutral", "when": "2024-03-05T09:30:00", "flag": "TRUE", "count": "3"}
        | {"ratio": "0.25"},
        {"text": "=1+1", "label": "positive", "when": "2024-03-06T00:00:00", "flag": "FALSE", "count": "12"}
        | {"ratio": ""},
    ]


def test_a_chosen_sheet_is_checked_alone(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Cover"
    first.append(["x" * 60])
    news = book.create_sheet("News")
    news.append(["text", "label"])
    news.append(["반도체 수출 증가", "positive"])
    book.save(tmp_path / "two.xlsx")
    data = (tmp_path / "two.xlsx").read_bytes()
    limits = InputLimits(max_cell_chars=50)
    frame, chosen, names = read_xlsx(data, "two.xlsx", "News", limits)
    assert (chosen, names, len(frame)) == ("News", ["Cover", "News"], 1)
    with pytest.raises(OverLimitError, match="sheet 'Cover', row 1, column A"):
        read_xlsx(data, "two.xlsx", None, limits)
    with pytest.raises(InputError, match="no sheet named 'Other'"):
        read_xlsx(data, "two.xlsx", "Other", limits)
    assert sheet_names(data, "two.xlsx", limits) == ["Cover", "News"]
