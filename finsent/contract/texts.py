"""`Text`: one way to carry a text of ours in the two languages of the dashboard.

A backend, a check or an error writes English and, where it can, Korean; whoever shows the text picks the
reader's language with `text.get(lang)`. English is the fallback, so a third-party plugin that writes
English only still shows something in the Korean dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    en: str
    ko: str | None = None

    def get(self, lang: str) -> str:
        """The text in `lang` ("ko" or "en"), English where no Korean was written."""
        return self.ko if lang == "ko" and self.ko else self.en

    def __str__(self) -> str:
        return self.en

    @classmethod
    def of(cls, value: str | Text) -> Text:
        """A plain string (English) or a Text, as a Text: lets fields accept either."""
        return value if isinstance(value, Text) else cls(str(value))
