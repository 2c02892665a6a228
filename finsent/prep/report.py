"""The validation report of a data preparation: JSON for programs, plain text for people."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from finsent.prep.checks import Finding

_ORDER = {"error": 0, "warning": 1, "info": 2}
_TAGS = {
    "en": {"error": "ERROR", "warning": "WARNING", "info": "NOTE"},
    "ko": {"error": "오류", "warning": "경고", "info": "참고"},
}


@dataclass
class Report:
    """What was read, what was kept, and every finding of the checks."""

    source: dict[str, Any] = field(default_factory=dict)  # name, format, encoding, sheet, delimiter, sha256
    columns: dict[str, str | None] = field(default_factory=dict)  # text, label
    options: dict[str, Any] = field(default_factory=dict)
    rows_read: int = 0
    rows_kept: int = 0
    #: {"train": {label: n}, "valid": {label: n}}, labels in label-set order
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    def label_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for split in self.counts.values():
            for label, n in split.items():
                totals[label] = totals.get(label, 0) + n
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": dict(self.source),
            "columns": dict(self.columns),
            "options": dict(self.options),
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "counts": {k: dict(v) for k, v in self.counts.items()},
            "has_errors": self.has_errors,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            source=dict(data.get("source", {})),
            columns=dict(data.get("columns", {})),
            options=dict(data.get("options", {})),
            rows_read=int(data.get("rows_read", 0)),
            rows_kept=int(data.get("rows_kept", 0)),
            counts={k: dict(v) for k, v in data.get("counts", {}).items()},
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
        )

    def summary_lines(self, lang: str = "en") -> list[str]:
        ko = lang == "ko"
        src = self.source
        delimiter = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}.get(src.get("delimiter") or "")
        parts = (
            src.get("format"),
            src.get("encoding"),
            f"sheet {src['sheet']!r}" if src.get("sheet") else None,
        )
        how = ", ".join(str(v) for v in (*parts, f"{delimiter}-separated" if delimiter else None) if v)
        lines = [
            f"{src.get('name', '?')}: {self.rows_read:,}"
            + ("개 행 읽음" if ko else " rows read")
            + f" ({how})"
        ]
        if self.columns.get("text"):
            lines.append(
                (f"문장 열 {self.columns.get('text')!r}, 라벨 열 {self.columns.get('label')!r}")
                if ko
                else f"text column {self.columns.get('text')!r}, label column {self.columns.get('label')!r}"
            )
        if self.counts:
            train = sum(self.counts.get("train", {}).values())
            valid = sum(self.counts.get("valid", {}).values())
            lines.append(
                f"{self.rows_kept:,}개 행 사용: 학습 {train:,}, 검증 {valid:,}"
                if ko
                else f"{self.rows_kept:,} rows kept: train {train:,}, valid {valid:,}"
            )
            totals = self.label_totals()
            whole = sum(totals.values()) or 1
            lines.append(
                ("라벨: " if ko else "labels: ")
                + ", ".join(f"{k} {v:,} ({v / whole:.1%})" for k, v in totals.items())
            )
        return lines

    def to_text(self, lang: str = "en") -> str:
        """A report a business user can act on: a summary, then one block per finding, errors first."""
        ko = lang == "ko"
        tags = _TAGS["ko" if ko else "en"]
        lines = [("finsent 데이터 점검 보고서" if ko else "finsent data check"), ""]
        lines += ["  " + line for line in self.summary_lines(lang)]
        lines.append("")
        counts = {s: sum(1 for f in self.findings if f.severity == s) for s in _ORDER}
        if ko:
            lines.append(
                f"점검 결과: 오류 {counts['error']}, 경고 {counts['warning']}, 참고 {counts['info']}"
            )
        else:
            lines.append(
                f"Findings: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)"
            )
        width = max(len(t) for t in tags.values()) + 2
        for f in sorted(self.findings, key=lambda f: _ORDER[f.severity]):
            message, remedy = f.text.get(lang), f.remedy_text.get(lang)
            tag = f"[{tags[f.severity]}]".ljust(width)
            lines.append("")
            lines.append(f"{tag} {f.id}: {message}")
            pad = " " * (width + 1)
            if f.rows:
                more = f.count > len(f.rows) and f.id not in ("conflicting_labels",)
                row_text = ", ".join(str(r) for r in f.rows) + (", ..." if more else "")
                lines.append(
                    f"{pad}{'예시 행' if ko else 'Rows'}: {row_text}"
                    + (" (1 = 머리글 다음 첫 행)" if ko else " (1 = first row under the header)")
                )
            if remedy:
                label = ("조치함" if f.applied else "권장") if ko else ("Done" if f.applied else "To do")
                lines.append(f"{pad}{label}: {remedy}")
        lines.append("")
        if self.has_errors:
            lines.append(
                "결과: 오류 때문에 준비하지 못했습니다. 위의 오류를 고친 뒤 다시 실행하세요."
                if ko
                else "Result: NOT prepared. Fix the errors above and run again."
            )
        else:
            lines.append("결과: 학습에 쓸 수 있습니다." if ko else "Result: ready for training.")
        return "\n".join(lines) + "\n"
