"""Which column holds the text and which the label: guessed from the header, always overridable."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from finsent.contract.errors import InputError
from finsent.contract.texts import Text

# Keys are headers folded by `_key` (NFKC, case-folded, without spaces, "_" and "-"). Earlier wins: the
# Korean text column comes before `sentence`, so the corpus (labels, sentence, kor_sentence) maps to Korean.
TEXT_HEADERS: tuple[str, ...] = (
    "korsentence", "문장", "뉴스", "본문", "제목", "텍스트", "기사", "내용", "뉴스제목", "기사제목",
    "sentence", "text", "prompt", "headline", "title", "content", "news", "document", "input",
)  # fmt: skip
LABEL_HEADERS: tuple[str, ...] = (
    "labels", "label", "라벨", "레이블", "감성", "감정", "분류", "정답", "극성", "감성라벨", "감정라벨",
    "completion", "sentiment", "polarity", "class", "category", "target", "output",
)  # fmt: skip
_SEPARATORS = re.compile(r"[\s_\-]+")


@dataclass(frozen=True)
class ColumnGuess:
    """Names of the text and label columns, None where nothing matched."""

    text: str | None = None
    label: str | None = None


def _key(name: object) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(name)).casefold())


def _trimmed(raw: object) -> str:
    """A header name as written, trimmed; "" for a blank one (pandas names those "Unnamed: N")."""
    name = str(raw).strip().lstrip("\ufeff").strip()
    return "" if name.startswith("Unnamed: ") else name


def clean_header(columns: Iterable[object]) -> list[str]:
    """Trimmed column names; blanks become column_N and repeats get .1, .2 (as pandas does)."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for index, raw in enumerate(columns, start=1):
        name = _trimmed(raw) or f"column_{index}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return names


def header_repeats(columns: Iterable[object]) -> dict[str, tuple[str, ...]]:
    """Header names used more than once -> the names `clean_header` gives them ("x" -> ("x", "x.1")), for
    the data report: a reader renames them silently, the user should hear of it."""
    raw = list(columns)
    given: dict[str, list[str]] = {}
    for original, name in zip(raw, clean_header(raw), strict=True):
        key = _trimmed(original)
        if key:
            given.setdefault(key, []).append(name)
    return {key: tuple(names) for key, names in given.items() if len(names) > 1}


