"""Checks on the texts themselves that report and never drop a row: the legacy tool's prefix, suffix,
case and separator checks, plus whitespace, labels written another way, length and formula-like cells.

The per-row facts (changed by normalising, holds a capital, starts like a formula, contains the separator,
length) come from `finsent.prep.textscan.normalise_column`, which finds them for the whole column at once; the
checks here turn them into findings.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import repeat

import numpy as np
import pandas as pd

from finsent.contract.modelinput import COMPLETION_SEPARATOR
from finsent.contract.texts import Text
from finsent.prep.checks import KNOWN_SEPARATORS, LONG_TEXT_CHARS, Finding, example_rows, finding


def _n(value: int) -> str:
    return f"{value:,}"


def text_whitespace(changed: pd.Series, rows: pd.Series) -> Finding | None:
    """`changed`: normalising changed the text (and left some text)."""
    mask = changed
    count = int(mask.sum())
    if not count:
        return None
    return finding(
        "text_whitespace",
        message=Text(
            f"{_n(count)} texts had extra spaces, line breaks or non-standard Unicode forms.",
            f"{_n(count)}개 문장에 불필요한 공백, 줄바꿈 또는 비표준 유니코드가 있었습니다.",
        ),
        count=count,
        rows=example_rows(rows, mask),
        remedy=Text(
            "Normalised them (NFC, one space between words, trimmed); classification applies the same rule.",
            "정규화했습니다(NFC, 단어 사이 공백 하나, 앞뒤 공백 제거). 분류할 때도 같은 규칙을 씁니다.",
        ),
        applied=True,
    )


def label_variants(
    raw: pd.Series, label: pd.Series, rows: pd.Series, variants: Collection[str] | None = None
) -> Finding | None:
    """`variants`: the raw labels that map onto another name, when known (skips comparing every row)."""
    if variants is not None and not variants:
        return None
    mask = label.notna() & (raw != label)
    count = int(mask.sum())
    if not count:
        return None
    pairs = pd.DataFrame({"raw": raw[mask], "label": label[mask]}).drop_duplicates().head(20)
    mapping = {str(r): str(lab) for r, lab in zip(pairs["raw"], pairs["label"], strict=True)}
    listing = ", ".join(f"{k!r} -> {v}" for k, v in mapping.items())
    return finding(
        "label_variants",
        message=Text(
            f"{_n(count)} labels were written another way and mapped: {listing}.",
            f"{_n(count)}개 라벨을 표준 이름으로 바꿨습니다: {listing}.",
        ),
        count=count,
        rows=example_rows(rows, mask),
        remedy=Text(
            "Mapped onto the label set (trimmed, case-folded, synonyms such as 긍정/부정/중립).",
            "앞뒤 공백 제거, 대소문자 통일, 긍정/부정/중립 같은 동의어를 라벨 목록에 맞췄습니다.",
        ),
        applied=True,
        details={"mapping": mapping},
    )


def separator_in_text(arrow: pd.Series, rows: pd.Series) -> Finding | None:
    """`arrow`: the text contains the separator's arrow."""
    mask = arrow
    count = int(mask.sum())
    if not count:
        return None
    return finding(
        "separator_in_text",
        message=Text(
            f"{_n(count)} texts contain {COMPLETION_SEPARATOR.strip()!r}, the separator completion models see "
            "at the end of every prompt.",
            f"{_n(count)}개 문장에 완성형 모델의 구분자 {COMPLETION_SEPARATOR.strip()!r} 가 들어 있습니다.",
        ),
        count=count,
        rows=example_rows(rows, mask),
        remedy=Text(
            "Kept as is. For babbage-002/davinci-002, replace the arrow in these texts (e.g. with '→') if "
            "predictions look cut short.",
            "그대로 두었습니다. babbage-002/davinci-002 에서 예측이 이상하면 이 화살표를 바꾸세요.",
        ),
        applied=False,
    )


