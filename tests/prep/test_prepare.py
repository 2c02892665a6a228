"""prepare_dataset end to end: real files in, the prepared directory out, read back by PreparedDataset."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from finsent.contract.errors import DataError, InputError
from finsent.contract.labels import LabelSet
from finsent.contract.modelinput import build_model_input
from finsent.ingest.corpus import sample_path
from finsent.ingest.reading import LoadedTable, read_table
from finsent.prep.pipeline import PreparationError, PrepareOptions, check_table, prepare_dataset, split_valid


def _table(rows: list[tuple[str, str]], columns: tuple[str, str] = ("text", "label")) -> LoadedTable:
    frame = pd.DataFrame(rows, columns=list(columns), dtype=str)
    return LoadedTable(frame, "t.csv", "csv", "utf-8", sha256="0" * 64, delimiter=",")


def _balanced(n: int = 20, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for label in ("positive", "negative", "neutral"):
        rows += [(f"{prefix}{label} 뉴스 문장 {i}번", label) for i in range(n)]
    return rows


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_sample_prepares_into_the_documented_layout(tmp_path: Path) -> None:
    table = read_table(sample_path())
    dataset, report = prepare_dataset(table, PrepareOptions(), tmp_path / "out")
    assert not report.has_errors
    names = set(_tree(dataset.directory))
    assert names == {
        "manifest.json",
        "report.json",
        "report.txt",
        "train.csv",
        "valid.csv",
        "train.completion.jsonl",
        "valid.completion.jsonl",
        "train.chat.jsonl",
        "valid.chat.jsonl",
    }
    manifest = dataset.manifest
    assert manifest["input"]["sha256"] == hashlib.sha256(sample_path().read_bytes()).hexdigest()
    assert manifest["input"]["rows"] == table.rows
    assert manifest["input_format"] == {"lowercase": False, "separator": ""}
    assert manifest["labels"]["names"] == ["positive", "negative", "neutral"]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((dataset.directory / name).read_bytes()).hexdigest() == digest
    assert "manifest.json" not in manifest["files"]
    # PreparedDataset reads what was written, and the counts agree with the files.
    train, valid = dataset.frame("train"), dataset.frame("valid")
    assert list(train.columns) == ["row", "text", "label"]
    assert train["label"].value_counts().to_dict() == {k: v for k, v in dataset.counts("train").items() if v}
    assert len(train) + len(valid) == report.rows_kept == table.rows
    assert 0.18 < len(valid) / (len(train) + len(valid)) < 0.22
    assert not set(train["text"]) & set(valid["text"])
    assert dataset.labels.names == ("positive", "negative", "neutral")
    assert dataset.input_format.lowercase is False
    # row is the 1-based data row of the source, and text is exactly the model input of that row
    source = table.frame
    for row, text in zip(train["row"].head(20), train["text"].head(20), strict=True):
        assert text == build_model_input(source.iloc[row - 1]["kor_sentence"])
    assert (
        json.loads((dataset.directory / "report.json").read_text(encoding="utf-8"))["rows_read"] == table.rows
    )


def test_training_files_follow_openai_formats(tmp_path: Path) -> None:
    dataset, _ = prepare_dataset(read_table(sample_path()), PrepareOptions(), tmp_path / "out")
    train = dataset.frame("train")
    completions = [
        json.loads(line) for line in dataset.path("train", "completion").read_text("utf-8").splitlines()
    ]
    chats = [json.loads(line) for line in dataset.path("train", "chat").read_text("utf-8").splitlines()]
    assert len(completions) == len(chats) == len(train)
    for item, (_, row) in zip(completions, train.iterrows(), strict=True):
        assert item == {"prompt": row["text"] + " ->", "completion": " " + row["label"]}
    first = chats[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]
    assert all(name in first[0]["content"] for name in ("positive", "negative", "neutral"))
    assert first[1]["content"] == train["text"].iloc[0]
    assert first[2]["content"] == train["label"].iloc[0]
    assert "한빛" in dataset.path("train", "chat").read_text("utf-8") or "전자" in dataset.path(
        "train", "chat"
    ).read_text("utf-8")  # Korean is written as is, not \\u escapes


def test_same_input_and_options_give_byte_identical_outputs(tmp_path: Path) -> None:
    table = read_table(sample_path())
    first, _ = prepare_dataset(table, PrepareOptions(), tmp_path / "a")
    second, _ = prepare_dataset(read_table(sample_path()), PrepareOptions(), tmp_path / "b")
    assert _tree(first.directory) == _tree(second.directory)
    other, _ = prepare_dataset(table, PrepareOptions(seed=7), tmp_path / "c")
    assert other.frame("valid")["row"].tolist() != first.frame("valid")["row"].tolist()


def test_split_is_stratified_and_deterministic() -> None:
    import numpy as np

    labels = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 3, dtype=object)
    mask = split_valid(labels, ("a", "b", "c"), 0.2, 42)
    assert (mask[:50].sum(), mask[50:80].sum(), mask[80:].sum()) == (10, 6, 1)
    assert (split_valid(labels, ("a", "b", "c"), 0.2, 42) == mask).all()
    assert (split_valid(labels, ("a", "b", "c"), 0.2, 43) != mask).any()
    assert (
        split_valid(np.array(["a", "b"], dtype=object), ("a", "b"), 0.2, 1).sum() == 0
    )  # 1 per class: all train


def test_options_change_the_split(tmp_path: Path) -> None:
    table = _table(_balanced(50))
    report = check_table(table, PrepareOptions(valid_fraction=0.5))
    assert report.counts["valid"] == {"positive": 25, "negative": 25, "neutral": 25}
    with pytest.raises(InputError, match="validation fraction"):
        PrepareOptions(valid_fraction=0.9)
    with pytest.raises(InputError, match="format"):
        PrepareOptions(formats=("parquet",))


def test_csv_only_format(tmp_path: Path) -> None:
    dataset, _ = prepare_dataset(_table(_balanced()), PrepareOptions(formats=()), tmp_path / "out")
    assert sorted(_tree(dataset.directory)) == [
        "manifest.json",
        "report.json",
        "report.txt",
        "train.csv",
        "valid.csv",
    ]


def test_error_finding_blocks_and_writes_nothing(tmp_path: Path) -> None:
    rows = _balanced(20)[:45]  # neutral has 5 examples only
    out = tmp_path / "out"
    with pytest.raises(PreparationError) as info:
        prepare_dataset(_table(rows), PrepareOptions(), out)
    assert isinstance(info.value, DataError)
    assert info.value.report.finding("class_below_minimum") is not None
    assert "neutral 5" in str(info.value)
    assert "중립(neutral) 5" in info.value.text("ko")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left either


def test_missing_columns_is_a_report_error(tmp_path: Path) -> None:
    table = _table(_balanced(), columns=("body", "score"))
    report = check_table(table)
    finding = report.finding("required_columns")
    assert finding is not None and finding.severity == "error"
    assert "'body', 'score'" in finding.message
    with pytest.raises(PreparationError, match="Columns found"):
        prepare_dataset(table, PrepareOptions(), tmp_path / "out")
    dataset, _ = prepare_dataset(
        table, PrepareOptions(text_column="body", label_column="score"), tmp_path / "ok"
    )
    assert dataset.manifest["input"]["text_column"] == "body"


def test_failure_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from finsent.prep import pipeline as prepare
    from finsent.prep import trainfiles

    original = trainfiles.split_files

    def disk_full_after_one_block(*args: Any, **kwargs: Any) -> Iterator[dict[str, bytes]]:
        blocks = original(*args, **kwargs)
        yield next(blocks)
        raise OSError(28, "No space left on device")

    # The training split is written after the validation split: it fails with files half-written.
    monkeypatch.setattr(prepare, "split_files", disk_full_after_one_block)
    with pytest.raises(OSError, match="No space"):
        prepare_dataset(_table(_balanced()), PrepareOptions(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_rerun_replaces_an_earlier_output_but_never_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare_dataset(_table(_balanced()), PrepareOptions(), out)
    dataset, _ = prepare_dataset(_table(_balanced(30)), PrepareOptions(formats=()), out)
    assert len(dataset.frame("train")) + len(dataset.frame("valid")) == 90
    assert not (out / "train.chat.jsonl").exists()
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="not empty"):
        prepare_dataset(_table(_balanced()), PrepareOptions(), foreign)
    assert (foreign / "thesis.docx").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out"]


def test_lowercase_trains_and_classifies_on_the_same_form(tmp_path: Path) -> None:
    rows = _balanced(20, prefix="")
    rows += [("Basware 매출 증가", "positive"), ("basware 매출 증가", "positive")]
    dataset, report = prepare_dataset(_table(rows), PrepareOptions(lowercase=True), tmp_path / "out")
    assert dataset.input_format.lowercase is True
    texts = pd.concat([dataset.frame("train"), dataset.frame("valid")])["text"].tolist()
    assert "basware 매출 증가" in texts and "Basware 매출 증가" not in texts
    near = report.finding("near_duplicates")
    assert near is not None and near.count == 1
    assert dataset.input_format.apply("Basware  매출 증가") == "basware 매출 증가"
    plain, _ = prepare_dataset(_table(rows), PrepareOptions(), tmp_path / "plain")
    kept = pd.concat([plain.frame("train"), plain.frame("valid")])["text"].tolist()
    assert "Basware 매출 증가" in kept and "basware 매출 증가" in kept


def test_legacy_prompt_completion_file(tmp_path: Path) -> None:
    path = tmp_path / "legacy.jsonl"
    lines = [
        json.dumps({"prompt": f"{text} ->", "completion": f" {label}"}, ensure_ascii=False)
        for text, label in _balanced(12)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dataset, report = prepare_dataset(read_table(path), PrepareOptions(), tmp_path / "out")
    separator = report.finding("separator_suffix")
    assert separator is not None and separator.applied
    train = dataset.frame("train")
    assert not train["text"].str.endswith("->").any()
    assert set(train["label"]) == {"positive", "negative", "neutral"}
    variants = report.finding("label_variants")
    assert variants is not None and variants.details["mapping"][" positive"] == "positive"
    first = json.loads(dataset.path("train", "completion").read_text("utf-8").splitlines()[0])
    assert first["prompt"].endswith("번 ->") and not first["prompt"].endswith("-> ->")


def test_labels_outside_the_set_are_dropped_and_listed(tmp_path: Path) -> None:
    rows = [*_balanced(20), ("환율 급변", "mixed"), ("금리 동결", "N/A"), ("유가 상승", "mixed")]
    dataset, report = prepare_dataset(_table(rows), PrepareOptions(), tmp_path / "out")
    finding = report.finding("unknown_label")
    assert finding is not None and finding.severity == "warning" and finding.count == 3
    assert finding.details["values"] == {"mixed": 2, "N/A": 1}
    assert finding.rows == (61, 62, 63)
    assert dataset.manifest["rows"] == {"read": 63, "kept": 60}


def test_mostly_unknown_labels_is_an_error_that_suggests_labels(tmp_path: Path) -> None:
    rows = [(f"문장 {i}", str(i % 3)) for i in range(60)]
    with pytest.raises(PreparationError, match="--labels") as info:
        prepare_dataset(_table(rows), PrepareOptions(), tmp_path / "out")
    assert info.value.report.finding("unknown_label").severity == "error"  # type: ignore[union-attr]
    labels = LabelSet(names=("0", "1", "2"), synonyms={})
    dataset, _ = prepare_dataset(_table(rows), PrepareOptions(labels=labels), tmp_path / "out")
    assert dataset.labels.names == ("0", "1", "2")


def test_korean_label_synonyms(tmp_path: Path) -> None:
    rows = [(f"문장 {i}", ["긍정", "부정", "중립"][i % 3]) for i in range(60)]
    dataset, report = prepare_dataset(_table(rows, ("문장", "감성")), PrepareOptions(), tmp_path / "out")
    assert set(dataset.frame("train")["label"]) == {"positive", "negative", "neutral"}
    assert report.columns == {"text": "문장", "label": "감성"}


def test_empty_texts_are_dropped(tmp_path: Path) -> None:
    rows = [*_balanced(), ("", "positive"), ("   \n ", "negative")]
    _, report = prepare_dataset(_table(rows), PrepareOptions(), tmp_path / "out")
    finding = report.finding("empty_text")
    assert finding is not None and finding.count == 2 and finding.rows == (61, 62)


def test_ten_thousand_character_texts(tmp_path: Path) -> None:
    long_text = ("한빛전자 매출 증가 " * 1000)[:10_000]
    rows = [*_balanced(), (long_text, "positive")]
    dataset, report = prepare_dataset(_table(rows), PrepareOptions(), tmp_path / "out")
    finding = report.finding("long_text")
    assert finding is not None and finding.rows == (61,)
    texts = pd.concat([dataset.frame("train"), dataset.frame("valid")])["text"]
    assert texts.str.len().max() == len(build_model_input(long_text))
    report = check_table(_table(rows), PrepareOptions(token_limit=4096))
    over = report.finding("over_token_limit")
    assert over is not None and over.rows == (61,) and over.details["max_tokens"] > 4096


def test_formula_like_cells_are_kept_as_text(tmp_path: Path) -> None:
    path = tmp_path / "formula.csv"
    rows = [*_balanced(), ("=SUM(A1) 매출", "positive"), ("+82 성장", "positive"), ("-3% 하락", "negative")]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    dataset, report = prepare_dataset(read_table(path), PrepareOptions(), tmp_path / "out")
    texts = set(pd.concat([dataset.frame("train"), dataset.frame("valid")])["text"])
    assert {"=SUM(A1) 매출", "+82 성장", "-3% 하락"} <= texts
    finding = report.finding("formula_like")
    assert finding is not None and finding.count == 3


def test_report_text_is_readable(tmp_path: Path) -> None:
    rows = [
        *_balanced(),
        (_balanced()[0][0], "positive"),
        ("같은 문장", "positive"),
        ("같은 문장", "negative"),
    ]
    report = check_table(_table(rows))
    text = report.to_text()
    assert "[WARNING]" in text and "duplicate_rows" in text and "Rows: 61" in text
    assert "Result: ready" in text
    korean = report.to_text("ko")
    assert "[경고]" in korean and "결과" in korean
    assert json.loads(report.to_json())["findings"][0]["id"]


@pytest.mark.corpus
def test_corpus(corpus_path: Path, tmp_path: Path) -> None:
    table = read_table(corpus_path)
    assert table.rows == 4846
    dataset, report = prepare_dataset(table, PrepareOptions(), tmp_path / "a")
    assert report.columns == {"text": "kor_sentence", "label": "labels"}
    conflicts = report.finding("conflicting_labels")
    assert conflicts is not None and conflicts.count == 3
    duplicates = report.finding("duplicate_rows")
    assert duplicates is not None and duplicates.count >= 10
    train, valid = dataset.frame("train"), dataset.frame("valid")
    assert not set(train["text"]) & set(valid["text"])
    assert (
        len(train) + len(valid)
        == report.rows_kept
        == 4846 - duplicates.count - conflicts.details["rows_dropped"]
    )
    again, _ = prepare_dataset(read_table(corpus_path), PrepareOptions(), tmp_path / "b")
    assert _tree(dataset.directory) == _tree(again.directory)
    assert dataset.manifest["counts"]["valid"]["negative"] == round(
        dataset.manifest["counts"]["valid"]["negative"]
    )
    total = {k: dataset.counts("train")[k] + dataset.counts("valid")[k] for k in dataset.labels.names}
    assert sum(total.values()) == report.rows_kept


@pytest.mark.parametrize(
    "value",
    ["plain", "쉼표, 있음", 'quote "inside"', 'both, "x"', "line\nbreak", "", " lead", "=SUM(A1)"],
)
def test_csv_fields_match_the_csv_module(value: str) -> None:
    import csv
    import io

    from finsent.prep.trainfiles import csv_lines

    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(("row", "text", "label"))
    writer.writerow((7, value, value or "x"))
    assert csv_lines([7], [value], [value or "x"]) == expected.getvalue()
    # Unlike csv.writer with "\n" line ends, a carriage return is quoted too, so no reader splits the row.
    assert csv_lines([1], ["a\rb"], ["x"]).split("\n")[1] == '1,"a\rb",x'


_AWKWARD = [
    "평범한 문장",
    "쉼표, 있음",
    'quote "inside"',
    'both, "x"',
    "back\\slash",
    "ctl\x01char",
    "tab\there",
    "cr\rret",
    "",
    "=SUM(A1)",
    "emoji 😀, and é",
    "\u2028 separator",
]


@pytest.mark.parametrize("rows", [1, 3, 50])
def test_bulk_training_files_equal_the_per_row_formats(rows: int) -> None:
    from finsent.prep.textscan import normalise_column
    from finsent.prep.trainfiles import SplitFiles, chat_lines, completion_lines, csv_lines

    texts = [_AWKWARD[(i * 7) % len(_AWKWARD)] + (f" {i}" if i % 3 else "") for i in range(rows)]
    labels = [("positive", 'odd "label", x', "중립")[i % 3] for i in range(rows)]
    row_numbers = list(range(5, 5 + rows))
    names = ("positive", 'odd "label", x', "중립")
    # As given and as prepare writes them (model inputs): the writers find what needs escaping themselves.
    column = normalise_column(texts)
    # With the rows the column scan flags as holding such characters, no text is looked at for them.
    flagged = (np.flatnonzero(column.json_escaped).tolist(), np.flatnonzero(column.csv_quoted).tolist())
    if rows == 50:
        assert flagged[0] and flagged[1] and flagged[0] != flagged[1]  # both kinds, not on the same rows
    for written, special in ((texts, None), (column.texts, None), (column.texts, flagged)):
        files = SplitFiles(row_numbers, written, labels, special=special)
        assert b"".join(files.csv()) == csv_lines(row_numbers, written, labels).encode()
        assert b"".join(files.completion()) == completion_lines(written, labels).encode()
        assert b"".join(files.chat(names)) == chat_lines(written, labels, names).encode()
    # A text with a line break (never a model input) is escaped in JSON and quoted in CSV all the same.
    broken = SplitFiles([1, 2], ["two\nlines", "x"], ["a", "b"])
    assert b"".join(broken.completion()) == completion_lines(["two\nlines", "x"], ["a", "b"]).encode()
    assert b"".join(broken.csv()) == csv_lines([1, 2], ["two\nlines", "x"], ["a", "b"]).encode()
    assert b"".join(SplitFiles([], [], []).csv()) == b"row,text,label\n"
    assert b"".join(SplitFiles([1], ["x"], ["a"], header=False).csv()) == b"1,x,a\n"


def test_a_split_written_in_blocks_equals_the_per_row_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    from finsent.prep import trainfiles
    from finsent.prep.textscan import normalise_column
    from finsent.prep.trainfiles import chat_lines, completion_lines, csv_lines, split_files

    monkeypatch.setattr(trainfiles, "BLOCK_ROWS", 7)  # 50 rows: 8 blocks, the last one short
    texts = [_AWKWARD[(i * 5) % len(_AWKWARD)] + f" {i}" for i in range(50)]
    labels = [("positive", "중립")[i % 2] for i in range(50)]
    rows = list(range(1, 51))
    column = normalise_column(texts)  # with the flags of the model inputs, as prepare writes them
    for written, flags in ((texts, (None, None)), (column.texts, (column.json_escaped, column.csv_quoted))):
        blocks = list(
            split_files(rows, written, labels, ("chat", "completion"), ("positive", "중립"), *flags)
        )
        assert len(blocks) == 8
        assert b"".join(b["csv"] for b in blocks) == csv_lines(rows, written, labels).encode()
        assert b"".join(b["completion"] for b in blocks) == completion_lines(written, labels).encode()
        assert (
            b"".join(b["chat"] for b in blocks) == chat_lines(written, labels, ("positive", "중립")).encode()
        )
    only_csv = list(split_files([], [], [], (), ("positive",)))
    assert only_csv == [{"csv": b"row,text,label\n"}]


def test_files_are_hashed_as_written(tmp_path: Path) -> None:
    from finsent.prep import pipeline as prepare

    pieces = [f"{i},조각\n".encode() for i in range(20_000)]
    digest = prepare._store(tmp_path / "f.csv", pieces)
    assert (tmp_path / "f.csv").read_bytes() == b"".join(pieces)
    assert digest == hashlib.sha256(b"".join(pieces)).hexdigest()


def test_the_backends_limit_is_asked_for_only_when_a_text_can_reach_one() -> None:
    """`finsent prepare` loads no backend for ordinary news: no declared limit is under
    MIN_EXAMPLE_TOKEN_LIMIT, and a token estimate never exceeds a text's characters + 1."""
    from finsent.contract.costs import MIN_EXAMPLE_TOKEN_LIMIT

    asked: list[int] = []

    def limit() -> tuple[int, str]:
        asked.append(1)
        return MIN_EXAMPLE_TOKEN_LIMIT, "tiny-model"

    short = [*_balanced(), ("가" * (MIN_EXAMPLE_TOKEN_LIMIT - 2), "positive")]
    report = check_table(_table(short), PrepareOptions(backend_limit=limit))
    assert asked == [] and report.finding("over_token_limit") is None
    # one character more and the text could be over the smallest limit there can be: the backends are asked
    long = [*_balanced(), ("가" * (MIN_EXAMPLE_TOKEN_LIMIT + 40), "positive")]
    report = check_table(_table(long), PrepareOptions(backend_limit=limit))
    over = report.finding("over_token_limit")
    assert asked == [1] and over is not None and over.rows == (61,) and "tiny-model" in over.message


