"""The data checks: what the legacy `fine_tunes.prepare_data` tool looked at, and what it missed.

Each check looks at a whole column at once (pandas, no Python loop per row) and returns a `Finding`; the
checks that remove rows also return the mask of the rows they drop. `finsent.prep.pipeline` runs them in order.
Example row numbers are 1-based data rows: row 1 is the first row under the header.

Every check id, its severity and its remedy are listed in `CHECKS` and in docs/data-checks.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finsent.contract.labels import korean_name
from finsent.contract.texts import Text

SEVERITIES = ("error", "warning", "info")
MAX_EXAMPLE_ROWS = 10
#: fine-tuning services refuse fewer than 10 examples; below this per class the split is meaningless too
MIN_PER_CLASS = 10
RECOMMENDED_PER_CLASS = 50
IMBALANCE_RATIO = 3.0
#: about the 2,048 tokens the legacy tool warned at, for Korean text (about one token per syllable)
LONG_TEXT_CHARS = 2000
#: texts that end in one of these in every row carry a legacy prompt separator, removed before training
KNOWN_SEPARATORS = ("->", "=>", "###")

# id -> (severity, what it means). The documented list; docs/data-checks.md explains each one.
CHECKS: Mapping[str, tuple[str, str]] = {
    "required_columns": ("error", "the text or label column is missing (or the file has one column only)"),
    "duplicate_columns": (
        "warning",
        "header names used more than once; the repeats are read as NAME.1, NAME.2",
    ),
    "no_rows": ("error", "no usable row is left after cleaning"),
    "empty_text": ("warning", "rows without text; dropped"),
    "empty_label": ("warning", "rows without a label; dropped"),
    "unknown_label": ("warning", "labels outside the label set; dropped (error when they are most rows)"),
    "label_variants": (
        "info",
        "labels written another way (case, spaces, 긍정/부정/중립) mapped onto the set",
    ),
    "text_whitespace": ("info", "texts with extra spaces, line breaks or non-NFC characters; normalised"),
    "separator_suffix": ("info", "every text ends in a legacy separator such as ' ->'; removed"),
    "common_prefix": ("warning", "every text starts with the same words; kept, consider removing them"),
    "common_suffix": ("warning", "every text ends with the same words; kept, consider removing them"),
    "separator_in_text": ("warning", "texts containing the completion separator ' ->'"),
    "letter_case": ("info", "texts with capital letters: kept as written (or lower-cased with --lowercase)"),
    "completion_format": (
        "info",
        "completions are written as ' <label>' (leading space), prompts end in ' ->'",
    ),
    "conflicting_labels": ("warning", "the same text with different labels; all its rows dropped"),
    "duplicate_rows": ("warning", "rows repeating an earlier row exactly; the first kept"),
    "near_duplicates": (
        "warning",
        "rows equal to an earlier row after whitespace/NFC/case normalisation; first kept",
    ),
    "long_text": ("warning", f"texts longer than {LONG_TEXT_CHARS:,} characters; kept"),
    "over_token_limit": ("warning", "examples over the smallest model's token limit (estimate); kept"),
    "formula_like": ("info", "texts starting with = + - @: kept as text, neutralised in spreadsheet exports"),
    "class_below_minimum": ("error", f"a label with fewer than {MIN_PER_CLASS} examples"),
    "class_below_recommended": ("warning", f"a label with fewer than {RECOMMENDED_PER_CLASS} examples"),
    "class_imbalance": ("info", f"largest/smallest class ratio (warning above {IMBALANCE_RATIO:g})"),
}


@dataclass(frozen=True)
class Finding:
    """One result of a check: what was found, how often, where, and what was (or should be) done."""

    id: str
    severity: str  # "error" | "warning" | "info"
    message: str
    count: int = 0
    rows: tuple[int, ...] = ()
    remedy: str = ""
    applied: bool = False
    # Flat English and Korean fields, not Texts: this is the shape of report.json, which stays as it was.
    message_ko: str = ""
    remedy_ko: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> Text:
        return Text(self.message, self.message_ko or None)

    @property
    def remedy_text(self) -> Text:
        return Text(self.remedy, self.remedy_ko or None)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = list(self.rows)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        values = dict(data)
        values["rows"] = tuple(values.get("rows", ()))
        return cls(**values)


def finding(
    check: str,
    *,
    message: str | Text,
    count: int = 0,
    rows: tuple[int, ...] = (),
    remedy: str | Text = "",
    applied: bool = False,
    details: dict[str, Any] | None = None,
    severity: str | None = None,
) -> Finding:
    """A finding of `check` (an id of CHECKS), with the catalogue's severity unless this one differs
    (unknown labels are an error when they are most of the rows). `message` and `remedy` are a Text, or
    English only."""
    said, todo = Text.of(message), Text.of(remedy)
    return Finding(
        check,
        severity or CHECKS[check][0],
        said.en,
        count,
        rows,
        todo.en,
        applied,
        said.ko or "",
        todo.ko or "",
        details if details is not None else {},
    )


@dataclass(frozen=True)
class PairCodes:
    """Integers identifying each row's model input (`text`, 0, 1, 2... in order of first appearance) and
    its (model input, label) pair (`pair` = text * slots + label code), so the duplicate and conflict
    checks hash integers instead of strings (fast on 200,000 rows)."""

    text: np.ndarray
    pair: np.ndarray
    slots: int


def pair_codes(work: pd.DataFrame, names: tuple[str, ...]) -> PairCodes:
    slots = len(names) + 1  # label_code: 1..k in label-set order, 0 for none
    text_code = first_appearance_codes(work["text"].tolist())
    return PairCodes(text_code, text_code * slots + work["label_code"].to_numpy(), slots)


def first_of_code(codes: np.ndarray) -> np.ndarray:
    """For codes numbered 0, 1, 2... in order of first appearance (pd.factorize): True where a row is the
    first of its code, i.e. where the running maximum grows. The first row of code k is the k-th True."""
    if not len(codes):
        return np.zeros(0, dtype=bool)
    running = np.maximum.accumulate(codes)
    return np.concatenate(([True], running[1:] > running[:-1]))


def first_appearance_codes(texts: list[str]) -> np.ndarray:
    """0, 1, 2... for each distinct text in order of first appearance (what pd.factorize gives).

    Fast path. Oracle: tests/prep/test_textscan.py::test_first_appearance_codes_equal_factorize (and its
    hash-collision twin). Gain: a third of pd.factorize's time on 200,000 rows.

    Numbers the texts' str hashes instead of the texts (integers in numpy's hash table, not strings in a
    dict: a third of the time on 200,000 rows), then confirms that every repeated hash is a repeated text;
    a hash collision between different texts sends the column the exact way."""
    count = len(texts)
    codes = pd.factorize(np.fromiter(map(hash, texts), dtype=np.int64, count=count))[0].astype(np.int64)
    is_first = first_of_code(codes)
    repeats = np.flatnonzero(~is_first)
    origins = np.flatnonzero(is_first)[codes[repeats]]  # the first row of each repeat's code
    repeated = map(texts.__getitem__, repeats.tolist())
    if all(map(str.__eq__, repeated, map(texts.__getitem__, origins.tolist()))):
        return codes
    index: dict[str, int] = {}
    return np.array([index.setdefault(t, len(index)) for t in texts], dtype=np.int64)


def example_rows(rows: pd.Series, mask: pd.Series) -> tuple[int, ...]:
    return tuple(int(r) for r in rows[mask].head(MAX_EXAMPLE_ROWS))


def _with_id(label: str) -> str:
    """In Korean texts that may lead to --labels: "중립(neutral)", so the flag's value is at hand."""
    name = korean_name(label)
    return f"{name}({label})" if name != label else label