def letter_case(capital: pd.Series, rows: pd.Series, lowercase: bool) -> Finding | None:
    """`capital`: the text changes under str.casefold, i.e. it holds a capital in any script (Latin, Greek,
    full-width...): exactly the texts --lowercase changes."""
    mask = capital
    count = int(mask.sum())
    if not count:
        return None
    if lowercase:
        return finding(
            "letter_case",
            message=Text(
                f"{_n(count)} texts contain capital letters.", f"{_n(count)}개 문장에 대문자가 있습니다."
            ),
            count=count,
            rows=example_rows(rows, mask),
            remedy=Text(
                "Lower-cased them (--lowercase); texts you classify with this model are lower-cased the same way.",
                "소문자로 바꿨습니다(--lowercase). 이 모델로 분류하는 문장도 똑같이 소문자로 바뀝니다.",
            ),
            applied=True,
        )
    return finding(
        "letter_case",
        message=Text(
            f"{_n(count)} texts contain capital letters (e.g. company names).",
            f"{_n(count)}개 문장에 대문자(회사 이름 등)가 있습니다.",
        ),
        count=count,
        rows=example_rows(rows, mask),
        remedy=Text(
            "Kept as written, and classification sees the same form (the legacy tool lower-cased training "
            "texts only). Use --lowercase to fold case for training and classification alike.",
            "그대로 두었고 분류할 때도 같은 형태를 씁니다. 대소문자를 무시하려면 --lowercase 를 쓰세요.",
        ),
        applied=False,
    )


def completion_format(formats: tuple[str, ...]) -> Finding | None:
    if "completion" not in formats:
        return None
    return finding(
        "completion_format",
        message=Text(
            f"Completion files: prompts end in {COMPLETION_SEPARATOR!r} and completions are ' <label>' with one "
            "leading space and no other ending, as OpenAI's completion models expect.",
            f"완성형 파일: 프롬프트는 {COMPLETION_SEPARATOR!r} 로 끝나고 답은 앞에 공백 하나를 둔 ' <라벨>' 입니다.",
        ),
        count=0,
        rows=(),
        remedy=Text(
            "Applied when writing train/valid.completion.jsonl.",
            "train/valid.completion.jsonl 을 쓸 때 적용했습니다.",
        ),
        applied=True,
    )


def long_text(size: pd.Series, rows: pd.Series) -> Finding | None:
    """`size`: characters per model input."""
    mask = size > LONG_TEXT_CHARS
    count = int(mask.sum())
    if not count:
        return None
    return finding(
        "long_text",
        message=Text(
            f"{_n(count)} texts are longer than {LONG_TEXT_CHARS:,} characters (longest {int(size.max()):,}).",
            f"{_n(count)}개 문장이 {LONG_TEXT_CHARS:,}자를 넘습니다(가장 긴 문장 {int(size.max()):,}자).",
        ),
        count=count,
        rows=example_rows(rows, mask),
        remedy=Text(
            "Kept. Check they are single news items and not several pasted together; long examples cost more "
            "to train and the local model reads only their start.",
            "그대로 두었습니다. 기사 여러 개가 붙어 있지 않은지 확인하세요. 긴 예시는 학습 비용이 큽니다.",
        ),
        applied=False,
    )


def over_token_limit(
    texts: pd.Series, size: pd.Series, rows: pd.Series, limit: int, model: str
) -> Finding | None:
    """`size`: characters per text (an estimate never exceeds them + 1, so only long texts are counted)."""
    from finsent.contract.costs import estimate_tokens

    candidates = texts[size >= limit - 1]
    if candidates.empty:
        return None
    tokens = candidates.map(estimate_tokens)
    over = tokens[tokens > limit]
    if over.empty:
        return None
    mask = texts.index.isin(over.index)
    mask_series = pd.Series(mask, index=texts.index)
    return finding(
        "over_token_limit",
        message=Text(
            f"{_n(len(over))} texts are estimated at more than {limit:,} tokens, the limit of {model}.",
            f"{_n(len(over))}개 문장이 {model} 의 한도 {limit:,} 토큰을 넘는 것으로 추정됩니다.",
        ),
        count=len(over),
        rows=example_rows(rows, mask_series),
        remedy=Text(
            "Kept. Fine-tuning services truncate or reject such examples: shorten them or split them into sentences.",
            "그대로 두었습니다. 파인튜닝 서비스는 이런 예시를 잘라내거나 거부합니다. 짧게 나누세요.",
        ),
        applied=False,
        details={"max_tokens": int(over.max())},
    )


def formula_like(formula: pd.Series, rows: pd.Series) -> Finding | None:
    """`formula`: the whitespace-normalised text starts with = + - or @ (leading spaces do not hide one)."""
    mask = formula
    count = int(mask.sum())
    if not count:
        return None
    return finding(
        "formula_like",
        message=Text(
            f"{_n(count)} texts start with =, +, - or @, which spreadsheets treat as formulas.",
            f"{_n(count)}개 문장이 =, +, -, @ 로 시작합니다(스프레드시트가 수식으로 취급하는 문자).",
        ),
        count=count,
        rows=example_rows(rows, mask),
        remedy=Text(
            "Kept as text, exactly as written. Files finsent exports for spreadsheets prefix such cells with an "
            "apostrophe so Excel does not run them.",
            "글자 그대로 유지했습니다. 스프레드시트용으로 내보낼 때는 앞에 작은따옴표를 붙여 수식 실행을 막습니다.",
        ),
        applied=False,
    )


