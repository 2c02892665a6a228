"""Errors a user can cause. Each carries a message written for that user; the UI and CLI show it as is.

Tracebacks are for bugs: anything that is not a FinsentError is a bug and is reported as such.
"""

from __future__ import annotations

from finsent.contract.texts import Text


class FinsentError(Exception):
    """Base of every user-facing error. `message` says what went wrong, `hint` what to do.

    Both are a `Text` (English, and Korean where the raise site wrote it) or a plain English string; the
    Korean dashboard shows the Korean where there is one. `dashboard_hint` replaces the hint in the browser
    when the hint names CLI commands or flags.
    """

    #: machine-readable kind, also the key for translated UI messages
    code = "error"

    def __init__(
        self,
        message: str | Text,
        *,
        hint: str | Text | None = None,
        dashboard_hint: Text | None = None,
    ) -> None:
        self.what = Text.of(message)
        self.what_to_do = Text.of(hint) if hint is not None else None
        super().__init__(self.what.en)
        self.dashboard_hint = dashboard_hint

    # The English (and Korean) parts, for readers that want one of them.
    @property
    def message(self) -> str:
        return self.what.en

    @property
    def ko(self) -> str | None:
        return self.what.ko

    @property
    def hint(self) -> str | None:
        return self.what_to_do.en if self.what_to_do else None

    @property
    def hint_ko(self) -> str | None:
        return self.what_to_do.ko if self.what_to_do else None

    def __str__(self) -> str:
        return self.text("en")

    def texts(self) -> Text:
        """The message and hint in both languages, as stored with a job or a bulk run."""
        return Text(self.text("en"), self.text("ko") if self.ko else None)

    def text(self, lang: str = "en", *, dashboard: bool = False) -> str:
        """The message and hint in `lang` ("ko" or "en"), falling back to English; `dashboard` prefers the
        hint that names the dashboard's controls."""
        message = self.what.get(lang)
        if dashboard and self.dashboard_hint is not None:
            hint: str | None = self.dashboard_hint.get(lang)
        elif self.what_to_do is None:
            hint = None
        else:  # a Korean message keeps an English-only hint; an English-only message keeps English throughout
            hint = self.what_to_do.get(lang) if self.ko else self.what_to_do.en
        return f"{message} {hint}" if hint else message


class InputError(FinsentError):
    """A file or value the user gave cannot be used (encoding, format, columns, size, options)."""

    code = "input"


class DataError(InputError):
    """The data was read but cannot be prepared (no rows, unknown labels only, too few per class...)."""

    code = "data"


class NotFoundError(FinsentError):
    """An unknown job, dataset, model, bulk run or backend."""

    code = "not_found"


class BackendUnavailableError(FinsentError):
    """A backend cannot be used here (missing key, missing package, plugin failed to load)."""

    code = "backend_unavailable"


class AuthenticationError(FinsentError):
    """The service refused the key (HTTP 401). Never includes the key itself."""

    code = "auth"


class PermissionDeniedError(FinsentError):
    """The account may not do this (HTTP 403), e.g. fine-tuning refused for the organisation."""

    code = "permission"


class RateLimitError(FinsentError):
    """Quota or rate limit reached (HTTP 429) after retries."""

    code = "rate_limit"


class NetworkError(FinsentError):
    """The service could not be reached (offline, DNS, refused, timed out)."""

    code = "network"


class JobFailedError(FinsentError):
    """A training job ended in failure; message carries the backend's error code and text."""

    code = "job_failed"


class CancelledError(FinsentError):
    """An operation was cancelled by the user; work done so far is kept."""

    code = "cancelled"