def renamed_repeats(columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The repeats `clean_header` (or pandas) renamed, seen in the names it gave: "x", "x.1", "x.2" ->
    {"x": ("x", "x.1", "x.2")}. A file whose header really says "x" and "x.1" reads the same: the
    report then says so of it too, which is still worth a look."""
    present = set(columns)
    found: dict[str, list[str]] = {}
    for name in columns:
        base, dot, number = name.rpartition(".")
        if dot and number.isdigit() and not number.startswith("0") and base in present:
            found.setdefault(base, [base]).append(name)
    return {base: tuple(names) for base, names in found.items()}


def _find(columns: list[str], wanted: tuple[str, ...], taken: str | None) -> str | None:
    keys = {col: _key(col) for col in columns if col != taken}
    for target in wanted:  # exact header first, in priority order
        for col, key in keys.items():
            if key == target:
                return col
    for target in wanted:  # then headers that contain a known word, e.g. "뉴스 제목(원문)"
        if len(target) < 2:
            continue
        for col, key in keys.items():
            if target in key:
                return col
    return None


#: share of a column's non-empty cells that must be label words (긍정/부정/중립, positive, ...) for the
#: column to count as holding labels
LABEL_LIKE = 0.8
#: mean characters per cell from which a column without a known header counts as holding text
TEXT_LIKE_CHARS = 12
_SAMPLE = 500


def _sample(frame: pd.DataFrame, column: str) -> list[str]:
    values = frame[column].head(_SAMPLE).dropna().astype(str).str.strip()
    return [v for v in values.tolist() if v]


def label_likeness(frame: pd.DataFrame, column: str) -> float:
    """Share of the column's (first) non-empty cells that are a known label word: 긍정, negative, 0..."""
    from finsent.contract.labels import LabelSet

    labels = LabelSet()
    values = _sample(frame, column)
    return sum(labels.normalise(v) is not None for v in values) / len(values) if values else 0.0


def _mean_length(frame: pd.DataFrame, column: str) -> float:
    values = _sample(frame, column)
    return sum(len(v) for v in values) / len(values) if values else 0.0


def guess_columns(frame: pd.DataFrame, look_at_cells: bool = False) -> ColumnGuess:
    """Recognise kor_sentence/labels, sentence, prompt/completion, text/label and Korean headers.

    With `look_at_cells` (the dashboard's pickers, which show the choice and let it be changed), the cells
    count too: a column of label words (긍정/부정/중립, positive...) is the label column even when its
    header is "분류" beside a "회사" column, and the longest text column is the text where no header says.
    Unattended preparation (`finsent prepare`) goes by the header only, and asks when it cannot tell.
    """
    columns = [str(c) for c in frame.columns]
    text = _find(columns, TEXT_HEADERS, None)
    label = _find(columns, LABEL_HEADERS, text)
    if not look_at_cells:
        if text is None and label is not None and len(columns) == 2:
            text = next(c for c in columns if c != label)  # two columns, one the label: the other is text
        return ColumnGuess(text=text, label=label)
    if label is None or label_likeness(frame, label) < LABEL_LIKE:
        # the header missed, or names a column of something else (company names under "분류"):
        # a column whose cells are label words wins
        scored = [(label_likeness(frame, c), c) for c in columns if c != text]
        best = max(scored, default=(0.0, None))
        if best[1] is not None and best[0] >= LABEL_LIKE:
            label = best[1]
    if text is None and label is not None and len(columns) == 2:
        text = next(c for c in columns if c != label)  # two columns, one of them the label: the other is text
    if text is None:
        lengths = [(_mean_length(frame, c), c) for c in columns if c != label]
        longest = max(lengths, default=(0.0, None))
        if longest[1] is not None and longest[0] >= TEXT_LIKE_CHARS:
            text = longest[1]
    return ColumnGuess(text=text, label=label)


def _match(columns: list[str], given: str) -> str | None:
    if given in columns:
        return given
    folded = [c for c in columns if _key(c) == _key(given)]
    return folded[0] if len(folded) == 1 else None


def describe_columns(columns: Iterable[object]) -> str:
    return ", ".join(repr(str(c)) for c in columns) or "(none)"


def resolve_columns(
    frame: pd.DataFrame,
    text: str | None = None,
    label: str | None = None,
    *,
    need_label: bool = True,
    source_name: str = "the file",
    delimiter: str | None = None,
) -> ColumnGuess:
    """The columns to use: the user's choice where given (matched case-insensitively), else the guess.

    Raises InputError listing the columns found when a column is missing, and names the delimiter when
    the file was read as a single column although two are needed.
    """
    columns = [str(c) for c in frame.columns]
    found = describe_columns(columns)
    if need_label and len(columns) == 1 and delimiter is not None:
        from finsent.ingest.sniffing import delimiter_name

        raise InputError(
            Text(
                f"{source_name} was read with the {delimiter_name(delimiter)} delimiter and has only one column: "
                f"{found}. A text column and a label column are needed.",
                f"{source_name} 을(를) {delimiter_name(delimiter)} 구분자로 읽었더니 열이 하나뿐입니다: {found}. "
                "문장 열과 라벨 열이 필요합니다.",
            ),
            hint=Text(
                "Save the file with commas, tabs, semicolons or pipes between the columns (CSV UTF-8 in Excel).",
                "열 사이를 쉼표, 탭, 세미콜론 또는 | 로 구분해 저장하세요(엑셀: CSV UTF-8).",
            ),
        )
    guess = guess_columns(frame)
    chosen: dict[str, str | None] = {}
    for role, given, guessed, flag in (
        ("text", text, guess.text, "--text-col"),
        ("label", label, guess.label, "--label-col"),
    ):
        if role == "label" and not need_label and not given:
            chosen[role] = guessed
            continue
        if given:
            match = _match(columns, given)
            if match is None:
                raise InputError(
                    Text(
                        f"{source_name} has no column {given!r}. Columns found: {found}.",
                        f"{source_name} 에 {given!r} 열이 없습니다. 있는 열: {found}.",
                    ),
                    hint=Text(f"Pass one of these with {flag}.", f"{flag} 로 이 중 하나를 지정하세요."),
                    dashboard_hint=Text(
                        "Pick one of these in the column box.", "열 선택 상자에서 이 중 하나를 고르세요."
                    ),
                )
            chosen[role] = match
        elif guessed is None:
            kind_ko = "문장(텍스트)" if role == "text" else "라벨"
            raise InputError(
                Text(
                    f"Could not tell which column of {source_name} holds the {role}. Columns found: {found}.",
                    f"{source_name} 에서 {kind_ko} 열을 찾지 못했습니다. 있는 열: {found}.",
                ),
                hint=Text(f"Name it with {flag}.", f"{flag} 로 열 이름을 지정하세요."),
                dashboard_hint=Text("Pick it in the column box.", "열 선택 상자에서 고르세요."),
            )
        else:
            chosen[role] = guessed
    if chosen["text"] is not None and chosen["text"] == chosen["label"]:
        raise InputError(
            Text(
                f"The text and the label column are both {chosen['text']!r}.",
                f"문장 열과 라벨 열이 모두 {chosen['text']!r} 입니다.",
            ),
            hint=Text("Choose two different columns.", "서로 다른 두 열을 고르세요."),
        )
    return ColumnGuess(text=chosen["text"], label=chosen["label"])