def _varies(codes: np.ndarray | None) -> bool:
    return codes is not None and bool((codes != codes[0]).any())


def _common_prefix(values: list[str]) -> str:
    # The common prefix of the smallest and the largest string is common to all of them.
    low, high = min(values), max(values)
    for index, (a, b) in enumerate(zip(low, high, strict=False)):
        if a != b:
            return low[:index]
    return low


def _common_suffix(values: list[str]) -> str:
    """The longest suffix of all values. A candidate (the first value) shrinks to what it shares with the
    first value not ending with it; each round is one str.endswith over the column in C, and a few rounds
    settle real data. Otherwise: the common prefix of the reversed strings."""
    suffix = values[0]
    for _ in range(8):
        if not suffix:
            return ""
        ends = list(map(str.endswith, values, repeat(suffix)))
        if all(ends):
            return suffix
        other = values[ends.index(False)]
        shared = 0
        while shared < min(len(suffix), len(other)) and suffix[-1 - shared] == other[-1 - shared]:
            shared += 1
        suffix = suffix[len(suffix) - shared :]
    return _common_prefix([v[::-1] for v in values])[::-1]


def common_affixes(
    texts: Sequence[str], first: np.ndarray | None = None, last: np.ndarray | None = None
) -> tuple[list[Finding], str]:
    """Common prefix / suffix of all texts. Returns findings and a legacy separator to strip ("" if none).

    `first` / `last`: the texts' first and last characters as code points, when known: texts that do not
    all start (end) alike have no common prefix (suffix), which settles most files without string work."""
    values = list(texts)
    if len(values) < 2:
        return [], ""
    findings: list[Finding] = []
    prefix = "" if _varies(first) else _common_prefix(values)
    suffix = "" if _varies(last) else _common_suffix(values)
    # Texts are already normalised (no trailing spaces), so a legacy "\n\n###\n\n" shows as "###".
    separator = next((known for known in KNOWN_SEPARATORS if suffix.endswith(known)), "")
    if separator:
        findings.append(
            finding(
                "separator_suffix",
                message=Text(
                    f"Every text ends in {separator.strip()!r}, a separator from the legacy prompt format.",
                    f"모든 문장이 예전 프롬프트 구분자 {separator.strip()!r} 로 끝납니다.",
                ),
                count=len(values),
                rows=(),
                remedy=Text(
                    "Removed it; finsent adds the separator itself for completion models.",
                    "구분자를 지웠습니다. 완성형 모델용 구분자는 finsent 가 직접 붙입니다.",
                ),
                applied=True,
            )
        )
    word_prefix = prefix if prefix.endswith(" ") else prefix[: prefix.rfind(" ") + 1]
    if len(word_prefix.strip()) >= 2:
        findings.append(
            finding(
                "common_prefix",
                message=Text(
                    f"Every text starts with {word_prefix.strip()!r}.",
                    f"모든 문장이 {word_prefix.strip()!r} 로 시작합니다.",
                ),
                count=len(values),
                rows=(),
                remedy=Text(
                    "Kept as is. Remove it from the file if it is not part of the news text: the model learns "
                    "nothing from it and every text you classify would need it too.",
                    "그대로 두었습니다. 기사 내용이 아니라면 파일에서 지우세요.",
                ),
                applied=False,
                details={"prefix": word_prefix.strip()},
            )
        )
    if not separator:
        word_suffix = (
            suffix if suffix.startswith(" ") else suffix[suffix.find(" ") :] if " " in suffix else ""
        )
        if len(word_suffix.strip()) >= 2:
            findings.append(
                finding(
                    "common_suffix",
                    message=Text(
                        f"Every text ends with {word_suffix.strip()!r}.",
                        f"모든 문장이 {word_suffix.strip()!r} 로 끝납니다.",
                    ),
                    count=len(values),
                    rows=(),
                    remedy=Text(
                        "Kept as is. Remove it from the file if it is not part of the news text.",
                        "그대로 두었습니다. 기사 내용이 아니라면 파일에서 지우세요.",
                    ),
                    applied=False,
                    details={"suffix": word_suffix.strip()},
                )
            )
    return findings, separator