def test_a_declared_limit_under_the_floor_counts_as_the_floor() -> None:
    from finsent.contract.costs import MIN_EXAMPLE_TOKEN_LIMIT
    from finsent.service.files import declared_token_limit

    class Declares:
        def __init__(self, limit: tuple[int, str] | None) -> None:
            self.limit = limit

        def example_token_limit(self) -> tuple[int, str] | None:
            return self.limit

    class Broken:
        def example_token_limit(self) -> tuple[int, str] | None:
            raise RuntimeError("a backend's own bug")

    backends: list[Any] = [Declares((100, "small")), Declares((16_384, "big")), Declares(None), Broken()]
    assert declared_token_limit(backends) == (100, "small")
    assert declared_token_limit([Declares(None)]) is None
    # the check counts 100 as the floor, given as a tuple or as a function: 300 characters are not over it
    medium = [*_balanced(), ("가" * 300, "positive"), ("가" * (MIN_EXAMPLE_TOKEN_LIMIT + 40), "negative")]
    for given in ((100, "small"), lambda: (100, "small")):
        over = check_table(_table(medium), PrepareOptions(backend_limit=given)).finding("over_token_limit")
        assert (
            over is not None and over.rows == (62,) and f"{MIN_EXAMPLE_TOKEN_LIMIT:,} tokens" in over.message
        )