def _n(value: int) -> str:
    return f"{value:,}"


# -- checks that drop rows ------------------------------------------------------------------------------


def empty_text(work: pd.DataFrame) -> tuple[Finding | None, pd.Series]:
    mask = work["length"] == 0  # of the model input
    count = int(mask.sum())
    if not count:
        return None, mask
    return finding(
        "empty_text",
        message=Text(f"{_n(count)} rows have no text.", f"{_n(count)}개 행에 문장이 없습니다."),
        count=count,
        rows=example_rows(work["row"], mask),
        remedy=Text("Dropped these rows.", "이 행들을 제외했습니다."),
        applied=True,
    ), mask


def empty_label(work: pd.DataFrame, active: pd.Series) -> tuple[Finding | None, pd.Series]:
    blank = [value for value in set(work.loc[active, "raw_label"].tolist()) if not str(value).strip()]
    mask = active & work["raw_label"].isin(blank)
    count = int(mask.sum())
    if not count:
        return None, mask
    return finding(
        "empty_label",
        message=Text(f"{_n(count)} rows have no label.", f"{_n(count)}개 행에 라벨이 없습니다."),
        count=count,
        rows=example_rows(work["row"], mask),
        remedy=Text(
            "Dropped these rows; label them and prepare again to use them.",
            "이 행들을 제외했습니다. 라벨을 붙여 다시 준비하면 사용할 수 있습니다.",
        ),
        applied=True,
    ), mask


