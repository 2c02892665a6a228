"""`finsent prepare` and `finsent data ...` through the real entry point (main) and as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finsent.cli import main
from finsent.ingest.corpus import sample_path


def test_prepare_sample_prints_the_report_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prepared"
    code = main(["prepare", str(sample_path()), "--out", str(out), "--report-json", str(tmp_path / "r.json")])
    captured = capsys.readouterr()
    assert code == 0
    assert "finsent data check" in captured.out and "Result: ready" in captured.out
    assert f"Wrote {out}" in captured.out
    assert (out / "manifest.json").is_file() and (out / "train.chat.jsonl").is_file()
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["rows_read"] == 170 and not report["has_errors"]


def test_prepare_in_korean_says_what_it_wrote_in_korean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "prepared"
    assert main(["prepare", str(sample_path()), "--out", str(out), "--lang", "ko", "--format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert (
        f"{out}에 저장했습니다: report.json, report.txt, train.csv, valid.csv, manifest.json" in printed
        and "Wrote" not in printed
    )


def test_prepare_default_out_is_under_finsent_home(
    finsent_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare", str(sample_path()), "--format", "csv"]) == 0
    (folder,) = (finsent_home / "datasets").iterdir()
    assert folder.name.startswith("sample_ko-") and len(folder.name) == len("sample_ko-") + 8
    assert sorted(p.name for p in folder.iterdir()) == [
        "manifest.json",
        "report.json",
        "report.txt",
        "train.csv",
        "valid.csv",
    ]


def test_prepare_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "뉴스.tsv"
    rows = [f"Company{i} 실적 발표\t{['호재', '악재'][i % 2]}" for i in range(40)]
    path.write_text("제목\t구분값\n" + "\n".join(rows) + "\n", encoding="cp949")
    out = tmp_path / "out"
    args = [
        "prepare",
        str(path),
        "--label-col",
        "구분값",
        "--labels",
        "positive,negative",
        "--format",
        "chat",
    ]
    args += ["--valid-fraction", "0.25", "--seed", "3", "--lowercase", "--out", str(out)]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input"]["encoding"] == "euc-kr"
    assert manifest["options"]["valid_fraction"] == 0.25 and manifest["options"]["seed"] == 3
    assert manifest["input_format"] == {"lowercase": True, "separator": ""}
    assert manifest["counts"]["valid"] == {"positive": 5, "negative": 5}
    assert (out / "train.chat.jsonl").is_file() and not (out / "train.completion.jsonl").exists()
    assert "company" in (out / "train.csv").read_text(encoding="utf-8")


def test_prepare_sheet_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import openpyxl

    path = tmp_path / "book.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "notes"
    sheet = book.create_sheet("data")
    sheet.append(["text", "label"])
    for i in range(36):
        sheet.append([f"문장 {i}", ["positive", "negative", "neutral"][i % 3]])
    book.save(path)
    assert main(["prepare", str(path), "--sheet", "data", "--out", str(tmp_path / "o")]) == 0
    assert "sheet 'data'" in capsys.readouterr().out


def test_check_only_writes_nothing(
    tmp_path: Path, finsent_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare", str(sample_path()), "--check", "--lang", "ko"]) == 0
    assert "결과: 학습에 쓸 수 있습니다." in capsys.readouterr().out
    assert not (finsent_home / "datasets").exists()


def _fails_with_one_line_error(
    path: Path, out: Path, capsys: pytest.CaptureFixture[str], message: str
) -> None:
    """`finsent prepare` exits 2 with one `error:` line holding `message`, no traceback, nothing written."""
    assert main(["prepare", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"kor_sentence,labels\n", "no data rows"),
        (bytes(range(256)) * 10, "binary"),
        ("kor_sentence:labels\n문장:positive\n".encode(), "only one column"),
        ("id,body\n1,문장\n".encode(), "Columns found: 'id', 'body'"),
    ],
)
def test_bad_input_is_one_line_error_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    _fails_with_one_line_error(path, tmp_path / "out", capsys, message)


def test_blocked_preparation_prints_report_and_writes_report_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "few.csv"
    path.write_text("text,label\n" + "".join(f"문장 {i},positive\n" for i in range(5)), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["prepare", str(path), "--out", str(out), "--report-json", str(tmp_path / "r.json")])
    captured = capsys.readouterr()
    assert code == 2
    assert "class_below_minimum" in captured.out and "Result: NOT prepared" in captured.out
    assert captured.err.startswith("error: Fewer than 10 examples")
    assert not out.exists()
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["has_errors"] is True


def test_bad_option_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["prepare", str(sample_path()), "--valid-fraction", "2"])
    assert info.value.code == 2
    assert "at most 0.5" in capsys.readouterr().err
    assert main(["prepare", str(sample_path()), "--labels", "positive", "--out", str(tmp_path / "o")]) == 2
    assert "two different labels" in capsys.readouterr().err


def test_data_info(capsys: pytest.CaptureFixture[str], finsent_home: Path) -> None:
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert str(finsent_home / "corpus" / "finance_data.csv") in out
    assert "present: no" in out and "CC BY-NC-SA 3.0" in out and str(sample_path()) in out


def test_data_fetch_offline_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dest = tmp_path / "corpus.csv"
    code = main(["data", "fetch", "--url", f"http://127.0.0.1:{port}/finance_data.csv", "--out", str(dest)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: Could not download the corpus") and "by hand" in err
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_console_script_help_and_version() -> None:
    exe = Path(sys.executable).with_name("finsent")
    env = dict(os.environ)
    result = subprocess.run(
        [str(exe), "prepare", "--help"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0
    for flag in (
        "--text-col",
        "--label-col",
        "--labels",
        "--format",
        "--valid-fraction",
        "--seed",
        "--lowercase",
    ):
        assert flag in result.stdout
    assert "--out" in result.stdout and "--report-json" in result.stdout and "--sheet" in result.stdout


@pytest.mark.corpus
def test_prepare_corpus_from_the_command_line(corpus_path: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["prepare", str(corpus_path), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "4,846 rows read" in out
    assert "conflicting_labels: 3 texts appear with different labels" in out
    assert "duplicate_rows:" in out
    assert main(["prepare", str(corpus_path), "--out", str(tmp_path / "b")]) == 0
    for name in (tmp_path / "a").iterdir():
        assert name.read_bytes() == (tmp_path / "b" / name.name).read_bytes()


def test_prepare_loads_no_backend_for_short_texts_and_asks_them_for_long_ones(tmp_path: Path) -> None:
    """The backends' token limit costs a plugin load (about 0.2 s): `finsent prepare` pays it only when a
    text is long enough to reach a limit, and then the smallest limit is checked as before."""
    script = (
        "import sys\n"
        "from finsent.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('LOADED' if 'finsent.contract.backend' in sys.modules else 'NOT LOADED')\n"
        "sys.exit(code)\n"
    )
    env = dict(os.environ, FINSENT_HOME=str(tmp_path / "home"))
    rows = [
        f"{i},한빛전자 {i}분기 매출이 늘었다,{('positive', 'negative', 'neutral')[i % 3]}" for i in range(60)
    ]
    short = tmp_path / "short.csv"
    short.write_text("id,text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    long = tmp_path / "long.csv"
    long.write_text(
        "id,text,label\n" + "\n".join([*rows, "60," + "가" * 17_000 + ",positive"]) + "\n", encoding="utf-8"
    )
    outputs = {}
    for path in (short, long):
        result = subprocess.run(
            [sys.executable, "-c", script, "prepare", str(path), "--out", str(tmp_path / path.stem)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs[path.stem] = result.stdout
    assert outputs["short"].rstrip().endswith("NOT LOADED") and "token" not in outputs["short"]
    assert outputs["long"].rstrip().endswith("LOADED") and "16,384 tokens" in outputs["long"]


def _news_jsonl(path: Path, rows: int = 90) -> Path:
    labels = ("positive", "negative", "neutral")
    lines = [
        json.dumps({"text": f'뉴스 {i}번, "인용"', "label": labels[i % 3]}, ensure_ascii=False)
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_program_prepares_as_main_does_and_fails_with_one_line(tmp_path: Path) -> None:
    """The `finsent` program (a JSONL file read by its child, the cycle collector paused, then frozen as
    the process ends) writes what `main` writes in this process, and exits 2 with one line on bad input."""
    exe = Path(sys.executable).with_name("finsent")
    path = _news_jsonl(tmp_path / "news.jsonl")
    env = dict(os.environ, FINSENT_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [str(exe), "prepare", str(path), "--out", str(tmp_path / "program")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert main(["prepare", str(path), "--out", str(tmp_path / "main")]) == 0
    files = sorted(p.name for p in (tmp_path / "main").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "program").iterdir())
    for name in files:
        assert (tmp_path / "program" / name).read_bytes() == (tmp_path / "main" / name).read_bytes(), name
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": "positive"}\n{"text": \n', encoding="utf-8")
    failed = subprocess.run(
        [str(exe), "prepare", str(broken), "--out", str(tmp_path / "none")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert failed.returncode == 2 and failed.stderr.startswith("error: ") and failed.stderr.count("\n") == 1
    assert "line 2" in failed.stderr and not (tmp_path / "none").exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the JSONL child is forked")
def test_prepare_jsonl_read_by_the_child_writes_what_a_read_here_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fork_helpers import as_in_a_fresh_command

    import finsent.ingest.prefetch as prefetch
    import finsent.ingest.reading as reading

    as_in_a_fresh_command(monkeypatch)
    path = _news_jsonl(tmp_path / "news.jsonl")
    with monkeypatch.context() as patch:
        patch.setattr(prefetch, "MAX_MB", 0)  # no child: read here
        assert main(["prepare", str(path), "--out", str(tmp_path / "here")]) == 0
    with monkeypatch.context() as patch:  # a read here would fail: the child reads it
        patch.setattr(reading, "read_jsonl_bytes", lambda *a: pytest.fail("read in the process"))
        assert main(["prepare", str(path), "--out", str(tmp_path / "child")]) == 0
    printed = (
        capsys.readouterr().out.replace(str(tmp_path / "here"), "OUT").replace(str(tmp_path / "child"), "OUT")
    )
    first, second = printed.split("finsent data check")[1:]
    assert first == second
    files = sorted(p.name for p in (tmp_path / "here").iterdir())
    assert (
        files == sorted(p.name for p in (tmp_path / "child").iterdir()) and "train.completion.jsonl" in files
    )
    for name in files:
        assert (tmp_path / "here" / name).read_bytes() == (tmp_path / "child" / name).read_bytes(), name


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a", "label": "positive"}\n{"text": "broken"\n', "line 2 is not valid JSON"),
        ('{"text": "' + "x" * 200 + '", "label": "positive"}\n', "FINSENT_MAX_CELL_CHARS"),
        ('{"text": "a", "label": "positive"}\n' * 30, "FINSENT_MAX_ROWS"),
    ],
)
def test_bad_jsonl_is_one_line_error_from_the_child_or_not(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    """The child fails, the file is read again here and the error is the usual one line; no traceback."""
    monkeypatch.setenv("FINSENT_MAX_CELL_CHARS", "100")
    monkeypatch.setenv("FINSENT_MAX_ROWS", "20")
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    _fails_with_one_line_error(path, tmp_path / "out", capsys, message)