def unknown_label(
    work: pd.DataFrame, active: pd.Series, names: tuple[str, ...]
) -> tuple[Finding | None, pd.Series]:
    mask = active & (work["label_code"] == 0)
    count = int(mask.sum())
    if not count:
        return None, mask
    values = work.loc[mask, "raw_label"].value_counts()
    shown = {str(k): int(v) for k, v in values.head(20).items()}
    listing = ", ".join(f"{k!r} ({v:,})" for k, v in shown.items())
    severity = "error" if count * 2 > int(active.sum()) else "warning"
    label_list = ",".join(names)
    return finding(
        "unknown_label",
        severity=severity,
        message=Text(
            f"{_n(count)} rows have a label outside the label set ({', '.join(names)}): {listing}.",
            f"{_n(count)}개 행의 라벨이 라벨 목록({', '.join(map(korean_name, names))})에 없습니다: {listing}.",
        ),
        count=count,
        rows=example_rows(work["row"], mask),
        remedy=Text(
            f"Dropped these rows. If these are your labels, pass them with --labels (now {label_list}).",
            f"이 행들을 제외했습니다. 이것이 실제 라벨이라면 --labels 로 지정하세요(현재 {label_list}).",
        ),
        applied=True,
        details={"values": shown},
    ), mask


def conflicting_labels(
    work: pd.DataFrame, active: pd.Series, codes: PairCodes
) -> tuple[Finding | None, pd.Series]:
    # Integer codes (see pair_codes) instead of strings: one hash table pass over ints, not two over text.
    # Text codes are 0..n-1, so counting the distinct (text, label) pairs per text is one bincount.
    text_code = codes.text
    keys = pd.unique(codes.pair[active.to_numpy()])
    labels_per_text = np.bincount(keys // codes.slots, minlength=len(text_code))
    conflicting = labels_per_text > 1
    mask = active & pd.Series(conflicting[text_code], index=work.index)
    if not conflicting.any():
        return None, mask
    dropped = work.loc[mask, ["text", "label"]]  # compare within the few dropped rows, not the column
    texts = dropped["text"].drop_duplicates().tolist()
    rows = int(mask.sum())
    examples = {
        str(text)[:80]: sorted(set(dropped.loc[dropped["text"] == text, "label"].astype(str)))
        for text in list(texts)[:5]
    }
    return finding(
        "conflicting_labels",
        message=Text(
            f"{_n(len(texts))} texts appear with different labels ({_n(rows)} rows).",
            f"같은 문장에 서로 다른 라벨이 붙은 경우가 {_n(len(texts))}건 있습니다({_n(rows)}개 행).",
        ),
        count=len(texts),
        rows=example_rows(work["row"], mask),
        remedy=Text(
            "Dropped every row of these texts: a model cannot learn two answers for one text. "
            "Decide the right label and prepare again to keep them.",
            "이 문장들의 행을 모두 제외했습니다. 올바른 라벨을 정해 다시 준비하면 사용할 수 있습니다.",
        ),
        applied=True,
        details={"texts": examples, "rows_dropped": rows},
    ), mask


def duplicates(
    work: pd.DataFrame, active: pd.Series, lowercase: bool, pairs: PairCodes
) -> tuple[list[Finding], pd.Series]:
    """Exact repeats (same raw text and label) and near repeats (same model input and label)."""
    positions = np.flatnonzero(active.to_numpy())
    codes = pd.factorize(pairs.pair[positions])[0]
    first = first_of_code(codes)
    repeated = np.flatnonzero(~first)
    # A repeat is exact when its raw text equals that of the first row of its (model input, label) pair.
    raw = work["raw_text"].to_numpy()
    exact_mask = np.zeros(len(codes), dtype=bool)
    if len(repeated):
        origin = np.flatnonzero(first)[codes[repeated]]
        exact_mask[repeated] = raw[positions[repeated]] == raw[positions[origin]]
    near_mask = ~first & ~exact_mask
    row_numbers = work["row"].to_numpy()[positions]
    rows = pd.Series(row_numbers)
    exact, near = pd.Series(exact_mask), pd.Series(near_mask)
    findings: list[Finding] = []
    if int(exact.sum()):
        count = int(exact.sum())
        findings.append(
            finding(
                "duplicate_rows",
                message=Text(
                    f"{_n(count)} rows repeat an earlier row (same text and label).",
                    f"{_n(count)}개 행이 앞의 행과 같습니다(문장과 라벨이 동일).",
                ),
                count=count,
                rows=example_rows(rows, exact),
                remedy=Text(
                    "Kept the first of each, dropped the repeats, so no text is in both training and validation.",
                    "처음 행만 남기고 나머지는 제외했습니다. 학습/검증에 같은 문장이 들어가지 않습니다.",
                ),
                applied=True,
            )
        )
    if int(near.sum()):
        count = int(near.sum())
        how = "spacing, Unicode form or letter case" if lowercase else "spacing or Unicode form"
        how_ko = "띄어쓰기, 유니코드 형태 또는 대소문자" if lowercase else "띄어쓰기 또는 유니코드 형태"
        findings.append(
            finding(
                "near_duplicates",
                message=Text(
                    f"{_n(count)} rows differ from an earlier row only in {how}.",
                    f"{_n(count)}개 행이 앞의 행과 {how_ko}만 다릅니다.",
                ),
                count=count,
                rows=example_rows(rows, near),
                remedy=Text(
                    "Kept the first of each, dropped the rest (they are the same model input).",
                    "처음 행만 남기고 나머지는 제외했습니다(모델 입력이 같습니다).",
                ),
                applied=True,
            )
        )
    dropped = np.zeros(len(work), dtype=bool)
    dropped[positions[repeated]] = True
    return findings, pd.Series(dropped, index=work.index)


# -- checks on the class counts ------------------------------------------------------------------------


def class_counts(counts: Mapping[str, int]) -> list[Finding]:
    """Too few examples per label (error / warning) and the imbalance between labels."""
    findings: list[Finding] = []
    tiny = {k: v for k, v in counts.items() if v < MIN_PER_CLASS}
    small = {k: v for k, v in counts.items() if MIN_PER_CLASS <= v < RECOMMENDED_PER_CLASS}
    listing = ", ".join(f"{k} {v:,}" for k, v in tiny.items())
    listing_ko = ", ".join(f"{_with_id(k)} {v:,}" for k, v in tiny.items())
    if tiny:
        findings.append(
            finding(
                "class_below_minimum",
                message=Text(
                    f"Fewer than {MIN_PER_CLASS} examples for: {listing}.",
                    f"예시가 {MIN_PER_CLASS}개 미만인 라벨: {listing_ko}.",
                ),
                count=len(tiny),
                rows=(),
                remedy=Text(
                    f"Add examples until every label has at least {MIN_PER_CLASS} (fine-tuning services refuse fewer), or leave "
                    "unused labels out with --labels.",
                    f"라벨마다 최소 {MIN_PER_CLASS}개가 되도록 예시를 더하거나, 쓰지 않는 라벨은 --labels 에서 빼세요.",
                ),
                applied=False,
                details={"counts": tiny},
            )
        )
    if small:
        listing = ", ".join(f"{k} {v:,}" for k, v in small.items())
        listing_ko = ", ".join(f"{_with_id(k)} {v:,}" for k, v in small.items())
        findings.append(
            finding(
                "class_below_recommended",
                message=Text(
                    f"Fewer than {RECOMMENDED_PER_CLASS} examples for: {listing}.",
                    f"예시가 {RECOMMENDED_PER_CLASS}개 미만인 라벨: {listing_ko}.",
                ),
                count=len(small),
                rows=(),
                remedy=Text(
                    f"The model may do poorly on these labels; aim for {RECOMMENDED_PER_CLASS} or more each.",
                    f"이 라벨들은 성능이 낮을 수 있습니다. 라벨마다 {RECOMMENDED_PER_CLASS}개 이상을 권장합니다.",
                ),
                applied=False,
                details={"counts": small},
            )
        )
    present = {k: v for k, v in counts.items() if v > 0}
    if len(present) >= 2 and not tiny:
        largest = max(present, key=lambda k: present[k])
        smallest = min(present, key=lambda k: present[k])
        ratio = present[largest] / present[smallest]
        shares = ", ".join(f"{k} {v / sum(present.values()):.1%}" for k, v in present.items())
        shares_ko = ", ".join(f"{korean_name(k)} {v / sum(present.values()):.1%}" for k, v in present.items())
        warn = ratio > IMBALANCE_RATIO
        findings.append(
            finding(
                "class_imbalance",
                severity="warning" if warn else "info",
                message=Text(
                    f"The largest label ({largest}) has {ratio:.1f}x the examples of the smallest ({smallest}): {shares}."
                    if ratio > 1
                    else f"Every label has the same number of examples: {shares}.",
                    f"가장 많은 라벨({korean_name(largest)})이 가장 적은 라벨({korean_name(smallest)})의 "
                    f"{ratio:.1f}배입니다: {shares_ko}."
                    if ratio > 1
                    else f"모든 라벨의 예시 수가 같습니다: {shares_ko}.",
                ),
                count=len(present),
                rows=(),
                remedy=Text(
                    "Kept as is. Judge the model by macro-F1 and per-label scores, not accuracy alone; more "
                    f"examples of {smallest} help most."
                    if warn
                    else "Balanced enough; nothing to do.",
                    "그대로 두었습니다. 정확도만 보지 말고 macro-F1 과 라벨별 점수로 평가하세요."
                    if warn
                    else "라벨 균형이 충분해 조치가 필요 없습니다.",
                ),
                applied=False,
                details={"ratio": round(ratio, 3), "largest": largest, "smallest": smallest},
            )
        )
    return findings


def no_rows(rows_read: int) -> Finding:
    return finding(
        "no_rows",
        message=Text(
            f"No usable row is left of the {rows_read:,} rows read.",
            f"읽은 {rows_read:,}개 행 가운데 사용할 수 있는 행이 없습니다.",
        ),
        count=0,
        rows=(),
        remedy=Text(
            "See the findings above: fill in texts and labels, or pass the labels your file uses with --labels.",
            "위의 항목을 확인하세요. 문장과 라벨을 채우거나 파일의 라벨을 --labels 로 지정하세요.",
        ),
        applied=False,
    )


def duplicate_columns(repeats: Mapping[str, Sequence[str]], chosen: Sequence[str]) -> Finding:
    """Header names used more than once (`repeats`: the name as written -> the names finsent reads them
    as, e.g. "기사" -> ("기사", "기사.1")); `chosen`, the text and label columns picked."""
    listing = "; ".join(f"{name!r} → {', '.join(map(repr, given))}" for name, given in repeats.items())
    picked = [c for c in chosen if any(c in given for given in repeats.values())]
    note = f" The columns used are {', '.join(map(repr, picked))}." if picked else ""
    note_ko = f" 사용한 열: {', '.join(map(repr, picked))}." if picked else ""
    return finding(
        "duplicate_columns",
        message=Text(
            f"{len(repeats)} column name(s) appear more than once in the header, read as: {listing}.{note}",
            f"머리글에 같은 열 이름이 {len(repeats)}개 있어 다음처럼 읽었습니다: {listing}.{note_ko}",
        ),
        count=len(repeats),
        remedy=Text(
            "Check that the right column was picked, or give each column its own name in the file.",
            "맞는 열을 골랐는지 확인하거나, 파일에서 열마다 다른 이름을 붙이세요.",
        ),
        details={"repeats": {name: list(given) for name, given in repeats.items()}},
    )


def required_columns(message: Text, remedy: Text) -> Finding:
    return finding("required_columns", message=message, remedy=remedy)
